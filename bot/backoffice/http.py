"""Plug a real order and billing system in over HTTP, and the reference server for it.

``HttpBackOffice`` implements ``BackOffice`` against a small JSON contract (below). A
deployment either serves that contract from its own systems or adapts them behind it;
``serve_backoffice`` serves it from any ``BackOffice`` (the demo SQL one by default), which
is both the executable documentation of the contract and what the tests run against.

    GET  /customers/{id}                 GET /customers?email=...  GET /customers?slack_user=...
    GET  /customers/{id}/orders          GET /customers/{id}/invoices
    GET  /customers/{id}/payments        GET /customers/{id}/refunds
    GET  /customers/{id}/subscription    GET /plans
    GET  /orders/{id}                    GET /invoices/{id}
    GET  /orders/{id}/return-label (404 if none yet)
    POST /orders/{id}/address {"address": ...}        POST /orders/{id}/delivery-date {"date": "YYYY-MM-DD"}
    POST /orders/{id}/return-label                    POST /orders/{id}/refunds {"amount": 12.5}
    POST /orders/{id}/cancel

Records are JSON objects with the fields of ``bot.backoffice.model`` (dates as ISO strings).
404 means "no such record"; 409 means the change is not allowed (e.g. already dispatched).
"""

from __future__ import annotations

import dataclasses
import json
import threading
import typing
from datetime import date, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, quote, urlparse

import requests

from bot.backoffice.base import BackOffice, NotFound
from bot.backoffice.model import (
    Customer,
    Invoice,
    Order,
    Payment,
    Plan,
    Refund,
    ReturnLabel,
    Subscription,
)

if typing.TYPE_CHECKING:
    from _typeshed import DataclassInstance

T = typing.TypeVar("T", bound="DataclassInstance")


def to_json(record) -> dict:
    """A model record as a JSON-ready dict (dates as ISO strings, tuples as lists)."""
    return json.loads(json.dumps(dataclasses.asdict(record), default=lambda v: v.isoformat()))


def from_json(cls: type[T], data: dict) -> T:
    """The model record ``cls`` from its JSON dict, converting dates and tuples back."""
    hints = typing.get_type_hints(cls)
    values = {}
    for f in dataclasses.fields(cls):
        if f.name not in data:
            continue
        value, hint = data[f.name], hints[f.name]
        kinds = set(typing.get_args(hint)) | {hint}
        if value is not None and datetime in kinds:
            value = datetime.fromisoformat(value)
        elif value is not None and date in kinds:
            value = date.fromisoformat(value)
        elif isinstance(value, list):
            value = tuple(tuple(v) if isinstance(v, list) else v for v in value)
        values[f.name] = value
    return cls(**values)


class HttpBackOffice:
    """``BackOffice`` over HTTP: explicit timeouts, errors raised, nothing retried silently."""

    def __init__(
        self, base_url: str, session: requests.Session | None = None, timeout: float = 5.0
    ):
        self._base = base_url.rstrip("/")
        self._session = session or requests.Session()
        self._timeout = timeout

    def _get(self, path: str, params: dict | None = None):
        r = self._session.get(self._base + path, params=params, timeout=self._timeout)
        if r.status_code == 404:
            raise NotFound(path)
        r.raise_for_status()
        return r.json()

    def _post(self, path: str, body: dict | None = None):
        r = self._session.post(self._base + path, json=body or {}, timeout=self._timeout)
        if r.status_code == 404:
            raise NotFound(path)
        if r.status_code == 409:
            raise ValueError(r.json().get("error", "change not allowed"))
        r.raise_for_status()
        return r.json()

    def _maybe(self, cls, path: str, params: dict | None = None):
        try:
            return from_json(cls, self._get(path, params))
        except NotFound:
            return None

    def _customer_records(self, cls: type[T], customer_id: str, what: str) -> list[T]:
        """GET /customers/{id}/{what}: a list of records."""
        return [from_json(cls, r) for r in self._get(f"/customers/{self._id(customer_id)}/{what}")]

    @staticmethod
    def _id(value: str) -> str:
        return quote(value, safe="")

    def customer(self, customer_id: str) -> Customer:
        return from_json(Customer, self._get(f"/customers/{self._id(customer_id)}"))

    def customer_by_email(self, email: str) -> Customer | None:
        return self._maybe(Customer, "/customers", {"email": email})

    def customer_by_slack_user(self, slack_user_id: str) -> Customer | None:
        return self._maybe(Customer, "/customers", {"slack_user": slack_user_id})

    def order(self, order_id: str) -> Order:
        return from_json(Order, self._get(f"/orders/{self._id(order_id)}"))

    def orders_of(self, customer_id: str) -> list[Order]:
        return self._customer_records(Order, customer_id, "orders")

    def change_address(self, order_id: str, address: str) -> Order:
        return from_json(
            Order, self._post(f"/orders/{self._id(order_id)}/address", {"address": address})
        )

    def change_delivery_date(self, order_id: str, new_date: date) -> Order:
        body = {"date": new_date.isoformat()}
        return from_json(Order, self._post(f"/orders/{self._id(order_id)}/delivery-date", body))

    def create_return_label(self, order_id: str) -> ReturnLabel:
        return from_json(ReturnLabel, self._post(f"/orders/{self._id(order_id)}/return-label"))

    def return_label_of(self, order_id: str) -> ReturnLabel | None:
        return self._maybe(ReturnLabel, f"/orders/{self._id(order_id)}/return-label")

    def cancel_order(self, order_id: str) -> Order:
        return from_json(Order, self._post(f"/orders/{self._id(order_id)}/cancel"))

    def invoices_of(self, customer_id: str) -> list[Invoice]:
        return self._customer_records(Invoice, customer_id, "invoices")

    def invoice(self, invoice_id: str) -> Invoice:
        return from_json(Invoice, self._get(f"/invoices/{self._id(invoice_id)}"))

    def payments_of(self, customer_id: str) -> list[Payment]:
        return self._customer_records(Payment, customer_id, "payments")

    def refunds_of(self, customer_id: str) -> list[Refund]:
        return self._customer_records(Refund, customer_id, "refunds")

    def request_refund(self, order_id: str, amount: float) -> Refund:
        return from_json(
            Refund, self._post(f"/orders/{self._id(order_id)}/refunds", {"amount": amount})
        )

    def subscription_of(self, customer_id: str) -> Subscription | None:
        return self._maybe(Subscription, f"/customers/{self._id(customer_id)}/subscription")

    def plans(self) -> list[Plan]:
        return [from_json(Plan, p) for p in self._get("/plans")]


