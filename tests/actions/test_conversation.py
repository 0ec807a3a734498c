"""The session start keeps who the customer is and an agent's takeover (actions/conversation.py)."""

from __future__ import annotations

from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions.conversation import ActionSessionStart


def tracker(paused: bool) -> Tracker:
    slots = {
        "customer_id": "C001",
        "customer_name": "Jane",
        "order_id": None,
        "requested_slot": "x",
    }
    return Tracker("conv-1", slots, {}, [], paused, None, {}, "action_listen")


def test_a_new_session_carries_the_slots_over_and_listens():
    events = ActionSessionStart().run(CollectingDispatcher(), tracker(paused=False), {})
    assert [e["event"] for e in events] == ["session_started", "slot", "slot", "action"]
    assert {(e["name"], e["value"]) for e in events if e["event"] == "slot"} == {
        ("customer_id", "C001"),
        ("customer_name", "Jane"),
    }
    assert events[-1]["name"] == "action_listen"


def test_a_new_session_during_an_agents_takeover_stays_paused():
    events = ActionSessionStart().run(CollectingDispatcher(), tracker(paused=True), {})
    assert [e["event"] for e in events][:2] == ["session_started", "pause"]
