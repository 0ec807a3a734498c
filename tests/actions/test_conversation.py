"""Conversation actions (actions/conversation.py): the session start keeps who the customer
is and an agent's takeover; a goodbye asks for feedback once per session."""

from __future__ import annotations

import pytest
import yaml
from rasa_sdk import Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy import update

from actions._adapter import record_turn
from actions.conversation import (
    ActionLogTurn,
    ActionRateConversation,
    ActionRateEffort,
    ActionSayGoodbye,
    ActionSessionStart,
    ActionWhatHappensNext,
)
from bot.db.schema import touchpoints
from bot.policies.engine import Decision
from bot.settings import ROOT
from tests.actions.conftest import make_tracker


def tracker(paused: bool, verified_by: str = "website") -> Tracker:
    slots = {
        "customer_id": "C001",
        "verified_by": verified_by,
        "customer_name": "Jane",
        "order_id": "ORD-10001",
        "requested_slot": "x",
    }
    return Tracker("conv-1", slots, {}, [], paused, None, {}, "action_listen")


def test_a_new_session_carries_the_slots_over_and_listens():
    events = ActionSessionStart().run(CollectingDispatcher(), tracker(paused=False), {})
    assert [e["event"] for e in events] == ["session_started"] + ["slot"] * 4 + ["action"]
    assert {(e["name"], e["value"]) for e in events if e["event"] == "slot"} == {
        ("customer_id", "C001"),
        ("verified_by", "website"),
        ("customer_name", "Jane"),
        ("order_id", "ORD-10001"),
    }
    assert events[-1]["name"] == "action_listen"


@pytest.mark.parametrize("verified_by", ["order_email", "one_time_code"])
def test_a_new_session_asks_again_for_a_check_passed_in_the_chat(verified_by):
    events = ActionSessionStart().run(
        CollectingDispatcher(), tracker(paused=False, verified_by=verified_by), {}
    )
    # Like a bank's chat: the check holds for its session; the order number is still known.
    assert {(e["name"], e["value"]) for e in events if e["event"] == "slot"} == {
        ("order_id", "ORD-10001")
    }


def test_a_new_session_during_an_agents_takeover_stays_paused():
    events = ActionSessionStart().run(CollectingDispatcher(), tracker(paused=True), {})
    assert [e["event"] for e in events][:2] == ["session_started", "pause"]


# -- feedback at the end of a conversation (bot/support/feedback.py) -----------------------

CONVERSATION = "conv-feedback"
SERVED = [{"event": "action", "name": "action_serve_need"}]  # the assistant answered a need


def run(action, intent, text, asked=None, entities=None, events=None):
    """Run ``action`` on the customer's latest message; (responses, events)."""
    tracker = make_tracker(
        intent,
        text,
        slots={"feedback_asked": asked, "customer_id": "C001", "verified_by": "website"},
        entities=entities,
        events=events,
        sender=CONVERSATION,
    )
    dispatcher = CollectingDispatcher()
    returned = action().run(dispatcher, tracker, {})
    return [m["response"] for m in dispatcher.messages], returned


def goodbye(asked=None):
    return run(ActionSayGoodbye, "goodbye", "bye", asked)


def rate(value, asked="rating", events=SERVED):
    entities = [{"entity": "rating", "value": value}] if value is not None else []
    payload = f'/rate_conversation{{"rating":"{value}"}}'
    return run(ActionRateConversation, "rate_conversation", payload, asked, entities, events)


def effort(value, asked="effort"):
    entities = [{"entity": "effort", "value": value}] if value is not None else []
    return run(
        ActionRateEffort, "rate_effort", f'/rate_effort{{"effort":"{value}"}}', asked, entities
    )


def touchpoint(desk):
    [found] = desk.journey.touchpoints_of(CONVERSATION)
    return found


def set_outcome(desk, outcome):
    """The touchpoint's outcome as a handoff, an agent or a department left it."""
    record_turn(make_tracker("order_status", "where is ORD-10001", sender=CONVERSATION))
    with desk.handoffs.engine.begin() as conn:
        conn.execute(
            update(touchpoints)
            .where(touchpoints.c.conversation_id == CONVERSATION)
            .values(outcome=outcome)
        )


def test_the_goodbye_buttons_rate_1_to_5_or_skip_and_the_effort_question_too():
    responses = yaml.safe_load((ROOT / "domain.yml").read_text())["responses"]

    def payloads(name):
        return [b["payload"] for b in responses[name][0]["buttons"]]

    assert "how did I do?" in responses["utter_goodbye"][0]["text"]
    assert payloads("utter_goodbye") == [
        *(f'/rate_conversation{{"rating":"{n}"}}' for n in range(1, 6)),
        "/skip_feedback",
    ]
    assert (
        "how easy was it to get this sorted?"
        in responses["utter_thanks_how_easy_was_it"][0]["text"]
    )
    assert payloads("utter_thanks_how_easy_was_it") == [
        *(f'/rate_effort{{"effort":"{n}"}}' for n in range(1, 6)),
        "/skip_feedback",
    ]
    assert "buttons" not in responses["utter_goodbye_again"][0]


def test_a_goodbye_asks_for_a_rating_once_and_ends_the_chat(use_test_desk):
    assert goodbye() == (["utter_goodbye"], [SlotSet("feedback_asked", "rating")])
    assert touchpoint(use_test_desk).ended_at is not None
    # A second goodbye in the same session, whether or not the first was answered.
    assert goodbye(asked="rating") == (["utter_goodbye_again"], [])
    assert goodbye(asked="effort") == (["utter_goodbye_again"], [])


