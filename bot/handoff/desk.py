"""Record handoffs to departments and tell the customer who, how and when.

Each handoff is stored with its context packet (who, what, which order or invoice, what
the customer said, what the assistant already did), so the department never has to ask
again. In the same transaction: the routing decision with its reason, and an outbox row
that the dispatcher delivers to the department's webhook (bot/handoff/dispatcher.py), so a
handoff is never lost between the chat and the department. One conversation asking twice
for the same need gets the same handoff back.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime

from sqlalchemy import insert, select
from sqlalchemy.engine import Engine

from bot.departments import Department
from bot.handoff.outbox import enqueue
from bot.journey.schema import handoffs, routing_decisions, touchpoints
from bot.redaction import redact, redact_data

PRIORITIES = ("normal", "high", "urgent")
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


@dataclass(frozen=True)
class HandoffRequest:
    """What the assistant knows when it hands a need over."""

    department: str
    need: str
    conversation_id: str
    summary: str
    channel: str = "unknown"
    customer_id: str | None = None
    priority: str = "normal"
    context: dict = field(default_factory=dict)
    rules: tuple[str, ...] = ()  # the CX routing rules that chose department and priority
    reason: str = ""  # why it went there, in plain words


@dataclass(frozen=True)
class Handoff:
    """A stored handoff and the promise made to the customer about it."""

    id: int
    department: Department
    need: str
    priority: str
    promise: str  # "within 24 hours" / "on Monday from 09:00, ..."


class HandoffDesk:
    """Creates handoff records; one per conversation and need."""

    def __init__(
        self,
        engine: Engine,
        departments: dict[str, Department],
        now: Callable[[], datetime] = datetime.now,
    ):
        self.engine = engine  # a journey database, migrated (bot.journey.migrate)
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
            handoff_id, department, request.need, request.priority, department.promise(now)
        )

    def open_handoffs(self, conversation_id: str | None = None) -> list[dict]:
        query = select(handoffs).where(handoffs.c.status == "open").order_by(handoffs.c.id)
        if conversation_id is not None:
            query = query.where(handoffs.c.conversation_id == conversation_id)
        with self.engine.connect() as conn:
            return [
                dict(r._mapping) | {"context": json.loads(r.context)} for r in conn.execute(query)
            ]


def webhook_payload(
    handoff_id: int, request: HandoffRequest, department: Department, now: datetime
) -> dict:
    """What a department's system receives: the handoff and its whole context packet."""
    return {
        "handoff_id": handoff_id,
        "department": department.name,
        "need": request.need,
        "priority": request.priority,
        "summary": request.summary,
        "conversation_id": request.conversation_id,
        "channel": request.channel,
        "customer_id": request.customer_id,
        "created_at": now.isoformat(timespec="seconds"),
        "promise": department.promise(now),
        "routing": {"rules": list(request.rules), "reason": request.reason},
        "context": request.context,
    }
