"""Every policy limit, end to end on the desk: offered as options, each one carried out for real.

Runs on the seeded demo back office (tests/conftest.py: TODAY is Wednesday 2025-03-12).
"""

from dataclasses import replace
from datetime import date

import pytest

from bot.support import NeedContext
from bot.support.outgoing import OutgoingGuard, load_responses
from bot.support.replies import Message, Reply


def ctx(desk, need, customer, order=None, conversation="conv-1", **kw):
    return NeedContext(
        need=need,
        conversation_id=conversation,
        text=kw.pop("text", "please help"),
        customer=kw.pop("customer_record", None) or desk.customer(customer),
        order=desk.backoffice.order(order) if order else None,
        **kw,
    )


def offered(reply) -> list[str]:
    """The options offered as buttons, in order (the last button is always a person)."""
    buttons = [b for m in reply.messages for b in m.buttons]
    assert buttons and buttons[-1]["payload"] == "/request_human"
    return [b["payload"].split('"option":"')[1].rstrip('"}') for b in buttons[:-1]]


def handoffs_to(desk, department, conversation):
    return [h for h in desk.handoffs.open_handoffs(conversation) if h["department"] == department]


NEW_ADDRESS = "5 Long Lane, Leeds LS1 4AB"

# need, customer, order, extra context, the policy it meets, options offered (in order).
LIMITS = [
    ("request_refund", "C003", "ORD-10005", {}, "refund_window", ["store_credit", "refund_exception"]),
    ("return_item", "C003", "ORD-10005", {}, "return_window", ["return_exception", "repair_service"]),
    ("cancel_order", "C001", "ORD-10001", {}, "no_cancel_after_shipment", ["return_on_arrival", "carrier_recall"]),
    ("change_delivery_address", "C001", "ORD-10001", {"new_address": NEW_ADDRESS}, "address_change_before_dispatch", ["carrier_redirect", "hold_at_depot"]),
    ("change_delivery_date", "C001", "ORD-10001", {}, "date_change_before_dispatch", ["carrier_reschedule", "hold_at_depot"]),
    ("price_match", "C004", None, {}, "no_price_match", ["sales_callback"]),
    ("price_match", "C001", None, {}, "no_price_match", ["loyalty_discount", "sales_callback"]),
    ("expedite_order", "C002", "ORD-10004", {}, "express_for_a_fee", ["paid_express"]),
    ("refund_other_method", "C003", "ORD-10006", {}, "refund_to_original_method", ["refund_original", "store_credit", "refund_method_review"]),
    ("refund_other_method", "C003:standard", "ORD-10006", {}, "refund_to_original_method", ["refund_original", "store_credit"]),
]  # fmt: skip


def _customer(desk, key):
    """A demo customer by id; "C003:standard" is Li (silver) as a standard-tier customer."""
    customer_id, _, tier = key.partition(":")
    customer = desk.customer(customer_id)
    return replace(customer, tier=tier) if tier else customer


@pytest.mark.parametrize(
    "need, customer, order, extra, policy, options",
    LIMITS,
    ids=[f"{row[4]}-{row[1]}" for row in LIMITS],
)
def test_a_limit_is_answered_with_what_we_can_do_and_recorded(
    desk, need, customer, order, extra, policy, options
):
    person = _customer(desk, customer)
    reply = desk.serve(ctx(desk, need, None, order, customer_record=person, **extra))
    assert offered(reply) == options
    assert reply.policy_moment.policy == policy
    text = reply.messages[0]
    assert "Here's what we can do" in load_responses()[text.response][0]["text"]
    [moment] = desk.policy_log.moments("conv-1")
    assert (moment.policy, list(moment.offered), moment.chosen) == (policy, options, None)


# option -> (scenario: need, customer, order, extra), and the check that it really happened.
def _refund_of(amount, order):
    return lambda desk, conv: any(
        r.order_id == order and r.amount == amount
        for r in desk.backoffice.refunds_of(desk.backoffice.order(order).customer_id)
    )


def _handoff(department, *words):
    def check(desk, conv):
        found = handoffs_to(desk, department, conv)
        return bool(found) and all(w in found[-1]["summary"] for w in words)

    return check


def _expected_on(day, order="ORD-10004"):
    return lambda desk, conv: desk.backoffice.order(order).expected_delivery == day


def _label_for(order):
    return lambda desk, conv: desk.backoffice.return_label_of(order) is not None


