"""A small hand-built journey for the CX review's conversation and journey views and pages.

Used by tests/bot/analytics/ (the data assembly), tests/bot/hub/review/ (the pages) and
tests/e2e/test_review_browser.py. Times in March 2025 (10 = Monday):

key        conversation  customer         channel   stage     needs               outcome      rating frustration
xss_first  web-xss (s1)  C-XSS (XSS name) socketio  usage     order_late          handed_off   2      4 (frustrated), flagged
xss_second web-xss (s2)  C-XSS            socketio  usage     request_refund      self_served  5      0
omar_slack slack-omar    C2 Omar          slack     purchase  ask_pricing         resolved     -      0
omar_web   web-omar      C2 Omar          socketio  renewal   cancel_subscription escalated    1      3 (frustrated)
anonymous  rest-anon     anon-rest-a/b c  rest      -         -                   abandoned    -      0

Session 1 of web-xss has two handoffs (delivery: delivered after 2 attempts, HTTP 200;
support: given up after 5, HTTP 500), a routing decision, a takeover by Ana of the second
handoff with her hand-back note, an internal note, a policy moment (store credit taken)
and the customer's comment; session 2 has its own note and a policy moment with nothing
taken. Identity checks: session 1 of web-xss has an email checked against an order that
failed (order number and address carry ``XSS``) and a code refused by a limit, session 2 a
code that passed; rest-anon one order looked up, answered. Whatever a customer or an agent
typed carries ``XSS``. ``tracker_events`` is the
conversation as Rasa's tracker holds it: both sessions.
"""

from __future__ import annotations

import json
import uuid
from datetime import datetime

from sqlalchemy import insert
from sqlalchemy.engine import Engine

from bot.db.schema import (
    agent_notes,
    feedback,
    handoffs,
    identity_checks,
    journey_customers,
    outbox,
    policy_moments,
    review_flags,
    routing_decisions,
    takeovers,
    touchpoints,
)
from bot.hub.accounts import Accounts

XSS = "<img src=x onerror=alert(1)>"
ANONYMOUS = "anon-rest-a/b c"  # a customer id with characters a URL must quote
_PASSWORD = "nobody signs in as these"  # the agent and analyst who wrote the rows


def at(day: int, hh: int, mm: int = 0) -> datetime:
    """A moment in March 2025 (10 = Monday)."""
    return datetime(2025, 3, day, hh, mm)


def signals(frustration: int = 0, **counts: int) -> str:
    return json.dumps(
        {"repeats": 0, "told_you": 0, "negative_words": 0, "contacts_about_order": 0}
        | counts
        | {"frustration": frustration}
    )


def _touchpoint(conv, customer, channel, stage, needs, departments, outcome, started, *,
                rating=None, effort=None, frustration=0, said="", ended=None, orders=()):  # fmt: skip
    return {
        "conversation_id": conv,
        "session_started_at": started,
        "customer_id": customer,
        "channel": channel,
        "stage": stage,
        "needs": json.dumps(needs),
        "departments": json.dumps(departments),
        "order_ids": json.dumps(list(orders)),
        "outcome": outcome,
        "signals": signals(frustration, repeats=1 if frustration else 0),
        "rating": rating,
        "effort": effort,
        "customer_text": said,
        "message_count": len(said.splitlines()),
        "started_at": started,
        "last_activity_at": ended or started,
        "ended_at": ended,
    }


TOUCHPOINTS = {
    "xss_first": _touchpoint(
        "web-xss", "C-XSS", "socketio", "usage", ["order_late"], ["delivery"], "handed_off",
        at(10, 9), rating=2, effort=2, frustration=4, ended=at(10, 9, 30), orders=["ORD-1"],
        said=f"where is my parcel\nI already told you: it is late {XSS}\n100% fed up",
    ),
    "xss_second": _touchpoint(
        "web-xss", "C-XSS", "socketio", "usage", ["request_refund"], ["billing"],
        "self_served", at(11, 14), rating=5, said="can I get a refund_now?",
    ),
    "omar_slack": _touchpoint(
        "slack-omar", "C2", "slack", "purchase", ["ask_pricing"], ["sales"], "resolved",
        at(9, 16), said="how much is the pro plan",
    ),
    "omar_web": _touchpoint(
        "web-omar", "C2", "socketio", "renewal", ["cancel_subscription"], ["billing"],
        "escalated", at(11, 9), rating=1, frustration=3, said="cancel it, this is ridiculous",
    ),
    "anonymous": _touchpoint(
        "rest-anon", ANONYMOUS, "rest", None, [], [], "abandoned", at(12, 8),
        said="it's \"quoted\" text",
    ),
}  # fmt: skip


