"""Every need, served from the seeded demo back office (tests/conftest.py: TODAY, NOW)."""

from dataclasses import replace
from datetime import date, datetime

import pytest

from bot.support import NeedContext
from bot.support.needs import HANDLERS, REQUIRES
from bot.support.replies import NEED_LABELS


def ctx(desk, need, customer=None, order=None, **kw):
    return NeedContext(
        need=need,
        conversation_id="conv-1",
        text=kw.pop("text", "help"),
        customer=desk.customer(customer),
        order=desk.backoffice.order(order) if order else None,
        **kw,
    )


def only(reply):
    return reply.responses


# -- what each need asks for -------------------------------------------------------------
def test_required_details_follow_the_need(desk):
    assert desk.missing_details("order_status", {}) == ["order_id"]
    assert desk.missing_details("order_status", {"order_id": "ORD-10001"}) == []
    assert desk.missing_details("charged_twice", {}) == ["customer_id"]
    assert desk.missing_details("ask_pricing", {}) == []
    assert desk.missing_details("book_demo", {}) == ["email"]
    assert desk.missing_details("book_demo", {"customer_id": "C001"}) == []
    # The new address is asked for before and after dispatch (a carrier can redirect)...
    for order, owner in (("ORD-10004", "C002"), ("ORD-10001", "C001")):
        known = {"order_id": order, "customer_id": owner}
        assert desk.missing_details("change_delivery_address", known) == ["new_address"]
    # ...a new day only while the order is still ours to schedule.
    assert desk.missing_details(
        "change_delivery_date", {"order_id": "ORD-10004", "customer_id": "C002"}
    ) == ["new_date"]
    assert (
        desk.missing_details(
            "change_delivery_date", {"order_id": "ORD-10001", "customer_id": "C001"}
        )
        == []
    )
    # A change asks who it is (verification) after the order number and before the rest.
    assert desk.missing_details("change_delivery_address", {"order_id": "ORD-10004"}) == [
        "customer_id",
        "new_address",
    ]
    assert desk.missing_details("cancel_order", {}) == ["order_id", "customer_id"]
    assert set(REQUIRES) <= set(HANDLERS) and set(NEED_LABELS) == set(HANDLERS)


def test_only_slack_vouches_for_a_customer_here(desk):
    assert desk.slack_customer("U0JANE").id == "C001"
    assert desk.slack_customer("U0NOBODY") is None and desk.slack_customer(None) is None
    # No lookup by email or order number: those are claims (bot/identity verifies them).
    assert not hasattr(desk, "identify")


def test_an_order_of_another_customer_is_refused_like_a_missing_one(desk):
    assert desk.check_order("ORD-10004", "C001").problem == "utter_order_not_found"
    assert desk.check_order("ORD-99999", None).problem == "utter_order_not_found"
    assert desk.check_order("soon", None).problem == "utter_order_id_unreadable"
    ok = desk.check_order("ord10004", "C002")
    assert ok.order.id == "ORD-10004" and ok.customer.name == "Omar Haddad"


# -- delivery --------------------------------------------------------------------------
def test_order_on_its_way(desk):
    reply = desk.serve(ctx(desk, "order_status", "C001", "ORD-10001"))
    [message] = reply.messages
    assert message.response == "utter_order_on_its_way"
    assert message.params["carrier"] == "DHL" and message.params["tracking"] == "JD014600001"
    assert message.params["expected"] == "Friday 14 March"
    assert reply.handoff is None


def test_late_order_is_chased_with_high_priority(desk):
    reply = desk.serve(ctx(desk, "order_status", "C001", "ORD-10002"))
    assert only(reply) == ["utter_order_late", "utter_handed_off"]
    assert reply.handoff.department.name == "delivery" and reply.handoff.priority == "high"
    packet = desk.handoffs.open_handoffs("conv-1")[0]["context"]
    assert (
        packet["order_id"] == "ORD-10002" and packet["customer"]["email"] == "jane.doe@example.com"
    )
    assert reply.messages[1].params["promise"] == "within 24 hours"


def test_order_late_that_is_not_late_gets_reassurance(desk):
    assert only(desk.serve(ctx(desk, "order_late", "C002", "ORD-10004"))) == [
        "utter_order_preparing"
    ]


