"""The data shapes of a handoff: what the assistant asks for, and what it is told back.

Apart from the desk (which stores them) because the support desk, the agent desk, the
actions and the department messages all pass them around without touching the database.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from bot.departments import Department


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
    context: dict[str, Any] = field(default_factory=dict)
    rules: tuple[str, ...] = ()  # the CX routing rules that chose department and priority
    reason: str = ""  # why it went there, in plain words
    order_id: str | None = None  # what it is about: a later contact about it joins it
    invoice_id: str | None = None


@dataclass(frozen=True)
class Handoff:
    """A stored handoff and the promise made to the customer about it."""

    id: int
    department: Department
    need: str
    priority: str
    promise: str  # "within 24 hours" / "on Monday from 09:00, ..."
    # Set when this contact joined a handoff another conversation opened (open work is known).
    joined: bool = False
    status: str = "open"
    created_at: datetime | None = None
    promised_by: datetime | None = None
    acknowledged_by: str | None = None
    acknowledged_at: datetime | None = None
    overdue: bool = False
    contacts: int = 1  # conversations about it, the first included


@dataclass(frozen=True)
class Addition:
    """Information a customer added to their open handoff, queued for the department."""

    handoff: Handoff
    idempotency_key: str
    text: str  # as the department receives it (redacted)
    duplicate: bool = False  # the same words were already added from this chat: sent once