def load_journey(engine: Engine) -> dict[str, int]:
    """Write the journey above into a migrated database; returns the touchpoints' ids."""
    ana = Accounts(engine).add(f"ana-{uuid.uuid4().hex[:6]}", _PASSWORD, "agent", f"Ana {XSS}")
    lead = Accounts(engine).add(f"lea-{uuid.uuid4().hex[:6]}", _PASSWORD, "analyst", "Lea")
    ids: dict[str, int] = {}
    with engine.begin() as conn:
        conn.execute(
            insert(journey_customers),
            [
                {"id": "C-XSS", "created_at": at(1, 9), "name": XSS, "tier": "gold"},
                {"id": "C2", "created_at": at(1, 9), "name": "Omar", "tier": "standard"},
                {"id": ANONYMOUS, "created_at": at(12, 8), "name": None, "tier": None},
            ],
        )
        for key, row in TOUCHPOINTS.items():
            ids[key] = conn.execute(insert(touchpoints).values(**row)).inserted_primary_key[0]
        first = ids["xss_first"]
        sent, dead = (
            conn.execute(
                insert(handoffs).values(
                    created_at=created, department=department, need=need,
                    conversation_id="web-xss", touchpoint_id=first, customer_id="C-XSS",
                    channel="socketio", priority=priority, summary=summary, context="{}",
                    status=status, acknowledged_at=acknowledged,
                )
            ).inserted_primary_key[0]
            for created, department, need, priority, summary, status, acknowledged in (
                (at(10, 9, 2), "delivery", "order_late", "normal", "Parcel late", "acknowledged",
                 at(10, 11)),
                (at(10, 9, 8), "support", "request_human", "urgent", f"Wants a person {XSS}",
                 "open", None),
            )
        )  # fmt: skip
        conn.execute(
            insert(outbox),
            [
                {
                    "handoff_id": sent, "conversation_id": "web-xss", "department": "delivery",
                    "idempotency_key": uuid.uuid4().hex, "body": "{}", "created_at": at(10, 9, 2),
                    "state": "sent", "attempts": 2, "next_attempt_at": at(10, 9, 3),
                    "last_status": 200, "last_error": None, "sent_at": at(10, 9, 3), "dead_at": None,
                },
                {
                    "handoff_id": dead, "conversation_id": "web-xss", "department": "support",
                    "idempotency_key": uuid.uuid4().hex, "body": "{}", "created_at": at(10, 9, 8),
                    "state": "dead", "attempts": 5, "next_attempt_at": at(10, 10),
                    "last_status": 500, "last_error": f"refused {XSS}", "sent_at": None,
                    "dead_at": at(10, 10),
                },
            ],
        )  # fmt: skip
        conn.execute(
            insert(routing_decisions).values(
                created_at=at(10, 9, 2), touchpoint_id=first, conversation_id="web-xss",
                need="order_late", department="delivery", priority="urgent",
                rule="frustrated_customer,valued_customer", reason=f"the customer is frustrated {XSS}",
            )
        )  # fmt: skip
        conn.execute(
            insert(takeovers).values(
                conversation_id="web-xss", channel="socketio", handoff_id=dead, agent_id=ana.id,
                status="handed_back", started_at=at(10, 9, 10), lease_expires_at=at(10, 9, 30),
                ended_at=at(10, 9, 25), note=f"sorted the parcel {XSS}",
            )
        )  # fmt: skip
        conn.execute(
            insert(agent_notes),
            [
                {"conversation_id": "web-xss", "author_id": ana.id,
                 "text": f"first session note {XSS}", "created_at": at(10, 9, 15)},
                {"conversation_id": "web-xss", "author_id": ana.id,
                 "text": "second session note", "created_at": at(11, 14, 5)},
            ],
        )  # fmt: skip
        conn.execute(
            insert(policy_moments),
            [
                {"created_at": at(10, 9, 5), "conversation_id": "web-xss", "customer_id": "C-XSS",
                 "need": "request_refund", "policy": "refund_window",
                 "reason": "refunds within 30 days", "offered": json.dumps(["store_credit"]),
                 "chosen": "store_credit", "asked_for_person": False, "closed_at": at(10, 9, 6)},
                {"created_at": at(11, 14, 2), "conversation_id": "web-xss", "customer_id": "C-XSS",
                 "need": "request_refund", "policy": "refund_window",
                 "reason": "refunds within 30 days", "offered": json.dumps(["repair_service"]),
                 "chosen": None, "asked_for_person": False, "closed_at": None},
            ],
        )  # fmt: skip
        conn.execute(
            insert(feedback).values(
                created_at=at(10, 9, 30), touchpoint_id=first, conversation_id="web-xss",
                rating=2, comment=f"slow {XSS}",
            )
        )  # fmt: skip
        conn.execute(
            insert(review_flags).values(
                touchpoint_id=first, conversation_id="web-xss", tags=json.dumps([f"tag {XSS}"]),
                note="check the handoff", flagged_by=lead.id, flagged_at=at(12, 9),
            )
        )  # fmt: skip
        conn.execute(
            insert(identity_checks),
            [
                {"conversation_id": "web-xss", "channel": "socketio", "address": f"10.0.0.7{XSS}",
                 "kind": "order_email", "outcome": "failed", "order_id": f"ORD-9{XSS}"[:64],
                 "customer_id": None, "at": at(10, 9, 4)},
                {"conversation_id": "web-xss", "channel": "socketio", "address": "10.0.0.7",
                 "kind": "code", "outcome": "limited", "order_id": None, "customer_id": None,
                 "at": at(10, 9, 6)},
                {"conversation_id": "web-xss", "channel": "socketio", "address": "10.0.0.8",
                 "kind": "code", "outcome": "ok", "order_id": None, "customer_id": "C-XSS",
                 "at": at(11, 14, 3)},
                {"conversation_id": "rest-anon", "channel": "rest", "address": None,
                 "kind": "lookup", "outcome": "ok", "order_id": "ORD-1001", "customer_id": None,
                 "at": at(12, 8, 1)},
            ],
        )  # fmt: skip
    return ids