def test_marked_delivered_but_not_here_opens_a_trace(desk):
    reply = desk.serve(ctx(desk, "order_not_received", "C003", "ORD-10006"))
    assert only(reply) == ["utter_order_trace_opened", "utter_handed_off"]
    assert reply.handoff.department.name == "delivery"


@pytest.mark.parametrize(
    "need", ["report_damaged_item", "report_wrong_item", "report_missing_item"]
)
def test_item_problems_are_handed_to_delivery(desk, need):
    reply = desk.serve(ctx(desk, need, "C001", "ORD-10003"))
    assert only(reply) == ["utter_item_problem", "utter_handed_off"]
    assert reply.handoff.need == need


def test_item_problem_before_delivery_explains_where_it_is(desk):
    assert only(desk.serve(ctx(desk, "report_damaged_item", "C001", "ORD-10001"))) == [
        "utter_order_not_arrived_yet",
        "utter_order_on_its_way",
    ]


def test_address_change_before_dispatch_is_done(desk):
    asked = ctx(
        desk,
        "change_delivery_address",
        "C002",
        "ORD-10004",
        new_address="1 Quay Street, Bristol BS1",
    )
    question = desk.serve(asked)
    # Asked first, in words that say exactly what will happen; nothing changed yet.
    assert only(question) == ["utter_confirm_address_change"]
    assert question.messages[0].params["address"] == "1 Quay Street, Bristol BS1"
    assert desk.backoffice.order("ORD-10004").address != "1 Quay Street, Bristol BS1"
    reply = desk.carry_out(replace(asked, option="go_ahead"))
    assert only(reply) == ["utter_address_changed"]
    assert desk.backoffice.order("ORD-10004").address == "1 Quay Street, Bristol BS1"


def test_address_and_day_said_together_are_one_confirmed_change(desk):
    # "deliver to 1 Quay Street and on 21 March instead": one question, one yes, both made.
    asked = ctx(
        desk,
        "change_delivery_address",
        "C002",
        "ORD-10004",
        new_address="1 Quay Street, Bristol BS1",
        new_date=date(2025, 3, 21),
    )
    question = desk.serve(asked)
    assert only(question) == ["utter_confirm_address_and_date_change"]
    assert question.messages[0].params["date"] == "Friday 21 March"
    before = desk.backoffice.order("ORD-10004")
    assert before.address != "1 Quay Street, Bristol BS1"
    reply = desk.carry_out(replace(asked, option="go_ahead"))
    assert only(reply) == ["utter_address_changed", "utter_date_changed"]
    after = desk.backoffice.order("ORD-10004")
    assert after.address == "1 Quay Street, Bristol BS1"
    assert after.expected_delivery == date(2025, 3, 21)


def test_address_change_after_dispatch_offers_a_redirect(desk):
    reply = desk.serve(
        ctx(desk, "change_delivery_address", "C001", "ORD-10001", new_address="5 Long Lane, Leeds")
    )
    assert only(reply) == ["utter_address_change_after_dispatch"]
    assert [b["title"] for b in reply.messages[0].buttons] == [
        "Redirect it to my new address",
        "Hold it at the depot",
        "Talk to a person",
    ]


def test_date_change(desk):
    asked = ctx(desk, "change_delivery_date", "C002", "ORD-10004", new_date=date(2025, 3, 21))
    question = desk.serve(asked)
    assert only(question) == ["utter_confirm_date_change"]
    assert question.messages[0].params["date"] == "Friday 21 March"
    reply = desk.carry_out(replace(asked, option="go_ahead"))
    assert (
        only(reply) == ["utter_date_changed"]
        and reply.messages[0].params["date"] == "Friday 21 March"
    )
    after = desk.serve(ctx(desk, "change_delivery_date", "C001", "ORD-10001"))
    assert only(after) == ["utter_date_change_after_dispatch"]
    assert (
        after.messages[0].buttons[0]["payload"] == '/choose_option{"option":"carrier_reschedule"}'
    )


