"""Questions about an order's progress read as the status question (bot/nlp/questions.py)."""

import pytest

from bot.nlp.questions import status_question


@pytest.mark.parametrize(
    "text",
    [
        "was ORD-10003 delivered? jane.doe@example.com",
        "has my parcel arrived yet?",
        "Did ORD-10007 ship already",
        "so has it been dispatched?",
        "is the lamp delivered",
    ],
)
def test_asking_whether_it_got_there_is_the_status_question(text):
    assert status_question(text, "delivery_options")


@pytest.mark.parametrize(
    "text",
    [
        "was it delivered? it's not here",
        "has it arrived damaged again",
        "it says delivered but I never got it",
        "did it get delivered to the wrong address?",
        "why hasn't ORD-10004 shipped",
        "was my order delivered late",
        "my order was delivered",  # a statement, not a question
        "has my refund been sent?",
        "was the invoice sent to my email?",
        "did the code arrive? I can't see it",
    ],
)
def test_a_problem_or_a_statement_is_left_to_the_classifier(text):
    assert not status_question(text, "order_not_received")


def test_already_the_status_question():
    assert not status_question("was it delivered?", "order_status")
