"""The console's conversation list: the queue, mine, recent, and a search, in one shape.

Each item is what a card in the list beside the open chat shows: who, what they need in
plain words, the channel's name, and where the conversation stands ("waiting 4 min",
"with Ana", "answered by the assistant"). ``version`` is a cheap fingerprint of everything
the list is made of: the hub's push (bot/hub/console_live.py) reads it to know when a
console must look again, without any console asking.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.engine import Connection, Engine

from bot.agents import labels
from bot.agents.escalations import json_list
from bot.agents.queue import Escalation
from bot.db.schema import handoffs, journey_customers, takeovers, touchpoints

VIEWS = ("queue", "mine", "recent", "search")
LIMIT = 40
MAX_QUERY = 100
MINE_SINCE = timedelta(days=1)  # "mine" keeps the chats an agent ended today


class BadQuery(ValueError):
    """A list view or search that can't be answered (the message says why)."""


def item_of_escalation(e: Escalation, viewer_id: int | None) -> dict[str, Any]:
    """A queue card."""
    data = e.as_json(viewer_id)
    holder = data["taken_by"]
    if holder:
        state = "with you" if data["mine"] else f"with {holder['display_name']}"
    else:
        state = f"waiting {data['waited']}"
    return {
        "conversation_id": e.conversation_id,
        "name": e.customer_name or "Anonymous visitor",
        "headline": data["headline"],
        "channel": e.channel,
        "channel_label": data["channel_label"],
        "state": state,
        "waiting": holder is None,
        "waited_seconds": data["waiting_seconds"],  # the page keeps "waiting ..." ticking
        "mine": data["mine"],
        "overdue": e.overdue,
        "priority": e.priority,
        "urgent_because": data["urgent_because"],
        "at": data["created_at"],
        "identity": e.identity,
        "tier": e.tier,
    }


def mine(conn: Connection, agent_id: int, now: datetime) -> list[dict[str, Any]]:
    """The agent's chats: held now, then those they ended in the last day, newest first."""
    rows = conn.execute(
        select(takeovers)
        .where(
            takeovers.c.agent_id == agent_id,
            or_(takeovers.c.status == "active", takeovers.c.ended_at >= now - MINE_SINCE),
        )
        .order_by((takeovers.c.status == "active").desc(), takeovers.c.started_at.desc())
        .limit(LIMIT * 2)
    ).all()
    seen: dict[str, Any] = {}
    for row in rows:
        seen.setdefault(row.conversation_id, row)  # the latest takeover of each chat
    about = _about(conn, list(seen))
    items = []
    for conversation_id, row in seen.items():
        info = about.get(conversation_id, {})
        active = row.status == "active"
        items.append(
            {
                **info,
                "conversation_id": conversation_id,
                "channel": row.channel,
                "channel_label": labels.channel(row.channel),
                "state": "with you" if active else labels.status(row.status),
                "waiting": False,
                "mine": active,
                "at": _iso(row.started_at if active else row.ended_at),
            }
        )
    return items[:LIMIT]


def recent(conn: Connection, query: str | None = None) -> list[dict[str, Any]]:
    """The latest conversations by their last activity; with ``query``, those that match
    it in the customer's name, id, what they said, a handoff's summary or the chat's id."""
    statement = select(touchpoints.c.conversation_id).group_by(touchpoints.c.conversation_id)
    if query is not None:
        query = query.strip()
        if not query:
            raise BadQuery("type something to search for")
        if len(query) > MAX_QUERY:
            raise BadQuery(f"a search is at most {MAX_QUERY} characters")
        like = (
            "%" + query.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        )
        named = select(journey_customers.c.id).where(
            or_(
                func.lower(journey_customers.c.name).like(like, escape="\\"),
                func.lower(journey_customers.c.id).like(like, escape="\\"),
            )
        )
        summarised = select(handoffs.c.conversation_id).where(
            func.lower(handoffs.c.summary).like(like, escape="\\")
        )
        statement = statement.where(
            or_(
                touchpoints.c.customer_id.in_(named),
                func.lower(touchpoints.c.customer_text).like(like, escape="\\"),
                func.lower(touchpoints.c.conversation_id).like(like, escape="\\"),
                touchpoints.c.conversation_id.in_(summarised),
            )
        )
    ids = conn.execute(
        statement.order_by(func.max(touchpoints.c.last_activity_at).desc()).limit(LIMIT)
    ).scalars()
    about = _about(conn, list(ids))
    return [about[c] for c in about]


def version(engine: Engine) -> tuple[str, ...]:
    """A fingerprint of the handoffs and takeovers: it changes when any list would."""
    with engine.connect() as conn:
        h = conn.execute(
            select(
                func.count(),
                func.max(handoffs.c.id),
                func.max(handoffs.c.acknowledged_at),
                func.max(handoffs.c.resolved_at),
            )
        ).one()
        t = conn.execute(
            select(func.count(), func.max(takeovers.c.id), func.max(takeovers.c.ended_at))
        ).one()
        open_now = conn.execute(
            select(func.count()).where(handoffs.c.status.in_(("open", "acknowledged")))
        ).scalar_one()
        active = conn.execute(
            select(func.count()).where(takeovers.c.status == "active")
        ).scalar_one()
    return tuple(map(str, (*h, *t, open_now, active)))


def _about(conn: Connection, conversation_ids: Sequence[str]) -> dict[str, dict[str, Any]]:
    """Who and what each conversation is about, from its newest touchpoint, in order."""
    if not conversation_ids:
        return {}
    rows = conn.execute(
        select(touchpoints, journey_customers.c.name)
        .outerjoin(journey_customers, journey_customers.c.id == touchpoints.c.customer_id)
        .where(touchpoints.c.conversation_id.in_(list(conversation_ids)))
        .order_by(touchpoints.c.id)
    ).all()
    newest = {r.conversation_id: r for r in rows}
    found = {}
    for conversation_id in conversation_ids:
        row = newest.get(conversation_id)
        if row is None:
            found[conversation_id] = {
                "conversation_id": conversation_id,
                "name": "Anonymous visitor",
                "headline": "",
                "channel": "",
                "channel_label": "",
                "state": "",
                "waiting": False,
                "mine": False,
                "at": None,
            }
            continue
        needs = json_list(row.needs)
        headline = labels.need(needs[-1]) if needs else (row.customer_text or "")
        found[conversation_id] = {
            "conversation_id": conversation_id,
            "name": row.name
            or ("Customer " + row.customer_id if row.customer_id else "Anonymous visitor"),
            "headline": labels.said(headline)[:120],
            "channel": row.channel,
            "channel_label": labels.channel(row.channel),
            "state": labels.outcome(row.outcome),
            "waiting": False,
            "mine": False,
            "at": _iso(row.last_activity_at),
        }
    return found


def _iso(value: datetime | None) -> str | None:
    return value.isoformat(timespec="seconds") if value is not None else None
