"""Facts from departments are facts: the newest thing a department told us, over the back office.

Departments report what they know first through the hub (bot/proactive/: a delayed shipment
with its new date, a delivery, a refund issued, a failed invoice) and close handoffs with a
note for the customer (bot/hub/store.py). The back office is the system of record, but it
learns these later, if ever (a carrier's delay is the delivery team's knowledge, not an
order field). So the desk reads them as an *overlay* on the back office record, here, rather
than writing them into the back office: the back office keeps being the one writer of its
records, and what the assistant says stops contradicting the department at once.

Precedence, by time:
- the newest event about an order decides (a later delay replaces an earlier one's date);
- an event stays in force until the back office shows the order moved past it: a delay is
  about an order still on its way, so a delivered or cancelled order in the back office
  (which happened after the delay was reported) wins over it, and a delay only ever moves
  the day later, so a back office already expecting it later than the delay's day has caught
  up (or knows of a newer delay) and wins;
- an event applies to the record as it stood when it arrived; one received before the
  order was placed (impossible, but cheap to guard) is ignored.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlalchemy.sql.expression import ColumnElement

from bot.backoffice import Invoice, Order, Refund
from bot.backoffice.model import CANCELLED, DELIVERED
from bot.db.schema import handoffs, proactive_events
from bot.proactive.store import ProactiveEvent, _as_event

# Event types that are facts about an order, and the ones about an invoice.
ORDER_FACTS = ("shipment.delayed", "shipment.delivered", "refund.issued")
INVOICE_FACTS = ("invoice.failed",)
# How far back a department's note on a resolved handoff is still news worth quoting.
NOTES_FOR = timedelta(days=30)


@dataclass(frozen=True)
class OrderFacts:
    """An order as the assistant tells it: the back office record with department facts over it."""

    order: Order
    delay: ProactiveEvent | None = None  # the delay in force, if any (its new date is the order's)
    delivered: ProactiveEvent | None = None  # delivered by the department's word


@dataclass(frozen=True)
class ResolvedNote:
    """What a department said to the customer when it resolved their handoff."""

    handoff_id: int
    department: str
    need: str
    order_id: str | None
    invoice_id: str | None
    note: str
    resolved_at: datetime


class DepartmentFacts:
    """Reads department facts from the journey database (events and resolved handoffs)."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def events_about_order(self, order_id: str) -> list[ProactiveEvent]:
        """Events about ``order_id`` that are facts, newest first."""
        return self._newest(proactive_events.c.order_id == order_id, ORDER_FACTS)

    def _newest(self, about: ColumnElement[bool], types: tuple[str, ...]) -> list[ProactiveEvent]:
        """The events of ``types`` matching ``about``, newest first."""
        with self._engine.connect() as conn:
            rows = conn.execute(
                select(proactive_events)
                .where(about, proactive_events.c.type.in_(types))
                .order_by(proactive_events.c.received_at.desc(), proactive_events.c.id.desc())
            )
            return [_as_event(r) for r in rows]

    def order(self, order: Order) -> OrderFacts:
        """``order`` with the newest department facts about it applied (module docstring)."""
        return overlay_order(order, self.events_about_order(order.id))

    def refund(self, refund: Refund) -> Refund:
        """A refund the billing team reported issued is issued, whatever the back office says."""
        if refund.status == "issued":
            return refund
        for event in self.events_about_order(refund.order_id):
            if event.type == "refund.issued" and event.received_at.date() >= refund.requested_at:
                return replace(refund, status="issued", issued_at=event.received_at.date())
        return refund

    def invoice(self, invoice: Invoice) -> Invoice:
        """An invoice the billing team reported failed is failed until it is paid since."""
        if invoice.status != "open":
            return invoice
        with self._engine.connect() as conn:
            failed = conn.execute(
                select(proactive_events.c.id).where(
                    proactive_events.c.invoice_id == invoice.id,
                    proactive_events.c.type.in_(INVOICE_FACTS),
                )
            ).first()
        return replace(invoice, status="failed") if failed else invoice

    def failed_invoices(self, customer_id: str) -> list[ProactiveEvent]:
        """The failed-payment events billing reported for this customer, newest first."""
        return self._newest(proactive_events.c.customer_id == customer_id, INVOICE_FACTS)

    def resolved_notes(
        self, customer_id: str, department: str | None, now: datetime
    ) -> list[ResolvedNote]:
        """The notes departments left for this customer on handoffs resolved lately, newest first."""
        query = (
            select(handoffs)
            .where(
                handoffs.c.customer_id == customer_id,
                handoffs.c.status == "resolved",
                handoffs.c.customer_note.is_not(None),
                handoffs.c.resolved_at >= now - NOTES_FOR,
            )
            .order_by(handoffs.c.resolved_at.desc(), handoffs.c.id.desc())
        )
        if department is not None:
            query = query.where(handoffs.c.department == department)
        with self._engine.connect() as conn:
            return [
                ResolvedNote(
                    r.id,
                    r.department,
                    r.need,
                    r.order_id,
                    r.invoice_id,
                    r.customer_note,
                    r.resolved_at,
                )
                for r in conn.execute(query)
            ]


def overlay_order(order: Order, events: list[ProactiveEvent]) -> OrderFacts:
    """Apply the newest order event of ``events`` (newest first) to ``order``."""
    for event in events:
        if event.received_at.date() < order.placed_at:
            continue
        if event.type == "shipment.delayed":
            if order.status in (DELIVERED, CANCELLED):
                # The back office moved past the delay since: it happened after the report.
                return OrderFacts(order)
            new_date = date.fromisoformat(event.details["new_date"])
            if order.expected_delivery is not None and new_date < order.expected_delivery:
                # A delay only moves the day later: a back office already expecting it
                # later has learnt of this delay (or a newer one) since.
                return OrderFacts(order)
            return OrderFacts(replace(order, expected_delivery=new_date), delay=event)
        if event.type == "shipment.delivered":
            if order.status in (DELIVERED, CANCELLED):
                return OrderFacts(order)
            delivered = replace(order, status=DELIVERED, delivered_at=event.received_at.date())
            return OrderFacts(delivered, delivered=event)
        # refund.issued says nothing about where the order is: look further back.
    return OrderFacts(order)
