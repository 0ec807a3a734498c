"""One conversation session as CX review reads it: its facts, transcript and what happened.

A touchpoint is one session of a conversation. Its handoffs and routing decisions point
at it; takeovers, agents' notes and policy moments point at the conversation only, so
they belong to the session that was running when they happened: from this session's
start to the start of the conversation's next one (as the metrics count policy moments).

The transcript comes from Rasa's tracker store, read through Rasa's HTTP API by the
caller's ``read_tracker``; only this session's events are shown (Rasa starts each session
with a ``session_started`` event). When Rasa can't be read, everything else still is.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, or_, select
from sqlalchemy.engine import Connection, Engine

from bot.agents.rasa_api import RasaApiError
from bot.agents.relay import RelayFailed
from bot.agents.transcript import Line, transcript
from bot.analytics.sql import connected
from bot.db.schema import (
    agent_notes,
    feedback,
    handoff_contacts,
    handoffs,
    identity_checks,
    inbox,
    journey_customers,
    outbox,
    policy_moments,
    routing_decisions,
    takeovers,
    touchpoints,
    users,
)
from bot.redaction import redact

TrackerReader = Callable[[str], Mapping[str, Any]]
# Rasa's event timestamps are float seconds and the journey keeps them as datetimes; a
# session is recognised by its start within this much.
SESSION_START_TOLERANCE = timedelta(seconds=1)


@dataclass(frozen=True)
class Conversation:
    """Everything the conversation page shows about one touchpoint (JSON-ready via
    ``as_json``). ``transcript`` is None when Rasa could not be read (``transcript_error``
    says why)."""

    touchpoint: dict[str, Any]
    customer: dict[str, Any] | None
    sessions: list[dict[str, Any]]  # every session of the conversation, this one marked
    transcript: list[Line] | None
    transcript_error: str | None
    routing: list[dict[str, Any]]
    handoffs: list[dict[str, Any]]  # each with its deliveries and inbox receipts
    takeovers: list[dict[str, Any]]
    notes: list[dict[str, Any]]
    policy_moments: list[dict[str, Any]]
    feedback: list[dict[str, Any]]
    # Identity checks made in this session (bot/identity/checks.py): a security signal.
    identity_checks: list[dict[str, Any]] = field(default_factory=list)
    # Open handoffs of other conversations this session joined (a repeat contact, issue 21).
    joined_handoffs: list[dict[str, Any]] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        """The view with times as ISO text and the transcript as dicts."""
        data = {
            "touchpoint": self.touchpoint,
            "customer": self.customer,
            "sessions": self.sessions,
            "transcript": (
                [line.as_json() for line in self.transcript]
                if self.transcript is not None
                else None
            ),
            "transcript_error": self.transcript_error,
            "routing": self.routing,
            "handoffs": self.handoffs,
            "takeovers": self.takeovers,
            "notes": self.notes,
            "policy_moments": self.policy_moments,
            "feedback": self.feedback,
            "identity_checks": self.identity_checks,
            "joined_handoffs": self.joined_handoffs,
        }
        return _iso_times(data)


def conversation(
    bind: Engine | Connection,
    touchpoint_id: int,
    read_tracker: TrackerReader | None = None,
) -> Conversation | None:
    """The conversation session of ``touchpoint_id``, or None when there is no such touchpoint.

    ``read_tracker(conversation_id)`` returns Rasa's tracker (``RasaApi.tracker``); when it
    raises ``RasaApiError`` or ``RelayFailed`` the view says so instead of a transcript.
    Without it, no transcript is read.
    """
    with connected(bind) as conn:
        tp = conn.execute(select(touchpoints).where(touchpoints.c.id == touchpoint_id)).first()
        if tp is None:
            return None
        sessions = conn.execute(
            select(touchpoints.c.id, touchpoints.c.started_at, touchpoints.c.channel)
            .where(touchpoints.c.conversation_id == tp.conversation_id)
            .order_by(touchpoints.c.started_at, touchpoints.c.id)
        ).all()
        ends = _next_session_start(sessions, tp)
        customer = (
            conn.execute(
                select(journey_customers).where(journey_customers.c.id == tp.customer_id)
            ).first()
            if tp.customer_id
            else None
        )
        handoff_rows = conn.execute(
            select(handoffs)
            .where(_ours(handoffs, tp, handoffs.c.created_at, ends))
            .order_by(handoffs.c.created_at, handoffs.c.id)
        ).all()
        handoff_ids = [h.id for h in handoff_rows]
        joined = conn.execute(
            select(
                handoff_contacts.c.created_at.label("joined_at"),
                handoff_contacts.c.customer_said,
                handoffs.c.id,
                handoffs.c.department,
                handoffs.c.need,
                handoffs.c.order_id,
                handoffs.c.invoice_id,
                handoffs.c.status,
                handoffs.c.created_at,
                handoffs.c.conversation_id,
            )
            .select_from(
                handoff_contacts.join(handoffs, handoffs.c.id == handoff_contacts.c.handoff_id)
            )
            .where(_ours(handoff_contacts, tp, handoff_contacts.c.created_at, ends))
            .order_by(handoff_contacts.c.created_at, handoff_contacts.c.id)
        ).all()
        routing = conn.execute(
            select(routing_decisions)
            .where(_ours(routing_decisions, tp, routing_decisions.c.created_at, ends))
            .order_by(routing_decisions.c.created_at, routing_decisions.c.id)
        ).all()
        deliveries = conn.execute(
            select(outbox).where(outbox.c.handoff_id.in_(handoff_ids)).order_by(outbox.c.id)
        ).all()
        receipts = conn.execute(
            select(inbox.c.handoff_id, inbox.c.received_at, inbox.c.deliveries)
            .where(inbox.c.handoff_id.in_(handoff_ids))
            .order_by(inbox.c.id)
        ).all()
        taken = conn.execute(
            select(takeovers, users.c.display_name.label("agent"))
            .join(users, users.c.id == takeovers.c.agent_id)
            .where(
                takeovers.c.conversation_id == tp.conversation_id,
                or_(
                    takeovers.c.handoff_id.in_(handoff_ids),
                    _during(takeovers.c.started_at, tp.started_at, ends),
                ),
            )
            .order_by(takeovers.c.started_at, takeovers.c.id)
        ).all()
        notes = conn.execute(
            select(agent_notes, users.c.display_name.label("author"))
            .join(users, users.c.id == agent_notes.c.author_id)
            .where(
                agent_notes.c.conversation_id == tp.conversation_id,
                _during(agent_notes.c.created_at, tp.started_at, ends),
            )
            .order_by(agent_notes.c.created_at, agent_notes.c.id)
        ).all()
        moments = conn.execute(
            select(policy_moments)
            .where(
                policy_moments.c.conversation_id == tp.conversation_id,
                _during(policy_moments.c.created_at, tp.started_at, ends),
            )
            .order_by(policy_moments.c.created_at, policy_moments.c.id)
        ).all()
        checks = conn.execute(
            select(identity_checks)
            .where(
                identity_checks.c.conversation_id == tp.conversation_id,
                _during(identity_checks.c.at, tp.started_at, ends),
            )
            .order_by(identity_checks.c.at, identity_checks.c.id)
        ).all()
        ratings = conn.execute(
            select(feedback.c.created_at, feedback.c.rating, feedback.c.comment)
            .where(feedback.c.touchpoint_id == tp.id)
            .order_by(feedback.c.created_at, feedback.c.id)
        ).all()

    lines, problem = None, None
    if read_tracker is not None:
        try:
            tracker = read_tracker(tp.conversation_id)
        except (RasaApiError, RelayFailed) as e:
            problem = str(e)
        else:
            events = session_events(tracker.get("events") or [], tp.session_started_at)
            # CX reads it: no email, phone or card number (the agent console shows it whole).
            lines = [replace(line, text=redact(line.text)) for line in transcript(events)]

    return Conversation(
        touchpoint=_touchpoint(tp),
        customer=(
            {"id": customer.id, "name": customer.name, "tier": customer.tier}
            if customer is not None
            else ({"id": tp.customer_id, "name": None, "tier": None} if tp.customer_id else None)
        ),
        sessions=[
            {"touchpoint_id": s.id, "started_at": s.started_at, "this": s.id == tp.id}
            for s in sessions
        ],
        transcript=lines,
        transcript_error=problem,
        routing=[
            {k: r._mapping[k] for k in ("created_at", "need", "department", "priority", "reason")}
            | {"rules": [rule for rule in r.rule.split(",") if rule]}
            for r in routing
        ],
        handoffs=[_handoff(h, deliveries, receipts) for h in handoff_rows],
        joined_handoffs=[dict(j._mapping) for j in joined],
        takeovers=[
            {
                "agent": t.agent,
                "status": t.status,
                "started_at": t.started_at,
                "ended_at": t.ended_at,
                "note": t.note,
                "handoff_id": t.handoff_id,
            }
            for t in taken
        ],
        notes=[{"author": n.author, "text": n.text, "created_at": n.created_at} for n in notes],
        policy_moments=[
            {
                "created_at": m.created_at,
                "need": m.need,
                "policy": m.policy,
                "reason": m.reason,
                "offered": _json_list(m.offered),
                "chosen": m.chosen,
                "asked_for_person": bool(m.asked_for_person),
                "closed_at": m.closed_at,
            }
            for m in moments
        ],
        feedback=[dict(r._mapping) for r in ratings],
        identity_checks=[
            {
                k: c._mapping[k]
                for k in ("at", "kind", "outcome", "order_id", "address", "channel", "customer_id")
            }
            for c in checks
        ],
    )


def session_events(
    events: Sequence[Mapping[str, Any]], session_started_at: datetime
) -> list[Mapping[str, Any]]:
    """The events of the Rasa session that started at ``session_started_at``.

    Rasa's sessions are split by ``session_started`` events; the session shown is the
    newest one that had started by then (give or take ``SESSION_START_TOLERANCE``), or the
    first one when none had (a touchpoint dated by hand, say).
    """
    sessions: list[list[Mapping[str, Any]]] = [[]]
    for event in events:
        if event.get("event") == "session_started" and sessions[-1]:
            sessions.append([])
        sessions[-1].append(event)
    latest = session_started_at.timestamp() + SESSION_START_TOLERANCE.total_seconds()
    chosen = sessions[0]
    for session in sessions:
        start = _timestamp(session[0]) if session else None
        if start is not None and start <= latest:
            chosen = session
    return chosen


# -- the pieces --------------------------------------------------------------------------------
def _next_session_start(sessions, tp) -> datetime | None:
    """When the conversation's next session started (None: this is its newest)."""
    later = [s for s in sessions if (s.started_at, s.id) > (tp.started_at, tp.id)]
    return later[0].started_at if later else None


