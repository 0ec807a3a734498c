"""A conversation's lines from Rasa tracker events, and the queue's words."""

from __future__ import annotations

from datetime import datetime, timedelta

from bot.agents.queue import Escalation, Holder, ordered, public_name
from bot.agents.transcript import as_text, transcript


def test_customer_assistant_agent_and_pauses_in_order_with_button_titles():
    events = [
        {"event": "action", "name": "action_session_start", "timestamp": 1},
        {"event": "user", "text": "hello", "timestamp": 2},
        {
            "event": "bot",
            "text": "What can I do?",
            "timestamp": 3,
            "data": {"buttons": [{"title": "Talk to a person", "payload": "/request_human"}]},
        },
        {"event": "user", "text": "/request_human", "timestamp": 4},
        {"event": "pause", "timestamp": 5},
        {"event": "bot", "text": "x", "data": {"custom": {"text": "Hi, Ana here", "agent": "Ana"}}},
        {"event": "user", "text": "", "timestamp": 6},
        {"event": "resume", "timestamp": 7},
        {"event": "slot", "name": "x", "value": 1},
    ]
    lines = transcript(events)
    assert [(line.sender, line.text, line.agent) for line in lines] == [
        ("customer", "hello", None),
        ("assistant", "What can I do?", None),
        ("customer", "Talk to a person", None),
        ("system", "The assistant paused: a person has the conversation.", None),
        ("agent", "Hi, Ana here", "Ana"),
        ("system", "The assistant answers again.", None),
    ]
    assert lines[0].at == datetime.fromtimestamp(2) and lines[4].at is None
    assert as_text(lines) == [
        "customer: hello",
        "assistant: What can I do?",
        "customer: Talk to a person",
        "Ana (agent): Hi, Ana here",
    ]


def escalation(conversation_id, taken=False, **values):
    base = dict(
        conversation_id=conversation_id,
        channel="socketio",
        handoff_ids=(1,),
        need="request_human",
        summary="",
        priority="normal",
        customer_id=None,
        customer_name=None,
        tier=None,
        frustration=0,
        created_at=datetime(2025, 3, 12, 10),
        waited=timedelta(minutes=10),
        sla=timedelta(hours=1),
        taken_by=Holder(1, "ana", "Ana") if taken else None,
    )
    return Escalation(**{**base, **values})


def test_waiting_before_taken_then_frustration_tier_and_share_of_the_sla():
    queue = ordered(
        [
            escalation("taken-angry", taken=True, frustration=9),
            escalation("silver", tier="silver"),
            escalation("gold-new", tier="gold", waited=timedelta(minutes=1)),
            escalation("gold-old", tier="gold", waited=timedelta(minutes=50)),
            escalation("repeating", frustration=1),
        ]
    )
    assert [e.conversation_id for e in queue] == [
        "repeating",
        "gold-old",
        "gold-new",
        "silver",
        "taken-angry",
    ]
    assert queue[1].why() == "frustration 0 · gold tier · waiting 50 min of the 1 h promise"


def test_a_customer_line_carries_the_message_id_rasa_recorded():
    events = [{"event": "user", "text": "hello", "timestamp": 2, "message_id": "abc123"}]
    assert transcript(events)[0].as_json()["id"] == "abc123"
    assert transcript([{"event": "user", "text": "hi"}])[0].as_json()["id"] is None


def test_customers_see_an_agents_name_without_a_role_in_brackets():
    assert public_name("Alex (admin)") == "Alex"
    assert public_name("Ana Silva [Agent]") == "Ana Silva"
    assert public_name("Ben (he/him)") == "Ben (he/him)"  # not a role: theirs to show
    assert public_name("(admin)") == "(admin)"  # never empty
    assert Holder(1, "alex", "Alex (admin)").public_name == "Alex"
