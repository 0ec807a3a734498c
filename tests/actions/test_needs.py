import asyncio

import pytest
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.conversation import ActionClarify, ActionGreet
from actions.needs import ActionCarryOutOption, ActionNoteNeed, ActionServeNeed, ValidateNeedForm
from tests.actions.conftest import make_tracker

DOMAIN = {
    "forms": {
        "need_form": {
            "required_slots": ["order_id", "customer_id", "email", "new_address", "new_date"]
        }
    }
}


def responses(dispatcher):
    return [m["response"] for m in dispatcher.messages]


def test_note_need_remembers_the_intent_and_clears_old_answers():
    events = ActionNoteNeed().run(
        CollectingDispatcher(), make_tracker("order_status", "where is my parcel"), {}
    )
    assert events == [
        SlotSet("need", "order_status"),
        SlotSet("new_address", None),
        SlotSet("new_date", None),
    ]


@pytest.mark.parametrize(
    "metadata",
    [
        # As bot/rasa/channels/slack.py sends it: "users" is the app's bot user, not the author.
        {"users": ["U0BOT"], "slack_user": "U0JANE", "out_channel": "D0JANE"},
        {"users": ["U0BOT"]},  # as stock Rasa sends it: the sender id names the author
    ],
)
def test_note_need_identifies_a_slack_user(metadata):
    tracker = make_tracker(
        "request_invoice",
        "invoice pls",
        channel="slack",
        metadata=metadata,
        sender="U0JANE_D0JANE_1741773600.000100",  # conversation_granularity: thread
    )
    events = ActionNoteNeed().run(CollectingDispatcher(), tracker, {})
    assert SlotSet("customer_id", "C001") in events and SlotSet("customer_name", "Jane") in events


def run_form(tracker):
    dispatcher = CollectingDispatcher()
    events = asyncio.run(ValidateNeedForm().run(dispatcher, tracker, DOMAIN))
    return dispatcher, events


def test_form_asks_for_the_order_first():
    dispatcher, events = run_form(
        make_tracker("order_status", "where is my order", slots={"need": "order_status"})
    )
    assert events == [SlotSet("requested_slot", "order_id")]
    assert dispatcher.messages == []


def test_form_accepts_an_order_number_without_making_the_visitor_its_owner():
    tracker = make_tracker(
        "inform",
        "it's ord10001",
        slots={"need": "order_status"},
        fresh={"order_id": "ord10001"},
        requested_slot="order_id",
    )
    dispatcher, events = run_form(tracker)
    # An order number is not an identity: the tracker's answer needs no more.
    assert events == [SlotSet("order_id", "ORD-10001"), SlotSet("requested_slot", None)]


def test_form_refuses_an_unknown_order_and_asks_again():
    tracker = make_tracker(
        "inform",
        "ORD-99999",
        slots={"need": "order_status"},
        fresh={"order_id": "ORD-99999"},
        requested_slot="order_id",
    )
    dispatcher, events = run_form(tracker)
    assert responses(dispatcher) == ["utter_order_not_found"]
    assert events == [SlotSet("order_id", None), SlotSet("requested_slot", "order_id")]


def test_form_sends_a_code_to_the_email_for_billing_needs_and_verifies_with_it(use_test_desk):
    tracker = make_tracker(
        "inform",
        "omar@example.com",
        slots={"need": "charged_twice"},
        requested_slot="customer_id",
        entities=[{"entity": "email", "value": "omar@example.com"}],
    )
    dispatcher, events = run_form(tracker)
    assert responses(dispatcher) == ["utter_code_sent"]
    assert SlotSet("customer_id", "C002") not in events
    assert events[-1] == SlotSet("requested_slot", "customer_id")
    code = use_test_desk.verifier.mailer.last_code("omar@example.com")
    typed = make_tracker(
        "inform", f"it's {code}", slots={"need": "charged_twice"}, requested_slot="customer_id"
    )
    dispatcher, events = run_form(typed)
    assert responses(dispatcher) == ["utter_verified"]
    assert SlotSet("customer_id", "C002") in events
    assert SlotSet("verified_by", "one_time_code") in events
    assert SlotSet("requested_slot", None) in events


def test_form_says_the_same_when_an_email_has_no_account(use_test_desk):
    tracker = make_tracker(
        "inform",
        "who@nowhere.com",
        slots={"need": "charged_twice"},
        requested_slot="customer_id",
        entities=[{"entity": "email", "value": "who@nowhere.com"}],
    )
    dispatcher, events = run_form(tracker)
    assert responses(dispatcher) == ["utter_code_sent"]
    assert use_test_desk.verifier.mailer.sent == []
    assert events[-1] == SlotSet("requested_slot", "customer_id")


def test_form_verifies_with_the_order_and_the_email_on_it():
    tracker = make_tracker(
        "inform",
        "omar@example.com",
        slots={"need": "cancel_order", "order_id": "ORD-10004"},
        requested_slot="customer_id",
        entities=[{"entity": "email", "value": "omar@example.com"}],
    )
    dispatcher, events = run_form(tracker)
    assert responses(dispatcher) == ["utter_verified"]
    assert SlotSet("customer_id", "C002") in events
    assert SlotSet("verified_by", "order_email") in events


