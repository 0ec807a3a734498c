"""The handoff outbox: deliveries to department webhooks, written with the handoff itself.

A row is inserted in the same transaction as its handoff, so a handoff is never stored
without its delivery nor delivered without being stored. The dispatcher
(bot/handoff/dispatcher.py) sends rows in the order they were created per conversation.
Row states: ``pending`` (to be sent, at ``next_attempt_at``), ``sent``, and ``dead`` (given
up: the department refused it or it kept failing for too long); a dead row stays visible
and a person can send it again with ``retry``.
"""

from __future__ import annotations

import json
import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.engine import Connection, Engine

from bot.db.schema import outbox

PENDING, SENT, DEAD = "pending", "sent", "dead"


def encode_body(payload: dict[str, Any]) -> str:
    """The canonical JSON of a payload: sorted keys, no spaces, ASCII only, dates as text."""
    return json.dumps(payload, sort_keys=True, separators=(",", ":"), default=str)


def enqueue(
    conn: Connection,
    *,
    handoff_id: int,
    conversation_id: str,
    department: str,
    payload: dict[str, Any],
    now: datetime,
    idempotency_key: str | None = None,
) -> str:
    """Queue ``payload`` for ``department`` inside the caller's transaction; returns the idempotency key.

    ``conn`` comes from ``engine.begin()``: the row commits or rolls back with the handoff.
    The key is fixed here and sent with every attempt, so a department that receives the
    same handoff twice (a retry after a lost response) can recognise it. An update to a
    handoff passes its own key, derived from what it is about (bot/handoff/handoffs.py).
    """
    idempotency_key = idempotency_key or uuid.uuid4().hex
    conn.execute(
        outbox.insert().values(
            handoff_id=handoff_id,
            conversation_id=conversation_id,
            department=department,
            idempotency_key=idempotency_key,
            body=encode_body(payload),
            created_at=now,
            state=PENDING,
            attempts=0,
            next_attempt_at=now,
        )
    )
    return idempotency_key


def dead_letters(engine: Engine) -> list[dict[str, Any]]:
    """Every dead row, the longest dead first, with why it died (last_status, last_error)."""
    query = select(outbox).where(outbox.c.state == DEAD).order_by(outbox.c.dead_at, outbox.c.id)
    with engine.connect() as conn:
        return [dict(row._mapping) for row in conn.execute(query)]


def retry(engine: Engine, outbox_id: int, now: datetime) -> bool:
    """Send a dead row again from ``now``; False when there is no dead row with that id.

    Attempts and the last error are kept, so the history of the row stays visible. A row
    that died of old age gets one more attempt: if that fails too, it is dead again.
    """
    with engine.begin() as conn:
        result = conn.execute(
            update(outbox)
            .where(outbox.c.id == outbox_id, outbox.c.state == DEAD)
            .values(state=PENDING, next_attempt_at=now, dead_at=None)
        )
        revived: int = result.rowcount
        return revived == 1


def pending_count(engine: Engine) -> int:
    """How many rows are still waiting to be delivered, due or not."""
    with engine.connect() as conn:
        count: int = conn.execute(
            select(func.count()).select_from(outbox).where(outbox.c.state == PENDING)
        ).scalar_one()
        return count
