"""A small, hand-built journey for the CX metrics, on a fresh database (SQLite, PostgreSQL).

Window under test: Monday 2025-03-10 00:00 to Wednesday 2025-03-12 00:00 (two days).
"Now" is Wednesday 10:00. The expected numbers in the tests are worked out by hand from
the rows below; each test writes its arithmetic next to the assertion.

touchpoint  conversation  customer  channel   stage     needs                  outcome      ended  rating effort
tp1 Mon 09:00 c1-web  C1  socketio  usage     order_status (ORD-1)   self_served  yes    5      5
tp2 Mon 15:00 c1-web  C1  socketio  usage     order_late (ORD-1)     handed_off   yes    3      2
tp3 Mon 10:00 c2-slack C2 slack     purchase  request_refund,        resolved     yes    4      -
                                              order_late (ORD-2)
tp4 Tue 11:00 c2-slack C2 slack     purchase  request_human          escalated    yes    2 (agent took over)
tp5 Tue 20:00 c3-rest  C3 rest      prospect  ask_pricing            abandoned    yes    -
tp6 Tue 12:00 anon-1   anon socketio -        (none)                 self_served  no     -
tp7 Tue 23:00 c3-rest  C3 rest      usage     ask_discount, complain resolved     yes    4 (agent took over)
outside the window:
tp8 Sun 2025-03-09 23:59 c1-web C1 order_status (ORD-1) self_served
tp9 Wed 2025-03-12 00:00 c3-rest C3 ask_pricing handed_off (a repeat of tp5)

handoff  touchpoint  department  created     acknowledged / resolved          deadline (SLA)
hA       tp2         delivery    Mon 15:05   ack Tue 09:00                   Tue 15:05 (24 h, open)     met
hB       tp3         billing     Mon 10:05   ack Tue 11:00, res Tue 12:00    Tue 10:05 (24 h, open)     missed
hG       tp3         delivery    Mon 10:10   -                               Tue 10:10, passed          missed
hC       tp4         support     Tue 11:05   ack Tue 11:17 (pickup 12 min)   Tue 12:05 (1 h, open)      met
hD       tp5         sales       Tue 20:10   -                               Wed 13:00 (opens 09:00+4h) not yet decided
hE       tp7         support     Tue 23:05   ack Wed 08:35 (pickup 570 min)  Wed 09:00 (opens 08:00+1h) met
hF       tp7         sales       Tue 23:10   res Wed 09:30 (no ack)          Wed 13:00                  met
hH       tp9         sales       Wed 00:05   -                               (outside the window)

Takeovers: hC at Tue 11:17 and again at 11:40 (the first one counts); hE at Wed 08:35.
Policy moments: pm3 c1-web Mon 09:02 (tp1, nothing taken); pm1 c2-slack Mon 10:03 (tp3,
store_credit taken); pm2 c2-slack Tue 11:02 (tp4, asked for a person); pm4 c3-rest Wed 00:02
(belongs to tp9, outside the window).
"""

from __future__ import annotations

import json
from datetime import datetime

import pytest
from sqlalchemy import insert

from bot.db.schema import (
    handoffs,
    journey_customers,
    policy_moments,
    takeovers,
    touchpoints,
    users,
)

SINCE = datetime(2025, 3, 10)
UNTIL = datetime(2025, 3, 12)
NOW = datetime(2025, 3, 12, 10, 0)


def at(day: int, hh: int, mm: int = 0) -> datetime:
    """A moment in March 2025 (9 = Sunday, 10 = Monday, ... 12 = Wednesday)."""
    return datetime(2025, 3, day, hh, mm)


def tp(id, conv, customer, channel, stage, needs, departments, orders, outcome, started,
       ended=None, rating=None, effort=None):  # fmt: skip
    return {
        "id": id,
        "conversation_id": conv,
        "session_started_at": started,
        "customer_id": customer,
        "channel": channel,
        "stage": stage,
        "needs": json.dumps(needs),
        "departments": json.dumps(departments),
        "order_ids": json.dumps(orders),
        "outcome": outcome,
        "signals": "{}",
        "rating": rating,
        "effort": effort,
        "message_count": 4,
        "started_at": started,
        "last_activity_at": ended or started,
        "ended_at": ended,
    }


def handoff(id, touchpoint_id, conv, department, created, acknowledged=None, resolved=None):
    status = "resolved" if resolved else "acknowledged" if acknowledged else "open"
    return {
        "id": id,
        "created_at": created,
        "department": department,
        "need": "need",
        "conversation_id": conv,
        "touchpoint_id": touchpoint_id,
        "customer_id": None,
        "channel": "rest",
        "priority": "normal",
        "summary": "s",
        "context": "{}",
        "status": status,
        "acknowledged_at": acknowledged,
        "resolved_at": resolved,
    }


