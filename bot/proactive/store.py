"""Department events in the journey database, from intake to the customer's choice.

An event moves through these states (``proactive_events.state``):

    pending --claim--> sending --> delivered        (told on a live channel)
       ^                  |
       +------------------+  (quiet hours, or Rasa/Slack failed: tried again later)
                          +--> waiting --next contact--> told

Claims are conditional updates (``... WHERE state = 'pending'``), so several workers (hubs)
can deliver side by side and each event goes out once; a worker that dies mid-delivery
leaves its claim to lapse after ``CLAIM_LEASE`` and another takes the event over.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, insert, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Engine

from bot.db.schema import proactive_events
from bot.proactive.events import IncomingEvent

PENDING, SENDING, WAITING, DELIVERED, TOLD = "pending", "sending", "waiting", "delivered", "told"
CLAIM_LEASE = timedelta(minutes=2)


@dataclass(frozen=True)
class ProactiveEvent:
    """One department event as the journey keeps it."""

    id: int
    event_id: str
    type: str
    department: str
    received_at: datetime
    customer_id: str
    order_id: str | None
    invoice_id: str | None
    details: dict[str, Any]
    state: str
    deliver_after: datetime
    attempts: int
    last_error: str | None
    held_for_quiet_hours: bool
    conversation_id: str | None
    channel: str | None
    delivered_at: datetime | None
    touchpoint_id: int | None
    choice: str | None

    def as_dict(self) -> dict[str, Any]:
        """The event as the hub's API shows it."""
        return {
            "id": self.event_id,
            "type": self.type,
            "department": self.department,
            "customer_id": self.customer_id,
            "order_id": self.order_id,
            "invoice_id": self.invoice_id,
            "details": self.details,
            "state": self.state,
            "received_at": self.received_at.isoformat(timespec="seconds"),
            "deliver_after": self.deliver_after.isoformat(timespec="seconds"),
            "held_for_quiet_hours": self.held_for_quiet_hours,
            "attempts": self.attempts,
            "last_error": self.last_error,
            "channel": self.channel,
            "delivered_at": self.delivered_at.isoformat(timespec="seconds")
            if self.delivered_at
            else None,
            "choice": self.choice,
        }