def _during(column, start: datetime, end: datetime | None):
    """``column`` falls in a session: from its start to the next session's start."""
    return column >= start if end is None else and_(column >= start, column < end)


def _ours(table, tp, created_at, ends):
    """Rows that name this touchpoint, or name none but came from its conversation during
    this session (written before the touchpoint was)."""
    return or_(
        table.c.touchpoint_id == tp.id,
        and_(
            table.c.touchpoint_id.is_(None),
            table.c.conversation_id == tp.conversation_id,
            _during(created_at, tp.started_at, ends),
        ),
    )


def _touchpoint(tp) -> dict[str, Any]:
    data = {k: v for k, v in tp._mapping.items() if k != "customer_text"}
    for name in ("needs", "departments", "order_ids"):
        data[name] = _json_list(data[name])
    try:
        signals = json.loads(data["signals"] or "{}")
    except ValueError:
        signals = {}
    data["signals"] = signals if isinstance(signals, dict) else {}
    return data


def _handoff(h, deliveries: Iterable, receipts: Iterable) -> dict[str, Any]:
    """A handoff with every delivery row of the outbox and what the built-in inbox received.

    The outbox keeps a delivery's attempt count and its last attempt (status or error),
    not each attempt on its own.
    """
    return {
        "id": h.id,
        "created_at": h.created_at,
        "department": h.department,
        "need": h.need,
        "priority": h.priority,
        "summary": h.summary,
        "status": h.status,
        "acknowledged_at": h.acknowledged_at,
        "resolved_at": h.resolved_at,
        "resolution": h.resolution,
        "deliveries": [
            {
                "state": d.state,
                "attempts": d.attempts,
                "created_at": d.created_at,
                "next_attempt_at": d.next_attempt_at if d.state == "pending" else None,
                "last_status": d.last_status,
                "last_error": d.last_error,
                "sent_at": d.sent_at,
                "dead_at": d.dead_at,
            }
            for d in deliveries
            if d.handoff_id == h.id
        ],
        "received": [
            {"received_at": r.received_at, "deliveries": r.deliveries}
            for r in receipts
            if r.handoff_id == h.id
        ],
    }


def _json_list(text: str | None) -> list:
    try:
        value = json.loads(text or "[]")
    except ValueError:
        return []
    return value if isinstance(value, list) else []


def _timestamp(event: Mapping[str, Any]) -> float | None:
    try:
        return float(event["timestamp"])
    except (KeyError, TypeError, ValueError):
        return None


def _iso_times(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat(timespec="seconds")
    if isinstance(value, dict):
        return {k: _iso_times(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_iso_times(v) for v in value]
    return value
