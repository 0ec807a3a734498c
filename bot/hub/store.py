"""The hub's reads and writes on the journey database: the built-in inbox and handoff status.

Plain SQLAlchemy (2.0 style), one short transaction per call, no web framework: the web
layer (bot/hub/api.py, bot/hub/pages.py) turns the exceptions below into HTTP answers.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, insert, select, update
from sqlalchemy.engine import Engine, Row
from sqlalchemy.exc import IntegrityError

from bot.db.schema import handoffs, inbox, touchpoints

STATUSES = ("open", "acknowledged", "resolved")
# The only moves a handoff can make: forward, never back.
TRANSITIONS = {
    "acknowledge": ({"open"}, "acknowledged"),
    "resolve": ({"open", "acknowledged"}, "resolved"),
}
PRIORITY_ORDER = {"urgent": 0, "high": 1, "normal": 2}


class HandoffNotFound(LookupError):
    """No handoff with that id in the journey database."""


class TransitionNotAllowed(ValueError):
    """The handoff cannot make that move from where it is (e.g. resolved twice)."""

    def __init__(self, handoff_id: int, action: str, status: str):
        done = _past(action)
        super().__init__(
            f"handoff {handoff_id} is already {status}"
            if status == done
            else f"handoff {handoff_id} is {status}: it can no longer be {done}"
        )
        self.status = status


class KeyReused(ValueError):
    """An Idempotency-Key seen before arrived with another body or for another department."""


@dataclass(frozen=True)
class Delivery:
    """What became of one webhook delivery: stored now, or a repeat of a stored one."""

    duplicate: bool
    deliveries: int


class HubStore:
    """The inbox and handoff rows the hub serves, on a migrated journey database."""

    def __init__(self, engine: Engine, now: Callable[[], datetime] = datetime.now):
        self.engine = engine
        self._now = now

    # -- the built-in inbox ---------------------------------------------------------------
    def receive(
        self, department: str, key: str, handoff_id: int, body: str, kind: str = "handoff"
    ) -> Delivery:
        """Store a delivery once per Idempotency-Key; a repeat only counts as a delivery.

        ``kind``: a new ``handoff`` or an ``update`` to one (a later contact joined it).
        """
        for _ in range(2):  # a concurrent first delivery may win the insert: count ours then
            with self.engine.begin() as conn:
                seen = conn.execute(
                    select(inbox.c.department, inbox.c.body).where(inbox.c.idempotency_key == key)
                ).first()
                if seen is not None:
                    if seen.department != department or seen.body != body:
                        raise KeyReused(
                            f"Idempotency-Key {key!r} was already used for another delivery; "
                            "use a new key for a new delivery"
                        )
                    conn.execute(
                        update(inbox)
                        .where(inbox.c.idempotency_key == key)
                        .values(deliveries=inbox.c.deliveries + 1)
                    )
                    count = conn.execute(
                        select(inbox.c.deliveries).where(inbox.c.idempotency_key == key)
                    ).scalar_one()
                    return Delivery(duplicate=True, deliveries=count)
            try:
                with self.engine.begin() as conn:
                    conn.execute(
                        insert(inbox).values(
                            idempotency_key=key,
                            department=department,
                            handoff_id=handoff_id,
                            received_at=self._now(),
                            deliveries=1,
                            body=body,
                            kind=kind,
                        )
                    )
                return Delivery(duplicate=False, deliveries=1)
            except IntegrityError:
                continue
        raise RuntimeError(f"could not store the delivery with Idempotency-Key {key!r}")

    def inbox(
        self, department: str, statuses: Iterable[str] = STATUSES, limit: int = 100
    ) -> list[dict[str, Any]]:
        """A department's deliveries, newest first, with their handoff's current state.

        The handoff row is the truth; a delivery whose handoff this journey database does
        not hold (a department system's view) falls back to the body's fields, status open.
        """
        status = func.coalesce(handoffs.c.status, "open")
        query = (
            select(
                inbox.c.handoff_id,
                inbox.c.idempotency_key,
                inbox.c.received_at,
                inbox.c.deliveries,
                inbox.c.body,
                status.label("status"),
                handoffs.c.id.label("known"),
                handoffs.c.need,
                handoffs.c.priority,
                handoffs.c.summary,
                handoffs.c.context,
                handoffs.c.conversation_id,
                handoffs.c.customer_id,
                handoffs.c.channel,
                handoffs.c.created_at,
                handoffs.c.acknowledged_at,
                handoffs.c.resolved_at,
                handoffs.c.resolution,
            )
            .select_from(
                # Only the department's own handoff: a delivery it stored naming another
                # department's handoff id must not show it that handoff's packet.
                inbox.outerjoin(
                    handoffs,
                    (handoffs.c.id == inbox.c.handoff_id)
                    & (handoffs.c.department == inbox.c.department),
                )
            )
            .where(
                inbox.c.department == department,
                inbox.c.kind == "handoff",
                status.in_(list(statuses)),
            )
            .order_by(inbox.c.received_at.desc(), inbox.c.id.desc())
            .limit(limit)
        )
        with self.engine.connect() as conn:
            items = [_inbox_item(r) for r in conn.execute(query)]
            # The updates each handoff got (later contacts that joined it), oldest first.
            updates: dict[int, list[dict[str, Any]]] = {}
            ids = sorted({item["handoff_id"] for item in items})
            if ids:
                rows = conn.execute(
                    select(inbox.c.handoff_id, inbox.c.received_at, inbox.c.body)
                    .where(
                        inbox.c.department == department,
                        inbox.c.kind == "update",
                        inbox.c.handoff_id.in_(ids),
                    )
                    .order_by(inbox.c.received_at, inbox.c.id)
                )
                for r in rows:
                    body = _json_or_raw(r.body)
                    body = body if isinstance(body, dict) else {}
                    updates.setdefault(r.handoff_id, []).append(
                        {
                            "received_at": _iso(r.received_at),
                            "conversation_id": body.get("conversation_id"),
                            "channel": body.get("channel"),
                            "customer_said": body.get("customer_said"),
                            "contacts": body.get("contacts"),
                            "priority": body.get("priority"),
                            # "repeat_contact" (a later chat joined it) or "addition" (the
                            # customer added something for the team); None before additions.
                            "update_kind": body.get("update_kind"),
                        }
                    )
        for item in items:
            item["updates"] = updates.get(item["handoff_id"], [])
        return items

    # -- handoff status -------------------------------------------------------------------
    def handoff(self, handoff_id: int) -> dict[str, Any]:
        """One handoff as JSON-ready data; HandoffNotFound when there is none."""
        with self.engine.connect() as conn:
            row = conn.execute(select(handoffs).where(handoffs.c.id == handoff_id)).first()
        if row is None:
            raise HandoffNotFound(f"no handoff with id {handoff_id}")
        return handoff_json(row)

    def transition(
        self,
        handoff_id: int,
        action: str,
        resolution: str | None = None,
        *,
        by: str | None = None,
        promised_by: datetime | None = None,
        customer_note: str | None = None,
    ) -> dict[str, Any]:
        """Acknowledge or resolve a handoff; resolving the last open one resolves the touchpoint.

        ``by`` (who acknowledged it), ``promised_by`` (a new deadline they promise) and
        ``customer_note`` (what to tell the customer) are kept when given.
        Returns the updated handoff. Raises HandoffNotFound or TransitionNotAllowed.
        """
        allowed, target = TRANSITIONS[action]
        now = self._now()
        values: dict[str, Any] = {"status": target}
        if target == "acknowledged":
            values["acknowledged_at"] = now
            if by:
                values["acknowledged_by"] = by
            if promised_by is not None:
                values["promised_by"] = promised_by
        else:
            values.update(resolved_at=now, resolution=resolution)
        if customer_note:
            values["customer_note"] = customer_note
        with self.engine.begin() as conn:
            row = conn.execute(
                select(handoffs.c.conversation_id).where(handoffs.c.id == handoff_id)
            ).first()
            if row is None:
                raise HandoffNotFound(f"no handoff with id {handoff_id}")
            conversation = handoffs.c.conversation_id == row.conversation_id
            # Lock the conversation's handoffs (PostgreSQL; SQLite has one writer at a time)
            # so two last handoffs resolved at once cannot both miss "all are resolved".
            conn.execute(select(handoffs.c.id).where(conversation).with_for_update())
            # Conditional on the status, so a concurrent move of the same handoff cannot pass too.
            moved = conn.execute(
                update(handoffs)
                .where(handoffs.c.id == handoff_id, handoffs.c.status.in_(sorted(allowed)))
                .values(**values)
            )
            if moved.rowcount != 1:
                status = conn.execute(
                    select(handoffs.c.status).where(handoffs.c.id == handoff_id)
                ).scalar_one()
                raise TransitionNotAllowed(handoff_id, action, status)
            unresolved = conn.execute(
                select(func.count()).where(conversation, handoffs.c.status != "resolved")
            ).scalar_one()
            if target == "resolved" and unresolved == 0:
                newest = (
                    select(touchpoints.c.id)
                    .where(touchpoints.c.conversation_id == row.conversation_id)
                    .order_by(touchpoints.c.session_started_at.desc(), touchpoints.c.id.desc())
                    .limit(1)
                    .scalar_subquery()
                )
                conn.execute(
                    update(touchpoints).where(touchpoints.c.id == newest).values(outcome="resolved")
                )
            updated = conn.execute(select(handoffs).where(handoffs.c.id == handoff_id)).one()
        return handoff_json(updated)


def handoff_json(row: Row) -> dict[str, Any]:
    """A handoff row as JSON-ready data: the context packet parsed, times in ISO 8601."""
    return {
        "id": row.id,
        "department": row.department,
        "need": row.need,
        "conversation_id": row.conversation_id,
        "customer_id": row.customer_id,
        "channel": row.channel,
        "priority": row.priority,
        "summary": row.summary,
        "context": _json_or_raw(row.context),
        "status": row.status,
        "created_at": _iso(row.created_at),
        "acknowledged_at": _iso(row.acknowledged_at),
        "resolved_at": _iso(row.resolved_at),
        "resolution": row.resolution,
        "order_id": row.order_id,
        "invoice_id": row.invoice_id,
        "promised_by": _iso(row.promised_by),
        "acknowledged_by": row.acknowledged_by,
        "customer_note": row.customer_note,
    }


def _inbox_item(row: Row) -> dict[str, Any]:
    body = _json_or_raw(row.body)
    body = body if isinstance(body, dict) else {}
    known = row.known is not None

    def pick(column: str) -> Any:
        return getattr(row, column) if known else body.get(column)

    context = _json_or_raw(row.context) if known else body.get("context", {})
    return {
        "handoff_id": row.handoff_id,
        "status": row.status,
        "need": pick("need"),
        "priority": pick("priority"),
        "summary": pick("summary"),
        "context": context,
        "conversation_id": pick("conversation_id"),
        "customer_id": pick("customer_id"),
        "channel": pick("channel"),
        "acknowledged_at": _iso(row.acknowledged_at),
        "resolved_at": _iso(row.resolved_at),
        "resolution": row.resolution,
        "received_at": _iso(row.received_at),
        "deliveries": row.deliveries,
        "idempotency_key": row.idempotency_key,
    }


def _json_or_raw(text: str | None) -> Any:
    if text is None:
        return None
    try:
        return json.loads(text)
    except ValueError:
        return text  # never hide a packet because it is not JSON: show it as it is


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _past(action: str) -> str:
    return {"acknowledge": "acknowledged", "resolve": "resolved"}[action]
