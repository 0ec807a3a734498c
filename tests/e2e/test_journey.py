"""A whole chat as a journey touchpoint, written as it goes: over REST, on the real servers."""

from __future__ import annotations

import json
import sqlite3

import pytest

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def assistant(own_assistant):
    """A system of its own: the shared one has heard about Jane's ORD-10001 in other modules,
    and a third contact about an order within 7 days brings a person in (the repeat-contact
    rule), which this self-served chat must not meet whatever ran before it."""
    return own_assistant


def test_a_self_served_chat_is_one_touchpoint_ended_and_rated(assistant):
    who = "e2e-journey-rated"
    assistant.say(who, "hi")
    # With the email on the order, the visitor is verified as Jane: the touchpoint is hers.
    assistant.say(who, "where is my order ORD-10001? jane.doe@example.com")
    assistant.say(who, "thanks!")
    [bye] = assistant.say(who, "bye")
    assert "how did I do?" in bye["text"]
    five = next(b for b in bye["buttons"] if b["title"].startswith("5"))
    [thanks] = assistant.say(who, five["payload"])
    assert "Thank you" in thanks["text"]

    journey = sqlite3.connect(assistant.settings.var_dir / "journey.db")
    rows = journey.execute(
        "select customer_id, channel, needs, departments, order_ids, outcome, rating,"
        " message_count, ended_at is not null from touchpoints where conversation_id = ?",
        (who,),
    ).fetchall()
    assert len(rows) == 1
    customer, channel, needs, departments, orders, outcome, rating, count, ended = rows[0]
    assert (customer, channel, outcome, rating) == ("C001", "rest", "self_served", 5)
    assert json.loads(needs) == ["order_status"] and json.loads(departments) == ["delivery"]
    assert json.loads(orders) == ["ORD-10001"]
    assert count == 5 and ended == 1
    assert journey.execute(
        "select rating from feedback where conversation_id = ?", (who,)
    ).fetchall() == [(5,)]