def test_returns(desk):
    reply = desk.serve(ctx(desk, "return_item", "C001", "ORD-10003"))
    assert only(reply) == ["utter_return_label"] and reply.messages[0].params["days_left"] == 26
    late = desk.serve(ctx(desk, "return_item", "C003", "ORD-10005"))
    assert only(late) == ["utter_return_outside_window"]
    assert late.messages[0].params["reason"] == "returns within 30 days of delivery"
    assert [b["payload"] for b in late.messages[0].buttons] == [
        '/choose_option{"option":"return_exception"}',
        '/choose_option{"option":"repair_service"}',
        "/request_human",
    ]
    chosen = desk.carry_out(
        ctx(desk, "return_item", "C003", "ORD-10005", option="return_exception")
    )
    assert only(chosen) == ["utter_option_exception_review", "utter_handed_off"]
    assert chosen.handoff.department.name == "delivery"
    assert only(desk.serve(ctx(desk, "return_item", "C001", "ORD-10001"))) == [
        "utter_return_before_delivery"
    ]


# -- billing ---------------------------------------------------------------------------
def test_invoice_copy_latest_or_named(desk):
    latest = desk.serve(ctx(desk, "request_invoice", "C001"))
    assert latest.messages[0].params["invoice_id"] == "INV-50001"
    named = desk.serve(ctx(desk, "request_invoice", "C001", invoice_id="inv 50003"))
    assert named.messages[0].params["invoice_id"] == "INV-50003"
    others = desk.serve(ctx(desk, "request_invoice", "C001", invoice_id="INV-50004"))  # Omar's
    assert only(others) == ["utter_invoice_not_found"]


def test_double_charge_found_and_handed_to_billing(desk):
    reply = desk.serve(ctx(desk, "charged_twice", "C002"))
    assert only(reply) == ["utter_double_charge_found", "utter_handed_off"]
    assert (
        reply.messages[0].params["amount"] == "$249.00"
        and reply.handoff.department.name == "billing"
    )


def test_no_double_charge_lists_charges(desk):
    reply = desk.serve(ctx(desk, "charged_twice", "C001"))
    assert (
        only(reply) == ["utter_no_double_charge"]
        and "$34.00" in reply.messages[0].params["charges"]
    )


def test_unknown_charge_is_explained(desk):
    reply = desk.serve(ctx(desk, "unknown_charge", "C005", amount=12.0))
    assert only(reply) == ["utter_charge_explained"]
    assert reply.messages[0].params["what"] == "Extra storage add-on (annual)"
    listed = desk.serve(ctx(desk, "unknown_charge", "C005"))
    assert only(listed) == ["utter_recent_charges"]
    # Each recent charge is a button (click or type "the 12 dollar one") that explains it.
    buttons = listed.messages[0].buttons
    storage = next(b for b in buttons if "storage" in b["title"])
    assert storage["title"].startswith("$12.00")
    assert storage["payload"] == '/unknown_charge{"amount":"12.00"}'
    assert buttons[-1]["payload"] == "/request_human"


def test_bill_too_high_shows_the_lines(desk):
    reply = desk.serve(ctx(desk, "bill_too_high", "C005"))
    assert "1 extra seat added mid-cycle" in reply.messages[0].params["lines"]
    assert reply.messages[0].params["previous"] == "$158.00"


def test_refund_inside_and_outside_the_window(desk):
    asked = ctx(desk, "request_refund", "C001", "ORD-10003")
    assert only(desk.serve(asked)) == ["utter_confirm_refund"]
    inside = desk.carry_out(replace(asked, option="go_ahead"))
    assert only(inside) == ["utter_refund_requested"]
    outside = desk.serve(ctx(desk, "request_refund", "C003", "ORD-10005"))
    assert only(outside) == ["utter_refund_outside_window"]
    titles = [b["title"] for b in outside.messages[0].buttons]
    assert titles == ["Store credit instead", "Ask for an exception", "Talk to a person"]
    assert outside.messages[0].buttons[0]["payload"] == '/choose_option{"option":"store_credit"}'