def test_form_refuses_another_customers_email_like_an_unknown_order():
    wrong = make_tracker(
        "inform",
        "jane.doe@example.com",
        slots={"need": "cancel_order", "order_id": "ORD-10004"},
        requested_slot="customer_id",
        entities=[{"entity": "email", "value": "jane.doe@example.com"}],
    )
    dispatcher, events = run_form(wrong)
    unknown = make_tracker(
        "inform",
        "jane.doe@example.com",
        slots={"need": "cancel_order", "order_id": "ORD-99999"},
        requested_slot="customer_id",
        entities=[{"entity": "email", "value": "jane.doe@example.com"}],
        sender="conv-2",
    )
    unknown_dispatcher, unknown_events = run_form(unknown)
    assert responses(dispatcher) == responses(unknown_dispatcher) == ["utter_verification_failed"]
    assert SlotSet("customer_id", "C001") not in events
    assert events[-1] == unknown_events[-1] == SlotSet("requested_slot", "customer_id")


def test_form_asks_for_a_new_day_only_before_dispatch_and_an_address_always():
    owners = {"ORD-10004": "C002", "ORD-10001": "C001"}  # verified as the order's customer
    for order, then in (("ORD-10004", "new_date"), ("ORD-10001", None)):
        tracker = make_tracker(
            "inform",
            order,
            slots={
                "need": "change_delivery_date",
                "customer_id": owners[order],
                "verified_by": "website",
            },
            fresh={"order_id": order},
            requested_slot="order_id",
        )
        _, events = run_form(tracker)
        assert events[-1] == SlotSet("requested_slot", then), order
    # A carrier can still redirect a dispatched order, so the address is asked for both.
    for order in ("ORD-10004", "ORD-10001"):
        tracker = make_tracker(
            "inform",
            order,
            slots={
                "need": "change_delivery_address",
                "customer_id": owners[order],
                "verified_by": "website",
            },
            fresh={"order_id": order},
            requested_slot="order_id",
        )
        _, events = run_form(tracker)
        assert events[-1] == SlotSet("requested_slot", "new_address"), order


def test_form_asks_a_visitor_to_verify_before_any_change():
    tracker = make_tracker(
        "inform",
        "ORD-10004",
        slots={"need": "change_delivery_address"},
        fresh={"order_id": "ORD-10004"},
        requested_slot="order_id",
    )
    _, events = run_form(tracker)
    assert events == [SlotSet("order_id", "ORD-10004"), SlotSet("requested_slot", "customer_id")]


def test_form_checks_addresses_and_dates():
    bad = make_tracker(
        "inform",
        "home",
        slots={"need": "change_delivery_address", "order_id": "ORD-10004"},
        fresh={"new_address": "home"},
        requested_slot="new_address",
    )
    dispatcher, events = run_form(bad)
    assert (
        responses(dispatcher) == ["utter_address_unreadable"]
        and SlotSet("new_address", None) in events
    )
    date = make_tracker(
        "inform",
        "next friday",
        slots={"need": "change_delivery_date", "order_id": "ORD-10004"},
        fresh={"new_date": "next friday"},
        requested_slot="new_date",
    )
    _, events = run_form(date)
    assert SlotSet("new_date", "2025-03-14") in events


def test_serve_need_answers_and_forgets_the_need():
    tracker = make_tracker(
        "inform",
        "ORD-10001",
        slots={
            "need": "order_status",
            "order_id": "ORD-10001",
            "customer_id": "C001",
            "verified_by": "website",
        },
    )
    dispatcher = CollectingDispatcher()
    events = ActionServeNeed().run(dispatcher, tracker, {})
    assert responses(dispatcher) == ["utter_order_on_its_way"]
    assert dispatcher.messages[0]["tracking"] == "JD014600001"
    assert events == [SlotSet("need", None)]


def test_serve_need_hands_off_with_what_the_customer_said(use_test_desk):
    events = [
        {
            "event": "user",
            "text": "I was charged twice!!",
            "parse_data": {"intent": {"name": "charged_twice"}},
        }
    ]
    tracker = make_tracker(
        "inform",
        "omar@example.com",
        slots={"need": "charged_twice", "customer_id": "C002", "verified_by": "website"},
        events=events,
    )
    dispatcher = CollectingDispatcher()
    ActionServeNeed().run(dispatcher, tracker, {})
    assert responses(dispatcher) == ["utter_double_charge_found", "utter_handed_off"]
    [handoff] = use_test_desk.handoffs.open_handoffs("conv-1")
    assert handoff["context"]["customer_said"] == "I was charged twice!!"
    assert "customer: I was charged twice!!" in handoff["context"]["transcript"]


def test_option_button_is_carried_out():
    tracker = make_tracker(
        "choose_option",
        '/choose_option{"option":"pause_plan"}',
        slots={"customer_id": "C001", "verified_by": "website"},
        entities=[{"entity": "option", "value": "pause_plan"}],
    )
    dispatcher = CollectingDispatcher()
    ActionCarryOutOption().run(dispatcher, tracker, {})
    assert responses(dispatcher) == ["utter_option_pause", "utter_handed_off"]


