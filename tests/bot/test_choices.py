"""bot/choices.py: a typed reply is taken as the button it names, or as nothing."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.choices import Button, load_words, resolve, stem
from bot.config import ConfigError
from bot.support.replies import NEED_LABELS, OPTION_LABELS, button, option_buttons


def offer(*options: str) -> list[Button]:
    """A "here's what we can do" offer as the desk makes it (the options, then a person)."""
    return [Button(b["title"], b["payload"]) for b in option_buttons(list(options))]


def titled(*titles: str) -> list[Button]:
    return [Button(t, f'/pick{{"n":"{i}"}}') for i, t in enumerate(titles)]


RATING = titled("1 (poor)", "2", "3", "4", "5 (great)", "No thanks")
EFFORT = titled("1 (very hard)", "2", "3", "4", "5 (very easy)", "No thanks")
YES_NO = titled("Yes", "No")
REFUND = offer("store_credit", "refund_exception")
REFUND_AGAIN = offer("store_credit", "refund_exception", "partial_refund")
PAYPAL = offer("refund_original", "store_credit", "refund_method_review")
RETURN = offer("return_exception", "repair_service")
ADDRESS = offer("carrier_redirect", "hold_at_depot")
DATE = offer("carrier_reschedule", "hold_at_depot")
CANCEL_SHIPPED = offer("return_on_arrival", "carrier_recall")
EXPRESS = offer("paid_express")
EXPRESS_GOLD = offer("paid_express", "free_express")
PRICE_MATCH = offer("sales_callback", "loyalty_discount")
LEAVING = offer("pause_plan", "downgrade_plan", "fee_waiver_review", "cancel_anyway")
DELAY_NEWS = offer("keep_new_date", "delay_cancel_refund", "delay_discount")
CLARIFY = [
    Button(NEED_LABELS[n], b["payload"])
    for n in ("request_refund", "refund_other_method", "ask_refund_policy", "request_human")
    for b in [button(NEED_LABELS[n], n)]
]


def title_of(text: str, buttons: list[Button]) -> str | None:
    chosen = resolve(text, buttons)
    assert chosen is None or any(chosen is b for b in buttons)
    return chosen.title if chosen else None


@pytest.mark.parametrize(
    ("buttons", "text", "title"),
    [
        # Li's refund outside the window: store credit / an exception / a person.
        (REFUND, "the store credit is fine", "Store credit instead"),
        (REFUND, "store credit pls", "Store credit instead"),
        (REFUND, "ok go on then, voucher it is", "Store credit instead"),
        (REFUND, "Id take credit on my account i guess", "Store credit instead"),
        (REFUND, "yes, the exception review please", "Ask for an exception"),
        (REFUND, "can you ask for an exception?", "Ask for an exception"),
        (REFUND, "not the store credit, the exception", "Ask for an exception"),
        (REFUND, "exception please!!", "Ask for an exception"),
        (REFUND, "none of those, I'd rather talk to someone", "Talk to a person"),
        (REFUND, "can i speak to a human", "Talk to a person"),
        (REFUND, "real person pls", "Talk to a person"),
        (REFUND, "an agent", "Talk to a person"),
        (REFUND, "I don't mind the store credit", "Store credit instead"),
        # Pointing at a button.
        (REFUND, "the first one", "Store credit instead"),
        (REFUND, "1st one", "Store credit instead"),
        (REFUND, "the top one please", "Store credit instead"),
        (REFUND, "option 2", "Ask for an exception"),
        (REFUND, "number two", "Ask for an exception"),
        (REFUND, "the second", "Ask for an exception"),
        (REFUND, "2", "Ask for an exception"),
        (REFUND, "the last one", "Talk to a person"),
        (CANCEL_SHIPPED, "the second one", "Send it back to you"),
        # Li's second chat: a partial refund is offered too.
        (REFUND_AGAIN, "I'll take the partial refund", "A partial refund now"),
        (REFUND_AGAIN, "half back is ok", "A partial refund now"),
        (REFUND_AGAIN, "the 50% one", "A partial refund now"),
        # Refund to PayPal: how she paid, store credit, a review.
        (PAYPAL, "fine, just put it back on my card then", "Refund to how I paid"),
        (PAYPAL, "same card is fine", "Refund to how I paid"),
        (PAYPAL, "can you ask for a review", "Ask for a review"),
        # A return outside the window.
        (RETURN, "can it be repaired under the warranty", "Repair under warranty"),
        (RETURN, "get it fixed pls", "Repair under warranty"),
        # A parcel on its way: redirect or hold it.
        (ADDRESS, "yes redirect it please", "Redirect it to my new address"),
        (ADDRESS, "the depot one is fine, I'll pick it up", "Hold it at the depot"),
        (ADDRESS, "ill collect it from the depot", "Hold it at the depot"),
        (ADDRESS, "send it to the new address", "Redirect it to my new address"),
        (DATE, "go with another day with the carrier", "Deliver on another day"),
        (DATE, "a different day works", "Deliver on another day"),
        (CANCEL_SHIPPED, "the label is fine", "A return label for when it arrives"),
        (CANCEL_SHIPPED, "just send it back to you lot", "Send it back to you"),
        # Express: one real option, so a plain yes takes it.
        (EXPRESS, "yes please, I'll pay the 9.90", "Upgrade to express"),
        (EXPRESS, "yes please", "Upgrade to express"),
        (EXPRESS, "yeah go ahead", "Upgrade to express"),
        (EXPRESS, "express please", "Upgrade to express"),
        (EXPRESS_GOLD, "the free one obviously", "Express, on us"),
        (EXPRESS_GOLD, "I'll pay for it", "Upgrade to express"),
        # Price match: a call or a discount.
        (PRICE_MATCH, "I'll take the discount then", "A loyalty discount"),
        (PRICE_MATCH, "the discount one", "A loyalty discount"),
        (PRICE_MATCH, "yeah a call would be good", "A call from sales"),
        (PRICE_MATCH, "ring me", "A call from sales"),
        # Leaving under contract.
        (LEAVING, "pausing for a month would actually be fine", "Pause for a month instead"),
        (LEAVING, "ok a pause for a month sounds better", "Pause for a month instead"),
        (LEAVING, "a cheaper plan could work", "Switch to a cheaper plan"),
        (LEAVING, "go with the cheaper plan", "Switch to a cheaper plan"),
        (LEAVING, "downgrade me", "Switch to a cheaper plan"),
        (LEAVING, "no, just cancel it anyway", "Cancel anyway"),
        (LEAVING, "cancel it regardless", "Cancel anyway"),
        (LEAVING, "can you waive the fee", "Ask us to waive the fee"),
        # News of a delay.
        (DELAY_NEWS, "the new date is fine", "The new date is fine"),
        (DELAY_NEWS, "cancel it and refund me", "Cancel and refund me"),
        (DELAY_NEWS, "I'll take a discount for the wait", "A discount for the wait"),
        # A clarifying question with suggestions.
        (CLARIFY, "refund policy", "Refund policy"),
        (CLARIFY, "another card", "Refund to another card or account"),
        # Feedback ratings.
        (RATING, "5", "5 (great)"),
        (RATING, "5 please", "5 (great)"),
        (RATING, "4/5", "4"),
        (RATING, "a 3 i guess", "3"),
        (RATING, "1, not helpful", "1 (poor)"),
        (RATING, "5 stars!", "5 (great)"),
        (RATING, "no thanks", "No thanks"),
        (RATING, "nah", "No thanks"),
        (RATING, "number two", "2"),
        (EFFORT, "5 very easy thx", "5 (very easy)"),
        # Yes / no buttons.
        (YES_NO, "yes please", "Yes"),
        (YES_NO, "yeah go ahead", "Yes"),
        (YES_NO, "sure", "Yes"),
        (YES_NO, "nope", "No"),
        (YES_NO, "no thanks", "No"),
        (YES_NO, "Yes!", "Yes"),
    ],
)
def test_a_typed_reply_is_taken_as_the_button_it_names(buttons, text, title):
    assert title_of(text, buttons) == title


@pytest.mark.parametrize(
    ("buttons", "text"),
    [
        # A new question or request.
        (REFUND, "what are your opening hours on saturday"),
        (REFUND, "where is ORD-10002?"),
        (REFUND, "my other order ORD-10006 never arrived"),
        (REFUND, "it's li.wei@example.com"),
        (REFUND, "call me on 07700900123"),
        (RATING, "can you tell me where ORD-10001 is"),
        (RATING, "how much are your plans?"),
        (
            REFUND,
            "store credit maybe, but first tell me why my other parcel is late and who "
            "the courier is and when it will arrive",
        ),
        # Two options named as much as each other, or only a word they share.
        (REFUND, "store credit or talk to a person"),
        (titled("Ask for an exception", "Ask for a review"), "ask"),
        (titled("Keep my plan", "Switch to a cheaper plan"), "the plan"),
        (PAYPAL, "could someone review it"),  # a person, or a review?
        # No option offered for it, or one refused.
        (REFUND, "no thanks, I'll think about it"),
        (REFUND, "i don't want store credit"),
        (REFUND, "ok"),  # a yes with two real options: which?
        (EXPRESS, "free express please"),  # only paid express was offered
        (EXPRESS, "yes, a refund"),
        (CANCEL_SHIPPED, "the fifth one"),
        (REFUND, "the first one, talk to a person"),  # pointing and naming disagree
        # A click, or nothing.
        (REFUND, '/choose_option{"option":"store_credit"}'),
        (REFUND, ""),
        (REFUND, "   "),
        (YES_NO, "yes but where is my order?"),
        (titled("I still don't recognise one"), "the 12 dollar one"),
    ],
)
def test_an_unclear_or_new_message_is_left_to_nlu(buttons, text):
    assert resolve(text, buttons) is None


def test_no_buttons_no_choice():
    assert resolve("the first one", []) is None


def test_a_goodwill_option_is_reached_only_when_it_was_offered():
    assert title_of("express on us please", EXPRESS) is None
    assert title_of("express on us please", EXPRESS_GOLD) == "Express, on us"
    assert title_of("the partial refund", REFUND) is None
    assert title_of("the loyalty discount please", offer("sales_callback")) is None


def test_every_option_label_is_reached_by_its_own_title():
    for option, label in OPTION_LABELS.items():
        buttons = offer(option, "store_credit" if option != "store_credit" else "pause_plan")
        assert title_of(label.lower(), buttons) == label, option


def test_light_stemming_joins_word_forms():
    assert stem("pausing") == stem("paused") == stem("pause") == stem("pauses")
    assert stem("labels") == stem("label")
    assert stem("address") == "address"


def test_a_broken_word_file_names_the_file_and_the_key(tmp_path):
    bad = tmp_path / "words.yml"
    bad.write_text("synonyms: {}\naffirm: [yes]\nnegate: [nope]\nfillers: []\nnegators: []\n")
    with pytest.raises(ConfigError, match=r"words\.yml: affirm"):
        load_words(bad)


TITLES = st.sampled_from(
    list(OPTION_LABELS.values())
    + list(NEED_LABELS.values())
    + ["1 (poor)", "2", "3", "4", "5 (great)", "No thanks", "Yes", "No", "OK", "All good"]
)
BUTTONS = st.lists(
    st.builds(Button, st.one_of(TITLES, st.text(max_size=30)), st.text(max_size=40)),
    max_size=7,
)
TEXTS = st.one_of(
    st.text(max_size=80),
    st.lists(
        st.sampled_from(
            [
                "the",
                "first",
                "second",
                "last",
                "one",
                "yes",
                "no",
                "not",
                "please",
                "store",
                "credit",
                "person",
                "5",
                "2",
                "option",
                "number",
                "ORD-10005",
                "refund",
                "cheaper",
                "plan",
                ",",
                "?",
                "free",
                "express",
            ]
        ),
        max_size=10,
    ).map(" ".join),
)


@settings(max_examples=400, deadline=None)
@given(TEXTS, BUTTONS)
def test_the_answer_is_always_one_of_the_offered_buttons_or_none(text, buttons):
    chosen = resolve(text, buttons)
    assert chosen is None or any(chosen is b for b in buttons)


def test_a_charge_is_picked_by_its_amount_or_what_it_was_for():
    # "Which one don't you recognise?" under the recent charges as buttons.
    charges = [
        Button("$237.00: invoice INV-50006", '/unknown_charge{"amount":"237.00"}'),
        Button("$12.00: Extra storage add-on (annual)", '/unknown_charge{"amount":"12.00"}'),
        Button("I still don't recognise one", "/request_human"),
    ]
    assert resolve("the 12 dollar one", charges) is charges[1]
    assert resolve("the $237 one", charges) is charges[0]
    assert resolve("the storage one", charges) is charges[1]
    assert resolve("12.00", charges) is charges[1]
    assert resolve("the 12.50 one", charges) is None


def test_a_customers_orders_offered_as_buttons_are_picked_by_what_is_in_them():
    # actions/asking.py offers a verified customer's orders as "ORD-n: items".
    orders = [
        Button("ORD-10006: Keyboard, Mouse", '/inform{"order_id": "ORD-10006"}'),
        Button("ORD-10005: Noise-cancelling headphones", '/inform{"order_id": "ORD-10005"}'),
        Button("Talk to a person", "/request_human"),
        Button("Never mind", "/deny"),
    ]
    picked = {
        "the keyboard one": "ORD-10006",
        "the mouse and keyboard": "ORD-10006",
        "the headphones": "ORD-10005",
        "the second one": "ORD-10005",
        "10005": "ORD-10005",
    }
    for text, order in picked.items():
        chosen = resolve(text, orders)
        assert chosen is not None and order in chosen.payload, text
    assert resolve("neither", orders) is None
