"""'Here's what we can do', end to end over REST: a limit, the options, one chosen and done.

Each conversation runs on the real Rasa server and action server (tests/e2e/conftest.py)
against the seeded demo back office, and checks what the customer reads, the buttons they
get, and what really happened in the databases after they chose.
"""

from __future__ import annotations

import json
import sqlite3

import pytest

pytestmark = pytest.mark.e2e


def texts(replies: list[dict]) -> str:
    return "\n".join(r.get("text", "") for r in replies)


def buttons(replies: list[dict]) -> list[dict]:
    return [b for r in replies for b in r.get("buttons") or []]


def choose(assistant, sender: str, replies: list[dict], title: str) -> list[dict]:
    """Press the button called ``title``, as the web widget would: send its payload."""
    [button] = [b for b in buttons(replies) if b["title"] == title]
    return assistant.say(sender, button["payload"])


def moment(assistant, sender: str) -> tuple:
    db = sqlite3.connect(assistant.settings.var_dir / "journey.db")
    return db.execute(
        "select policy, offered, chosen, asked_for_person from policy_moments"
        " where conversation_id = ? order by id desc",
        (sender,),
    ).fetchone()


def handoff(assistant, sender: str) -> tuple:
    db = sqlite3.connect(assistant.settings.var_dir / "journey.db")
    return db.execute(
        "select department, need, summary, context from handoffs where conversation_id = ?"
        " order by id desc",
        (sender,),
    ).fetchone()


def test_refund_past_the_window_ends_with_store_credit(assistant):
    who = "e2e-policy-refund"
    assert "Which order" in texts(assistant.say(who, "I'd like a refund for my headphones please"))
    # The order with the email on it: Li is verified and served at once.
    offer = assistant.say(who, "ORD-10005, li.wei@example.com")
    assert "delivered 45 days ago" in texts(offer) and "Here's what we can do" in texts(offer)
    assert [b["title"] for b in buttons(offer)] == [
        "Store credit instead",
        "Ask for an exception",
        "Talk to a person",
    ]
    done = texts(choose(assistant, who, offer, "Store credit instead"))
    assert "Store credit it is" in done and "billing team" in done
    assert moment(assistant, who) == (
        "refund_window",
        json.dumps(["store_credit", "refund_exception"]),
        "store_credit",
        0,
    )
    department, need, summary, _ = handoff(assistant, who)
    assert (department, need) == ("billing", "request_refund") and "ORD-10005" in summary


def test_cancelling_a_shipped_order_ends_with_a_return_label(assistant):
    who = "e2e-policy-cancel"
    assistant.say(who, "please cancel my order, I ordered it by mistake")
    offer = assistant.say(who, "it's ORD-10001 (jane.doe@example.com)")
    assert "can't stop it at the warehouse" in texts(offer)
    assert "Here's what we can do" in texts(offer)
    done = texts(choose(assistant, who, offer, "A return label for when it arrives"))
    assert "https://returns.example.com/labels/ORD-10001.pdf" in done
    db = sqlite3.connect(assistant.settings.var_dir / "backoffice.db")
    assert db.execute(
        "select count(*) from return_labels where order_id='ORD-10001'"
    ).fetchone() == (1,)
    assert moment(assistant, who)[0::2] == ("no_cancel_after_shipment", "return_on_arrival")


def test_address_change_after_dispatch_ends_with_a_carrier_redirect(assistant):
    who = "e2e-policy-address"
    # Other tests talk about ORD-10001 too; a third chat about one order within a week goes
    # to a person (CX rule repeat_contact). Here it is Jane's first contact about it.
    journey = sqlite3.connect(assistant.settings.var_dir / "journey.db")
    journey.execute("delete from touchpoints where customer_id = 'C001'")
    journey.commit()
    assistant.say(who, "I need my parcel sent to a different address")
    assert "new delivery address" in texts(assistant.say(who, "ORD-10001 jane.doe@example.com"))
    offer = assistant.say(who, "5 Long Lane, Leeds LS1 4AB")
    assert "already left our warehouse with DHL" in texts(offer)
    done = texts(choose(assistant, who, offer, "Redirect it to my new address"))
    assert "redirect ORD-10001 to 5 Long Lane, Leeds LS1 4AB" in done
    assert "delivery team" in done and "Your reference is H-" in done
    department, need, summary, context = handoff(assistant, who)
    assert (department, need) == ("delivery", "change_delivery_address")
    assert json.loads(context)["new_address"] == "5 Long Lane, Leeds LS1 4AB"
    assert moment(assistant, who)[0::2] == ("address_change_before_dispatch", "carrier_redirect")


def test_price_match_ends_with_a_call_from_sales(assistant):
    who = "e2e-policy-price"
    # Tell before asking: what we can do first, the email only once the call is picked.
    offer = assistant.say(who, "Another shop has the same desk for $40 less, will you match it?")
    assert "one price for everyone" in texts(offer) and "email address" not in texts(offer)
    assert [b["title"] for b in buttons(offer)] == ["A call from sales", "Talk to a person"]
    ask = texts(choose(assistant, who, offer, "A call from sales"))
    assert "email address" in ask
    done = texts(assistant.say(who, "sam@example.com"))
    assert "sales team to call you back" in done
    department, need, _, context = handoff(assistant, who)
    assert (department, need) == ("sales", "price_match")
    assert json.loads(context)["customer"]["email"] == "sam@example.com"
    assert moment(assistant, who)[0::2] == ("no_price_match", "sales_callback")


def test_asking_for_a_person_after_the_options_is_recorded(assistant):
    who = "e2e-policy-person"
    assistant.say(who, "I want my money back for the headphones")
    offer = assistant.say(who, "ORD-10005 li.wei@example.com")
    person = texts(choose(assistant, who, offer, "Talk to a person"))
    assert "Your reference is H-" in person
    assert moment(assistant, who)[3] == 1


def test_a_goodwill_option_typed_by_hand_is_not_granted(assistant):
    who = "e2e-policy-forged"
    db = sqlite3.connect(assistant.settings.var_dir / "backoffice.db")
    due = "select expected_delivery from orders where id='ORD-10004'"
    assistant.say(who, "can you ship my order express?")
    offer = assistant.say(who, "ORD-10004 omar@example.com")
    before = db.execute(due).fetchone()  # the demo back office is seeded on first use
    assert "Express, on us" not in [b["title"] for b in buttons(offer)]  # Omar is standard tier
    forged = texts(assistant.say(who, '/choose_option{"option":"free_express"}'))
    assert "use one of the buttons" in forged
    assert db.execute(due).fetchone() == before and moment(assistant, who)[2] is None
