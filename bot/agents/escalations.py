"""Escalations read from the journey database: conversations waiting for a support agent.

An escalation is a conversation with unresolved handoffs to ``support``; this module
gathers each one's handoffs, touchpoint, customer and live takeover into an ``Escalation``
(bot/agents/queue.py orders them). Apart from the desk because it is the one large read
the queue, the console's view and a takeover all start from, and it writes nothing.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.engine import Connection, Row

from bot.agents.queue import Escalation
from bot.agents.takeovers import holder_of, takeover_query
from bot.agents.trust_labels import trust_of
from bot.db.schema import handoffs, journey_customers, takeovers, touchpoints
from bot.departments import Department

SUPPORT = "support"  # the department of human agents (departments.yml)
UNRESOLVED = ("open", "acknowledged")


def escalations(
    conn: Connection,
    departments: dict[str, Department],
    now: datetime,
    conversation_id: str | None = None,
) -> list[Escalation]:
    """Conversations with unresolved support handoffs, with their live takeover if any."""
    query = select(handoffs).where(
        handoffs.c.department == SUPPORT, handoffs.c.status.in_(UNRESOLVED)
    )
    if conversation_id is not None:
        query = query.where(handoffs.c.conversation_id == conversation_id)
    rows = conn.execute(query.order_by(handoffs.c.created_at, handoffs.c.id)).all()
    if not rows:
        return []
    conversations = sorted({r.conversation_id for r in rows})
    holders = {
        r.conversation_id: r
        for r in conn.execute(
            takeover_query().where(
                takeovers.c.status == "active",
                takeovers.c.conversation_id.in_(conversations),
            )
        )
    }
    newest: dict[str, Any] = {}
    for tp in conn.execute(
        select(
            touchpoints.c.conversation_id,
            touchpoints.c.customer_id,
            touchpoints.c.signals,
            touchpoints.c.needs,
        )
        .where(touchpoints.c.conversation_id.in_(conversations))
        .order_by(touchpoints.c.id)
    ):
        newest[tp.conversation_id] = tp
    customer_ids = {tp.customer_id for tp in newest.values() if tp.customer_id}
    customers = {
        c.id: c
        for c in conn.execute(
            select(journey_customers).where(journey_customers.c.id.in_(sorted(customer_ids)))
        )
    }
    sla = timedelta(hours=departments[SUPPORT].sla_hours)
    grouped: dict[str, list[Row]] = {}
    for row in rows:
        grouped.setdefault(row.conversation_id, []).append(row)
    found = []
    for conversation, group in grouped.items():
        packets = [packet_of(r.context) for r in group]
        tp = newest.get(conversation)
        journey_customer = customers.get(tp.customer_id) if tp is not None else None
        shown = [p["customer"] for p in packets if isinstance(p.get("customer"), dict)]
        first = min(r.created_at for r in group)
        lead = max(group, key=lambda r: (priority_rank(r.priority), -r.id))
        holder = holders.get(conversation)
        newest_row = max(group, key=lambda r: (r.created_at, r.id))  # what is known now
        found.append(
            Escalation(
                conversation_id=conversation,
                channel=group[-1].channel,
                handoff_ids=tuple(r.id for r in group),
                need=lead.need,
                summary=lead.summary,
                priority=lead.priority,
                customer_id=next((c.get("id") for c in shown if c.get("id")), None)
                or next((r.customer_id for r in group if r.customer_id), None),
                customer_name=next((c.get("name") for c in shown if c.get("name")), None)
                or (journey_customer.name if journey_customer is not None else None),
                tier=next((c.get("tier") for c in shown if c.get("tier")), None)
                or (journey_customer.tier if journey_customer is not None else None),
                frustration=max(
                    [_frustration(p.get("signals")) for p in packets]
                    + [_frustration(packet_of(tp.signals)) if tp is not None else 0]
                ),
                created_at=first,
                waited=max(now - first, timedelta(0)),
                sla=sla,
                taken_by=holder_of(holder) if holder is not None else None,
                lease_expires_at=holder.lease_expires_at if holder is not None else None,
                identity=trust_of(
                    packet_of(newest_row.context), newest_row.customer_id, newest_row.channel
                ),
                needs=tuple(json_list(tp.needs)) if tp is not None else (),
                customer_said=packet_of(lead.context).get("customer_said"),
                packet_transcript=tuple(
                    str(line) for line in packet_of(lead.context).get("transcript") or []
                ),
                signals={
                    **(packet_of(tp.signals) if tp is not None else {}),
                    **next(
                        (p["signals"] for p in packets if isinstance(p.get("signals"), dict)),
                        {},
                    ),
                },
            )
        )
    return found


def packet_of(raw: str | None) -> dict[str, Any]:
    """A handoff's stored context packet (JSON) as a dict; what can't be read is kept raw."""
    try:
        value = json.loads(raw) if raw else {}
    except ValueError:
        return {"raw": raw}
    return value if isinstance(value, dict) else {"raw": value}


def priority_rank(priority: str) -> int:
    """A handoff priority as a sort key: urgent above high above normal."""
    return {"normal": 0, "high": 1, "urgent": 2}.get(priority, 0)


def json_list(raw: str | None) -> list[str]:
    """A JSON list column (a touchpoint's needs) as texts; [] for anything else."""
    try:
        value = json.loads(raw) if raw else []
    except ValueError:
        return []
    return [str(v) for v in value] if isinstance(value, list) else []


def _frustration(signals: Any) -> int:
    if not isinstance(signals, dict):
        return 0
    try:
        return int(signals.get("frustration", 0))
    except (TypeError, ValueError):
        return 0
