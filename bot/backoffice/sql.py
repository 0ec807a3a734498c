"""The embedded demo back office: SQLAlchemy Core tables in SQLite (or any SQL URL)."""

from __future__ import annotations

import json
from datetime import date, datetime, time, timedelta
from pathlib import Path

import yaml
from sqlalchemy import (
    Column,
    Date,
    DateTime,
    Float,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    func,
    insert,
    inspect,
    select,
    update,
)
from sqlalchemy.engine import Engine

from bot.backoffice.base import NotFound
from bot.backoffice.model import (
    CANCELLED,
    NOT_DISPATCHED,
    Customer,
    Invoice,
    Order,
    Payment,
    Plan,
    Refund,
    ReturnLabel,
    Subscription,
)

FIXTURE = Path(__file__).with_name("fixture.yml")

metadata = MetaData()

customers = Table(
    "customers",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("email", String(320), nullable=False, unique=True),
    Column("tier", String(16), nullable=False, default="standard"),
    Column("slack_user_id", String(32), unique=True),
)
orders = Table(
    "orders",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("customer_id", String(32), nullable=False, index=True),
    Column("items", Text, nullable=False),  # JSON list of item names
    Column("total", Float, nullable=False),
    Column("placed_at", Date, nullable=False),
    Column("status", String(16), nullable=False),
    Column("address", Text, nullable=False),
    Column("carrier", String(32)),
    Column("tracking_number", String(64)),
    Column("expected_delivery", Date),
    Column("delivered_at", Date),
    Column("last_scan", Text),
)
invoices = Table(
    "invoices",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("customer_id", String(32), nullable=False, index=True),
    Column("order_id", String(32)),
    Column("amount", Float, nullable=False),
    Column("issued_at", Date, nullable=False),
    Column("status", String(16), nullable=False),
    Column("lines", Text, nullable=False, default="[]"),  # JSON [[label, amount], ...]
)
payments = Table(
    "payments",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("customer_id", String(32), nullable=False, index=True),
    Column("invoice_id", String(32)),
    Column("amount", Float, nullable=False),
    Column("created_at", DateTime, nullable=False),
    Column("status", String(16), nullable=False),
    Column("method", String(64), nullable=False),
    Column("description", Text, nullable=False, default=""),
    Column("failure_reason", Text),
)
refunds = Table(
    "refunds",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("order_id", String(32), nullable=False, index=True),
    Column("amount", Float, nullable=False),
    Column("status", String(16), nullable=False),
    Column("requested_at", Date, nullable=False),
    Column("issued_at", Date),
)
subscriptions = Table(
    "subscriptions",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("customer_id", String(32), nullable=False, unique=True),
    Column("plan", String(32), nullable=False),
    Column("price", Float, nullable=False),
    Column("seats", Integer, nullable=False),
    Column("status", String(16), nullable=False),
    Column("renews_at", Date, nullable=False),
    Column("contract_end", Date),
    Column("early_cancel_fee", Float, nullable=False, default=0.0),
)
plans = Table(
    "plans",
    metadata,
    Column("name", String(32), primary_key=True),
    Column("price", Float, nullable=False),
    Column("per", String(32), nullable=False),
    Column("summary", Text, nullable=False),
    Column("features", Text, nullable=False),  # JSON list
)
return_labels = Table(
    "return_labels",
    metadata,
    Column("order_id", String(32), primary_key=True),
    Column("label_url", Text, nullable=False),
    Column("created_at", Date, nullable=False),
)


