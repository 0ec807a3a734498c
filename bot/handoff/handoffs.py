"""Record handoffs to departments and tell the customer who, how and when.

Each handoff is stored with its context packet (who, what, which order or invoice, what
the customer said, what the assistant already did), so the department never has to ask
again. In the same transaction: the routing decision with its reason, and an outbox row
that the dispatcher delivers to the department's webhook (bot/handoff/dispatcher.py), so a
handoff is never lost between the chat and the department. One conversation asking twice
for the same need gets the same handoff back.

Open work is known (one truth): before a new handoff, the customer's open (or acknowledged)
handoffs are searched for the same department, need and order or invoice (``_open_work``).
A match is *joined*: no second handoff; the later conversation is recorded in
``handoff_contacts`` and the department gets one ``handoff.update`` (the new message, the
repeat count, a raised priority), signed and delivered by the same outbox, once per
conversation (the unique (handoff, conversation) row and a key derived from both).

Customers can add information to their open work (``add_information``): each addition is
one more ``handoff.update`` (``update_kind: "addition"``; the joining one says
``"repeat_contact"``) through the same outbox, under a key derived from the handoff, the
conversation and the words added, so a retry of the same message is stored and delivered
once. Only a conversation that opened or joined the handoff, of the same customer, can add
to it: an id typed by the customer is never trusted.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, insert, or_, select, update
from sqlalchemy.engine import Connection, Engine, Row
from sqlalchemy.exc import IntegrityError
from sqlalchemy.sql import ColumnElement

from bot.db.schema import (
    handoff_contacts,
    handoffs,
    outbox,
    routing_decisions,
    touchpoints,
)
from bot.departments import Department
from bot.handoff.messages import (
    addition_key,
    addition_payload,
    update_key,
    update_payload,
    webhook_payload,
)
from bot.handoff.model import Addition, Handoff, HandoffRequest
from bot.handoff.outbox import enqueue
from bot.redaction import redact, redact_data

PRIORITIES = ("normal", "high", "urgent")
# Needs that are one concern when about the same order: "where is it?" about a late order
# and "it's late!" are the same chase.
NEED_FAMILY = {"order_late": "order_status"}
# The states in which a handoff is still work under way.
OPEN_STATES = ("open", "acknowledged")
# The longest addition passed on; a longer message is cut (the transcript stays whole).
MAX_ADDITION_CHARS = 2000
# Context packet keys kept as they are: the customer record and the contact address the
# department replies to, back-office references it acts on, and how sure we are who it is
# (``identity``: what a visitor who is not verified says they are, the same email the
# customer record holds, so an agent can check it). Everything else in the packet (what the
# customer said, the transcript, notes, any field added later) is redacted.
UNREDACTED_CONTEXT = (
    "customer",
    "contact_email",
    "order_id",
    "invoice_id",
    "tracking",
    "carrier",
    "identity",
)


def same_need(need: str) -> str:
    """The concern a need belongs to, for matching open handoffs (order_late = order_status)."""
    return NEED_FAMILY.get(need, need)


def promised_by(department: Department, at: datetime) -> datetime:
    """When the department promised an answer for a handoff made at ``at``: its service
    level, counted from when it is next at work."""
    return department.next_opening(at) + timedelta(hours=department.sla_hours)


def contacts_of(conn: Connection, handoff_id: int) -> int:
    """How many chats are about the handoff: the one that opened it and those that joined."""
    joined: int = conn.execute(
        select(func.count())
        .select_from(handoff_contacts)
        .where(handoff_contacts.c.handoff_id == handoff_id)
    ).scalar_one()
    return 1 + joined


class HandoffDesk:
    """Creates handoff records; one per conversation and need."""

    def __init__(
        self,
        engine: Engine,
        departments: dict[str, Department],
        now: Callable[[], datetime] = datetime.now,
    ):
        self.engine = engine  # a journey database, migrated (bot.db.migrate)
        self._departments = departments
        self._now = now

    def hand_off(self, request: HandoffRequest) -> Handoff:
        department = self._departments.get(request.department)
        if department is None:
            raise ValueError(f"no department named {request.department!r} in departments.yml")
        if request.priority not in PRIORITIES:
            raise ValueError(f"priority must be one of {PRIORITIES}, got {request.priority!r}")
        now = self._now()
        # Departments and the inbox see no email, phone or card number the customer typed.
        request = replace(
            request,
            summary=redact(request.summary),
            context=redact_data(request.context, keep=UNREDACTED_CONTEXT),
        )
        with self.engine.begin() as conn:
            existing = conn.execute(
                select(handoffs.c.id, handoffs.c.priority).where(
                    handoffs.c.conversation_id == request.conversation_id,
                    handoffs.c.need == request.need,
                    handoffs.c.status == "open",
                )
            ).first()
            if existing is not None:
                return Handoff(
                    existing.id,
                    department,
                    request.need,
                    existing.priority,
                    department.promise(now),
                )
            open_work = self._open_work(conn, request, department)
            if open_work is not None:
                return self._join(conn, open_work, request, department, now)
            result = conn.execute(
                insert(handoffs).values(
                    created_at=now,
                    department=department.name,
                    need=request.need,
                    conversation_id=request.conversation_id,
                    customer_id=request.customer_id,
                    channel=request.channel,
                    priority=request.priority,
                    summary=request.summary,
                    context=json.dumps(request.context, default=str),
                    status="open",
                    order_id=request.order_id,
                    invoice_id=request.invoice_id,
                    promised_by=promised_by(department, now),
                )
            )
            handoff_id = result.inserted_primary_key[0]
            touchpoint = conn.execute(
                select(touchpoints.c.id)
                .where(touchpoints.c.conversation_id == request.conversation_id)
                .order_by(touchpoints.c.id.desc())
            ).first()
            touchpoint_id = touchpoint.id if touchpoint else None
            if touchpoint_id is not None:
                conn.execute(
                    handoffs.update()
                    .where(handoffs.c.id == handoff_id)
                    .values(touchpoint_id=touchpoint_id)
                )
            conn.execute(
                insert(routing_decisions).values(
                    created_at=now,
                    touchpoint_id=touchpoint_id,
                    conversation_id=request.conversation_id,
                    need=request.need,
                    department=department.name,
                    priority=request.priority,
                    rule=",".join(request.rules) or "intent_map",
                    reason=request.reason or f"{request.need} belongs to {department.name}",
                )
            )
            enqueue(
                conn,
                handoff_id=handoff_id,
                conversation_id=request.conversation_id,
                department=department.name,
                payload=webhook_payload(handoff_id, request, department, now),
                now=now,
            )
        return Handoff(
            handoff_id,
            department,
            request.need,
            request.priority,
            department.promise(now),
            created_at=now,
            promised_by=promised_by(department, now),
        )

    def _open_work(
        self, conn: Connection, request: HandoffRequest, department: Department
    ) -> Row | None:
        """The customer's open handoff about the same concern, the oldest first, if any.

        Same customer (verified: an unverified visitor's handoffs are never matched across
        conversations), same department, same need (order_late = order_status) and the same
        order and invoice (none = none). A resolved one is history: a new handoff.
        """
        if not request.customer_id or not (request.order_id or request.invoice_id):
            # Only a concern with a reference (an order, an invoice) is matched: "talk to a
            # person" or a complaint in a new conversation is a new conversation's handoff.
            return None
        concern = same_need(request.need)
        family = {request.need, concern} | {n for n, f in NEED_FAMILY.items() if f == concern}
        return conn.execute(
            select(handoffs)
            .where(
                handoffs.c.customer_id == request.customer_id,
                handoffs.c.department == department.name,
                handoffs.c.status.in_(OPEN_STATES),
                handoffs.c.need.in_(sorted(family)),
                _same(handoffs.c.order_id, request.order_id),
                _same(handoffs.c.invoice_id, request.invoice_id),
            )
            .order_by(handoffs.c.id)
        ).first()

    def _join(
        self,
        conn: Connection,
        row: Row,
        request: HandoffRequest,
        department: Department,
        now: datetime,
    ) -> Handoff:
        """This conversation joins open handoff ``row``: one contact row and one update."""
        priority = row.priority
        if PRIORITIES.index(request.priority) > PRIORITIES.index(row.priority):
            # The routing rules raised it (a repeat contact is a frustration signal).
            priority = request.priority
            conn.execute(update(handoffs).where(handoffs.c.id == row.id).values(priority=priority))
        key = update_key(row.id, request.conversation_id)
        seen = conn.execute(
            select(handoff_contacts.c.id).where(
                handoff_contacts.c.handoff_id == row.id,
                handoff_contacts.c.conversation_id == request.conversation_id,
            )
        ).first()
        contacts = contacts_of(conn, row.id)
        if seen is None and row.conversation_id != request.conversation_id:
            contacts += 1
            touchpoint = conn.execute(
                select(touchpoints.c.id)
                .where(touchpoints.c.conversation_id == request.conversation_id)
                .order_by(touchpoints.c.id.desc())
            ).first()
            conn.execute(
                insert(handoff_contacts).values(
                    handoff_id=row.id,
                    conversation_id=request.conversation_id,
                    touchpoint_id=touchpoint.id if touchpoint else None,
                    channel=request.channel,
                    created_at=now,
                    customer_said=request.context.get("customer_said"),
                    idempotency_key=key,
                )
            )
            enqueue(
                conn,
                handoff_id=row.id,
                conversation_id=request.conversation_id,
                department=department.name,
                payload=update_payload(row, request, priority, contacts, now),
                now=now,
                idempotency_key=key,
            )
        # As any open handoff is told (its contacts now count this chat), at its new priority.
        joined = self._as_handoff(conn, row, request.conversation_id, now)
        return replace(joined, priority=priority, joined=True)

    def open_work_of(self, conversation_id: str, customer_id: str | None) -> Handoff | None:
        """The open handoff this conversation can add information to, if any: the one it
        opened or joined most recently, of this same customer (see ``_addable``)."""
        with self.engine.connect() as conn:
            row = self._addable(conn, conversation_id, customer_id)
            return self._as_handoff(conn, row, conversation_id) if row is not None else None

    def add_information(
        self,
        conversation_id: str,
        customer_id: str | None,
        text: str,
        channel: str = "unknown",
    ) -> Addition | None:
        """Send what the customer added to their open handoff as one signed update.

        None when this conversation has no open handoff of this customer to add to, or
        nothing was said. The same words added again from this chat are not queued again
        (``duplicate``), however the retry comes (the unique key settles a race).
        """
        text = redact(" ".join((text or "").split()))[:MAX_ADDITION_CHARS]
        if not text:
            return None
        now = self._now()
        try:
            with self.engine.begin() as conn:
                row = self._addable(conn, conversation_id, customer_id)
                if row is None:
                    return None
                handoff = self._as_handoff(conn, row, conversation_id, now)
                key = addition_key(row.id, conversation_id, text)
                if self._queued(conn, key):
                    return Addition(handoff, key, text, duplicate=True)
                enqueue(
                    conn,
                    handoff_id=row.id,
                    conversation_id=conversation_id,
                    department=row.department,
                    payload=addition_payload(
                        row, conversation_id, channel, customer_id, text, handoff.contacts, now
                    ),
                    now=now,
                    idempotency_key=key,
                )
        except IntegrityError:
            # The same addition queued at the same moment by another worker: it is there once.
            with self.engine.connect() as conn:
                row = self._addable(conn, conversation_id, customer_id)
                if row is None or not self._queued(conn, key):
                    raise
                handoff = self._as_handoff(conn, row, conversation_id, now)
                return Addition(handoff, key, text, duplicate=True)
        return Addition(handoff, key, text)

    @staticmethod
    def _queued(conn: Connection, key: str) -> bool:
        found = conn.execute(select(outbox.c.id).where(outbox.c.idempotency_key == key)).first()
        return found is not None

    def _addable(
        self, conn: Connection, conversation_id: str, customer_id: str | None
    ) -> Row | None:
        """The open handoff row ``conversation_id`` opened or joined most recently, of the
        customer ``customer_id``; a visitor not verified (None) only the one its own
        conversation opened for nobody in particular."""
        joined = select(handoff_contacts.c.handoff_id, handoff_contacts.c.created_at).where(
            handoff_contacts.c.conversation_id == conversation_id
        )
        joined_at = {r.handoff_id: r.created_at for r in conn.execute(joined)}
        ours = [handoffs.c.conversation_id == conversation_id]
        if joined_at and customer_id:
            ours.append(handoffs.c.id.in_(sorted(joined_at)))
        rows = conn.execute(
            select(handoffs).where(
                handoffs.c.status.in_(OPEN_STATES),
                _same(handoffs.c.customer_id, customer_id),
                or_(*ours),
            )
        ).all()
        if not rows:
            return None
        # The newest this conversation touched: opened, or joined (the later of both).
        return max(
            rows,
            key=lambda r: (
                max(
                    r.created_at if r.conversation_id == conversation_id else datetime.min,
                    joined_at.get(r.id) or datetime.min,
                ),
                r.id,
            ),
        )

    def _as_handoff(
        self, conn: Connection, row: Row, conversation_id: str, now: datetime | None = None
    ) -> Handoff:
        """The stored handoff ``row`` as the customer of ``conversation_id`` hears about it."""
        now = now or self._now()
        department = self._departments.get(row.department)
        if department is None:
            raise ValueError(f"no department named {row.department!r} in departments.yml")
        contacts = contacts_of(conn, row.id)
        due = row.promised_by
        return Handoff(
            row.id,
            department,
            row.need,
            row.priority,
            department.promise(row.created_at),
            joined=row.conversation_id != conversation_id,
            status=row.status,
            created_at=row.created_at,
            promised_by=due,
            acknowledged_by=row.acknowledged_by,
            acknowledged_at=row.acknowledged_at,
            overdue=due is not None and now > due,
            contacts=contacts,
        )

    def department(self, name: str) -> Department | None:
        """The department of that name in departments.yml, if any."""
        return self._departments.get(name)

    def open_handoffs(self, conversation_id: str | None = None) -> list[dict[str, Any]]:
        query = select(handoffs).where(handoffs.c.status == "open").order_by(handoffs.c.id)
        if conversation_id is not None:
            query = query.where(handoffs.c.conversation_id == conversation_id)
        with self.engine.connect() as conn:
            return [
                dict(r._mapping) | {"context": json.loads(r.context)} for r in conn.execute(query)
            ]


def _same(column: ColumnElement, value: object) -> ColumnElement:
    """``column`` equals ``value``, NULL matching NULL."""
    return column.is_(None) if value is None else column == value