def moment(id, conv, created, chosen=None, asked=False):
    return {
        "id": id,
        "created_at": created,
        "conversation_id": conv,
        "customer_id": None,
        "need": "request_refund",
        "policy": "refund_window",
        "reason": "refunds within 30 days of delivery",
        "offered": json.dumps(["store_credit", "refund_exception"]),
        "chosen": chosen,
        "asked_for_person": asked,
        "closed_at": created if chosen or asked else None,
    }


TOUCHPOINTS = [
    tp(1, "c1-web", "C1", "socketio", "usage", ["order_status"], ["delivery"], ["ORD-1"],
       "self_served", at(10, 9), at(10, 9, 5), rating=5, effort=5),
    tp(2, "c1-web", "C1", "socketio", "usage", ["order_late"], ["delivery"], ["ORD-1"],
       "handed_off", at(10, 15), at(10, 15, 10), rating=3, effort=2),
    tp(3, "c2-slack", "C2", "slack", "purchase", ["request_refund", "order_late"],
       ["billing", "delivery"], ["ORD-2"], "resolved", at(10, 10), at(10, 10, 20), rating=4),
    tp(4, "c2-slack", "C2", "slack", "purchase", ["request_human"], ["support"], [],
       "escalated", at(11, 11), at(11, 11, 30), rating=2),
    tp(5, "c3-rest", "C3", "rest", "prospect", ["ask_pricing"], ["sales"], [],
       "abandoned", at(11, 20), at(11, 20, 30)),
    tp(6, "anon-1", "anon-socketio-anon-1", "socketio", None, [], [], [],
       "self_served", at(11, 12)),
    tp(7, "c3-rest", "C3", "rest", "usage", ["ask_discount", "complain"], ["sales", "support"],
       [], "resolved", at(11, 23), at(11, 23, 50), rating=4),
    tp(8, "c1-web", "C1", "socketio", "usage", ["order_status"], ["delivery"], ["ORD-1"],
       "self_served", at(9, 23, 59), at(10, 0, 5)),
    tp(9, "c3-rest", "C3", "rest", "prospect", ["ask_pricing"], ["sales"], [],
       "handed_off", at(12, 0)),
]  # fmt: skip

HANDOFFS = [
    handoff(1, 2, "c1-web", "delivery", at(10, 15, 5), acknowledged=at(11, 9)),  # hA
    handoff(2, 3, "c2-slack", "billing", at(10, 10, 5), at(11, 11), at(11, 12)),  # hB
    handoff(3, 3, "c2-slack", "delivery", at(10, 10, 10)),  # hG
    handoff(4, 4, "c2-slack", "support", at(11, 11, 5), acknowledged=at(11, 11, 17)),  # hC
    handoff(5, 5, "c3-rest", "sales", at(11, 20, 10)),  # hD
    handoff(6, 7, "c3-rest", "support", at(11, 23, 5), acknowledged=at(12, 8, 35)),  # hE
    handoff(7, 7, "c3-rest", "sales", at(11, 23, 10), resolved=at(12, 9, 30)),  # hF
    handoff(8, 9, "c3-rest", "sales", at(12, 0, 5)),  # hH
]

TAKEOVERS = [
    (1, "c2-slack", 4, at(11, 11, 17), "handed_back"),
    (2, "c2-slack", 4, at(11, 11, 40), "resolved"),
    (3, "c3-rest", 6, at(12, 8, 35), "resolved"),
]

MOMENTS = [
    moment(1, "c2-slack", at(10, 10, 3), chosen="store_credit"),
    moment(2, "c2-slack", at(11, 11, 2), asked=True),
    moment(3, "c1-web", at(10, 9, 2)),
    moment(4, "c3-rest", at(12, 0, 2), chosen="store_credit"),
]


def load(engine) -> None:
    """Write the journey above into a migrated database."""
    with engine.begin() as conn:
        conn.execute(
            insert(journey_customers),
            [
                {"id": c, "created_at": at(1, 9), "name": c, "tier": "standard"}
                for c in ("C1", "C2", "C3", "anon-socketio-anon-1")
            ],
        )
        conn.execute(insert(touchpoints), TOUCHPOINTS)
        conn.execute(insert(handoffs), HANDOFFS)
        conn.execute(
            insert(users).values(
                id=1, username="ana", display_name="Ana", role="agent",
                password_hash="x", created_at=at(1, 9),
            )
        )  # fmt: skip
        conn.execute(
            insert(takeovers),
            [
                {
                    "id": id, "conversation_id": conv, "channel": "rest", "handoff_id": h,
                    "agent_id": 1, "status": status, "started_at": started,
                    "lease_expires_at": started, "ended_at": started,
                }
                for id, conv, h, started, status in TAKEOVERS
            ],
        )  # fmt: skip
        conn.execute(insert(policy_moments), MOMENTS)


@pytest.fixture
def journey(journey_engine):
    """The engine of a fresh journey database holding the journey above."""
    load(journey_engine)
    return journey_engine
