"""Nobody learns anything about another customer: every need, served to an unknown, a
claimed and a verified visitor, against every order of the demo back office; with what
departments know or are doing about every customer (one truth: a delay and its reason, open
work acknowledged by someone with a promise, a resolved handoff's note, a failed invoice)
in the journey database, so the answers that quote it are walked too."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest

from bot.backoffice.model import CANCELLED, DELIVERED
from bot.handoff import HandoffRequest
from bot.hub.store import HubStore
from bot.identity.trust import BY_ORDER_EMAIL, CLAIMED, UNKNOWN, VERIFIED, Identity
from bot.proactive.outcomes import outcome_event
from bot.support import NeedContext
from bot.support.needs import HANDLERS
from bot.support.outgoing import texts_of
from bot.support.parsing import money
from tests.conftest import NOW, TODAY

ORDERS = [f"ORD-1000{n}" for n in range(1, 8)]
CUSTOMERS = ("C001", "C002", "C003", "C004", "C005")
REFERENCE = re.compile(r"\bH-(\d+)\b")


def one_truth_for_everyone(desk) -> dict[str, set[str]]:
    """What departments know or do about every demo customer, stored as the hub and the
    desk store it; per customer, what of it only they may hear (words and handoff refs)."""
    bo = desk.backoffice
    hub = HubStore(desk.handoffs.engine, now=lambda: NOW)
    secrets: dict[str, set[str]] = {}
    for cid in CUSTOMERS:
        mine: set[str] = set()
        for order in bo.orders_of(cid):
            late = order.is_late(TODAY)
            if order.status not in (DELIVERED, CANCELLED) and not late:
                reason = f"a storm at depot {cid}{order.id[-2:]}"
                body = {"id": f"delay-{order.id}", "type": "shipment.delayed",
                        "order_id": order.id, "reason": reason,
                        "new_date": str(order.expected_delivery + timedelta(days=3))}  # fmt: skip
                desk.proactive.take_in(desk.events.check("delivery", body), cid)
                mine.add(reason)
            # Open work on every order, acknowledged by a named person with a promise, about
            # the need its answer hands over (so the walk joins it).
            need = "order_late" if late else "order_not_received"
            chase = desk.handoffs.hand_off(
                HandoffRequest(
                    department="delivery",
                    need=need,
                    conversation_id=f"earlier-{order.id}",
                    summary="Chase it.",
                    customer_id=cid,
                    order_id=order.id,
                )
            )
            acknowledged = hub.transition(
                chase.id, "acknowledge", by=f"Dana{cid}", promised_by=NOW + timedelta(days=2)
            )
            desk.proactive.take_in(
                outcome_event(acknowledged, "acknowledge", f"on it for {cid}"), cid, "delivery"
            )
            mine |= {f"Dana{cid}", f"on it for {cid}", f"H-{chase.id}"}
        for invoice in bo.invoices_of(cid):
            if invoice.status == "open":
                body = {"id": f"failed-{invoice.id}", "type": "invoice.failed",
                        "invoice_id": invoice.id}  # fmt: skip
                desk.proactive.take_in(desk.events.check("billing", body), cid)
        # A billing request resolved lately with a note for the customer (refund_status).
        first = next(iter(bo.orders_of(cid)), None)
        done = desk.handoffs.hand_off(
            HandoffRequest(
                department="billing",
                need="request_refund",
                conversation_id=f"earlier-refund-{cid}",
                summary="Exception review.",
                customer_id=cid,
                order_id=first.id if first else None,
            )
        )
        note = f"exception approved for {cid}, refund on its way"
        resolved = hub.transition(done.id, "resolve", "approved", customer_note=note)
        desk.proactive.take_in(outcome_event(resolved, "resolve", note), cid, "billing")
        mine |= {note, f"H-{done.id}"}
        secrets[cid] = mine
    return secrets


def refs_in(said: str) -> set[str]:
    return {f"H-{n}" for n in REFERENCE.findall(said)}


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
    one_truth = one_truth_for_everyone(desk)
    refs = {c: {f for f in one_truth[c] if REFERENCE.fullmatch(f)} for c in CUSTOMERS}
    everyone = {c: personal_fields(desk, c) | (one_truth[c] - refs[c]) for c in CUSTOMERS}
    leaks = []
    for need in sorted(HANDLERS):
        for order_id in ORDERS:
            reply = desk.serve(visitor(desk, need, order_id, identity))
            said = everything_said(desk, reply)
            for customer, fields in everyone.items():
                leaks += [(need, order_id, customer, f) for f in fields if f in said]
                # A handoff of theirs (their open work), by its exact reference.
                leaks += [(need, order_id, customer, r) for r in refs_in(said) & refs[customer]]
    assert leaks == []


def test_a_verified_customer_learns_nothing_of_anyone_else(desk):
    one_truth = one_truth_for_everyone(desk)
    jane = Identity(VERIFIED, "C001", BY_ORDER_EMAIL)
    others = set().union(*(personal_fields(desk, c) | one_truth[c] for c in CUSTOMERS[1:]))
    their_refs = {f for f in others if REFERENCE.fullmatch(f)}
    others -= their_refs
    leaks, joined, heard = [], set(), set()
    for need in sorted(HANDLERS):
        for order_id in ORDERS:
            reply = desk.serve(visitor(desk, need, order_id, jane, customer="C001"))
            said = everything_said(desk, reply)
            leaks += [(need, order_id, f) for f in others if f in said]
            leaks += [(need, order_id, ref) for ref in refs_in(said) & their_refs]
            if reply.handoff is not None and reply.handoff.joined:
                joined.add(reply.handoff.id)
            heard |= {f for f in one_truth["C001"] if f in said}
    assert leaks == []
    # The walk did reach the answers that quote what departments know: Jane's own open work
    # (who acknowledged it), her delay's reason, billing's note; never anyone else's.
    assert joined and {f"H-{n}" for n in joined} <= one_truth["C001"]
    assert {"DanaC001", "a storm at depot C00101"} <= heard
    assert any(f.startswith("exception approved for C001") for f in heard)


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
