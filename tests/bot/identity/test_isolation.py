"""Apart: a visitor can't hear another customer's news by naming it, and a department's
inbox shows only its own handoffs, whatever it stored."""

from __future__ import annotations

import json

import pytest
from rasa_sdk.executor import CollectingDispatcher

from actions.proactive import ActionTellProactiveNews
from bot import services
from bot.handoff import HandoffRequest
from bot.hub.store import HubStore
from tests.actions.conftest import make_tracker
from tests.conftest import NOW


def delayed(desk):
    body = {"id": "dlv-omar", "type": "shipment.delayed", "order_id": "ORD-10004",
            "new_date": "2025-03-20", "reason": "storm at the depot"}  # fmt: skip
    return desk.proactive.take_in(desk.events.check("delivery", body), "C002")[0]


@pytest.mark.parametrize("channel", ["rest", "socketio", "slack"])
def test_the_news_intent_typed_by_a_visitor_tells_nothing_and_leaves_it_untold(
    desk, monkeypatch, channel
):
    monkeypatch.setattr(services, "desk", lambda: desk)
    event = delayed(desk)
    # Rasa parses "/intent{...}" typed by anyone as that intent with those entities.
    typed = "/proactive_news" + json.dumps({"proactive_event": str(event.id)})
    tracker = make_tracker(
        intent="proactive_news",
        text=typed,
        entities=[{"entity": "proactive_event", "value": str(event.id)}],
        channel=channel,
        sender="thief",
    )
    dispatcher = CollectingDispatcher()
    assert ActionTellProactiveNews().run(dispatcher, tracker, {}) == []
    assert dispatcher.messages == []
    after = desk.proactive.get(event.id)
    assert (after.state, after.conversation_id) == (event.state, None)
    assert desk.proactive.news_for("C002") == [after]  # still Omar's to hear
    # The same event, triggered by the hub through Rasa's API, is told.
    hub = make_tracker(
        intent="proactive_news",
        text="EXTERNAL: proactive_news",
        entities=[{"entity": "proactive_event", "value": str(event.id)}],
        channel=channel,
        sender="omars-chat",
    )
    told = CollectingDispatcher()
    ActionTellProactiveNews().run(told, hub, {})
    assert [m["response"] for m in told.messages] == ["utter_proactive_shipment_delayed"]


def test_a_department_inbox_shows_only_its_own_handoffs(handoffs, engine):
    billing = handoffs.hand_off(
        HandoffRequest(
            department="billing",
            need="charged_twice",
            conversation_id="omar-1",
            summary="Duplicate charge for INV-50004: refund one.",
            customer_id="C002",
            context={"customer": {"name": "Omar Haddad", "email": "omar@example.com"}},
        )
    )
    hub = HubStore(engine, now=lambda: NOW)
    hub.receive("billing", "key-billing", billing.id, json.dumps({"handoff_id": billing.id}))
    # Sales (its own signed API) stores a delivery naming billing's handoff id.
    forged = json.dumps({"handoff_id": billing.id, "summary": "what is this?"})
    hub.receive("sales", "key-forged", billing.id, forged)
    [seen] = hub.inbox("sales")
    assert seen["summary"] == "what is this?" and seen["context"] == {}
    assert seen["customer_id"] is None and "Omar" not in json.dumps(seen)
    # Billing still sees its handoff as the journey database has it.
    [own] = hub.inbox("billing")
    assert own["summary"].startswith("Duplicate charge") and own["customer_id"] == "C002"
    # Resolving billing's handoff shows in billing's inbox, never in the forged one.
    hub.transition(billing.id, "resolve", "refunded")
    assert hub.inbox("sales", ["resolved"]) == [] and hub.inbox("billing", ["resolved"])


def test_a_customers_code_limit_reads_like_a_code_sent_to_nobody(desk):
    # Five codes for Jane's email from five chats reach her limit. A sixth chat asking for
    # her code must hear what it hears for an email with no account: "on its way if that
    # email is on an account", then asked for the code; else it learns she is a customer.
    from bot.identity.checks import Where

    verifier = desk.verifier
    for n in range(5):
        sent = verifier.send_code(Where(f"chat-{n}", "rest"), "jane.doe@example.com")
        assert sent.said.response == "utter_code_sent"
    mails = len(desk.verifier.mailer.sent)
    jane = verifier.send_code(Where("probe-jane", "rest"), "jane.doe@example.com")
    nobody = verifier.send_code(Where("probe-nobody", "rest"), "nobody@example.com")
    assert (jane.limited, jane.said.response) == (nobody.limited, nobody.said.response)
    assert jane.said.params == nobody.said.params | {"email": "jane.doe@example.com"}
    assert verifier.code_requested("probe-jane") == verifier.code_requested("probe-nobody")
    checks = verifier.checks
    assert checks.limited_lately("probe-jane") == checks.limited_lately("probe-nobody")
    assert len(desk.verifier.mailer.sent) == mails  # and Jane gets no sixth mail