def test_chosen_option_is_carried_out(desk):
    reply = desk.carry_out(ctx(desk, "request_refund", "C003", "ORD-10005", option="store_credit"))
    assert only(reply) == ["utter_option_store_credit", "utter_handed_off"]
    assert "ORD-10005" in desk.handoffs.open_handoffs("conv-1")[0]["summary"]
    assert only(desk.carry_out(ctx(desk, "x", "C003", option="teleport"))) == [
        "utter_option_unknown"
    ]


def test_refund_status(desk):
    reply = desk.serve(ctx(desk, "refund_status", "C005"))
    assert reply.messages[0].params["status"] == "processing"
    assert only(desk.serve(ctx(desk, "refund_status", "C002"))) == ["utter_no_refund_found"]


def test_refund_status_of_an_order_without_one_goes_on_with_what_we_can_do(desk):
    # "Hi again, about the refund for ORD-10005": none yet, and it is past the window, so
    # the options come straight away instead of "would you like to ask for one?".
    reply = desk.serve(ctx(desk, "refund_status", "C003", "ORD-10005"))
    assert only(reply) == ["utter_no_refund_for_order", "utter_refund_outside_window"]
    assert reply.messages[0].params["order_id"] == "ORD-10005"
    # An order inside the window: the refund, asked first as every refund is.
    inside = desk.serve(ctx(desk, "refund_status", "C001", "ORD-10003"))
    assert only(inside) == ["utter_no_refund_for_order", "utter_confirm_refund"]


def test_payment_failed_gives_the_reason_and_a_link(desk):
    reply = desk.serve(ctx(desk, "payment_failed", "C003"))
    assert reply.messages[0].params["reason"] == "card expired"
    assert only(desk.serve(ctx(desk, "payment_failed", "C001"))) == ["utter_no_failed_payment"]


def test_cancellation_fee_and_cancel_listens_with_options(desk):
    assert (
        desk.serve(ctx(desk, "ask_cancellation_fee", "C005")).messages[0].params["fee"] == "$150.00"
    )
    assert only(desk.serve(ctx(desk, "ask_cancellation_fee", "C001"))) == [
        "utter_no_cancellation_fee"
    ]
    cancel = desk.serve(ctx(desk, "cancel_subscription", "C001"))  # no contract: no fee
    assert only(cancel) == ["utter_cancel_listen"]
    assert [b["title"] for b in cancel.messages[0].buttons] == [
        "Pause for a month instead",
        "Switch to a cheaper plan",
        "Cancel anyway",
        "Talk to a person",
    ]
    under_contract = desk.serve(ctx(desk, "cancel_subscription", "C005"))  # standard tier, fee due
    assert (
        only(under_contract) == ["utter_cancel_listen_fee"]
        and under_contract.messages[0].params["fee"] == "$150.00"
    )
    assert "Ask us to waive the fee" not in [b["title"] for b in under_contract.messages[0].buttons]
    assert only(desk.serve(ctx(desk, "cancel_subscription", "C004"))) == ["utter_no_subscription"]


# -- sales and people ------------------------------------------------------------------
def test_pricing_lists_plans_from_the_back_office(desk):
    plans = desk.serve(ctx(desk, "ask_pricing")).messages[0].params["plans"]
    assert "Starter: $9.00 per month" in plans and "Business: $79.00 per seat per month" in plans


def test_demo_for_a_prospect_goes_to_sales_with_their_email(desk):
    reply = desk.serve(ctx(desk, "book_demo", email="new@prospect.com"))
    assert only(reply) == ["utter_demo_booked", "utter_handed_off"]
    assert desk.handoffs.open_handoffs()[0]["context"]["contact_email"] == "new@prospect.com"
    assert reply.messages[1].params["promise"] == "within 4 hours"


def test_renewal(desk):
    assert (
        desk.serve(ctx(desk, "ask_renewal", "C001")).messages[0].params["renews"]
        == "Monday 17 March"
    )
    assert only(desk.serve(ctx(desk, "ask_renewal", "C003"))) == ["utter_renewal_past_due"]


def test_gold_customers_get_high_priority_and_complaints_are_high(desk):
    human = desk.serve(ctx(desk, "request_human", "C001"))
    assert human.handoff.priority == "high" and human.handoff.department.name == "support"
    complaint = desk.serve(ctx(desk, "complain", "C002", text="This is the third time!"))
    assert complaint.handoff.priority == "high"
    assert desk.handoffs.open_handoffs()[1]["summary"] == "Complaint: This is the third time!"