def serve_backoffice(
    backoffice: BackOffice, host: str = "127.0.0.1", port: int = 0
) -> ThreadingHTTPServer:
    """Serve the contract from ``backoffice`` in a background thread; ``.shutdown()`` stops it."""

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):  # keep test output quiet
            pass

        def _send(self, status: int, body) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _route(self, method: str) -> None:
            url = urlparse(self.path)
            parts = [p for p in url.path.split("/") if p]
            query = {k: v[0] for k, v in parse_qs(url.query).items()}
            length = int(self.headers.get("Content-Length") or 0)
            try:
                body = json.loads(self.rfile.read(length) or b"{}") if method == "POST" else {}
                self._send(200, _dispatch(backoffice, method, parts, query, body))
            except NotFound:
                self._send(404, {"error": "not found"})
            except ValueError as e:
                self._send(409, {"error": str(e)})
            except (KeyError, TypeError, json.JSONDecodeError) as e:
                self._send(400, {"error": f"bad request: {e}"})

        def do_GET(self):
            self._route("GET")

        def do_POST(self):
            self._route("POST")

    server = ThreadingHTTPServer((host, port), Handler)
    threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    ).start()
    return server


def _dispatch(bo: BackOffice, method: str, parts: list[str], query: dict, body: dict):
    """Map one request of the contract onto the BackOffice; raises NotFound for unknown paths."""

    def one_or_404(record):
        if record is None:
            raise NotFound("/".join(parts))
        return to_json(record)

    match (method, parts):
        case ("GET", ["customers"]) if "email" in query:
            return one_or_404(bo.customer_by_email(query["email"]))
        case ("GET", ["customers"]) if "slack_user" in query:
            return one_or_404(bo.customer_by_slack_user(query["slack_user"]))
        case ("GET", ["customers", cid]):
            return to_json(bo.customer(cid))
        case ("GET", ["customers", cid, "orders"]):
            return [to_json(o) for o in bo.orders_of(cid)]
        case ("GET", ["customers", cid, "invoices"]):
            return [to_json(i) for i in bo.invoices_of(cid)]
        case ("GET", ["customers", cid, "payments"]):
            return [to_json(p) for p in bo.payments_of(cid)]
        case ("GET", ["customers", cid, "refunds"]):
            return [to_json(r) for r in bo.refunds_of(cid)]
        case ("GET", ["customers", cid, "subscription"]):
            return one_or_404(bo.subscription_of(cid))
        case ("GET", ["plans"]):
            return [to_json(p) for p in bo.plans()]
        case ("GET", ["orders", oid]):
            return to_json(bo.order(oid))
        case ("GET", ["orders", oid, "return-label"]):
            return one_or_404(bo.return_label_of(oid))
        case ("GET", ["invoices", iid]):
            return to_json(bo.invoice(iid))
        case ("POST", ["orders", oid, "address"]):
            return to_json(bo.change_address(oid, body["address"]))
        case ("POST", ["orders", oid, "delivery-date"]):
            return to_json(bo.change_delivery_date(oid, date.fromisoformat(body["date"])))
        case ("POST", ["orders", oid, "return-label"]):
            return to_json(bo.create_return_label(oid))
        case ("POST", ["orders", oid, "cancel"]):
            return to_json(bo.cancel_order(oid))
        case ("POST", ["orders", oid, "refunds"]):
            return to_json(bo.request_refund(oid, float(body["amount"])))
    raise NotFound("/".join(parts))
