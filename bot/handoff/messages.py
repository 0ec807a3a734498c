"""What a department's webhook receives about a handoff, and the keys that make each once.

``handoff.created`` when a handoff opens; ``handoff.update`` when a later contact joins it
(``repeat_contact``) or the customer adds information to it (``addition``). These are a
public contract (README: public contracts), kept apart from the desk that decides when to
send them; the outbox (bot/handoff/outbox.py) signs and delivers them.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Any

from sqlalchemy.engine import Row

from bot.departments import Department
from bot.handoff.model import HandoffRequest

# The message types a department's webhook receives (README: public contracts).
CREATED, UPDATE = "handoff.created", "handoff.update"
# What a handoff.update is (its ``update_kind``): a later contact joined the handoff, or the
# customer added information to it.
REPEAT_CONTACT, ADDITION = "repeat_contact", "addition"


def update_key(handoff_id: int, conversation_id: str) -> str:
    """The Idempotency-Key of the one update a conversation sends about a handoff: the same
    however often the conversation asks again, so the department can tell it is one."""
    digest = hashlib.sha256(f"{handoff_id}\x00{conversation_id}".encode()).hexdigest()
    return f"upd-{handoff_id}-{digest[:40]}"


def addition_key(handoff_id: int, conversation_id: str, text: str) -> str:
    """The Idempotency-Key of one addition: new for each thing added, the same for the same
    words added again from the same chat (a retried message), so each arrives once."""
    words = " ".join(text.split()).casefold()
    digest = hashlib.sha256(f"{handoff_id}\x00{conversation_id}\x00{words}".encode()).hexdigest()
    return f"add-{handoff_id}-{digest[:40]}"


def webhook_payload(
    handoff_id: int, request: HandoffRequest, department: Department, now: datetime
) -> dict[str, Any]:
    """What a department's system receives: the handoff and its whole context packet."""
    return {
        "type": CREATED,
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


def update_payload(
    row: Row, request: HandoffRequest, priority: str, contacts: int, now: datetime
) -> dict[str, Any]:
    """What a department receives when a later contact joins an open handoff."""
    context = request.context
    return {
        "type": UPDATE,
        "update_kind": REPEAT_CONTACT,
        "handoff_id": row.id,
        "department": row.department,
        "need": request.need,
        "priority": priority,
        "conversation_id": request.conversation_id,
        "channel": request.channel,
        "customer_id": request.customer_id,
        "created_at": now.isoformat(timespec="seconds"),
        "contacts": contacts,
        "summary": request.summary,
        "customer_said": context.get("customer_said"),
        "transcript": context.get("transcript", []),
        "signals": context.get("signals", {}),
        "routing": {"rules": list(request.rules), "reason": request.reason},
    }


def addition_payload(
    row: Row,
    conversation_id: str,
    channel: str,
    customer_id: str | None,
    text: str,
    contacts: int,
    now: datetime,
) -> dict[str, Any]:
    """What a department receives when the customer adds information to an open handoff:
    a ``handoff.update`` whose ``update_kind`` is ``addition`` and whose ``customer_said``
    is what they added (the contact count and priority stay as they were)."""
    return {
        "type": UPDATE,
        "update_kind": ADDITION,
        "handoff_id": row.id,
        "department": row.department,
        "need": row.need,
        "priority": row.priority,
        "conversation_id": conversation_id,
        "channel": channel,
        "customer_id": customer_id,
        "created_at": now.isoformat(timespec="seconds"),
        "contacts": contacts,
        "summary": row.summary,
        "customer_said": text,
    }
