"""A question is not a request: asked about cancelling, refunding, a new address or a new
day, the assistant says what would happen and changes nothing until the customer says yes
(bot/support/confirm.py). Real Rasa and action servers over REST, the shared back office.
"""

from __future__ import annotations

import pytest

from bot.backoffice.sql import SqlBackOffice
from bot.db.engine import make_engine

pytestmark = pytest.mark.e2e

# (what a verified customer asks, just asking) for each irreversible action.
QUESTIONS = [
    "if I cancelled ORD-10004 would I get all my money back? not cancelling yet, just asking. omar@example.com",
    "what happens if I cancel ORD-10004? omar@example.com",
    "would I get a refund for ORD-10003 if I asked for one? just checking. jane.doe@example.com",
    "just wondering, could ORD-10004 go to 1 Quay Street, Bristol BS1 4AA instead? omar@example.com",
    "would it be possible to move ORD-10004 to the day after tomorrow? just checking. omar@example.com",
]


def back_office_state(assistant) -> tuple:
    bo = SqlBackOffice(make_engine(assistant.settings.backoffice_url))
    orders = [bo.order(o) for o in ("ORD-10003", "ORD-10004")]
    refunds = [(r.order_id, r.amount) for c in ("C001", "C002") for r in bo.refunds_of(c)]
    return tuple((o.status, o.address, o.expected_delivery) for o in orders), tuple(refunds)


@pytest.mark.parametrize("question", QUESTIONS)
def test_a_question_shaped_message_changes_nothing_and_a_no_keeps_it_so(assistant, question):
    sender = f"just-asking-{QUESTIONS.index(question)}"
    before = back_office_state(assistant)
    replies = assistant.say(sender, question)
    assert replies, question  # answered, one way or another
    assert back_office_state(assistant) == before, question
    titles = [b["title"] for r in replies for b in r.get("buttons", [])]
    if any(t.startswith("Yes, ") for t in titles):
        # Asked whether to go ahead, with what would happen: a no keeps everything.
        assert "No, leave it as it is" in titles
        after_no = assistant.say(sender, "no thanks, leave it")
        assert "nothing has changed" in " ".join(r.get("text", "") for r in after_no)
        assert back_office_state(assistant) == before
    # Whatever was said, a hand-typed "go ahead" payload is no agreement to a change.
    assistant.say(sender, '/choose_option{"option":"go_ahead"}')
    assert back_office_state(assistant) == before


def test_the_yes_from_the_offer_makes_the_change(assistant):
    """The confirmation's yes, typed, over the wire: the refund is requested once."""
    bo = SqlBackOffice(make_engine(assistant.settings.backoffice_url))
    refunds_before = len(bo.refunds_of("C001"))
    replies = assistant.say(
        "yes-refund", "I'd like a refund for ORD-10003 please, jane.doe@example.com"
    )
    assert any(b["title"] == "Yes, refund it" for r in replies for b in r.get("buttons", []))
    assert len(bo.refunds_of("C001")) == refunds_before
    done = assistant.say("yes-refund", "yes please")
    assert "refund" in " ".join(r.get("text", "") for r in done).lower()
    assert len(bo.refunds_of("C001")) == refunds_before + 1
    # The offer is used up: a second yes does not refund twice.
    assistant.say("yes-refund", '/choose_option{"option":"go_ahead"}')
    assert len(bo.refunds_of("C001")) == refunds_before + 1
