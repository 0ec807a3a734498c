"""What the agent console shows about one conversation, read from the journey database.

The escalation (if any), who holds it, the takeovers so far, internal notes, the context
packet, how sure we are who the customer is, and the customer's journey across channels
and departments. Apart from the desk because it only reads: ``AgentDesk.conversation``
adds the lease and Rasa's transcript to it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.engine import Connection, Row

from bot.agents.errors import NotFound
from bot.agents.escalations import SUPPORT, UNRESOLVED, escalations, packet_of
from bot.agents.notes import notes_of
from bot.agents.relay import CannotReach, check_reachable
from bot.agents.takeovers import iso, takeover_of, takeover_query
from bot.agents.trust_labels import trust_of
from bot.db.schema import handoffs, identities, journey_customers, takeovers, touchpoints
from bot.departments import Department
from bot.journey.store import JourneyStore


def conversation_view(
    conn: Connection,
    conversation_id: str,
    viewer_id: int | None,
    departments: dict[str, Department],
    now: datetime,
    journey: JourneyStore | None,
) -> dict[str, Any]:
    """The console's record of a conversation, JSON-ready; ``NotFound`` if the journey has
    none. The customer's journey is left out (``None``) when ``journey`` is None."""
    all_handoffs = conn.execute(
        select(handoffs)
        .where(handoffs.c.conversation_id == conversation_id)
        .order_by(handoffs.c.created_at, handoffs.c.id)
    ).all()
    touchpoint_rows = conn.execute(
        select(touchpoints.c.channel, touchpoints.c.customer_id)
        .where(touchpoints.c.conversation_id == conversation_id)
        .order_by(touchpoints.c.id)
    ).all()
    if not all_handoffs and not touchpoint_rows:
        raise NotFound(f"no conversation {conversation_id!r} in the journey")
    escalation = next(iter(escalations(conn, departments, now, conversation_id)), None)
    history = [
        takeover_of(r)
        for r in conn.execute(
            takeover_query()
            .where(takeovers.c.conversation_id == conversation_id)
            .order_by(takeovers.c.started_at, takeovers.c.id)
        )
    ]
    notes = notes_of(conn, conversation_id)
    customer_id = next(
        (r.customer_id for r in reversed(touchpoint_rows) if r.customer_id), None
    ) or next((h.customer_id for h in reversed(all_handoffs) if h.customer_id), None)
    steps = (
        customer_journey(conn, journey, customer_id, conversation_id)
        if journey is not None
        else None
    )
    support = [h for h in all_handoffs if h.department == SUPPORT]
    packet_row = (support or all_handoffs or [None])[-1]
    channel = (
        escalation.channel
        if escalation
        else (packet_row.channel if packet_row is not None else touchpoint_rows[-1].channel)
    )
    active = next((t for t in history if t.status == "active"), None)
    return {
        "conversation_id": conversation_id,
        "channel": channel,
        "reachable": _reachable(channel),
        "escalation": escalation.as_json(viewer_id) if escalation else None,
        "takeover": active.as_json(viewer_id) if active else None,
        "takeovers": [t.as_json(viewer_id) for t in history],
        "notes": notes,
        "packet": packet_of(packet_row.context) if packet_row is not None else {},
        # How sure we are who the customer is, from the packet (None: no handoff, or an
        # older one whose customer the channel named).
        "identity": (
            trust_of(packet_of(packet_row.context), packet_row.customer_id, packet_row.channel)
            if packet_row is not None
            else None
        ),
        "handoffs": [_handoff_json(h) for h in all_handoffs],
        "journey": steps,
        "departments": [
            {"name": d.name, "title": d.title} for d in departments.values() if d.name != SUPPORT
        ],
    }


def customer_journey(
    conn: Connection, journey: JourneyStore, customer_id: str | None, conversation_id: str
) -> dict[str, Any]:
    """The customer's touchpoints across channels and their open handoffs anywhere."""
    if customer_id is None:
        return {"customer": None, "identities": [], "touchpoints": [], "open_handoffs": []}
    customer = conn.execute(
        select(journey_customers).where(journey_customers.c.id == customer_id)
    ).first()
    known_as = conn.execute(
        select(identities.c.kind, identities.c.value)
        .where(identities.c.customer_id == customer_id)
        .order_by(identities.c.id)
    ).all()
    steps = journey.journey(customer_id)
    conversations = sorted({t.conversation_id for t in steps} | {conversation_id})
    waiting = conn.execute(
        select(handoffs)
        .where(
            or_(
                handoffs.c.conversation_id.in_(conversations),
                handoffs.c.customer_id == customer_id,
            ),
            handoffs.c.status.in_(UNRESOLVED),
        )
        .order_by(handoffs.c.created_at, handoffs.c.id)
    ).all()
    return {
        "customer": {
            "id": customer_id,
            "name": customer.name if customer is not None else None,
            "tier": customer.tier if customer is not None else None,
        },
        "identities": [{"kind": i.kind, "value": i.value} for i in known_as],
        "touchpoints": [
            {
                "conversation_id": t.conversation_id,
                "this_conversation": t.conversation_id == conversation_id,
                "channel": t.channel,
                "stage": t.stage,
                "needs": list(t.needs),
                "departments": list(t.departments),
                "outcome": t.outcome,
                "rating": t.rating,
                "started_at": iso(t.started_at),
                "last_activity_at": iso(t.last_activity_at),
                "ended_at": iso(t.ended_at),
            }
            for t in steps
        ],
        "open_handoffs": [
            {
                "id": h.id,
                "department": h.department,
                "need": h.need,
                "status": h.status,
                "priority": h.priority,
                "summary": h.summary,
                "conversation_id": h.conversation_id,
                "created_at": iso(h.created_at),
            }
            for h in waiting
        ],
    }


def _handoff_json(row: Row) -> dict[str, Any]:
    return {
        "id": row.id,
        "department": row.department,
        "need": row.need,
        "status": row.status,
        "priority": row.priority,
        "summary": row.summary,
        "created_at": iso(row.created_at),
        "resolved_at": iso(row.resolved_at),
        "resolution": row.resolution,
    }


def _reachable(channel: str) -> bool:
    try:
        check_reachable(channel)
    except CannotReach:
        return False
    return True
