"""Nobody reads or changes another customer's account (bot/identity), end to end: the real
Rasa server, action server and local mail catcher, spoken to over REST as a visitor would.
"""

from __future__ import annotations

import sqlite3
import time

import pytest

from bot.backoffice.sql import SqlBackOffice
from bot.db.engine import make_engine
from bot.identity.mail import read_codes
from bot.support.parsing import money
from tests.e2e.test_web_channel import WidgetClient

pytestmark = pytest.mark.e2e

ALL_ORDERS = [f"ORD-{n}" for n in range(10001, 10011)]


def texts(replies: list[dict]) -> str:
    return "\n".join(r.get("text", "") for r in replies)


def personal_fields(assistant) -> set[str]:
    """Every customer's name, email, addresses, items, amounts and tracking numbers."""
    bo = SqlBackOffice(make_engine(assistant.settings.backoffice_url))
    public = {money(plan.price) for plan in bo.plans()}
    fields: set[str] = set()
    for customer_id in ("C001", "C002", "C003", "C004", "C005"):
        customer = bo.customer(customer_id)
        fields |= {customer.name, customer.first_name, customer.email}
        for order in bo.orders_of(customer_id):
            fields |= {order.address, money(order.total), *order.items}
            fields |= {order.tracking_number} if order.tracking_number else set()
        for invoice in bo.invoices_of(customer_id):
            fields |= {invoice.id, money(invoice.amount)}
    return {f for f in fields if f and f not in public}


def checks_of(assistant, conversation: str) -> list[tuple[str, str]]:
    db = sqlite3.connect(assistant.settings.var_dir / "journey.db")
    return db.execute(
        "select kind, outcome from identity_checks where conversation_id = ? order by id",
        (conversation,),
    ).fetchall()


def test_an_anonymous_visitor_walking_the_orders_learns_nothing_and_is_stopped(assistant):
    secret = personal_fields(assistant)
    said = []
    for order_id in ALL_ORDERS:
        said.append(texts(assistant.say("walker", f"where is {order_id}?")))
    everything = "\n".join(said)
    assert [f for f in secret if f in everything] == []
    # What a parcel tracker shows, for the first five orders...
    assert "ORD-10001 is on its way" in said[0] and "ORD-10003 was delivered" in said[2]
    # ...then the lookups stop, with what we can do instead.
    assert all("paused account checks" in s for s in said[5:]), said[5:]
    assert ("lookup", "limited") in checks_of(assistant, "walker")
    # The conversation never became anyone's.
    tracker = assistant.tracker("walker")
    assert tracker["slots"]["customer_id"] is None


def test_looking_an_order_up_does_not_make_the_visitor_its_owner(assistant):
    tracked = texts(assistant.say("not-li", "where is ORD-10006?"))
    assert "ORD-10006 was delivered" in tracked and "Rue Haute" not in tracked
    invoice = texts(assistant.say("not-li", "I need a copy of the invoice for ORD-10001"))
    assert "check it's you" in invoice
    assert "INV-" not in invoice and "$" not in invoice


def test_a_wrong_email_reads_exactly_like_an_unknown_order(assistant):
    assistant.say("wrong-email", "please cancel ORD-10004")
    wrong = texts(assistant.say("wrong-email", "jane.doe@example.com"))
    assistant.say("no-order", "please cancel ORD-99999")
    # For a change, the order number is checked together with its email: an unknown order
    # and someone else's fail in the same words.
    unknown = texts(assistant.say("no-order", "jane.doe@example.com"))
    assert "don't match what we have" in wrong
    assert wrong.replace("ORD-10004", "X") == unknown.replace("ORD-99999", "X")
    db = sqlite3.connect(assistant.settings.var_dir / "backoffice.db")
    assert db.execute("select status from orders where id='ORD-10004'").fetchone()[0] != (
        "cancelled"
    )


def test_a_change_is_carried_out_once_the_visitor_is_verified(assistant):
    asked = texts(assistant.say("omar-address", "can you send ORD-10004 to a different address?"))
    assert "what's the email address on order ORD-10004" in asked
    verified = texts(assistant.say("omar-address", "omar@example.com"))
    assert "Thanks, Omar" in verified and "new delivery address" in verified
    asked_first = texts(assistant.say("omar-address", "90 Quay Street, Portsmouth PO1 2AB"))
    assert "90 Quay Street, Portsmouth PO1 2AB" in asked_first  # what will happen, then yes
    done = texts(assistant.say("omar-address", "yes please"))
    assert "90 Quay Street, Portsmouth PO1 2AB" in done
    db = sqlite3.connect(assistant.settings.var_dir / "backoffice.db")
    address = db.execute("select address from orders where id='ORD-10004'").fetchone()[0]
    assert address == "90 Quay Street, Portsmouth PO1 2AB"
    assert ("order_email", "ok") in checks_of(assistant, "omar-address")


def test_the_order_and_its_email_said_up_front_verify_at_once(assistant):
    reply = texts(assistant.say("li-upfront", "where's ORD-10005? it's li.wei@example.com"))
    assert "Thanks, Li" in reply
    details = texts(assistant.say("li-upfront", "where is ORD-10005"))
    assert "Noise-cancelling headphones" in details


def test_a_one_time_code_through_the_local_mail_server(assistant):
    mail_dir = assistant.settings.var_dir / "mail"
    before = read_codes(mail_dir, "maria@example.com")
    asked = texts(assistant.say("maria-code", "there's a charge on my card I don't recognise"))
    assert "email address on your account" in asked
    sent = texts(assistant.say("maria-code", "maria@example.com"))
    assert "code is on its way" in sent
    deadline = time.monotonic() + 10
    while len(read_codes(mail_dir, "maria@example.com")) == len(before):
        assert time.monotonic() < deadline, "no code reached the local mail catcher"
        time.sleep(0.2)
    code = read_codes(mail_dir, "maria@example.com")[-1]
    wrong = texts(assistant.say("maria-code", "000000" if code != "000000" else "111111"))
    assert "doesn't match" in wrong
    verified = texts(assistant.say("maria-code", f"the code is {code}"))
    assert "Thanks, Maria" in verified and "$12.00" in verified
    # An unknown email is told the same, and nothing is sent.
    assistant.say("stranger-code", "there's a charge on my card I don't recognise")
    stranger = texts(assistant.say("stranger-code", "nobody@nowhere.example"))
    assert stranger.replace("nobody@nowhere.example", "X") == sent.replace("maria@example.com", "X")
    assert read_codes(mail_dir, "nobody@nowhere.example") == []


def test_the_website_chat_keeps_strangers_out_and_lets_a_verified_visitor_in(assistant):
    client = WidgetClient(assistant.url)
    try:
        client.say("where is ORD-10003?")
        tracked = texts(client.answers())
        assert "ORD-10003 was delivered" in tracked and "Desk lamp" not in tracked
        client.say("I'd like to return ORD-10003")
        assert "email address on order ORD-10003" in texts(client.answers())
        client.say("jane.doe@example.com")
        verified = texts(client.answers())
        assert "Thanks, Jane" in verified
    finally:
        client.sio.disconnect()
