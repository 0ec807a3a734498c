"""News told first (actions/proactive.py): when the hub triggers it, and at the next greeting."""

from __future__ import annotations

from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions._adapter import turn_of
from actions.conversation import ActionGreet
from actions.proactive import ActionTellProactiveNews
from tests.actions.conftest import make_tracker


def delayed(desk, event_id="dlv-1"):
    body = {"id": event_id, "type": "shipment.delayed", "order_id": "ORD-10001",
            "new_date": "2025-03-14"}  # fmt: skip
    return desk.proactive.take_in(desk.events.check("delivery", body), "C001")[0]


def triggered(event_id) -> dict:
    """The tracker Rasa hands the action after the hub's trigger_intent."""
    return make_tracker(
        intent="proactive_news",
        text="EXTERNAL: proactive_news",
        entities=[{"entity": "proactive_event", "value": str(event_id)}],
        channel="socketio",
        sender="web-1",
    )


def test_the_triggered_news_is_said_with_its_buttons_and_remembered(use_test_desk):
    event = delayed(use_test_desk)
    dispatcher = CollectingDispatcher()
    events = ActionTellProactiveNews().run(dispatcher, triggered(event.id), {})
    [message] = dispatcher.messages
    assert message["response"] == "utter_proactive_shipment_delayed"
    assert message["buttons"][0]["payload"] == '/choose_option{"option":"keep_new_date"}'
    assert SlotSet("order_id", "ORD-10001") in events and SlotSet("customer_id", "C001") in events
    assert use_test_desk.proactive.get(event.id).conversation_id == "web-1"


def test_a_trigger_naming_no_known_event_says_nothing(use_test_desk):
    for raw in ("999", "not-a-number"):
        dispatcher = CollectingDispatcher()
        assert ActionTellProactiveNews().run(dispatcher, triggered(raw), {}) == []
        assert dispatcher.messages == []


def test_the_hubs_trigger_is_not_counted_as_something_the_customer_said():
    tracker = triggered(1)
    assert turn_of(tracker).messages == ()


def test_news_that_waited_is_told_at_the_greeting_before_anything_else(use_test_desk):
    event = delayed(use_test_desk)
    [claimed] = use_test_desk.proactive.claim_due()
    use_test_desk.proactive.wait_for_contact(claimed.id, "no live channel")
    greeting = make_tracker(
        slots={"customer_id": "C001", "verified_by": "website", "customer_name": "Jane"},
        sender="rest-1",
    )
    dispatcher = CollectingDispatcher()
    ActionGreet().run(dispatcher, greeting, {})
    responses = [m["response"] for m in dispatcher.messages]
    assert responses == ["utter_greet_by_name", "utter_proactive_shipment_delayed"]
    assert dispatcher.messages[1]["opening"] == "Before anything else, Jane:"
    told = use_test_desk.proactive.get(event.id)
    assert (told.state, told.conversation_id) == ("told", "rest-1")
    # Told once: the next greeting has nothing more to say.
    again = CollectingDispatcher()
    ActionGreet().run(again, greeting, {})
    assert [m["response"] for m in again.messages] == ["utter_greet_by_name"]


def test_an_anonymous_greeting_has_no_news(use_test_desk):
    delayed(use_test_desk)
    dispatcher = CollectingDispatcher()
    ActionGreet().run(dispatcher, make_tracker(sender="anon-1"), {})
    assert [m["response"] for m in dispatcher.messages] == ["utter_greet"]


def test_news_that_waited_comes_first_when_the_customer_comes_with_a_need(use_test_desk):
    from actions.needs import ActionNoteNeed

    event = delayed(use_test_desk)
    [claimed] = use_test_desk.proactive.claim_due()
    use_test_desk.proactive.wait_for_contact(claimed.id, "no live channel")
    asking = make_tracker(
        intent="order_status",
        text="where is ORD-10002?",
        slots={"customer_id": "C001", "verified_by": "website", "customer_name": "Jane"},
        fresh={"order_id": "ORD-10002"},
        sender="rest-2",
    )
    dispatcher = CollectingDispatcher()
    events = ActionNoteNeed().run(dispatcher, asking, {})
    [news] = dispatcher.messages
    assert news["response"] == "utter_proactive_shipment_delayed"
    assert news["opening"] == "Before anything else, Jane:"
    # Her question is about ORD-10002: the news about ORD-10001 leaves that alone.
    assert not [e for e in events if e.get("name") in ("order_id", "invoice_id")]
    assert SlotSet("need", "order_status") in events
    assert use_test_desk.proactive.get(event.id).state == "told"
