"""A department's news told by the desk, and each choice it offers carried out
(the seeded demo back office, tests/conftest.py: TODAY, NOW)."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from bot.db.schema import handoffs, touchpoints
from bot.support import NeedContext
from bot.support.proactive import OFFER_ONLY, policy_name, tell

CONVERSATION = "conv-news"


def taken_in(desk, body: dict, department: str, customer: str = "C001"):
    event, _ = desk.proactive.take_in(desk.events.check(department, body), customer)
    return event


def delayed(desk, order="ORD-10001", customer="C001", event_id="dlv-1"):
    body = {"id": event_id, "type": "shipment.delayed", "order_id": order,
            "new_date": "2025-03-14", "reason": "a storm at the Leipzig hub"}  # fmt: skip
    return taken_in(desk, body, "delivery", customer)


def choose(desk, option, customer="C001", order="ORD-10001", invoice=None):
    return desk.carry_out(
        NeedContext(
            need="choose_option",
            conversation_id=CONVERSATION,
            customer=desk.customer(customer),
            order=desk.backoffice.order(order) if order else None,
            invoice_id=invoice,
            option=option,
        )
    )


def packet(desk, handoff) -> dict:
    """The context packet the department receives with ``handoff``."""
    with desk.handoffs.engine.connect() as conn:
        raw = conn.execute(select(handoffs.c.context).where(handoffs.c.id == handoff.id)).scalar()
    return json.loads(raw)


def test_the_news_names_the_customer_says_what_happened_and_offers_what_we_can_do(desk):
    event = delayed(desk)
    reply = tell(desk, event, CONVERSATION)
    [message] = reply.messages
    assert message.response == "utter_proactive_shipment_delayed"
    assert message.params["opening"] == "Hi Jane, a quick note from our delivery team:"
    assert message.params["new_date"] == "on Friday 14 March"
    assert message.params["because"] == " (a storm at the Leipzig hub)"
    titles = [b["title"] for b in message.buttons]
    assert titles == [
        "The new date is fine",
        "Deliver on another day",
        "Cancel and refund me",
        "A discount for the wait",
        "Talk to a person",
    ]
    # The conversation now knows the order and who this is: no repeating themselves.
    assert reply.slots == {"customer_id": "C001", "customer_name": "Jane", "order_id": "ORD-10001"}


def test_the_news_is_a_proactive_touchpoint_and_an_offer_cx_can_see(desk):
    event = delayed(desk)
    tell(desk, event, CONVERSATION)
    tell(
        desk, desk.proactive.get(event.id), CONVERSATION
    )  # told again after a retry: one touchpoint
    with desk.handoffs.engine.connect() as conn:
        [row] = conn.execute(select(touchpoints).where(touchpoints.c.channel == "proactive")).all()
    assert (row.conversation_id, row.customer_id, row.outcome) == (
        "proactive:dlv-1",
        "C001",
        "self_served",
    )
    assert json.loads(row.departments) == ["delivery"] and json.loads(row.needs) == ["order_late"]
    assert row.ended_at is not None  # no chat waits on it: never swept as abandoned
    told = desk.proactive.get(event.id)
    assert (told.conversation_id, told.touchpoint_id) == (CONVERSATION, row.id)
    [moment, _] = desk.policy_log.moments(CONVERSATION)
    assert moment.policy == policy_name("shipment.delayed") == "proactive.shipment.delayed"
    assert moment.offered[0] == "keep_new_date"


def test_preferences_shape_the_words(desk):
    desk.journey.record_proactive("seed", "C001", "order_late", "delivery", None)  # C001 known
    desk.preferences.update("C001", name="Ms Doe", formality="formal")
    reply = tell(desk, delayed(desk), CONVERSATION)
    assert (
        reply.messages[0].params["opening"] == "Hello Ms Doe, a quick note from our delivery team:"
    )
    later = tell(desk, delayed(desk, event_id="dlv-2"), CONVERSATION, at_next_contact=True)
    assert later.messages[0].params["opening"] == "Before anything else, Ms Doe:"


def test_keeping_the_new_date_is_self_served_and_flows_back_to_the_event(desk):
    event = delayed(desk)
    tell(desk, event, CONVERSATION)
    reply = choose(desk, "keep_new_date")
    assert reply.responses == ["utter_option_keep_new_date"]
    assert reply.messages[0].params["date"] == "on Friday 14 March"
    assert desk.proactive.get(event.id).choice == "keep_new_date"


def test_cancel_and_refund_a_shipped_order_goes_to_delivery_with_the_refund(desk):
    event = delayed(desk)
    tell(desk, event, CONVERSATION)
    reply = choose(desk, "delay_cancel_refund")
    assert reply.responses == ["utter_option_delay_recalled", "utter_handed_off"]
    assert reply.handoff.department.name == "delivery"
    assert packet(desk, reply.handoff)["refund"] == 34.0
    chosen = desk.proactive.get(event.id)
    assert chosen.choice == "delay_cancel_refund"
    with desk.handoffs.engine.connect() as conn:
        outcome = conn.execute(
            select(touchpoints.c.outcome).where(touchpoints.c.id == chosen.touchpoint_id)
        ).scalar()
    assert outcome == "handed_off"


def test_cancel_and_refund_an_order_still_with_us_is_done_at_once(desk):
    event = delayed(desk, order="ORD-10004", customer="C002")
    tell(desk, event, CONVERSATION)
    reply = choose(desk, "delay_cancel_refund", customer="C002", order="ORD-10004")
    assert reply.responses == ["utter_option_delay_cancelled"] and reply.handoff is None
    assert desk.backoffice.order("ORD-10004").status == "cancelled"
    assert reply.messages[0].params["amount"] == "$249.00"


def test_the_discount_goes_to_billing_with_the_percentage(desk):
    tell(desk, delayed(desk), CONVERSATION)
    reply = choose(desk, "delay_discount")
    assert (
        reply.handoff.department.name == "billing" and packet(desk, reply.handoff)["percent"] == 15
    )


@pytest.mark.parametrize("option", sorted(OFFER_ONLY))
def test_goodwill_is_never_granted_by_a_hand_typed_button(desk, option):
    reply = choose(desk, option, invoice="INV-50005")
    assert reply.responses == ["utter_option_unknown"] and reply.handoff is None


def test_a_failed_payment_offers_a_link_and_more_days(desk):
    body = {"id": "inv-1", "type": "invoice.failed", "invoice_id": "INV-50005"}
    event = taken_in(desk, body, "billing", "C003")
    reply = tell(desk, event, CONVERSATION)
    assert reply.messages[0].params["amount"] == "$29.00"
    assert reply.slots["invoice_id"] == "INV-50005"
    link = choose(desk, "payment_link", customer="C003", order=None, invoice="INV-50005")
    assert link.messages[0].params["link"] == "https://billing.example.com/pay/INV-50005"
    # One choice per offer: a second payment failure is a new offer.
    assert choose(desk, "payment_grace", customer="C003", order=None).handoff is None
    second = {"id": "inv-2", "type": "invoice.failed", "invoice_id": "INV-50005"}
    tell(desk, taken_in(desk, second, "billing", "C003"), CONVERSATION)
    grace = choose(desk, "payment_grace", customer="C003", order=None, invoice="INV-50005")
    assert (
        grace.handoff.department.name == "billing"
        and packet(desk, grace.handoff)["grace_days"] == 7
    )


def test_a_renewal_names_the_plan_date_and_price(desk):
    event = taken_in(
        desk, {"id": "ren-1", "type": "subscription.renewal_due", "customer_id": "C001"}, "billing"
    )
    params = tell(desk, event, CONVERSATION).messages[0].params
    assert (params["plan"], params["price"], params["renews"]) == (
        "Pro",
        "$29.00",
        "on Monday 17 March",
    )


def test_a_delivered_order_offers_the_item_problems_as_buttons(desk):
    event = taken_in(
        desk, {"id": "d-1", "type": "shipment.delivered", "order_id": "ORD-10003"}, "delivery"
    )
    message = tell(desk, event, CONVERSATION).messages[0]
    assert [b["payload"] for b in message.buttons][1:] == [
        "/report_damaged_item", "/report_missing_item", "/request_human"
    ]  # fmt: skip


def test_a_choice_acts_on_the_news_order_whatever_was_discussed_since(desk):
    tell(desk, delayed(desk), CONVERSATION)  # about ORD-10001 ($34)
    # The conversation moved on to ORD-10002 before Jane chose "cancel and refund".
    reply = choose(desk, "delay_cancel_refund", order="ORD-10002")
    assert reply.messages[0].params["order_id"] == "ORD-10001"
    assert packet(desk, reply.handoff)["refund"] == 34.0
