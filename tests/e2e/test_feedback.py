"""Feedback at the end of a chat, over REST on the real servers: a rating once per session,
effort after a solved problem, both on the touchpoint; skipping is fine.

Only the first test asks about an order, one no other end-to-end test names: conversations
about the same order add up (a third one within 7 days brings a person in, routing.yml).
"""

from __future__ import annotations

import sqlite3

import pytest

pytestmark = pytest.mark.e2e

RATING_TITLES = ["1 (poor)", "2", "3", "4", "5 (great)", "No thanks"]
EFFORT_TITLES = ["1 (very hard)", "2", "3", "4", "5 (very easy)", "No thanks"]


def feedback_of(assistant, who: str) -> list[tuple]:
    """(rating, effort, ended) of each touchpoint of the conversation, oldest first."""
    with sqlite3.connect(assistant.settings.var_dir / "journey.db") as journey:
        return journey.execute(
            "select rating, effort, ended_at is not null from touchpoints"
            " where conversation_id = ? order by id",
            (who,),
        ).fetchall()


def button(message: dict, title: str) -> str:
    return next(b["payload"] for b in message["buttons"] if b["title"] == title)


def asks_for_rating(messages: list[dict]) -> bool:
    return any("how did I do?" in m.get("text", "") or m.get("buttons") for m in messages)


def test_a_solved_order_question_asks_rating_then_effort_once_and_keeps_both(assistant):
    who = "e2e-feedback-rated"
    answer = assistant.say(who, "where is my order ORD-10007?")
    assert any("ORD-10007" in m.get("text", "") for m in answer)

    [bye] = assistant.say(who, "bye")
    assert "how did I do?" in bye["text"]
    assert [b["title"] for b in bye["buttons"]] == RATING_TITLES
    [question] = assistant.say(who, button(bye, "4"))
    assert "how easy was it to get this sorted?" in question["text"]
    assert [b["title"] for b in question["buttons"]] == EFFORT_TITLES
    [thanks] = assistant.say(who, button(question, "5 (very easy)"))
    assert "Thanks" in thanks["text"] and not thanks.get("buttons")
    assert feedback_of(assistant, who) == [(4, 5, 1)]

    # A second goodbye in the same session says goodbye and asks nothing.
    again = assistant.say(who, "bye")
    assert again and not asks_for_rating(again)
    assert feedback_of(assistant, who) == [(4, 5, 1)]
    assert assistant.tracker(who)["slots"]["feedback_asked"] == "effort"


def test_no_thanks_skips_the_rating_and_it_is_not_asked_again(assistant):
    who = "e2e-feedback-skipped"
    assistant.say(who, "hello")
    [bye] = assistant.say(who, "goodbye")
    [fine] = assistant.say(who, button(bye, "No thanks"))
    assert "No problem" in fine["text"] and not fine.get("buttons")
    assert not asks_for_rating(assistant.say(who, "bye"))
    assert feedback_of(assistant, who) == [(None, None, 1)]


def test_typing_something_else_skips_the_rating_and_the_chat_goes_on(assistant):
    who = "e2e-feedback-typed-on"
    [bye] = assistant.say(who, "bye")
    assert bye["buttons"]
    answer = assistant.say(who, "how much are your plans?")
    assert any("Here are our plans" in m.get("text", "") for m in answer)
    assert feedback_of(assistant, who) == [(None, None, 0)]  # open again: they came back
    assert not asks_for_rating(assistant.say(who, "thanks, bye"))
    assert feedback_of(assistant, who) == [(None, None, 1)]


def test_no_effort_question_when_no_problem_was_solved(assistant):
    who = "e2e-feedback-small-talk"
    assistant.say(who, "hi")
    [bye] = assistant.say(who, "bye")
    [thanks] = assistant.say(who, button(bye, "5 (great)"))
    assert "Thank you" in thanks["text"] and not thanks.get("buttons")
    assert feedback_of(assistant, who) == [(5, None, 1)]


def test_a_new_session_is_a_new_touchpoint_and_asks_again(assistant):
    who = "e2e-feedback-new-session"
    [bye] = assistant.say(who, "bye")
    assistant.say(who, button(bye, "3"))
    assistant.say(who, "/session_start")  # what Rasa does after an hour of silence
    [bye_again] = assistant.say(who, "bye")
    assert "how did I do?" in bye_again["text"] and bye_again["buttons"]
    assert [rating for rating, _, _ in feedback_of(assistant, who)] == [3, None]