def test_a_rating_after_a_problem_the_assistant_solved_asks_about_effort_once(use_test_desk):
    assert rate("4") == (["utter_thanks_how_easy_was_it"], [SlotSet("feedback_asked", "effort")])
    assert touchpoint(use_test_desk).rating == 4
    # The old rating button clicked again: the rating changes, effort is not asked again.
    assert rate("5", asked="effort") == (
        ["utter_thanks_for_rating"],
        [SlotSet("feedback_asked", "effort")],
    )
    assert touchpoint(use_test_desk).rating == 5


def test_the_effort_answer_is_kept_and_the_chat_stays_ended(use_test_desk):
    rate("4")
    assert effort("5") == (["utter_thanks_for_effort"], [])
    found = touchpoint(use_test_desk)
    assert (found.rating, found.effort) == (4, 5)
    assert found.ended_at is not None


@pytest.mark.parametrize("outcome", ["handed_off", "escalated"])
def test_no_effort_question_while_a_department_or_a_person_still_has_to_act(use_test_desk, outcome):
    set_outcome(use_test_desk, outcome)
    assert rate("5") == (["utter_thanks_for_rating"], [SlotSet("feedback_asked", "rating")])
    assert touchpoint(use_test_desk).rating == 5


def test_effort_is_asked_after_an_agent_or_department_resolved_it(use_test_desk):
    set_outcome(use_test_desk, "resolved")
    # The agent served it: no need was answered by the assistant in this session.
    assert rate("3", events=[]) == (
        ["utter_thanks_how_easy_was_it"],
        [SlotSet("feedback_asked", "effort")],
    )


def test_no_effort_question_after_small_talk_alone(use_test_desk):
    assert rate("5", events=[]) == (
        ["utter_thanks_for_rating"],
        [SlotSet("feedback_asked", "rating")],
    )


def test_no_effort_question_while_a_policy_limit_is_still_open(use_test_desk):
    limit = Decision("refund_window", False, "refunds within 30 days", ("store_credit",))
    use_test_desk.policy_log.offered(CONVERSATION, "C001", "request_refund", limit)
    assert rate("4") == (["utter_thanks_for_rating"], [SlotSet("feedback_asked", "rating")])
    use_test_desk.policy_log.chose(use_test_desk.policy_log.moments(CONVERSATION)[0].id, "x")
    assert rate("4")[0] == ["utter_thanks_how_easy_was_it"]


def test_a_low_rating_offers_a_person_and_asks_nothing_more(use_test_desk):
    assert rate("2") == (["utter_sorry_low_rating"], [SlotSet("feedback_asked", "rating")])
    assert touchpoint(use_test_desk).rating == 2
    assert rate("1")[0] == ["utter_sorry_low_rating"]


def test_a_rating_nobody_asked_for_is_kept_and_stops_the_goodbye_asking(use_test_desk):
    # A hand-typed payload, or a button from an earlier session the widget shows again.
    assert rate("5", asked=None) == (
        ["utter_thanks_for_rating"],
        [SlotSet("feedback_asked", "rating")],
    )
    assert touchpoint(use_test_desk).rating == 5


def test_an_effort_answer_nobody_asked_for_is_not_kept(use_test_desk):
    assert effort("5", asked="rating") == (["utter_thanks_for_effort"], [])
    assert effort("5", asked=None) == (["utter_thanks_for_effort"], [])
    assert touchpoint(use_test_desk).effort is None


@pytest.mark.parametrize("value", ["0", "6", "9", "", "five", "-1", None])
def test_invalid_values_are_ignored(use_test_desk, value):
    assert rate(value) == (["utter_option_unknown"], [])
    assert effort(value) == (["utter_option_unknown"], [])
    found = touchpoint(use_test_desk)
    assert (found.rating, found.effort) == (None, None)


def test_no_thanks_keeps_the_chat_ended(use_test_desk):
    goodbye()
    assert run(ActionLogTurn, "skip_feedback", "/skip_feedback", "rating") == ([], [])
    found = touchpoint(use_test_desk)
    assert found.ended_at is not None and found.rating is None


def test_a_new_session_asks_for_feedback_again():
    slots = {
        "customer_id": "C001",
        "verified_by": "website",
        "feedback_asked": "effort",
        "requested_slot": None,
    }
    tracker = Tracker("conv-1", slots, {}, [], False, None, {}, "action_listen")
    events = ActionSessionStart().run(CollectingDispatcher(), tracker, {})
    assert [(e["name"], e["value"]) for e in events if e["event"] == "slot"] == [
        ("customer_id", "C001"),
        ("verified_by", "website"),
    ]


def said(text: str) -> dict:
    return {"event": "bot", "text": text}


def test_what_happens_next_repeats_the_promise_made_in_this_chat(use_test_desk):
    promise = (
        "our delivery team will get back to you by email within 24 hours. Your reference is H-7."
    )
    events = [
        {"event": "session_started"},
        said("I'm sorry: ORD-10002 should have arrived Friday."),
        said("What happens next: " + promise),
        said("Is there anything else I can help with?"),
    ]
    dispatcher = CollectingDispatcher()
    tracker = make_tracker(intent="ask_what_next", text="ok so what now?", events=events)
    assert ActionWhatHappensNext().run(dispatcher, tracker, {}) == []
    assert [m["response"] for m in dispatcher.messages] == ["utter_as_promised"]
    assert dispatcher.messages[0]["promise"] == promise


def test_what_happens_next_with_nothing_handed_on_says_so(use_test_desk):
    # A promise of an earlier session is not this chat's.
    events = [said("What happens next: billing will email you."), {"event": "session_started"}]
    dispatcher = CollectingDispatcher()
    tracker = make_tracker(intent="ask_what_next", text="what happens now?", events=events)
    ActionWhatHappensNext().run(dispatcher, tracker, {})
    assert [m["response"] for m in dispatcher.messages] == ["utter_nothing_handed_on"]
