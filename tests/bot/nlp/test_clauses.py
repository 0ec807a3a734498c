"""Long and multi-need messages read clause by clause (bot/nlp/clauses.py)."""

import pytest

from bot.nlp.clauses import asks_for_a_person, clauses, combine

NEEDS = {"charged_twice", "order_status", "request_invoice", "ask_free_trial", "ask_discount"}


def is_need(intent: str) -> bool:
    return intent in NEEDS


def parse(intent: str, confidence: float, text: str = "a clause") -> dict:
    return {"intent": {"name": intent, "confidence": confidence}, "text": text}


def test_a_message_is_split_where_a_new_need_could_start():
    # "two things:" announces the needs and is no clause (read on its own, it looked like
    # placing an order).
    assert clauses("two things: I was charged twice, and when is my chair arriving?") == [
        "I was charged twice",
        "when is my chair arriving?",
    ]
    assert clauses(
        "is there a free trial, can I pay by paypal, and do students get a discount?"
    ) == [
        "is there a free trial",
        "can I pay by paypal",
        "do students get a discount?",
    ]
    assert clauses("where's ORD-10004 and can you send me the invoice for it?") == [
        "where's ORD-10004",
        "can you send me the invoice for it?",
    ]


def test_a_one_clause_message_is_left_to_the_whole_message_reading():
    assert clauses("refund ORD-10005 li.wei@example.com") == []
    assert clauses("and when?") == []
    assert clauses("") == [] and clauses(None) == []


def test_at_most_six_clauses_are_read():
    assert len(clauses(". ".join(["please read this line"] * 20))) == 6


def test_a_confident_whole_message_keeps_its_need_and_the_others_are_kept():
    instead, others = combine(
        parse("charged_twice", 0.9),
        [parse("charged_twice", 0.95), parse("order_status", 0.8), parse("greet", 0.99)],
        is_need,
    )
    assert instead is None and others == ["order_status"]


def test_an_unsure_whole_message_takes_the_clearest_clause():
    instead, others = combine(
        parse("out_of_scope", 0.6),
        [parse("ask_discount", 0.55), parse("ask_free_trial", 0.85), parse("inform", 0.99)],
        is_need,
    )
    assert instead == {"name": "ask_free_trial", "confidence": 0.85}
    assert others == ["ask_discount"]


def test_unsure_clauses_add_nothing():
    assert combine(parse("nlu_fallback", 0.4), [parse("ask_discount", 0.3)], is_need) == (None, [])
    assert combine(parse("request_invoice", 0.9), [parse("request_invoice", 0.7)], is_need) == (
        None,
        [],
    )


def test_a_sure_whole_message_no_clause_reads_gives_way_to_the_clauses():
    # A pasted disclaimer pulled the whole message to a discount question.
    instead, others = combine(
        parse("ask_discount", 0.8), [parse("order_status", 0.9), parse("thank", 0.9)], is_need
    )
    assert instead == {"name": "order_status", "confidence": 0.9} and others == []


def test_a_sure_preference_keeps_its_place_and_the_need_waits():
    instead, others = combine(
        parse("set_preference", 0.9),
        [parse("set_preference", 0.9), parse("order_status", 0.8)],
        is_need,
    )
    assert instead is None and others == ["order_status"]


def test_a_dropped_need_gives_way_to_the_new_one():
    instead, others = combine(
        parse("change_delivery_address", 0.9),
        [
            parse("change_delivery_address", 0.9, "actually forget the address"),
            parse("change_delivery_date", 0.8, "can it come on 17 December instead?"),
        ],
        lambda i: i.startswith("change_"),
    )
    assert instead == {"name": "change_delivery_date", "confidence": 0.8} and others == []


def test_asked_for_a_person_they_get_one_and_the_need_goes_along():
    instead, others = combine(
        parse("request_human", 0.7),
        [parse("charged_twice", 0.9, "I want to speak to someone about being charged twice.")],
        lambda i: i in {"request_human", "charged_twice"},
    )
    assert instead is None and others == ["charged_twice"]


@pytest.mark.parametrize(
    "text",
    [
        "I want to speak to someone about being charged twice",
        "can I talk to a real person about my invoice",
        "let me chat with an agent please",
        "just put me through to a human",
        "I'd like to speak with a manager",
    ],
)
def test_a_plain_request_for_a_person_is_seen_whatever_it_is_about(text):
    assert asks_for_a_person(text)


@pytest.mark.parametrize(
    "text",
    [
        "I was charged twice",
        "someone else ordered this for me",
        "can you talk me through the plans",
        "the person at the door said it was the wrong parcel",
    ],
)
def test_mentioning_people_is_not_asking_for_one(text):
    assert not asks_for_a_person(text)


def test_a_disclaimer_raises_no_need_of_its_own():
    # "if I cancelled ORD-10004 would I get all my money back? not cancelling yet, just asking"
    instead, others = combine(
        parse("cancel_order", 0.85),
        [
            parse("nlu_fallback", 0.4, "if I cancelled ORD-10004 would I get all my money back?"),
            parse("cancel_subscription", 0.74, "not cancelling yet, just asking."),
        ],
        lambda i: i in {"cancel_order", "cancel_subscription"},
    )
    assert instead is None and others == []


def test_of_clauses_about_as_clear_the_first_said_wins():
    instead, others = combine(
        parse("nlu_fallback", 0.47),
        [
            parse("ask_pricing", 0.88, "whats the difference between pro and business?"),
            parse("request_quote", 0.92, "we're a team of 12"),
        ],
        lambda i: i in {"ask_pricing", "request_quote"},
    )
    assert instead == {"name": "ask_pricing", "confidence": 0.88}
    assert others == ["request_quote"]


@pytest.mark.parametrize(
    "text, preferred, turned_down",
    [
        (
            "I'd rather have my money back than a new one tbh",
            "I'd rather have my money back",
            "than a new one tbh",
        ),
        (
            "can I get a refund instead of a replacement",
            "can I get a refund",
            "instead of a replacement",
        ),
        (
            "instead of a refund, can I get store credit",
            "can I get store credit",
            "instead of a refund",
        ),
        (
            "send it to my new flat rather than the old address please",
            "send it to my new flat",
            "rather than the old address please",
        ),
    ],
)
def test_what_the_customer_turns_down_is_a_clause_apart(text, preferred, turned_down):
    assert sorted(clauses(text)) == sorted([preferred, turned_down])


def test_than_alone_does_not_split_a_clause():
    assert clauses("is it more than 30 days since I ordered") == []


def test_what_is_turned_down_raises_no_need():
    # Read whole, the refund is unsure (the replacement's words pull the other way); the
    # clause turned down reads confidently as something else and must not win.
    whole = parse("nlu_fallback", 0.4)
    parts = [
        parse("charged_twice", 0.7, "I'd rather have my money back"),
        parse("order_status", 0.9, "than a new one tbh"),
    ]
    assert combine(whole, parts, is_need) == ({"name": "charged_twice", "confidence": 0.7}, [])