class SqlBackOffice:
    """``BackOffice`` on SQL tables; one short transaction per call."""

    def __init__(self, engine: Engine, today=date.today):
        self._engine = engine
        self._today = today

    # -- customers ---------------------------------------------------------------------
    def customer(self, customer_id: str) -> Customer:
        return _customer(
            self._one(select(customers).where(customers.c.id == customer_id), customer_id)
        )

    def customer_by_email(self, email: str) -> Customer | None:
        row = self._first(
            select(customers).where(func.lower(customers.c.email) == email.strip().lower())
        )
        return _customer(row) if row else None

    def customer_by_slack_user(self, slack_user_id: str) -> Customer | None:
        row = self._first(select(customers).where(customers.c.slack_user_id == slack_user_id))
        return _customer(row) if row else None

    # -- orders ------------------------------------------------------------------------
    def order(self, order_id: str) -> Order:
        return _order(self._one(select(orders).where(orders.c.id == order_id), order_id))

    def orders_of(self, customer_id: str) -> list[Order]:
        query = (
            select(orders)
            .where(orders.c.customer_id == customer_id)
            .order_by(orders.c.placed_at.desc())
        )
        return [_order(r) for r in self._all(query)]

    def change_address(self, order_id: str, address: str) -> Order:
        order = self.order(order_id)
        if order.dispatched:
            raise ValueError(f"order {order_id} has already been dispatched")
        self._write(update(orders).where(orders.c.id == order_id).values(address=address))
        return self.order(order_id)

    def change_delivery_date(self, order_id: str, new_date: date) -> Order:
        order = self.order(order_id)
        if order.dispatched:
            raise ValueError(f"order {order_id} has already been dispatched")
        self._write(
            update(orders).where(orders.c.id == order_id).values(expected_delivery=new_date)
        )
        return self.order(order_id)

    def cancel_order(self, order_id: str) -> Order:
        order = self.order(order_id)
        if order.dispatched:
            raise ValueError(f"order {order_id} has already been dispatched")
        self._write(update(orders).where(orders.c.id == order_id).values(status=CANCELLED))
        return self.order(order_id)

    def return_label_of(self, order_id: str) -> ReturnLabel | None:
        row = self._first(select(return_labels).where(return_labels.c.order_id == order_id))
        if row is None:
            return None
        return ReturnLabel(
            order_id=row.order_id, label_url=row.label_url, created_at=row.created_at
        )

    def create_return_label(self, order_id: str) -> ReturnLabel:
        self.order(order_id)  # raises NotFound
        with self._engine.begin() as conn:
            row = conn.execute(
                select(return_labels).where(return_labels.c.order_id == order_id)
            ).first()
            if row is None:
                url = f"https://returns.example.com/labels/{order_id}.pdf"
                conn.execute(
                    insert(return_labels).values(
                        order_id=order_id, label_url=url, created_at=self._today()
                    )
                )
                row = conn.execute(
                    select(return_labels).where(return_labels.c.order_id == order_id)
                ).first()
        return ReturnLabel(
            order_id=row.order_id, label_url=row.label_url, created_at=row.created_at
        )

    # -- billing -----------------------------------------------------------------------
    def invoices_of(self, customer_id: str) -> list[Invoice]:
        query = (
            select(invoices)
            .where(invoices.c.customer_id == customer_id)
            .order_by(invoices.c.issued_at.desc())
        )
        return [_invoice(r) for r in self._all(query)]

    def invoice(self, invoice_id: str) -> Invoice:
        return _invoice(self._one(select(invoices).where(invoices.c.id == invoice_id), invoice_id))

    def payments_of(self, customer_id: str) -> list[Payment]:
        query = (
            select(payments)
            .where(payments.c.customer_id == customer_id)
            .order_by(payments.c.created_at.desc())
        )
        return [_payment(r) for r in self._all(query)]

    def refunds_of(self, customer_id: str) -> list[Refund]:
        query = (
            select(refunds)
            .join(orders, orders.c.id == refunds.c.order_id)
            .where(orders.c.customer_id == customer_id)
            .order_by(refunds.c.requested_at.desc())
        )
        return [_refund(r) for r in self._all(query)]

    def request_refund(self, order_id: str, amount: float) -> Refund:
        self.order(order_id)
        with self._engine.begin() as conn:
            existing = conn.execute(select(refunds).where(refunds.c.order_id == order_id)).first()
            if existing is not None:  # asking twice never refunds twice
                return _refund(existing)
            count = conn.execute(select(func.count()).select_from(refunds)).scalar_one()
            refund_id = f"RF-{count + 1}"
            conn.execute(
                insert(refunds).values(
                    id=refund_id,
                    order_id=order_id,
                    amount=amount,
                    status="requested",
                    requested_at=self._today(),
                )
            )
            return _refund(conn.execute(select(refunds).where(refunds.c.id == refund_id)).first())

    # -- subscriptions and sales -------------------------------------------------------
    def subscription_of(self, customer_id: str) -> Subscription | None:
        row = self._first(select(subscriptions).where(subscriptions.c.customer_id == customer_id))
        return _subscription(row) if row else None

    def plans(self) -> list[Plan]:
        return [
            Plan(
                name=r.name,
                price=r.price,
                per=r.per,
                summary=r.summary,
                features=tuple(json.loads(r.features)),
            )
            for r in self._all(select(plans).order_by(plans.c.price))
        ]

    # -- plumbing ----------------------------------------------------------------------
    def _all(self, query):
        with self._engine.connect() as conn:
            return conn.execute(query).all()

    def _first(self, query):
        with self._engine.connect() as conn:
            return conn.execute(query).first()

    def _one(self, query, key: str):
        row = self._first(query)
        if row is None:
            raise NotFound(key)
        return row

    def _write(self, statement) -> None:
        with self._engine.begin() as conn:
            conn.execute(statement)


def _customer(r) -> Customer:
    return Customer(id=r.id, name=r.name, email=r.email, tier=r.tier, slack_user_id=r.slack_user_id)


def _order(r) -> Order:
    return Order(
        id=r.id,
        customer_id=r.customer_id,
        items=tuple(json.loads(r.items)),
        total=r.total,
        placed_at=r.placed_at,
        status=r.status,
        address=r.address,
        carrier=r.carrier,
        tracking_number=r.tracking_number,
        expected_delivery=r.expected_delivery,
        delivered_at=r.delivered_at,
        last_scan=r.last_scan,
    )