@pytest.mark.parametrize(
    "slots",
    [{"customer_id": "C002"}, {"customer_id": "C002", "verified_by": "a way nobody knows"}],
    ids=["claimed", "unknown-method"],
)
def test_news_waits_for_its_customer_verified_not_claimed(desk, monkeypatch, slots):
    # A customer id without a known way of verification is only a claim: the greeting
    # tells none of Omar's waiting news, and it stays waiting for him.
    from actions.conversation import ActionGreet

    monkeypatch.setattr(services, "desk", lambda: desk)
    event = delayed(desk)
    [claimed] = desk.proactive.claim_due()
    desk.proactive.wait_for_contact(claimed.id, "no live channel")
    dispatcher = CollectingDispatcher()
    ActionGreet().run(dispatcher, make_tracker(slots=slots, sender="claimer"), {})
    assert [m["response"] for m in dispatcher.messages] == ["utter_greet"]
    assert desk.proactive.get(event.id).state == "waiting"


@pytest.mark.parametrize("verified", [False, True], ids=["not-verified", "verified"])
def test_saved_replies_fill_in_an_order_only_for_a_verified_customer(backoffice, verified):
    # A visitor who only named ORD-10001 asks for a person. The agent's one-click saved
    # replies must not come filled with what is in Jane's parcel: that is for Jane only.
    from datetime import datetime
    from types import SimpleNamespace

    from bot.hub.accounts import Session, User
    from bot.hub.console import _extras

    identity = {"trust": "verified" if verified else "claimed", "verified": verified}
    customer = {"id": "C001", "name": "Jane Doe"} if verified else {"email": "jane@x.test"}
    view = {"packet": {"customer": customer, "order_id": "ORD-10001"}, "identity": identity}
    app = SimpleNamespace(ctx=SimpleNamespace(backoffice=backoffice))
    agent = User(1, "ana", "Ana", "agent")
    extras = _extras(app, view, Session(agent, "csrf", datetime(2030, 1, 1)))
    filled = "\n".join(r["text"] for r in extras["saved_replies"])
    assert "ORD-10001" in filled
    assert ("Ceramic mug set" in filled) is verified


def test_a_choice_on_someone_elses_news_changes_nothing_of_theirs(desk):
    # Defence in depth: however another customer's news came to be told in Jane's chat (the
    # typed trigger, before it was refused), her choice on it never cancels or refunds
    # Omar's order: the news' order is used only for the news' own customer.
    from bot.identity.trust import BY_ORDER_EMAIL, VERIFIED, Identity
    from bot.support import NeedContext
    from bot.support.proactive import tell

    event = delayed(desk)  # Omar's ORD-10004, not dispatched: cancellable at once
    tell(desk, event, "jane-chat")
    before = desk.backoffice.order("ORD-10004")
    choice = NeedContext(
        need="order_late",
        conversation_id="jane-chat",
        customer=desk.customer("C001"),
        identity=Identity(VERIFIED, "C001", BY_ORDER_EMAIL),
        option="delay_cancel_refund",
    )
    reply = desk.carry_out(choice)
    assert desk.backoffice.order("ORD-10004") == before
    assert "ORD-10004" not in json.dumps([m.params for m in reply.messages])


def test_a_mail_server_that_is_down_tells_nobody_which_emails_are_accounts(desk):
    # Jane's code cannot go out: her chat hears what an email with no account hears (with a
    # way forward), so the failure tells nothing; then, for a while, every visitor hears
    # that codes are down, whatever email they give, and no more sends are tried.
    from bot.identity.checks import Where

    verifier = desk.verifier
    verifier.mailer.fail = True
    nobody = verifier.send_code(Where("down-nobody", "rest"), "nobody@example.com")
    jane = verifier.send_code(Where("down-jane", "rest"), "jane.doe@example.com")
    assert jane.said.response == "utter_code_sent" == nobody.said.response
    assert jane.said.params == nobody.said.params | {"email": "jane.doe@example.com"}
    verifier.mailer.fail = False
    later = [
        verifier.send_code(Where(f"down-later-{n}", "rest"), email).said.response
        for n, email in enumerate(("omar@example.com", "nobody@example.com"))
    ]
    assert later == ["utter_code_unavailable", "utter_code_unavailable"]
    assert verifier.mailer.sent == []