CARRIED_OUT = {
    "store_credit": (("request_refund", "C003", "ORD-10005", {}), _handoff("billing", "store credit", "ORD-10005")),
    "refund_exception": (("request_refund", "C003", "ORD-10005", {}), _handoff("billing", "exception", "ORD-10005")),
    "return_exception": (("return_item", "C003", "ORD-10005", {}), _handoff("delivery", "exception", "ORD-10005")),
    "repair_service": (("return_item", "C003", "ORD-10005", {}), _handoff("delivery", "repair", "ORD-10005")),
    "return_on_arrival": (("cancel_order", "C001", "ORD-10001", {}), _label_for("ORD-10001")),
    "carrier_recall": (("cancel_order", "C001", "ORD-10001", {}), _handoff("delivery", "DHL", "ORD-10001")),
    "carrier_redirect": (("change_delivery_address", "C001", "ORD-10001", {"new_address": NEW_ADDRESS}), _handoff("delivery", "redirect", NEW_ADDRESS)),
    "hold_at_depot": (("change_delivery_address", "C001", "ORD-10001", {"new_address": NEW_ADDRESS}), _handoff("delivery", "depot")),
    "carrier_reschedule": (("change_delivery_date", "C001", "ORD-10001", {}), _handoff("delivery", "a day that suits")),
    "loyalty_discount": (("price_match", "C001", None, {}), _handoff("billing", "10% loyalty discount")),
    "sales_callback": (("price_match", "C004", None, {}), _handoff("sales", "call the customer back")),
    "paid_express": (("expedite_order", "C002", "ORD-10004", {}), lambda d, c: _expected_on(date(2025, 3, 13))(d, c) and _handoff("billing", "$9.90")(d, c)),
    "refund_original": (("refund_other_method", "C003", "ORD-10006", {}), _refund_of(129.0, "ORD-10006")),
    "refund_method_review": (("refund_other_method", "C003", "ORD-10006", {}), _handoff("billing", "another payment method")),
}  # fmt: skip


@pytest.mark.parametrize("option", sorted(CARRIED_OUT))
def test_each_alternative_is_really_carried_out(desk, option):
    (need, customer, order, extra), happened = CARRIED_OUT[option]
    conversation = f"conv-{option}"
    first = desk.serve(ctx(desk, need, customer, order, conversation, **extra))
    assert option in offered(first)
    assert not happened(desk, conversation)
    done = desk.carry_out(ctx(desk, need, customer, order, conversation, option=option, **extra))
    assert done.responses[0].startswith("utter_option_") or done.responses[0] in (
        "utter_refund_requested",
    ), done.responses
    assert "utter_option_unknown" not in done.responses
    assert happened(desk, conversation)
    [moment] = desk.policy_log.moments(conversation)
    assert moment.chosen == option


def test_free_express_for_a_gold_customer_changes_the_date_and_charges_nothing(desk):
    gold_omar = replace(desk.customer("C002"), tier="gold")
    reply = desk.serve(ctx(desk, "expedite_order", None, "ORD-10004", customer_record=gold_omar))
    assert offered(reply) == ["free_express", "paid_express"]
    done = desk.carry_out(
        ctx(
            desk,
            "expedite_order",
            None,
            "ORD-10004",
            customer_record=gold_omar,
            option="free_express",
        )
    )
    assert done.responses == ["utter_option_express"]
    assert "on us" in done.messages[0].params["charge"]
    assert desk.backoffice.order("ORD-10004").expected_delivery == date(2025, 3, 13)
    assert handoffs_to(desk, "billing", "conv-1") == []


def test_a_goodwill_option_is_only_given_when_it_was_offered(desk):
    """A hand-typed /choose_option payload does not get free express or a partial refund."""
    for option in ("free_express", "partial_refund", "loyalty_discount", "refund_method_review"):
        reply = desk.carry_out(ctx(desk, "expedite_order", "C002", "ORD-10004", option=option))
        assert reply.responses == ["utter_option_unknown"], option
    assert desk.backoffice.order("ORD-10004").expected_delivery == date(2025, 3, 16)
    assert desk.backoffice.refunds_of("C002") == []


def test_coming_back_about_the_same_limit_unlocks_a_partial_refund(desk):
    first = desk.serve(ctx(desk, "request_refund", "C003", "ORD-10005", "monday"))
    assert "partial_refund" not in offered(first)
    second = desk.serve(ctx(desk, "request_refund", "C003", "ORD-10005", "tuesday"))
    assert offered(second) == ["store_credit", "partial_refund", "refund_exception"]
    done = desk.carry_out(
        ctx(desk, "request_refund", "C003", "ORD-10005", "tuesday", option="partial_refund")
    )
    assert done.responses == ["utter_option_partial_refund"]
    assert done.messages[0].params["amount"] == "$99.50"
    assert [r.amount for r in desk.backoffice.refunds_of("C003")] == [99.5]