@pytest.mark.parametrize("need", sorted(HANDLERS))
def test_every_need_answers_for_a_known_customer(desk, need):
    order = "ORD-10003" if "order" in REQUIRES.get(need, ()) else None
    reply = desk.serve(
        ctx(desk, need, "C001", order, new_address="5 Long Lane, Leeds", new_date=date(2025, 3, 20))
    )
    assert reply.messages, need


def test_suggestions_for_an_unclear_message(desk):
    buttons = desk.suggestions(
        [
            {"name": "nlu_fallback"},
            {"name": "charged_twice"},
            {"name": "greet"},
            {"name": "refund_status"},
        ]
    )
    assert [b["payload"] for b in buttons] == ["/charged_twice", "/refund_status", "/request_human"]


def test_suggestions_offer_a_person_once(desk):
    ranking = [{"name": "request_human"}, {"name": "complain"}, {"name": "order_status"}]
    payloads = [b["payload"] for b in desk.suggestions(ranking)]
    assert payloads == ["/complain", "/order_status", "/request_human"]


# -- handoff packets carry the customer's preferences (bot/preferences.py) ----------------
def test_a_handoff_packet_carries_the_preferences_and_the_stated_channel(desk):
    from bot.journey.store import Turn

    turn = Turn(
        conversation_id="conv-1", channel="socketio", session_started_at=datetime(2025, 3, 12)
    )
    desk.journey.record(replace(turn, customer_id="C002"))
    desk.preferences.update("C002", name="Mr Haddad", formality="formal", channel="slack")

    desk.serve(ctx(desk, "request_human", "C002", channel="socketio"))

    [packet] = [h["context"] for h in desk.handoffs.open_handoffs("conv-1")]
    assert packet["preferences"] == {"name": "Mr Haddad", "formality": "formal", "channel": "slack"}
    assert packet["preferred_channel"] == "slack"  # stated: overrules the chat's channel


def test_without_preferences_the_packet_names_the_conversations_channel(desk):
    desk.serve(ctx(desk, "request_human", "C002", channel="socketio"))
    [packet] = [h["context"] for h in desk.handoffs.open_handoffs("conv-1")]
    assert packet["preferences"] == {}
    assert packet["preferred_channel"] == "socketio"


def test_an_anonymous_visitors_preferences_reach_the_packet(desk):
    from bot.journey.store import Turn

    touchpoint = desk.journey.record(
        Turn(conversation_id="conv-1", channel="rest", session_started_at=datetime(2025, 3, 12))
    )
    desk.preferences.update(
        touchpoint.customer_id, name="Sam", quiet_from="21:00", quiet_until="08:00"
    )

    desk.serve(ctx(desk, "request_human", channel="rest"))

    [packet] = [h["context"] for h in desk.handoffs.open_handoffs("conv-1")]
    assert packet["preferences"] == {"name": "Sam", "quiet_from": "21:00", "quiet_until": "08:00"}
    assert packet["preferred_channel"] == "rest"


def test_a_price_match_tells_what_we_can_do_before_asking_for_an_email(desk):
    """Tell before asking: an anonymous shopper hears the policy and the options first; the
    email is asked for only when they pick the call, and the call is arranged with it."""
    asked = NeedContext(need="price_match", conversation_id="shopper", text="do you price match?")
    told = desk.serve(asked)
    assert told.responses == ["utter_price_match_limit"]
    assert "A call from sales" in [b["title"] for b in told.messages[0].buttons]
    picked = desk.carry_out(replace(asked, need="choose_option", option="sales_callback"))
    assert picked.responses == ["utter_ask_callback_email"] and picked.handoff is None
    assert picked.slots == {"email_wanted_for": "sales_callback"}  # the next email is for it
    # The offer waits for the email; with it, the call is arranged.
    called = desk.carry_out(
        replace(asked, need="choose_option", option="sales_callback", email="kim@example.org")
    )
    assert called.handoff is not None and called.handoff.department.name == "sales"
    assert "kim@example.org" in str(desk.handoffs.open_handoffs("shopper")[0])