class ProactiveStore:
    """The proactive_events table: take events in once, hand them out, record the outcome."""

    def __init__(self, engine: Engine, now: Callable[[], datetime] = datetime.now):
        self._engine = engine  # a journey database, migrated (bot.db.migrate)
        self._now = now

    # -- intake ------------------------------------------------------------------------
    def take_in(
        self, event: IncomingEvent, customer_id: str, department: str | None = None
    ) -> tuple[ProactiveEvent, bool]:
        """Keep ``event`` for ``customer_id`` unless its id is known; returns it and whether new.

        ``department``: who it is from when its type does not say (a handoff's outcome).
        """
        now = self._now()
        values = dict(
            event_id=event.event_id,
            type=event.type.name,
            department=department or event.type.department,
            received_at=now,
            customer_id=customer_id,
            order_id=event.order_id,
            invoice_id=event.invoice_id,
            details=json.dumps(event.details, sort_keys=True),
            state=PENDING,
            deliver_after=now,
            attempts=0,
            held_for_quiet_hours=False,
        )
        with self._engine.begin() as conn:
            dialect = conn.dialect.name
            if dialect == "postgresql":
                statement = postgresql.insert(proactive_events).on_conflict_do_nothing()
            elif dialect == "sqlite":
                statement = sqlite.insert(proactive_events).on_conflict_do_nothing()
            else:
                statement = insert(proactive_events)
            # Two deliveries of one event at once: the unique id lets exactly one insert.
            inserted = conn.execute(statement.values(**values)).rowcount == 1
            row = conn.execute(
                select(proactive_events).where(proactive_events.c.event_id == event.event_id)
            ).one()
        return _as_event(row), inserted

    # -- reading -------------------------------------------------------------------------
    def get(self, id: int) -> ProactiveEvent | None:
        with self._engine.connect() as conn:
            row = conn.execute(select(proactive_events).where(proactive_events.c.id == id)).first()
        return _as_event(row) if row else None

    def by_event_id(self, event_id: str) -> ProactiveEvent | None:
        with self._engine.connect() as conn:
            row = conn.execute(
                select(proactive_events).where(proactive_events.c.event_id == event_id)
            ).first()
        return _as_event(row) if row else None

    def of_customer(self, customer_id: str, limit: int = 50) -> list[ProactiveEvent]:
        """The customer's events, newest first."""
        with self._engine.connect() as conn:
            rows = conn.execute(
                select(proactive_events)
                .where(proactive_events.c.customer_id == customer_id)
                .order_by(proactive_events.c.id.desc())
                .limit(limit)
            )
            return [_as_event(r) for r in rows]

    def news_for(self, customer_id: str | None) -> list[ProactiveEvent]:
        """What the customer has not been told yet (waiting for a contact, or held), oldest first."""
        if not customer_id:
            return []
        with self._engine.connect() as conn:
            rows = conn.execute(
                select(proactive_events)
                .where(
                    proactive_events.c.customer_id == customer_id,
                    proactive_events.c.state.in_((WAITING, PENDING)),
                )
                .order_by(proactive_events.c.id)
            )
            return [_as_event(r) for r in rows]

    def open_offer(self, conversation_id: str, type: str) -> ProactiveEvent | None:
        """The newest event of ``type`` told in this conversation whose choice is still open.

        An event names a conversation only once it is being told there (``attach``).
        """
        with self._engine.connect() as conn:
            row = conn.execute(
                select(proactive_events)
                .where(
                    proactive_events.c.conversation_id == conversation_id,
                    proactive_events.c.type == type,
                    proactive_events.c.choice.is_(None),
                )
                .order_by(proactive_events.c.id.desc())
            ).first()
        return _as_event(row) if row else None

    # -- the delivery worker ---------------------------------------------------------------
    def claim_due(self, limit: int = 20) -> list[ProactiveEvent]:
        """Claim up to ``limit`` events due now (and lapsed claims) for this worker, oldest first."""
        now = self._now()
        due = or_(
            and_(proactive_events.c.state == PENDING, proactive_events.c.deliver_after <= now),
            and_(proactive_events.c.state == SENDING, proactive_events.c.claimed_until < now),
        )
        claimed = []
        with self._engine.connect() as conn:
            with conn.begin():
                ids = list(
                    conn.execute(
                        select(proactive_events.c.id)
                        .where(due)
                        .order_by(proactive_events.c.id)
                        .limit(limit)
                    ).scalars()
                )
            for id in ids:
                with conn.begin():
                    # Only if no other worker claimed it in between (the same condition).
                    taken = conn.execute(
                        update(proactive_events)
                        .where(proactive_events.c.id == id, due)
                        .values(state=SENDING, claimed_until=now + CLAIM_LEASE)
                    ).rowcount
                    if taken:
                        row = conn.execute(
                            select(proactive_events).where(proactive_events.c.id == id)
                        ).one()
                        claimed.append(_as_event(row))
        return claimed

    def hold(
        self, id: int, until: datetime, quiet_hours: bool = False, error: str | None = None
    ) -> None:
        """Send it again at ``until`` (quiet hours, or after a failure: ``error``)."""
        values: dict[str, Any] = {"state": PENDING, "deliver_after": until, "claimed_until": None}
        if quiet_hours:
            values["held_for_quiet_hours"] = True
        if error is not None:
            values["last_error"] = error[:500]
            values["attempts"] = proactive_events.c.attempts + 1
        self._set(id, SENDING, **values)

    def wait_for_contact(self, id: int, why: str) -> None:
        """No live channel now: the customer is told at their next contact."""
        self._set(id, SENDING, state=WAITING, claimed_until=None, last_error=why[:500])

    def delivered(self, id: int, conversation_id: str, channel: str) -> None:
        """Told on a live channel."""
        self._set(
            id,
            SENDING,
            state=DELIVERED,
            claimed_until=None,
            conversation_id=conversation_id,
            channel=channel,
            delivered_at=self._now(),
            last_error=None,
        )

    # -- told at the customer's next contact, and what they chose -----------------------
    def claim_for_contact(self, id: int, conversation_id: str, channel: str) -> bool:
        """Take a waiting (or held) event to tell in this conversation; False if already taken."""
        with self._engine.begin() as conn:
            return (
                conn.execute(
                    update(proactive_events)
                    .where(
                        proactive_events.c.id == id,
                        proactive_events.c.state.in_((WAITING, PENDING)),
                    )
                    .values(
                        state=TOLD,
                        claimed_until=None,
                        conversation_id=conversation_id,
                        channel=channel,
                        delivered_at=self._now(),
                    )
                ).rowcount
                == 1
            )

    def attach(self, id: int, conversation_id: str, touchpoint_id: int) -> None:
        """Link the event to the conversation it is told in and its proactive touchpoint."""
        with self._engine.begin() as conn:
            conn.execute(
                update(proactive_events)
                .where(proactive_events.c.id == id)
                .values(conversation_id=conversation_id, touchpoint_id=touchpoint_id)
            )

    def chose(self, id: int, option: str) -> None:
        """Record the option the customer took."""
        with self._engine.begin() as conn:
            conn.execute(
                update(proactive_events)
                .where(proactive_events.c.id == id)
                .values(choice=option, chosen_at=self._now())
            )

    def _set(self, id: int, from_state: str, **values: Any) -> None:
        with self._engine.begin() as conn:
            conn.execute(
                update(proactive_events)
                .where(proactive_events.c.id == id, proactive_events.c.state == from_state)
                .values(**values)
            )


def _as_event(row) -> ProactiveEvent:
    return ProactiveEvent(
        id=row.id,
        event_id=row.event_id,
        type=row.type,
        department=row.department,
        received_at=row.received_at,
        customer_id=row.customer_id,
        order_id=row.order_id,
        invoice_id=row.invoice_id,
        details=json.loads(row.details),
        state=row.state,
        deliver_after=row.deliver_after,
        attempts=row.attempts,
        last_error=row.last_error,
        held_for_quiet_hours=bool(row.held_for_quiet_hours),
        conversation_id=row.conversation_id,
        channel=row.channel,
        delivered_at=row.delivered_at,
        touchpoint_id=row.touchpoint_id,
        choice=row.choice,
    )
