"""Internal notes: what agents write about a conversation for colleagues, never the customer.

Apart from the desk because notes are their own small record (the ``agent_notes`` table),
written by ``AgentDesk.note`` and read back by the console's view of a conversation.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.engine import Connection

from bot.agents.errors import NotFound
from bot.agents.queue import Holder
from bot.agents.takeovers import iso
from bot.db.schema import agent_notes, handoffs, touchpoints, users


def add_note(
    conn: Connection, conversation_id: str, author: Holder, text: str, now: datetime
) -> dict[str, Any]:
    """Store a note on a conversation the journey knows (``NotFound`` otherwise), JSON-ready."""
    known = conn.execute(
        select(handoffs.c.id)
        .where(handoffs.c.conversation_id == conversation_id)
        .union_all(select(touchpoints.c.id).where(touchpoints.c.conversation_id == conversation_id))
        .limit(1)
    ).first()
    if known is None:
        raise NotFound(f"no conversation {conversation_id!r} in the journey")
    conn.execute(
        insert(agent_notes).values(
            conversation_id=conversation_id,
            author_id=author.id,
            text=text,
            created_at=now,
        )
    )
    return {"author": author.display_name, "text": text, "at": iso(now)}


def notes_of(conn: Connection, conversation_id: str) -> list[dict[str, Any]]:
    """The conversation's notes, oldest first, JSON-ready."""
    notes = conn.execute(
        select(agent_notes, users.c.display_name)
        .join(users, users.c.id == agent_notes.c.author_id)
        .where(agent_notes.c.conversation_id == conversation_id)
        .order_by(agent_notes.c.created_at, agent_notes.c.id)
    ).all()
    return [{"author": n.display_name, "text": n.text, "at": iso(n.created_at)} for n in notes]
