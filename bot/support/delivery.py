"""Delivery needs: where is my order, late, not received, damaged, returns, changes."""

from __future__ import annotations

from typing import TYPE_CHECKING

from bot.backoffice.model import CANCELLED, DELIVERED
from bot.support.parsing import day_text
from bot.support.replies import Message, NeedContext, Reply, button, outside_policy

if TYPE_CHECKING:
    from bot.support.desk import SupportDesk


def order_status(desk: SupportDesk, ctx: NeedContext) -> Reply:
    order, today = ctx.order, desk.today()
    reply = Reply()
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
        )
    return reply.say(
        "utter_order_on_its_way",
        order_id=order.id,
        items=order.items_text,
        carrier=order.carrier,
        tracking=order.tracking_number,
        expected=day_text(order.expected_delivery, today),
        last_scan=order.last_scan or "in transit",
    )


def order_late(desk: SupportDesk, ctx: NeedContext) -> Reply:
    if ctx.order.is_late(desk.today()):
        return _late(desk, ctx)
    return order_status(desk, ctx)


def _late(desk: SupportDesk, ctx: NeedContext) -> Reply:
    order, today = ctx.order, desk.today()
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


def order_not_received(desk: SupportDesk, ctx: NeedContext) -> Reply:
    order, today = ctx.order, desk.today()
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


def _item_problem(problem: str, what: str):
    def handle(desk: SupportDesk, ctx: NeedContext) -> Reply:
        order = ctx.order
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


def _after_dispatch(desk: SupportDesk, ctx: NeedContext) -> bool:
    return not desk.decide("change_before_dispatch", ctx, dispatched=ctx.order.dispatched).within


def change_delivery_address(desk: SupportDesk, ctx: NeedContext) -> Reply:
    order = ctx.order
    if _after_dispatch(desk, ctx):
        # One alternative, and plainly what the customer wants: do it rather than ask.
        handoff = desk.hand_off(
            ctx,
            f"{order.id} already shipped with {order.carrier}; ask the carrier to redirect it.",
            new_address=ctx.new_address,
        )
        reply = Reply().say(
            "utter_address_change_after_dispatch",
            order_id=order.id,
            carrier=order.carrier or "the carrier",
        )
        return desk.handed_off(reply, handoff)
    updated = desk.backoffice.change_address(order.id, ctx.new_address)
    return Reply().say("utter_address_changed", order_id=order.id, address=updated.address)


def change_delivery_date(desk: SupportDesk, ctx: NeedContext) -> Reply:
    order, today = ctx.order, desk.today()
    if order.dispatched:
        handoff = desk.hand_off(
            ctx, f"{order.id} already shipped; ask {order.carrier} to hold or reschedule it."
        )
        reply = Reply().say(
            "utter_date_change_after_dispatch",
            order_id=order.id,
            carrier=order.carrier or "the carrier",
        )
        return desk.handed_off(reply, handoff)
    if ctx.new_date is None or ctx.new_date <= today:
        return Reply(slots={"new_date": None}).say("utter_date_not_understood")
    updated = desk.backoffice.change_delivery_date(order.id, ctx.new_date)
    return Reply().say(
        "utter_date_changed", order_id=order.id, date=day_text(updated.expected_delivery, today)
    )


def delivery_options(desk: SupportDesk, ctx: NeedContext) -> Reply:
    return Reply().say("utter_delivery_options")


def return_item(desk: SupportDesk, ctx: NeedContext) -> Reply:
    order, today = ctx.order, desk.today()
    if order.status != DELIVERED:
        return Reply().say("utter_return_before_delivery", order_id=order.id)
    days_since = (today - order.delivered_at).days
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
        days_left=int(desk.policies.policies["return_window"].max) - days_since,
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
}


def _return_exception(desk: SupportDesk, ctx: NeedContext) -> Reply:
    if ctx.order is None:
        return Reply().say("utter_option_needs_customer")
    handoff = desk.hand_off(
        ctx,
        f"Return requested for {ctx.order.id} outside the return window: review as an exception.",
        department="delivery",
    )
    return desk.handed_off(Reply().say("utter_option_exception_review"), handoff)


def _carrier_redirect(desk: SupportDesk, ctx: NeedContext) -> Reply:
    if ctx.order is None:
        return Reply().say("utter_option_needs_customer")
    return change_delivery_address(desk, ctx)


OPTIONS = {"return_exception": _return_exception, "carrier_redirect": _carrier_redirect}
