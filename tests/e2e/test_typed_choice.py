"""A button answered by typing, end to end over REST on the real Rasa and action servers.

The customer types the option instead of clicking it ("the store credit is fine", "5 please"):
the assistant does what the click would have done, the transcript keeps what they typed,
and a typed message that names no button is answered as a new message.
"""

from __future__ import annotations

import sqlite3

import pytest

pytestmark = pytest.mark.e2e


def texts(replies: list[dict]) -> str:
    return "\n".join(r.get("text", "") for r in replies)


def titles(replies: list[dict]) -> list[str]:
    return [b["title"] for r in replies for b in r.get("buttons") or []]


def journey(assistant) -> sqlite3.Connection:
    return sqlite3.connect(assistant.settings.var_dir / "journey.db")


def latest_user_event(assistant, who: str) -> dict:
    events = assistant.tracker(who)["events"]
    return [e for e in events if e["event"] == "user"][-1]


def test_typing_the_store_credit_carries_it_out(assistant):
    who = "e2e-typed-store-credit"
    # Other tests talk about ORD-10005 too; a third chat about one order within a week goes
    # to a person (CX rule repeat_contact). Here it is Li's first contact about it.
    with journey(assistant) as db:
        db.execute("delete from touchpoints where customer_id = 'C003'")
    assert "Which order" in texts(assistant.say(who, "I'd like a refund for my headphones please"))
    offer = assistant.say(who, "ORD-10005, li.wei@example.com")
    assert "Here's what we can do" in texts(offer)
    assert "Store credit instead" in titles(offer)

    done = texts(assistant.say(who, "the store credit is fine"))
    assert "Store credit it is" in done and "billing team" in done
    with journey(assistant) as db:
        chosen = db.execute(
            "select policy, chosen from policy_moments where conversation_id = ? order by id desc",
            (who,),
        ).fetchone()
    assert chosen == ("refund_window", "store_credit")

    # The transcript shows what Li typed; the parse is the click's, marked as typed.
    event = latest_user_event(assistant, who)
    assert event["text"] == "the store credit is fine"
    parse = event["parse_data"]
    assert parse["text"] == "the store credit is fine"
    assert parse["intent"]["name"] == "choose_option"
    assert [(e["entity"], e["value"]) for e in parse["entities"]] == [("option", "store_credit")]
    assert parse["typed_choice"] == {
        "title": "Store credit instead",
        "payload": '/choose_option{"option":"store_credit"}',
    }


def test_a_rating_typed_after_the_goodbye_is_kept(assistant):
    who = "e2e-typed-rating"
    assistant.say(who, "hello")
    bye = assistant.say(who, "bye")
    assert "how did I do?" in texts(bye) and "5 (great)" in titles(bye)
    assistant.say(who, "5 please")
    with journey(assistant) as db:
        rating = db.execute(
            "select rating from touchpoints where conversation_id = ?", (who,)
        ).fetchone()
    assert rating == (5,)
    assert latest_user_event(assistant, who)["text"] == "5 please"


def test_a_typed_message_that_names_no_button_is_answered_as_a_new_message(assistant):
    who = "e2e-typed-new-message"
    bye = assistant.say(who, "bye")
    assert "5 (great)" in titles(bye)
    answer = assistant.say(who, "how much are your plans?")
    assert "Here are our plans" in texts(answer)
    parse = latest_user_event(assistant, who)["parse_data"]
    assert "typed_choice" not in parse and parse["intent"]["name"] == "ask_pricing"
    with journey(assistant) as db:
        rating = db.execute(
            "select rating from touchpoints where conversation_id = ?", (who,)
        ).fetchone()
    assert rating == (None,)


def test_a_goodwill_option_typed_but_not_offered_is_not_granted(assistant):
    who = "e2e-typed-not-offered"
    backoffice = sqlite3.connect(assistant.settings.var_dir / "backoffice.db")
    due = "select expected_delivery from orders where id='ORD-10004'"
    assistant.say(who, "can you ship my order express?")
    offer = assistant.say(who, "ORD-10004 omar@example.com")
    before = backoffice.execute(due).fetchone()
    assert "Upgrade to express" in titles(offer) and "Express, on us" not in titles(offer)
    assistant.say(who, "free express on us please")  # Omar is standard tier: not offered
    assert backoffice.execute(due).fetchone() == before
    assert "typed_choice" not in latest_user_event(assistant, who)["parse_data"]
