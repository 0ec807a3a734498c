"""Nobody learns anything about another customer: every need, served to an unknown, a
claimed and a verified visitor, against every order of the demo back office."""

from __future__ import annotations

import pytest

from bot.identity.trust import BY_ORDER_EMAIL, CLAIMED, UNKNOWN, VERIFIED, Identity
from bot.support import NeedContext
from bot.support.desk import HANDLERS
from bot.support.outgoing import texts_of
from bot.support.parsing import money

ORDERS = [f"ORD-1000{n}" for n in range(1, 8)]


def personal_fields(desk, customer_id: str) -> set[str]:
    """What only this customer should ever read: name, email, addresses, items, amounts..."""
    bo = desk.backoffice
    customer = bo.customer(customer_id)
    fields = {customer.name, customer.email}
    for order in bo.orders_of(customer_id):
        fields |= {order.address, order.items_text, money(order.total)}
        fields |= set(order.items)
        if order.tracking_number:
            fields.add(order.tracking_number)
    for invoice in bo.invoices_of(customer_id):
        fields |= {invoice.id, money(invoice.amount)}
    # Published prices are no secret, even when an invoice happens to have the same amount.
    public = {money(plan.price) for plan in bo.plans()}
    return {f for f in fields if f and f not in public}


def everything_said(desk, reply) -> str:
    parts = []
    for message in reply.messages:
        parts += [text for text, _ in texts_of(message, desk.outgoing.responses)]
        parts += [str(v) for v in message.params.values()]
        parts += [b.get("title", "") + " " + b.get("payload", "") for b in message.buttons]
    return "\n".join(parts)


def visitor(desk, need, order_id, identity, customer=None, conversation="walk"):
    order = desk.check_order(order_id, customer).order
    return NeedContext(
        need=need,
        conversation_id=conversation,
        text=f"help with {order_id}",
        customer=desk.customer(customer),
        order=order,
        email="jane.doe@example.com" if identity.trust == CLAIMED else None,
        identity=identity,
    )


@pytest.mark.parametrize(
    "identity",
    [Identity(UNKNOWN), Identity(CLAIMED, claimed="jane.doe@example.com")],
    ids=["unknown", "claimed"],
)
def test_a_visitor_who_is_not_verified_learns_nothing_personal(desk, identity):
    everyone = {c: personal_fields(desk, c) for c in ("C001", "C002", "C003", "C004", "C005")}
    leaks = []
    for need in sorted(HANDLERS):
        for order_id in ORDERS:
            reply = desk.serve(visitor(desk, need, order_id, identity))
            said = everything_said(desk, reply)
            for customer, fields in everyone.items():
                leaks += [(need, order_id, customer, f) for f in fields if f in said]
    assert leaks == []


def test_a_verified_customer_learns_nothing_of_anyone_else(desk):
    jane = Identity(VERIFIED, "C001", BY_ORDER_EMAIL)
    others = set().union(*(personal_fields(desk, c) for c in ("C002", "C003", "C004", "C005")))
    leaks = []
    for need in sorted(HANDLERS):
        for order_id in ORDERS:
            reply = desk.serve(visitor(desk, need, order_id, jane, customer="C001"))
            said = everything_said(desk, reply)
            leaks += [(need, order_id, f) for f in others if f in said]
    assert leaks == []


def test_the_tracker_answer_is_status_and_day_only(desk):
    reply = desk.serve(visitor(desk, "order_status", "ORD-10006", Identity(UNKNOWN)))
    assert reply.responses == ["utter_tracker_delivered", "utter_tracker_more_when_verified"]
    assert set(reply.messages[0].params) == {"order_id", "delivered"}
    late = desk.serve(visitor(desk, "order_status", "ORD-10002", Identity(UNKNOWN)))
    assert late.responses[0] == "utter_tracker_late" and late.handoff is None


def test_a_change_or_an_option_asks_for_verification_and_changes_nothing(desk):
    before = desk.backoffice.order("ORD-10004")
    for need in ("cancel_order", "change_delivery_address", "change_delivery_date"):
        reply = desk.serve(visitor(desk, need, "ORD-10004", Identity(UNKNOWN)))
        assert reply.responses == ["utter_verify_first"] and reply.handoff is None
    option = NeedContext(
        need="cancel_order",
        conversation_id="walk",
        order=desk.backoffice.order("ORD-10004"),
        option="delay_cancel_refund",
    )
    assert desk.carry_out(option).responses == ["utter_verify_first"]
    assert desk.backoffice.order("ORD-10004") == before
