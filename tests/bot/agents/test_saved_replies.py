"""Saved replies (bot/agents/saved_replies.py): checked on load, filled per conversation."""

from __future__ import annotations

import pytest

from bot.agents.saved_replies import SavedRepliesError, load, values_of


def test_the_shipped_replies_load_and_fill_with_the_conversations_details():
    replies = {r.key: r for r in load()}
    values = values_of(
        "Li Wei", "Ana", {"id": "ORD-10005", "status": "Delivered", "items": "Headphones"}
    )
    filled = replies["looking"].fill(values)
    assert filled["text"] == "Thanks Li. I'm looking at order ORD-10005 now: one moment, please."
    assert filled["missing"] == []
    status = replies["order_status"].fill(values)
    assert status["text"] == (
        "Order ORD-10005 (Headphones) is delivered. The expected delivery is [delivery date]."
    )
    assert status["missing"] == ["[delivery date]"]


def test_without_a_name_or_order_the_blanks_show():
    filled = {r.key: r for r in load()}["looking"].fill(values_of(None, "Ana", None))
    assert filled["text"] == "Thanks [first name]. I'm looking at order [order number] now: one moment, please."  # fmt: skip


@pytest.mark.parametrize(
    "text, error",
    [
        ("replies: 3", "expected a list under 'replies'"),
        ("replies:\n  - {key: 'a b', title: T, text: x}", "'key' is 1-40 letters"),
        (
            "replies:\n  - {key: a, title: T, text: x}\n  - {key: a, title: U, text: y}",
            "used twice",
        ),
        ("replies:\n  - {key: a, text: x}", "reply 'a': 'title' is missing"),
        ("replies:\n  - {key: a, title: T, text: 'Hi {nickname}'}", "unknown variable 'nickname'"),
        ("replies: [", "can't read"),
    ],
)
def test_a_broken_file_is_refused_naming_the_file_and_the_reply(tmp_path, text, error):
    path = tmp_path / "saved_replies.yml"
    path.write_text(text)
    with pytest.raises(SavedRepliesError, match=str(path)) as raised:
        load(path)
    assert error in str(raised.value)