def test_inside_every_limit_it_is_just_done(desk):
    """No options, no "here's what we can do": the request is fulfilled; an irreversible
    one after a single yes/no question (bot/support/confirm.py)."""
    inside = [
        (ctx(desk, "request_refund", "C001", "ORD-10003"), "utter_refund_requested"),
        (ctx(desk, "return_item", "C001", "ORD-10003"), "utter_return_label"),
        (
            ctx(desk, "change_delivery_address", "C002", "ORD-10004", new_address=NEW_ADDRESS),
            "utter_address_changed",
        ),
        (ctx(desk, "cancel_order", "C002", "ORD-10004"), "utter_order_cancelled_now"),
    ]
    for need_ctx, response in inside:
        reply = desk.serve(need_ctx)
        if reply.policy_moment is not None:
            # The only moment is the question whether to go ahead: yes or no, no alternatives.
            assert reply.policy_moment.policy == f"confirm:{need_ctx.need}", need_ctx.need
            assert [b["payload"] for m in reply.messages for b in m.buttons] == [
                '/choose_option{"option":"go_ahead"}',
                '/choose_option{"option":"leave_as_is"}',
            ]
            reply = desk.carry_out(replace(need_ctx, option="go_ahead"))
        assert reply.responses == [response], need_ctx.need
        assert not any(m.buttons for m in reply.messages)
    assert all(m.policy.startswith("confirm:") for m in desk.policy_log.moments())
    assert desk.backoffice.order("ORD-10004").status == "cancelled"
    assert desk.backoffice.order("ORD-10004").address == NEW_ADDRESS
    refunds = {r.order_id: r.amount for r in desk.backoffice.refunds_of("C002")}
    assert refunds == {"ORD-10004": 249.0}


def test_a_refund_names_how_it_was_paid(desk):
    reply = desk.serve(ctx(desk, "request_refund", "C003", "ORD-10006"))
    assert (
        reply.messages[0].params["method"] == "your original payment method"
    )  # no payment on file
    limit = desk.serve(ctx(desk, "refund_other_method", "C001", "ORD-10003"))
    assert limit.messages[0].params["method"] == "your original payment method"


def test_still_asking_for_a_person_is_recorded(desk):
    desk.serve(ctx(desk, "cancel_order", "C001", "ORD-10001"))
    reply = desk.serve(ctx(desk, "request_human", "C001"))
    assert reply.handoff.department.name == "support"
    [moment] = desk.policy_log.moments("conv-1")
    assert moment.asked_for_person and moment.chosen is None
    # The person sees what the assistant already offered.
    [handoff] = desk.handoffs.open_handoffs("conv-1")
    assert handoff["context"]["already_offered"] == [
        {
            "policy": "no_cancel_after_shipment",
            "offered": ["return_on_arrival", "carrier_recall"],
            "chosen": None,
        }
    ]


# -- the guard on every word leaving the desk -------------------------------------------
def test_a_refusal_filled_in_at_run_time_is_rewritten_and_recorded(desk):
    """Back-office text can turn a fine template into a bare "we can't"; the guard catches it."""
    responses = {"utter_probe": [{"text": "About your refund: {note}."}]} | load_responses()
    guard = OutgoingGuard(responses)
    need = ctx(desk, "request_refund", "C003", "ORD-10005")
    bare = Reply().say("utter_probe", note="we cannot refund orders older than 30 days")
    checked = guard.review(desk, bare, need)
    assert checked.responses == ["utter_heres_what_we_can_do"]
    assert [b["title"] for b in checked.messages[0].buttons] == [
        "Store credit instead",
        "Ask for an exception",
        "Talk to a person",
    ]
    [rewrite] = desk.policy_log.rewrites("conv-1")
    assert rewrite.response == "utter_probe" and "we cannot refund" in rewrite.text
    assert rewrite.policy == "refund_window"
    # The options shown instead are a policy moment, and can be taken like any other.
    [moment] = desk.policy_log.moments("conv-1")
    assert moment.offered == ("store_credit", "refund_exception")

    fine = guard.review(desk, Reply().say("utter_probe", note="it is on its way"), need)
    assert fine.responses == ["utter_probe"]
    with_options = Reply(
        messages=[
            Message(
                "utter_probe", {"note": "we can't refund it"}, [{"title": "x", "payload": "/y"}]
            )
        ]
    )
    assert guard.review(desk, with_options, need).responses == ["utter_probe"]
    assert len(desk.policy_log.rewrites()) == 1


def test_a_refusal_with_no_policy_behind_it_still_offers_a_person(desk):
    guard = OutgoingGuard({"utter_probe": [{"text": "{note}"}]})
    reply = guard.review(
        desk, Reply().say("utter_probe", note="That's our policy."), ctx(desk, "ask_pricing", None)
    )
    assert reply.responses == ["utter_heres_what_we_can_do"]
    assert [b["payload"] for b in reply.messages[0].buttons] == ["/request_human"]
