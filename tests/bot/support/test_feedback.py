"""What counts as a solved problem, and which values are scores (bot/support/feedback.py).

The questions asked and the answers kept are tested through the actions, on the real desk
(tests/actions/test_conversation.py) and end to end (tests/e2e/test_feedback.py).
"""

import pytest

from bot.journey.store import Touchpoint
from bot.support.feedback import problem_solved, score


def touchpoint(outcome: str) -> Touchpoint:
    return Touchpoint(
        id=1,
        conversation_id="c",
        customer_id="C001",
        channel="rest",
        stage="usage",
        needs=("order_status",),
        departments=("delivery",),
        order_ids=(),
        outcome=outcome,
    )


@pytest.mark.parametrize(
    "outcome, served, open_limit, solved",
    [
        ("self_served", True, False, True),  # the assistant answered it alone
        ("self_served", False, False, False),  # small talk, or the customer gave up on details
        ("self_served", True, True, False),  # "here's what we can do", nothing taken yet
        ("resolved", False, False, True),  # an agent or a department closed it
        ("resolved", True, True, True),
        ("handed_off", True, False, False),  # a department still has to act
        ("escalated", True, False, False),  # a person still has to act
        ("abandoned", True, False, False),
    ],
)
def test_what_counts_as_solved(outcome, served, open_limit, solved):
    assert problem_solved(touchpoint(outcome), served, open_limit) is solved


def test_no_touchpoint_is_nothing_solved():
    assert problem_solved(None, served=True, open_limit=False) is False


@pytest.mark.parametrize(
    "raw, expected",
    [("1", 1), ("5", 5), (" 3 ", 3), (4, 4), ("0", None), ("6", None), ("-1", None)]
    + [("", None), ("five", None), ("4.5", None), (None, None)],
)
def test_scores_are_1_to_5(raw, expected):
    assert score(raw) == expected