def tracker_events() -> list[dict]:
    """The web-xss conversation as Rasa keeps it: two sessions, the first one's answer with XSS."""

    def ts(moment: datetime) -> float:
        return moment.timestamp()

    return [
        {"event": "action", "name": "action_session_start", "timestamp": ts(at(10, 9))},
        {"event": "session_started", "timestamp": ts(at(10, 9))},
        {"event": "user", "text": "where is my parcel", "timestamp": ts(at(10, 9, 1))},
        {"event": "bot", "text": f"It is on its way {XSS}", "timestamp": ts(at(10, 9, 1))},
        {"event": "user", "text": f"I already told you: it is late {XSS}", "timestamp": ts(at(10, 9, 2))},
        {"event": "pause", "timestamp": ts(at(10, 9, 10))},
        {"event": "bot", "text": "Ana here", "data": {"custom": {"agent": "Ana", "text": "Ana here"}},
         "timestamp": ts(at(10, 9, 11))},
        {"event": "action", "name": "action_session_start", "timestamp": ts(at(11, 14))},
        {"event": "session_started", "timestamp": ts(at(11, 14))},
        {"event": "user", "text": "can I get a refund_now?", "timestamp": ts(at(11, 14, 1))},
        {"event": "bot", "text": "Here's what we can do", "timestamp": ts(at(11, 14, 1))},
    ]  # fmt: skip
