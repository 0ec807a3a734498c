"""One truth across departments (issue 21): open handoffs joined, department facts over the
back office, outcomes that flow back. Seeded demo data, a fixed clock (tests/conftest.py)."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import date, datetime, timedelta

from sqlalchemy import select, update

from bot.db.schema import handoff_contacts, outbox
from bot.db.schema import handoffs as handoff_rows
from bot.handoff import HandoffRequest
from bot.handoff.messages import ADDITION, REPEAT_CONTACT, UPDATE, addition_key, update_key
from bot.hub.store import HubStore
from bot.proactive.outcomes import RESOLVED, outcome_event
from bot.support import NeedContext
from bot.support.facts import overlay_order
from tests.conftest import NOW, TODAY


def ctx(desk, need, customer, order=None, conversation="conv-1", **kw):
    return NeedContext(
        need=need,
        conversation_id=conversation,
        text=kw.pop("text", "where is my order?"),
        customer=desk.customer(customer),
        order=desk.check_order(order, customer).order if order else None,
        **kw,
    )


def request(**overrides):
    values = dict(
        department="delivery",
        need="order_status",
        conversation_id="conv-1",
        summary="ORD-10002 is late",
        channel="rest",
        customer_id="C001",
        priority="high",
        context={"customer_said": "where is it?"},
        order_id="ORD-10002",
    )
    values.update(overrides)
    return HandoffRequest(**values)


def rows(engine, table):
    with engine.connect() as conn:
        return conn.execute(select(table).order_by(table.c.id)).all()


# -- matching an open handoff ----------------------------------------------------------
def test_a_second_contact_about_the_same_need_and_order_joins_the_open_handoff(handoffs, engine):
    first = handoffs.hand_off(request())
    second = handoffs.hand_off(
        request(conversation_id="conv-2", channel="slack", context={"customer_said": "again!"})
    )
    assert second.id == first.id and second.joined and not first.joined
    assert (second.status, second.contacts, second.created_at) == ("open", 2, NOW)
    assert len(rows(engine, handoff_rows)) == 1
    [created, upd] = rows(engine, outbox)
    assert upd.idempotency_key == update_key(first.id, "conv-2")
    body = json.loads(upd.body)
    assert (body["type"], body["handoff_id"], body["customer_said"], body["contacts"]) == (
        UPDATE,
        first.id,
        "again!",
        2,
    )
    assert body["update_kind"] == REPEAT_CONTACT
    assert json.loads(created.body)["type"] == "handoff.created"
    # Asking again in that conversation sends nothing more: one update per contact.
    third = handoffs.hand_off(request(conversation_id="conv-2", context={"customer_said": "?"}))
    assert third.id == first.id and third.joined
    assert len(rows(engine, outbox)) == 2 and len(rows(engine, handoff_contacts)) == 1


def test_late_and_where_is_it_about_one_order_are_one_concern(handoffs):
    first = handoffs.hand_off(request(need="order_status"))
    assert handoffs.hand_off(request(need="order_late", conversation_id="conv-2")).id == first.id


def test_a_different_order_or_need_or_customer_is_a_new_handoff(handoffs):
    first = handoffs.hand_off(request())
    others = [
        request(conversation_id="conv-2", order_id="ORD-10001"),
        request(conversation_id="conv-3", need="report_damaged_item"),
        request(conversation_id="conv-4", customer_id="C003"),
        # Not verified: never matched with anyone's open work.
        request(conversation_id="conv-5", customer_id=None),
        request(conversation_id="conv-6", department="billing"),
    ]
    made = [handoffs.hand_off(r) for r in others]
    assert all(not h.joined and h.id != first.id for h in made)
    assert len({h.id for h in made}) == len(made)


def test_a_resolved_handoff_is_history_and_an_acknowledged_one_is_still_open(handoffs, engine):
    first = handoffs.hand_off(request())
    hub = HubStore(engine, now=lambda: NOW + timedelta(hours=1))
    hub.transition(first.id, "acknowledge", by="Dana")
    joined = handoffs.hand_off(request(conversation_id="conv-2"))
    assert joined.id == first.id and joined.status == "acknowledged"
    assert joined.acknowledged_by == "Dana"
    hub.transition(first.id, "resolve", "carrier found it")
    fresh = handoffs.hand_off(request(conversation_id="conv-3"))
    assert fresh.id != first.id and not fresh.joined


def test_a_repeat_contact_raises_the_priority_the_routing_rules_ask_for(handoffs, engine):
    first = handoffs.hand_off(request(priority="normal"))
    joined = handoffs.hand_off(request(conversation_id="conv-2", priority="urgent"))
    assert joined.priority == "urgent"
    assert rows(engine, handoff_rows)[0].priority == "urgent"
    assert json.loads(rows(engine, outbox)[-1].body)["priority"] == "urgent"
    # A lower priority never lowers it.
    assert handoffs.hand_off(request(conversation_id="conv-3")).priority == "urgent"
    assert first.id == joined.id


# -- what the customer hears -------------------------------------------------------------
def test_the_customer_hears_the_reference_state_and_promise_of_open_work(desk):
    first = desk.serve(ctx(desk, "order_status", "C001", "ORD-10002"))
    assert first.responses == ["utter_order_late", "utter_handed_off"]
    second = desk.serve(ctx(desk, "order_late", "C001", "ORD-10002", conversation="conv-2"))
    assert second.handoff.id == first.handoff.id and second.handoff.joined
    said = second.messages[-1]
    assert said.response == "utter_handoff_already_open"
    assert said.params["reference"] == f"H-{first.handoff.id}"
    assert said.params["team"] == "Our delivery team"
    assert said.params["since"] == "today at 10:00"
    assert "waiting to be picked up" in said.params["state"]
    assert "promised an answer by" in said.params["promise"]
    # What they can do now: add something for the team (typed or the button).
    assert [b["title"] for b in said.buttons] == ["Add something for them", "That's all, thanks"]
    assert [b["payload"] for b in said.buttons] == ["/add_information", "/thank"]
    assert "a detail they should know, I can add it" in said.params["what_now"]
    assert len(desk.handoffs.open_handoffs()) == 1


def test_overdue_open_work_offers_a_person_at_once(desk):
    first = desk.serve(ctx(desk, "order_status", "C001", "ORD-10002")).handoff
    with desk.handoffs.engine.begin() as conn:
        conn.execute(
            update(handoff_rows)
            .where(handoff_rows.c.id == first.id)
            .values(promised_by=NOW - timedelta(hours=1))
        )
    said = desk.serve(ctx(desk, "order_status", "C001", "ORD-10002", conversation="c2"))
    message = said.messages[-1]
    assert "overdue" in message.params["promise"]
    assert [b["title"] for b in message.buttons] == [
        "Add something for them",
        "Talk to a person",
        "That's all, thanks",
    ]


# -- adding information to open work -----------------------------------------------------
def outbox_bodies(engine):
    return [(r.idempotency_key, json.loads(r.body)) for r in rows(engine, outbox)]


def test_an_addition_is_one_update_with_a_key_of_its_own_and_a_retry_is_stored_once(
    handoffs, engine
):
    first = handoffs.hand_off(request())
    handoffs.hand_off(request(conversation_id="conv-2", context={"customer_said": "again!"}))
    added = handoffs.add_information("conv-2", "C001", "the box was wet", "slack")
    assert added.handoff.id == first.id and added.handoff.joined and not added.duplicate
    assert added.idempotency_key == addition_key(first.id, "conv-2", "the box was wet")
    assert added.idempotency_key != update_key(first.id, "conv-2")  # not the joining one
    [_, joining, addition] = outbox_bodies(engine)
    assert joining[1]["update_kind"] == REPEAT_CONTACT
    key, body = addition
    assert key == added.idempotency_key
    assert (body["type"], body["update_kind"], body["handoff_id"]) == (UPDATE, ADDITION, first.id)
    assert (body["customer_said"], body["conversation_id"], body["channel"]) == (
        "the box was wet",
        "conv-2",
        "slack",
    )
    assert body["contacts"] == 2  # adding is no new contact
    # The same message again (a retry): stored and delivered once.
    again = handoffs.add_information("conv-2", "C001", "  The box was  wet ", "slack")
    assert again.duplicate and again.idempotency_key == added.idempotency_key
    assert len(rows(engine, outbox)) == 3
    # Something else added: one more update, with its own key.
    more = handoffs.add_information("conv-2", "C001", "and the label was torn", "slack")
    assert not more.duplicate and more.idempotency_key != added.idempotency_key
    assert len({k for k, _ in outbox_bodies(engine)}) == 4
    # The conversation that opened it can add too; redacted like every packet.
    mine = handoffs.add_information("conv-1", "C001", "call me on 07700 900123", "rest")
    assert mine.handoff.id == first.id and not mine.handoff.joined
    assert "07700 900123" not in outbox_bodies(engine)[-1][1]["customer_said"]
    assert len(rows(engine, handoff_contacts)) == 1 and len(rows(engine, handoff_rows)) == 1


def test_only_the_customer_and_the_chats_of_a_handoff_can_add_to_it(handoffs, engine):
    first = handoffs.hand_off(request())
    handoffs.hand_off(request(conversation_id="conv-2"))
    # Another customer in a chat of theirs, another customer claiming this very chat, the
    # same customer in a chat that never opened or joined it, a visitor not verified.
    assert handoffs.add_information("conv-9", "C003", "send it to me", "rest") is None
    assert handoffs.add_information("conv-2", "C003", "send it to me", "rest") is None
    assert handoffs.add_information("conv-1", "C003", "send it to me", "rest") is None
    assert handoffs.add_information("conv-3", "C001", "hello", "rest") is None
    assert handoffs.add_information("conv-2", None, "send it to me", "rest") is None
    assert handoffs.open_work_of("conv-2", "C003") is None
    assert handoffs.open_work_of("conv-2", "C001").id == first.id
    assert len(rows(engine, outbox)) == 2  # the handoff and the joining update only
    # Resolved: history, nothing to add to.
    HubStore(engine, now=lambda: NOW).transition(first.id, "resolve", "found it")
    assert handoffs.add_information("conv-2", "C001", "the box was wet", "rest") is None


def test_a_visitor_not_verified_adds_only_to_what_their_own_chat_opened(handoffs):
    mine = handoffs.hand_off(request(customer_id=None, conversation_id="anon-1"))
    assert handoffs.add_information("anon-2", None, "it was me", "rest") is None
    assert handoffs.add_information("anon-1", "C001", "it was me", "rest") is None
    added = handoffs.add_information("anon-1", None, "it was me", "rest")
    assert added.handoff.id == mine.id


def test_the_customer_hears_what_was_passed_on_and_to_whom(desk):
    from bot.support import open_work
    from bot.support.replies import Reply

    first = desk.serve(ctx(desk, "order_status", "C001", "ORD-10002")).handoff
    desk.serve(ctx(desk, "order_late", "C001", "ORD-10002", conversation="conv-2"))
    asked = open_work.ask_for_addition(Reply(), desk.handoffs.open_work_of("conv-2", "C001"))
    assert asked.messages[0].response == "utter_ask_handoff_addition"
    assert asked.messages[0].params == {"team": "our delivery team", "reference": f"H-{first.id}"}
    said = open_work.pass_on(
        Reply(), desk.handoffs, "conv-2", "C001", "the box was wet", "rest", NOW
    ).messages[0]
    assert said.response == "utter_addition_passed_on"
    assert (said.params["team"], said.params["reference"]) == ("our delivery team", f"H-{first.id}")
    assert "promised an answer by" in said.params["promise"] and not said.buttons
    nothing = open_work.pass_on(Reply(), desk.handoffs, "conv-7", "C001", "hi there", "rest", NOW)
    assert nothing.responses == ["utter_no_open_work_to_add_to"]


def test_typed_replies_to_open_work_choose_as_the_customer_meant(desk):
    from bot.choices import Button, resolve

    desk.serve(ctx(desk, "order_status", "C001", "ORD-10002"))
    joined = desk.serve(ctx(desk, "order_late", "C001", "ORD-10002", conversation="conv-2"))
    buttons = [Button(b["title"], b["payload"]) for b in joined.messages[-1].buttons]
    chosen = {text: (resolve(text, buttons) or Button("", "")).payload for text in
              ("I want to add something", "can I add a detail", "ok thanks", "ok", "yes")}  # fmt: skip
    assert chosen == {
        "I want to add something": "/add_information",
        "can I add a detail": "/add_information",
        "ok thanks": "/thank",  # an acknowledgement, not a yes to adding something
        "ok": "",
        "yes": "",
    }


def test_what_a_tell_them_message_carries_is_found():
    from bot.nlp.additions import carried_information

    assert carried_information("tell them the parcel was left at number 12") == (
        "the parcel was left at number 12"
    )
    assert carried_information("also tell them the box was wet") == "the box was wet"
    assert carried_information("can you let them know I'm away until Friday please") == (
        "I'm away until Friday"
    )
    assert carried_information("could you pass this on: the neighbour has it") == (
        "the neighbour has it"
    )
    for nothing in ("I want to add something", "can you tell them something?", "tell them",
                    "where is my order?", "tell me where my order is", "add something for them"):  # fmt: skip
        assert carried_information(nothing) is None, nothing


# -- department facts over the back office ----------------------------------------------
def delay(desk, event_id, order_id, new_date, reason=None):
    body = {"id": event_id, "type": "shipment.delayed", "order_id": order_id, "new_date": new_date}
    if reason:
        body["reason"] = reason
    return desk.proactive.take_in(desk.events.check("delivery", body), "C002")[0]


def test_a_reported_delay_is_in_every_order_answer(desk):
    delay(desk, "d-1", "ORD-10004", "2025-03-20", reason="a storm at the hub")
    assert desk.check_order("ORD-10004", "C002").order.expected_delivery == date(2025, 3, 20)
    reply = desk.serve(ctx(desk, "order_status", "C002", "ORD-10004"))
    assert reply.responses == ["utter_order_delay_known", "utter_order_preparing"]
    assert reply.messages[0].params["because"] == " (a storm at the hub)"
    assert reply.messages[1].params["expected"] == "Thursday 20 March"
    # A visitor not verified sees what a parcel tracker shows: the new day, no reason.
    anonymous = replace(ctx(desk, "order_status", "C002", "ORD-10004"), customer=None)
    view = desk.serve(anonymous)
    assert view.messages[0].params["expected"] == "Thursday 20 March"
    assert "utter_order_delay_known" not in view.responses


def test_told_news_is_not_repeated_by_the_answer_about_the_same_order(desk):
    event = delay(desk, "d-1", "ORD-10004", "2025-03-20")
    desk.proactive.claim_for_contact(event.id, "conv-1", "rest")
    reply = desk.serve(ctx(desk, "order_status", "C002", "ORD-10004"))
    assert reply.responses == ["utter_order_preparing"]  # the new date, not the news again
    assert reply.messages[0].params["expected"] == "Thursday 20 March"


def test_the_newest_fact_wins_and_the_back_office_moving_past_it_wins_over_it(desk):
    order = desk.backoffice.order("ORD-10004")
    older = delay(desk, "d-1", "ORD-10004", "2025-03-20")
    newer = replace(older, id=older.id + 1, details={"new_date": "2025-03-25"})
    newer = replace(newer, received_at=older.received_at + timedelta(hours=2))
    facts = overlay_order(order, [newer, older])
    assert facts.order.expected_delivery == date(2025, 3, 25) and facts.delay == newer
    # Delivered in the back office after the delay was reported: the delay is over.
    delivered = replace(order, status="delivered", delivered_at=TODAY)
    assert overlay_order(delivered, [newer, older]).order == delivered
    # The back office caught up with (or went past) the delay's day: its date stands.
    caught_up = replace(order, expected_delivery=date(2025, 3, 26))
    assert overlay_order(caught_up, [newer, older]).order == caught_up
    # Through the desk too: a second event for the same order replaces the first's date.
    delay(desk, "d-2", "ORD-10004", "2025-03-27")
    assert desk.check_order("ORD-10004", "C002").order.expected_delivery == date(2025, 3, 27)


def test_a_refund_the_billing_team_issued_is_issued(desk):
    assert desk.backoffice.refunds_of("C005")[0].status == "processing"
    body = {"id": "r-1", "type": "refund.issued", "order_id": "ORD-10007", "amount": 89}
    desk.proactive.take_in(desk.events.check("billing", body), "C005")
    reply = desk.serve(ctx(desk, "refund_status", "C005"))
    assert reply.messages[-1].params["status"] == "issued"


# -- outcomes flow back -------------------------------------------------------------------
def test_a_resolution_with_a_note_is_news_and_answers_where_is_my_refund(desk):
    engine = desk.handoffs.engine
    handoff = desk.handoffs.hand_off(
        request(
            department="billing",
            need="request_refund",
            customer_id="C003",
            order_id="ORD-10005",
            summary="Refund outside the window: review as an exception.",
        )
    )
    hub = HubStore(engine, now=lambda: NOW + timedelta(hours=2))
    moved = hub.transition(
        handoff.id,
        "resolve",
        "approved by the team lead",
        customer_note="exception approved, refund issued",
    )
    assert moved["customer_note"] == "exception approved, refund issued"
    event = outcome_event(moved, "resolve", moved["customer_note"])
    assert (event.type.name, event.event_id) == (RESOLVED, f"handoff-{handoff.id}-resolved")
    told, new = desk.proactive.take_in(event, "C003", "billing")
    assert new and told.department == "billing"
    # The same move again tells nobody twice.
    assert not desk.proactive.take_in(event, "C003", "billing")[1]
    reply = desk.serve(ctx(desk, "refund_status", "C003"))
    first = reply.messages[0]
    assert first.response == "utter_resolved_by_department"
    assert first.params["note"] == "exception approved, refund issued"
    assert first.params["reference"] == f"H-{handoff.id}"
    # Nobody to tell: an anonymous visitor's handoff, or an acknowledge with nothing to say.
    assert outcome_event({**moved, "customer_id": None}, "resolve", None) is None
    assert outcome_event({**moved, "promised_by": None}, "acknowledge", None) is None


def test_acknowledging_keeps_who_and_the_new_promise(handoffs, engine):
    first = handoffs.hand_off(request())
    hub = HubStore(engine, now=lambda: NOW)
    due = datetime(2025, 3, 13, 17, 0)
    moved = hub.transition(first.id, "acknowledge", by="Dana", promised_by=due)
    assert (moved["acknowledged_by"], moved["promised_by"]) == ("Dana", "2025-03-13T17:00:00")
    joined = handoffs.hand_off(request(conversation_id="conv-2"))
    assert joined.promised_by == due and not joined.overdue


def test_a_failed_invoice_billing_reported_answers_payment_questions_until_it_is_paid(desk, store):
    from bot.backoffice.sql import invoices

    engine, _ = store
    body = {"id": "f-1", "type": "invoice.failed", "invoice_id": "INV-50004"}
    desk.proactive.take_in(desk.events.check("billing", body), "C002")
    # Omar's invoice is paid in the back office: paid since, so that wins.
    assert desk.serve(ctx(desk, "payment_failed", "C002")).responses == ["utter_no_failed_payment"]
    with engine.begin() as conn:
        conn.execute(update(invoices).where(invoices.c.id == "INV-50004").values(status="open"))
    reply = desk.serve(ctx(desk, "payment_failed", "C002"))
    assert reply.responses == ["utter_invoice_failed_known"]
    assert reply.messages[0].params["invoice_id"] == "INV-50004"
