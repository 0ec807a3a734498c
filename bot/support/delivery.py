"""Delivery needs: where is my order, late, not received, damaged, returns, changes."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from bot.backoffice.model import CANCELLED, DELIVERED, Order
from bot.support.confirm import unless_confirmed
from bot.support.handler import Desk, Handler, MissingDetail, delivered_on, limit_of, order_of
from bot.support.open_work import when
from bot.support.parsing import day_text, money
from bot.support.replies import (
    REFUND_DAYS,
    Message,
    NeedContext,
    Reply,
    button,
    outside_policy,
)


def order_status(desk: Desk, ctx: NeedContext) -> Reply:
    order, today = order_of(ctx), desk.today()
    reply = _delay_known(desk, ctx)
    if order.status == CANCELLED:
        return reply.say("utter_order_cancelled", order_id=order.id)
    if order.status == DELIVERED:
        return reply.say(
            "utter_order_delivered",
            buttons=[
                button("It isn't here", "order_not_received"),
                button("Something's wrong with it", "report_damaged_item"),
            ],
            order_id=order.id,
            items=order.items_text,
            delivered=day_text(order.delivered_at, today),
            address=order.address,
        )
    if order.is_late(today):
        return _late(desk, ctx)
    if not order.dispatched:
        return reply.say(
            "utter_order_preparing",
            order_id=order.id,
            items=order.items_text,
            expected=day_text(order.expected_delivery, today),
            address=order.address,
        )
    return reply.say(
        "utter_order_on_its_way",
        order_id=order.id,
        items=order.items_text,
        carrier=order.carrier,
        tracking=order.tracking_number,
        expected=day_text(order.expected_delivery, today),
        last_scan=order.last_scan or "in transit",
        address=order.address,
    )


def _delay_known(desk: Desk, ctx: NeedContext) -> Reply:
    """A reply that starts with the delay the delivery team reported, unless this very
    conversation was already told it (the news came first: the answer then only carries
    the new date)."""
    reply = Reply()
    order = order_of(ctx)
    known = ctx.order_facts
    if known is None or known.order != order:
        # Not read with this very order (a context built by hand, or about another order).
        known = desk.facts.order(order)
    delay = known.delay
    if delay is None or delay.conversation_id == ctx.conversation_id:
        return reply
    reason = delay.details.get("reason")
    return reply.say(
        "utter_order_delay_known",
        department=delay.department,
        told=when(delay.received_at, desk.now()),
        because=f" ({reason})" if reason else "",
        new_date=day_text(order.expected_delivery, desk.today()),
    )


def tracker_view(desk: Desk, ctx: NeedContext) -> Reply:
    """What a parcel tracker shows anyone with the order number: its status and expected
    day, no items, address, amounts or names; then how to get more (verification)."""
    order, today = order_of(ctx), desk.today()
    reply = Reply()
    if order.status == CANCELLED:
        reply.say("utter_tracker_cancelled", order_id=order.id)
    elif order.status == DELIVERED:
        reply.say(
            "utter_tracker_delivered",
            order_id=order.id,
            delivered=day_text(order.delivered_at, today),
        )
    elif order.is_late(today):
        reply.say(
            "utter_tracker_late",
            order_id=order.id,
            expected=day_text(order.expected_delivery, today),
        )
    elif not order.dispatched:
        reply.say(
            "utter_tracker_preparing",
            order_id=order.id,
            expected=day_text(order.expected_delivery, today),
        )
    else:
        reply.say(
            "utter_tracker_on_its_way",
            order_id=order.id,
            expected=day_text(order.expected_delivery, today),
        )
    # What more we can do once it's them: chase a late order, or anything about it.
    more = (
        "utter_tracker_late_chase" if order.is_late(today) else "utter_tracker_more_when_verified"
    )
    return reply.say(more, order_id=order.id)


def order_late(desk: Desk, ctx: NeedContext) -> Reply:
    if order_of(ctx).is_late(desk.today()):
        return _late(desk, ctx)
    return order_status(desk, ctx)


def _late(desk: Desk, ctx: NeedContext) -> Reply:
    order, today = order_of(ctx), desk.today()
    handoff = desk.hand_off(
        ctx,
        f"{order.id} is late: promised {order.expected_delivery}, last scan '{order.last_scan}'. Chase the carrier.",
        priority="high",
        carrier=order.carrier,
        tracking=order.tracking_number,
        expected_delivery=str(order.expected_delivery),
    )
    reply = Reply().say(
        "utter_order_late",
        order_id=order.id,
        expected=day_text(order.expected_delivery, today),
        last_scan=order.last_scan or "no recent scan",
    )
    return desk.handed_off(reply, handoff)


def order_not_received(desk: Desk, ctx: NeedContext) -> Reply:
    order, today = order_of(ctx), desk.today()
    if order.status != DELIVERED:
        return order_status(desk, ctx)
    handoff = desk.hand_off(
        ctx,
        f"{order.id} marked delivered {order.delivered_at} by {order.carrier} but the customer has not received it. Open a carrier trace.",
        priority="high",
        carrier=order.carrier,
        tracking=order.tracking_number,
    )
    reply = Reply().say(
        "utter_order_trace_opened",
        order_id=order.id,
        delivered=day_text(order.delivered_at, today),
        carrier=order.carrier,
    )
    return desk.handed_off(reply, handoff)


def _item_problem(problem: str, what: str) -> Handler:
    def handle(desk: Desk, ctx: NeedContext) -> Reply:
        order = order_of(ctx)
        if order.status != DELIVERED:
            status = order_status(desk, ctx)
            status.messages.insert(
                0, Message("utter_order_not_arrived_yet", {"order_id": order.id})
            )
            return status
        handoff = desk.hand_off(
            ctx,
            f"{what} in {order.id} ({order.items_text}). Send a replacement or refund, customer's choice.",
        )
        reply = Reply().say(
            "utter_item_problem", problem=problem, order_id=order.id, items=order.items_text
        )
        return desk.handed_off(reply, handoff)

    return handle


def change_delivery_address(desk: Desk, ctx: NeedContext) -> Reply:
    order = order_of(ctx)
    decision = desk.decide("address_change_before_dispatch", ctx, dispatched=order.dispatched)
    if not decision.within:
        return outside_policy(
            "utter_address_change_after_dispatch",
            decision,
            order_id=order.id,
            carrier=order.carrier or "the carrier",
            address=ctx.new_address or "your new address",
        )
    today = desk.today()
    # A new day said with the new address ("... and on 15 December instead") is asked and
    # made with it: one question, one yes.
    new_date = ctx.new_date if ctx.new_date and ctx.new_date > today else None
    if new_date is None:
        ask = unless_confirmed(
            ctx, "utter_confirm_address_change", order_id=order.id, address=ctx.new_address
        )
    else:
        ask = unless_confirmed(
            ctx,
            "utter_confirm_address_and_date_change",
            order_id=order.id,
            address=ctx.new_address,
            date=day_text(new_date, today),
        )
    if ask is not None:
        return ask
    updated = desk.backoffice.change_address(order.id, _new_address(ctx))
    reply = Reply().say("utter_address_changed", order_id=order.id, address=updated.address)
    if new_date is not None:
        moved = desk.backoffice.change_delivery_date(order.id, new_date)
        reply.say(
            "utter_date_changed", order_id=order.id, date=day_text(moved.expected_delivery, today)
        )
    return reply


def _new_address(ctx: NeedContext) -> str:
    """The address the customer said yes to (a yes is taken only with one: confirm.py)."""
    if ctx.new_address is None:
        raise MissingDetail(f"{ctx.need}: confirmed without a new address")
    return ctx.new_address


def change_delivery_date(desk: Desk, ctx: NeedContext) -> Reply:
    order, today = order_of(ctx), desk.today()
    decision = desk.decide("date_change_before_dispatch", ctx, dispatched=order.dispatched)
    if not decision.within:
        return outside_policy(
            "utter_date_change_after_dispatch",
            decision,
            order_id=order.id,
            carrier=order.carrier or "the carrier",
        )
    if ctx.new_date is None or ctx.new_date <= today:
        return Reply(slots={"new_date": None}).say("utter_date_not_understood")
    ask = unless_confirmed(
        ctx,
        "utter_confirm_date_change",
        order_id=order.id,
        date=day_text(ctx.new_date, today),
        expected=day_text(order.expected_delivery, today),
    )
    if ask is not None:
        return ask
    updated = desk.backoffice.change_delivery_date(order.id, ctx.new_date)
    return Reply().say(
        "utter_date_changed", order_id=order.id, date=day_text(updated.expected_delivery, today)
    )


def cancel_order(desk: Desk, ctx: NeedContext) -> Reply:
    order, today = order_of(ctx), desk.today()
    if order.status == CANCELLED:
        return Reply().say("utter_order_cancelled", order_id=order.id)
    if order.status == DELIVERED:
        # Once it has arrived, "cancel" means "send it back": the return path says how.
        returned = return_item(desk, ctx)
        returned.messages.insert(0, Message("utter_cancel_order_delivered", {"order_id": order.id}))
        return returned
    decision = desk.decide("no_cancel_after_shipment", ctx, dispatched=order.dispatched)
    if not decision.within:
        return outside_policy(
            "utter_cancel_after_shipment",
            decision,
            order_id=order.id,
            carrier=order.carrier or "the carrier",
            expected=day_text(order.expected_delivery, today),
        )
    ask = unless_confirmed(
        ctx,
        "utter_confirm_cancel_order",
        order_id=order.id,
        items=", ".join(order.items) or order.id,
        amount=money(order.total),
        refund_days=REFUND_DAYS,
    )
    if ask is not None:
        return ask
    return cancel_and_refund(desk, order, "utter_order_cancelled_now")


def cancel_and_refund(desk: Desk, order: Order, response: str) -> Reply:
    """Cancel an order still with us and refund it in full, at once; ``response`` says so."""
    desk.backoffice.cancel_order(order.id)
    refund = desk.backoffice.request_refund(order.id, order.total)
    return Reply().say(
        response, order_id=order.id, amount=money(refund.amount), refund_days=REFUND_DAYS
    )


def expedite_order(desk: Desk, ctx: NeedContext) -> Reply:
    order, today = order_of(ctx), desk.today()
    if order.dispatched:
        # Already with the carrier (or delivered): the best answer is where it is now.
        status = order_status(desk, ctx)
        if order.status not in (DELIVERED, CANCELLED):
            status.messages.insert(
                0, Message("utter_expedite_already_shipped", {"order_id": order.id})
            )
        return status
    # The express fee is waived only by an alternative (for valued customers), never assumed.
    decision = desk.decide("express_for_a_fee", ctx, express_paid=False)
    return outside_policy(
        "utter_express_offer",
        decision,
        order_id=order.id,
        expected=day_text(order.expected_delivery, today),
        express=day_text(express_date(desk), today),
        fee=money(express_fee(desk)),
    )


def express_date(desk: Desk) -> date:
    """Express delivery arrives the next working day."""
    day = desk.today() + timedelta(days=1)
    while day.weekday() >= 5:
        day += timedelta(days=1)
    return day


def express_fee(desk: Desk) -> float:
    return float(desk.policies.policies["express_for_a_fee"].terms["express_fee"])


def delivery_options(desk: Desk, ctx: NeedContext) -> Reply:
    return Reply().say("utter_delivery_options")


def return_item(desk: Desk, ctx: NeedContext) -> Reply:
    order, today = order_of(ctx), desk.today()
    if order.status != DELIVERED:
        return Reply().say("utter_return_before_delivery", order_id=order.id)
    days_since = (today - delivered_on(order)).days
    decision = desk.decide("return_window", ctx, days_since_delivery=days_since)
    if not decision.within:
        return outside_policy(
            "utter_return_outside_window", decision, order_id=order.id, days=days_since
        )
    label = desk.backoffice.create_return_label(order.id)
    return Reply().say(
        "utter_return_label",
        order_id=order.id,
        items=order.items_text,
        label_url=label.label_url,
        days_left=int(limit_of(desk, "return_window")) - days_since,
    )


HANDLERS = {
    "order_status": order_status,
    "order_late": order_late,
    "order_not_received": order_not_received,
    "report_damaged_item": _item_problem("arrived damaged", "Item(s) arrived damaged"),
    "report_wrong_item": _item_problem("isn't what you ordered", "Wrong item sent"),
    "report_missing_item": _item_problem("is missing something", "Item(s) missing from the parcel"),
    "change_delivery_address": change_delivery_address,
    "change_delivery_date": change_delivery_date,
    "delivery_options": delivery_options,
    "return_item": return_item,
    "cancel_order": cancel_order,
    "expedite_order": expedite_order,
}
REQUIRES = {
    "order_status": ("order",),
    "order_late": ("order",),
    "order_not_received": ("order",),
    "report_damaged_item": ("order",),
    "report_wrong_item": ("order",),
    "report_missing_item": ("order",),
    "change_delivery_address": ("order", "new_address"),
    "change_delivery_date": ("order", "new_date"),
    "return_item": ("order",),
    "cancel_order": ("order",),
    "expedite_order": ("order",),
}


# -- options the customer can pick ("here's what we can do") ---------------------------
def _delivery_option(summary: str, response: str, **extra: Any) -> Handler:
    """An option our delivery team carries out: hand it over with the whole context."""

    def handle(desk: Desk, ctx: NeedContext) -> Reply:
        order = ctx.order
        if order is None:
            return Reply().say("utter_option_needs_order")
        carrier = order.carrier or "the carrier"
        handoff = desk.hand_off(
            ctx,
            summary.format(order_id=order.id, carrier=carrier, address=ctx.new_address),
            department="delivery",
            option=ctx.option,
            carrier=order.carrier,
            tracking=order.tracking_number,
            **({"new_address": ctx.new_address} if ctx.new_address else {}),
        )
        params: dict[str, Any] = {
            "order_id": order.id,
            "carrier": carrier,
            "address": ctx.new_address,
        }
        return desk.handed_off(Reply().say(response, **params), handoff)

    return handle


def _return_on_arrival(desk: Desk, ctx: NeedContext) -> Reply:
    """A prepaid return label now, so the order can go straight back when it arrives."""
    if ctx.order is None:
        return Reply().say("utter_option_needs_order")
    label = desk.backoffice.create_return_label(ctx.order.id)
    return Reply().say(
        "utter_option_return_on_arrival",
        order_id=ctx.order.id,
        label_url=label.label_url,
        refund_days=REFUND_DAYS,
    )


def _express(free: bool) -> Handler:
    def handle(desk: Desk, ctx: NeedContext) -> Reply:
        order = ctx.order
        if order is None:
            return Reply().say("utter_option_needs_order")
        if order.dispatched:
            return order_status(desk, ctx)
        updated = desk.backoffice.change_delivery_date(order.id, express_date(desk))
        fee = 0.0 if free else express_fee(desk)
        if fee:
            # Billing adds the fee to the order's invoice; the customer has agreed to it.
            desk.hand_off(
                ctx,
                f"Customer chose express delivery for {order.id}: charge the {money(fee)} express fee.",
                department="billing",
                option=ctx.option,
                fee=fee,
            )
        return Reply().say(
            "utter_option_express",
            order_id=order.id,
            date=day_text(updated.expected_delivery, desk.today()),
            charge=f"the {money(fee)} express fee is added to your invoice"
            if fee
            else "express is on us, as a thank-you for being with us",
        )

    return handle


def _return_exception(desk: Desk, ctx: NeedContext) -> Reply:
    if ctx.order is None:
        return Reply().say("utter_option_needs_order")
    handoff = desk.hand_off(
        ctx,
        f"Return requested for {ctx.order.id} outside the return window: review as an exception.",
        department="delivery",
    )
    return desk.handed_off(Reply().say("utter_option_exception_review"), handoff)


OPTIONS = {
    "return_exception": _return_exception,
    "repair_service": _delivery_option(
        "{order_id} is past the return window: arrange a repair or check-up under warranty.",
        "utter_option_repair_service",
    ),
    "carrier_redirect": _delivery_option(
        "{order_id} already shipped with {carrier}: ask {carrier} to redirect it to {address}.",
        "utter_option_carrier_redirect",
    ),
    "hold_at_depot": _delivery_option(
        "{order_id} already shipped with {carrier}: ask {carrier} to hold it at their depot for pick-up.",
        "utter_option_hold_at_depot",
    ),
    "carrier_reschedule": _delivery_option(
        "{order_id} already shipped with {carrier}: ask {carrier} to deliver on a day that suits the customer.",
        "utter_option_carrier_reschedule",
    ),
    "carrier_recall": _delivery_option(
        "Customer cancelled {order_id} after it shipped: ask {carrier} to return it to us, refund in full when it is back.",
        "utter_option_carrier_recall",
    ),
    "return_on_arrival": _return_on_arrival,
    "paid_express": _express(free=False),
    "free_express": _express(free=True),
}