def _invoice(r) -> Invoice:
    lines = tuple((label, float(amount)) for label, amount in json.loads(r.lines))
    return Invoice(
        id=r.id,
        customer_id=r.customer_id,
        amount=r.amount,
        issued_at=r.issued_at,
        status=r.status,
        order_id=r.order_id,
        lines=lines,
    )


def _payment(r) -> Payment:
    return Payment(
        id=r.id,
        customer_id=r.customer_id,
        amount=r.amount,
        created_at=r.created_at,
        status=r.status,
        method=r.method,
        invoice_id=r.invoice_id,
        description=r.description,
        failure_reason=r.failure_reason,
    )


def _refund(r) -> Refund:
    return Refund(
        id=r.id,
        order_id=r.order_id,
        amount=r.amount,
        status=r.status,
        requested_at=r.requested_at,
        issued_at=r.issued_at,
    )


def _subscription(r) -> Subscription:
    return Subscription(
        id=r.id,
        customer_id=r.customer_id,
        plan=r.plan,
        price=r.price,
        seats=r.seats,
        status=r.status,
        renews_at=r.renews_at,
        contract_end=r.contract_end,
        early_cancel_fee=r.early_cancel_fee,
    )


def seed_if_empty(engine: Engine) -> None:
    """Seed the embedded demo back office the first time (no ``customers`` table yet)."""
    if not inspect(engine).has_table("customers"):
        seed(engine)


def seed(engine: Engine, fixture: Path = FIXTURE, today: date | None = None) -> None:
    """Create the tables and load the demo data, replacing what is there.

    Fixture dates are day offsets from ``today`` so the demo cases stay true over time.
    """
    today = today or date.today()
    data = yaml.safe_load(fixture.read_text(encoding="utf-8"))

    def day(key: str, row: dict, required: bool = True):
        if key not in row:
            if required:
                raise ValueError(f"{fixture}: record {row.get('id', row)} lacks '{key}'")
            return None
        return today + timedelta(days=int(row[key]))

    metadata.drop_all(engine)
    metadata.create_all(engine)
    with engine.begin() as conn:
        for p in data.get("plans", []):
            conn.execute(
                insert(plans).values(
                    name=p["name"],
                    price=p["price"],
                    per=p["per"],
                    summary=p["summary"],
                    features=json.dumps(p.get("features", [])),
                )
            )
        for c in data.get("customers", []):
            conn.execute(
                insert(customers).values(
                    id=c["id"],
                    name=c["name"],
                    email=c["email"],
                    tier=c.get("tier", "standard"),
                    slack_user_id=c.get("slack_user_id"),
                )
            )
        for o in data.get("orders", []):
            conn.execute(
                insert(orders).values(
                    id=o["id"],
                    customer_id=o["customer"],
                    items=json.dumps(o["items"]),
                    total=o["total"],
                    placed_at=day("placed", o),
                    status=o["status"],
                    address=o["address"],
                    carrier=o.get("carrier"),
                    tracking_number=o.get("tracking"),
                    expected_delivery=day("expected", o, False),
                    delivered_at=day("delivered", o, False),
                    last_scan=o.get("last_scan"),
                )
            )
        for i in data.get("invoices", []):
            conn.execute(
                insert(invoices).values(
                    id=i["id"],
                    customer_id=i["customer"],
                    order_id=i.get("order"),
                    amount=i["amount"],
                    issued_at=day("issued", i),
                    status=i["status"],
                    lines=json.dumps(i.get("lines", [])),
                )
            )
        for p in data.get("payments", []):
            at = datetime.combine(day("at", p), time(10, 0))
            conn.execute(
                insert(payments).values(
                    id=p["id"],
                    customer_id=p["customer"],
                    invoice_id=p.get("invoice"),
                    amount=p["amount"],
                    created_at=at,
                    status=p["status"],
                    method=p["method"],
                    description=p.get("description", ""),
                    failure_reason=p.get("failure_reason"),
                )
            )
        for r in data.get("refunds", []):
            conn.execute(
                insert(refunds).values(
                    id=r["id"],
                    order_id=r["order"],
                    amount=r["amount"],
                    status=r["status"],
                    requested_at=day("requested", r),
                    issued_at=day("issued", r, False),
                )
            )
        for s in data.get("subscriptions", []):
            conn.execute(
                insert(subscriptions).values(
                    id=s["id"],
                    customer_id=s["customer"],
                    plan=s["plan"],
                    price=s["price"],
                    seats=s["seats"],
                    status=s["status"],
                    renews_at=day("renews", s),
                    contract_end=day("contract_end", s, False),
                    early_cancel_fee=s.get("early_cancel_fee", 0.0),
                )
            )


__all__ = ["SqlBackOffice", "seed", "metadata", "NOT_DISPATCHED"]
