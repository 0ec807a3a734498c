"""The need form's questions (actions/asking.py): never the same question a third time."""

from __future__ import annotations

from rasa_sdk.executor import CollectingDispatcher

from actions.asking import WAYS_OUT, AskForNewAddress, AskForOrderId, failed_asks
from tests.actions.conftest import make_tracker


def action(name: str) -> dict:
    return {"event": "action", "name": name}


def said(response: str) -> dict:
    """A bot message as Rasa records it: the response it came from in its metadata."""
    return {"event": "bot", "text": "...", "metadata": {"utter_action": response}}


NOTED = [{"event": "session_started"}, action("action_note_need"), action("need_form")]
# Rasa records the form's question as a bot message, with no action event of its own.
ASKED = said("utter_ask_order_id")


def asked(events: list[dict], ask=AskForOrderId) -> list[tuple[str, list]]:
    dispatcher = CollectingDispatcher()
    tracker = make_tracker(intent="inform", text="dunno", events=events)
    assert ask().run(dispatcher, tracker, {}) == []
    return [(m["response"], m.get("buttons") or []) for m in dispatcher.messages]


def test_first_the_question_then_with_ways_out_then_only_the_ways_out():
    assert asked(NOTED) == [("utter_ask_order_id", [])]
    assert asked([*NOTED, ASKED]) == [("utter_ask_order_id", WAYS_OUT)]
    assert asked([*NOTED, ASKED, ASKED]) == [("utter_detail_still_missing", WAYS_OUT)]
    assert asked([*NOTED, ASKED, ASKED, ASKED]) == [("utter_detail_still_missing", WAYS_OUT)]


def test_the_ways_out_are_a_person_or_letting_it_go():
    assert [b["payload"] for b in WAYS_OUT] == ["/request_human", "/deny"]


def test_a_question_answered_on_the_way_is_not_a_failed_answer():
    # Asked, then "oh btw how much is express?" answered (action_note_need), asked again.
    events = [*NOTED, ASKED, action("action_note_need")]
    assert asked(events) == [("utter_ask_order_id", [])]


def test_each_question_and_each_session_count_apart():
    other = [*NOTED, said("utter_ask_new_address"), said("utter_ask_new_address")]
    assert asked(other) == [("utter_ask_order_id", [])]
    assert asked(other, AskForNewAddress) == [("utter_detail_still_missing", WAYS_OUT)]
    assert failed_asks([ASKED, ASKED, {"event": "session_started"}], "action_ask_order_id") == 0
    # An action event of that name (never recorded by Rasa for a form's ask) counts nothing.
    assert failed_asks([action("action_ask_order_id")] * 3, "action_ask_order_id") == 0


def test_a_verified_customer_is_asked_with_their_latest_orders_as_buttons():
    dispatcher = CollectingDispatcher()
    jane = {"customer_id": "C001", "verified_by": "website"}
    tracker = make_tracker(intent="order_status", text="where's my order", slots=jane, events=NOTED)
    AskForOrderId().run(dispatcher, tracker, {})
    [message] = dispatcher.messages
    assert message["response"] == "utter_ask_order_id"
    assert message["buttons"] == [  # newest first, with what is in each
        {"title": "ORD-10001: Ceramic mug set", "payload": '/inform{"order_id": "ORD-10001"}'},
        {"title": "ORD-10003: Desk lamp", "payload": '/inform{"order_id": "ORD-10003"}'},
        {
            "title": "ORD-10002: Standing desk frame, Desk top 140cm",
            "payload": '/inform{"order_id": "ORD-10002"}',
        },
    ]
    # Asked again: her orders, then the ways out.
    again = make_tracker(intent="inform", text="dunno", slots=jane, events=[*NOTED, ASKED])
    dispatcher = CollectingDispatcher()
    AskForOrderId().run(dispatcher, again, {})
    assert dispatcher.messages[0]["buttons"][-2:] == WAYS_OUT
    assert len(dispatcher.messages[0]["buttons"]) == 5


def test_nobody_who_is_not_verified_sees_anyones_orders():
    # A claimed email or a typed order number is not an identity: no orders offered.
    for slots in ({}, {"email": "jane.doe@example.com"}, {"order_id": "ORD-10001"}):
        dispatcher = CollectingDispatcher()
        tracker = make_tracker(intent="order_status", text="where", slots=slots, events=NOTED)
        AskForOrderId().run(dispatcher, tracker, {})
        assert dispatcher.messages[0]["buttons"] == [], slots