def test_greet_by_name_once_known():
    dispatcher = CollectingDispatcher()
    ActionGreet().run(dispatcher, make_tracker(slots={"customer_name": "Jane"}), {})
    assert (
        dispatcher.messages[0]["response"] == "utter_greet_by_name"
        and dispatcher.messages[0]["name"] == "Jane"
    )
    dispatcher = CollectingDispatcher()
    ActionGreet().run(dispatcher, make_tracker(), {})
    assert responses(dispatcher) == ["utter_greet"]


def test_clarify_suggests_the_likeliest_needs():
    ranking = [
        {"name": "nlu_fallback", "confidence": 0.55},
        {"name": "refund_status", "confidence": 0.4},
        {"name": "request_refund", "confidence": 0.3},
    ]
    dispatcher = CollectingDispatcher()
    ActionClarify().run(dispatcher, make_tracker("nlu_fallback", "money??", ranking=ranking), {})
    assert responses(dispatcher) == ["utter_clarify"]
    assert [b["payload"] for b in dispatcher.messages[0]["buttons"]] == [
        "/refund_status",
        "/request_refund",
        "/request_human",
    ]


def _said(text, intent, at):
    return {
        "event": "user",
        "text": text,
        "timestamp": at,
        "parse_data": {"intent": {"name": intent}},
    }


def test_each_turn_is_logged_on_the_touchpoint_as_the_chat_goes(use_test_desk):
    start = 1741773600.0  # 2025-03-12 10:00 UTC
    session = [{"event": "session_started", "timestamp": start}]
    said = [_said("I was charged twice!!", "charged_twice", start + 5)]
    tracker = make_tracker(
        "charged_twice", "I was charged twice!!", events=session + said[:0], sender="conv-log"
    )
    ActionNoteNeed().run(CollectingDispatcher(), tracker, {})
    [touchpoint] = use_test_desk.journey.touchpoints_of("conv-log")
    assert touchpoint.needs == ("charged_twice",) and touchpoint.outcome == "self_served"
    assert touchpoint.customer_id.startswith("anon-")
    # Identified and served: the same touchpoint now belongs to Omar, handed off to billing.
    tracker = make_tracker(
        "inform",
        "omar@example.com",
        slots={"need": "charged_twice", "customer_id": "C002", "verified_by": "website"},
        events=session + said,
        sender="conv-log",
    )
    ActionServeNeed().run(CollectingDispatcher(), tracker, {})
    [touchpoint] = use_test_desk.journey.touchpoints_of("conv-log")
    assert touchpoint.customer_id == "C002" and touchpoint.outcome == "handed_off"
    assert touchpoint.departments == ("billing",) and touchpoint.message_count == 2
    assert use_test_desk.journey.customer_of("email", "omar@example.com") == "C002"


def test_a_frustrated_customer_is_brought_a_person_with_the_reason_recorded(use_test_desk):
    start = 1741773600.0
    said = [
        _said("where is my order", "order_status", start),
        _said("ORD-10001", "inform", start + 10),
        _said("where is my order", "order_status", start + 20),
        _said("I already told you, this is ridiculous", "order_status", start + 30),
    ]
    tracker = make_tracker(
        "order_status",
        "I already told you, this is ridiculous",
        slots={
            "need": "order_status",
            "customer_id": "C001",
            "verified_by": "website",
            "order_id": "ORD-10001",
        },
        events=said[:-1],
        sender="conv-angry",
    )
    dispatcher = CollectingDispatcher()
    ActionServeNeed().run(dispatcher, tracker, {})
    assert responses(dispatcher) == [
        "utter_order_on_its_way",
        "utter_bringing_a_person",
        "utter_handed_off",
    ]
    [handoff] = use_test_desk.handoffs.open_handoffs("conv-angry")
    assert (handoff["department"], handoff["priority"]) == ("support", "urgent")
    assert handoff["context"]["signals"]["told_you"] == 1
    [touchpoint] = use_test_desk.journey.touchpoints_of("conv-angry")
    assert touchpoint.outcome == "escalated"


def test_a_rating_is_kept_and_a_low_one_is_heard(use_test_desk):
    from actions.conversation import ActionRateConversation

    def rate(value):
        tracker = make_tracker(
            "rate_conversation",
            f'/rate_conversation{{"rating":"{value}"}}',
            entities=[{"entity": "rating", "value": value}],
            sender="conv-rated",
        )
        dispatcher = CollectingDispatcher()
        ActionRateConversation().run(dispatcher, tracker, {})
        return responses(dispatcher)

    assert rate("5") == ["utter_thanks_for_rating"]
    assert use_test_desk.journey.touchpoints_of("conv-rated")[0].rating == 5
    assert rate("1") == ["utter_sorry_low_rating"]
    assert use_test_desk.journey.touchpoints_of("conv-rated")[0].rating == 1
    assert rate("9") == ["utter_option_unknown"]
