"""Preference actions (actions/preferences.py) and the greeting by the preferred name: real
desk on SQLite (and PostgreSQL), hand-built trackers, a CollectingDispatcher."""

from __future__ import annotations

from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions._adapter import customer_slots, record_turn
from actions.conversation import ActionGreet
from actions.preferences import ActionSetPreference, ActionShowPreferences
from bot.preferences import Preferences
from tests.actions.conftest import make_tracker

JANE = {"customer_id": "C001", "verified_by": "website", "customer_name": "Jane"}


def run(action, text, intent="set_preference", slots=None, entities=None, sender="conv-prefs"):
    """Run ``action`` on the customer's message; (messages, events)."""
    dispatcher = CollectingDispatcher()
    tracker = make_tracker(intent, text, slots=slots, entities=entities, sender=sender)
    events = action().run(dispatcher, tracker, {})
    return dispatcher.messages, events


def journey_id(desk, sender="conv-prefs"):
    [touchpoint] = desk.journey.touchpoints_of(sender)
    return touchpoint.customer_id


def test_an_anonymous_visitor_is_called_by_the_name_they_gave(use_test_desk):
    desk = use_test_desk
    [message], events = run(ActionSetPreference, "call me Sam")

    assert message["response"] == "utter_preference_name_kept"
    assert message["name"] == "Sam"
    assert events == [SlotSet("customer_name", "Sam")]
    # Kept on the visitor's anonymous journey id, the one the turn was logged on.
    anonymous = journey_id(desk)
    assert anonymous.startswith("anon-") and desk.preferences.get(anonymous).name == "Sam"

    # A greeting in a later session, with the slot lost: the stored name is used.
    [greeting], events = run(ActionGreet, "hi", intent="greet")
    assert greeting["response"] == "utter_greet_by_name" and greeting["name"] == "Sam"
    assert SlotSet("customer_name", "Sam") in events


def test_an_identified_customer_hears_what_was_kept_by_name(use_test_desk):
    desk = use_test_desk
    [message], events = run(ActionSetPreference, "don't message me after 9pm", slots=JANE)

    assert message["response"] == "utter_preference_kept_by_name"
    assert (message["name"], message["kept"]) == ("Jane", "no messages from 21:00 to 08:00")
    assert [b["payload"] for b in message["buttons"]] == ["/show_preferences"]
    assert events == []
    assert journey_id(desk) == "C001"
    assert desk.preferences.get("C001") == Preferences(quiet_from="21:00", quiet_until="08:00")


def test_a_preference_button_is_taken_from_its_entity(use_test_desk):
    run(
        ActionSetPreference,
        '/set_preference{"preference":"channel:slack"}',
        slots=JANE,
        entities=[{"entity": "preference", "value": "channel:slack"}],
    )
    assert use_test_desk.preferences.get("C001").channel == "slack"


def test_contact_me_here_on_slack_keeps_slack(use_test_desk):
    dispatcher = CollectingDispatcher()
    tracker = make_tracker(
        "set_preference", "please contact me here", slots=JANE, channel="slack", sender="U0JANE_C1"
    )
    ActionSetPreference().run(dispatcher, tracker, {})
    assert use_test_desk.preferences.get("C001").channel == "slack"


def test_an_unclear_request_asks_what_to_change(use_test_desk):
    [message], events = run(ActionSetPreference, "change how you contact me", slots=JANE)
    assert message["response"] == "utter_preference_ask" and events == []
    assert use_test_desk.preferences.get("C001") == Preferences()


def test_show_preferences_before_and_after_stating_some(use_test_desk):
    [message], _ = run(ActionShowPreferences, "what do you know about me", "show_preferences")
    assert message["response"] == "utter_preferences_none"

    run(ActionSetPreference, "call me Sam and no messages after 9pm")
    [message], events = run(ActionShowPreferences, "my contact preferences", "show_preferences")
    assert message["response"] == "utter_preferences_summary"
    assert message["summary"] == "- Name: Sam\n- Quiet hours: no messages from 21:00 to 08:00"
    assert events == []


def test_forgetting_preferences_goes_back_to_the_first_name(use_test_desk):
    run(ActionSetPreference, "call me Sam", slots=JANE)
    [message], events = run(
        ActionSetPreference, "forget my preferences", slots={**JANE, "customer_name": "Sam"}
    )
    assert message["response"] == "utter_preferences_forgotten"
    assert events == [SlotSet("customer_name", "Jane")]
    assert use_test_desk.preferences.get("C001") == Preferences()


def test_identifying_a_customer_names_them_as_they_asked(use_test_desk):
    desk = use_test_desk
    jane = desk.customer("C001")
    assert customer_slots(jane, "website") == JANE
    record_turn(make_tracker(slots=JANE))  # Jane is in the journey
    desk.preferences.update("C001", formality="formal")
    assert customer_slots(jane, "website") == {
        "customer_id": "C001",
        "verified_by": "website",
        "customer_name": "Jane Doe",
    }
    desk.preferences.update("C001", name="JD")
    assert customer_slots(jane, "website")["customer_name"] == "JD"


def test_a_known_customer_is_greeted_by_the_name_they_chose(use_test_desk):
    record_turn(make_tracker(slots=JANE, sender="conv-greet"))
    use_test_desk.preferences.update("C001", name="Sam")
    [greeting], events = run(ActionGreet, "hello", intent="greet", slots=JANE, sender="conv-greet")
    assert greeting["response"] == "utter_greet_by_name" and greeting["name"] == "Sam"
    assert events == [SlotSet("customer_name", "Sam")]


def test_a_greeting_without_preferences_is_unchanged(use_test_desk):
    [greeting], events = run(ActionGreet, "hello", intent="greet", slots=JANE)
    assert greeting["name"] == "Jane" and events == []
    [greeting], events = run(ActionGreet, "hello", intent="greet", sender="conv-stranger")
    assert greeting["response"] == "utter_greet" and events == []
