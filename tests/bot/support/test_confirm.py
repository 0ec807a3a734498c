"""Nothing irreversible without a clear yes (bot/support/confirm.py), on the seeded demo
back office (tests/conftest.py: TODAY is Wednesday 2025-03-12)."""

from dataclasses import replace
from datetime import date

import pytest

from bot.choices import Button, resolve
from bot.support import NeedContext

NEW_ADDRESS = "1 Quay Street, Bristol BS1 4AA"


def ctx(desk, need, customer, order, conversation="conv-confirm", **kw):
    return NeedContext(
        need=need,
        conversation_id=conversation,
        text="please",
        customer=desk.customer(customer),
        order=desk.backoffice.order(order),
        **kw,
    )


def state(desk):
    """Everything an irreversible need could change, to compare before and after."""
    order = desk.backoffice.order("ORD-10004")
    return (
        order.status,
        order.address,
        order.expected_delivery,
        [(r.order_id, r.amount) for c in ("C001", "C002") for r in desk.backoffice.refunds_of(c)],
    )


IRREVERSIBLE = [
    ("cancel_order", "C002", "ORD-10004", {}, "utter_confirm_cancel_order"),
    (
        "change_delivery_address",
        "C002",
        "ORD-10004",
        {"new_address": NEW_ADDRESS},
        "utter_confirm_address_change",
    ),
    (
        "change_delivery_date",
        "C002",
        "ORD-10004",
        {"new_date": date(2025, 3, 21)},
        "utter_confirm_date_change",
    ),
    ("request_refund", "C001", "ORD-10003", {}, "utter_confirm_refund"),
]


@pytest.mark.parametrize("need, customer, order, details, question", IRREVERSIBLE)
def test_each_irreversible_need_asks_first_and_a_no_changes_nothing(
    desk, need, customer, order, details, question
):
    before = state(desk)
    asked = ctx(desk, need, customer, order, **details)
    reply = desk.serve(asked)
    assert reply.responses == [question]
    titles = [b["title"] for b in reply.messages[0].buttons]
    assert titles[0].startswith("Yes, ") and titles[1] == "No, leave it as it is"
    assert state(desk) == before  # asking changed nothing
    no = desk.carry_out(replace(asked, option="leave_as_is", need="choose_option"))
    assert no.responses == ["utter_left_as_is"]
    assert state(desk) == before
    # The offer is closed by the no: a late yes (a hand-typed payload) is refused.
    late = desk.carry_out(replace(asked, option="go_ahead", need="choose_option"))
    assert late.responses == ["utter_option_unknown"] and state(desk) == before


@pytest.mark.parametrize("need, customer, order, details, question", IRREVERSIBLE)
def test_the_yes_from_that_offer_makes_the_change(desk, need, customer, order, details, question):
    before = state(desk)
    asked = ctx(desk, need, customer, order, **details)
    desk.serve(asked)
    # The yes arrives as a button press: the need comes back from the offer, not the slots.
    done = desk.carry_out(replace(asked, option="go_ahead", need="choose_option"))
    assert not done.responses[0].startswith("utter_confirm_")
    assert state(desk) != before


def test_a_yes_that_was_never_asked_for_does_nothing(desk):
    before = state(desk)
    reply = desk.carry_out(ctx(desk, "choose_option", "C002", "ORD-10004", option="go_ahead"))
    assert reply.responses == ["utter_option_unknown"] and state(desk) == before


def test_a_typed_yes_or_no_picks_the_right_button(desk):
    reply = desk.serve(ctx(desk, "cancel_order", "C002", "ORD-10004"))
    buttons = [Button(b["title"], b["payload"]) for b in reply.messages[0].buttons]
    for typed, option in [
        ("yes please", "go_ahead"),
        ("yep go ahead", "go_ahead"),
        ("yes cancel it", "go_ahead"),
        ("no", "leave_as_is"),
        ("no thanks, leave it", "leave_as_is"),
    ]:
        chosen = resolve(typed, buttons)
        assert chosen is not None and option in chosen.payload, typed
    # A new request is not a yes.
    assert resolve("where is ORD-10001?", buttons) is None


def test_a_new_day_or_address_while_a_change_awaits_its_yes_is_that_change_again(desk):
    from bot.support.confirm import correction_to

    moving = desk.serve(
        ctx(desk, "change_delivery_date", "C002", "ORD-10004", new_date=date(2025, 3, 21))
    )
    buttons = [Button(b["title"], b["payload"]) for b in moving.messages[0].buttons]
    assert correction_to("hmm no make that 16 December", buttons) == "change_delivery_date"
    assert correction_to("make it the 24th", buttons) == "change_delivery_date"
    assert correction_to("where is my other parcel?", buttons) is None
    sending = desk.serve(
        ctx(desk, "change_delivery_address", "C002", "ORD-10004", new_address=NEW_ADDRESS)
    )
    buttons = [Button(b["title"], b["payload"]) for b in sending.messages[0].buttons]
    assert correction_to("sorry, 12 Highland Road, Southsea PO4 9DA", buttons) == (
        "change_delivery_address"
    )
    assert correction_to("16 December", buttons) is None  # a day is no address
    assert correction_to("16 December", []) is None  # nothing awaiting a yes


def test_an_old_yes_after_the_chat_forgot_the_change_does_nothing(desk):
    """The yes button pressed again after a new session forgot the order or the address."""
    before = state(desk)
    asked = ctx(desk, "change_delivery_address", "C002", "ORD-10004", new_address=NEW_ADDRESS)
    desk.serve(asked)
    forgotten = replace(asked, need="choose_option", option="go_ahead", new_address=None)
    assert desk.carry_out(forgotten).responses == ["utter_option_needs_order"]
    desk.serve(asked)  # asked again
    no_order = replace(asked, need="choose_option", option="go_ahead", order=None)
    assert desk.carry_out(no_order).responses == ["utter_option_needs_order"]
    assert state(desk) == before
