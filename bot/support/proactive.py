"""A department's news, told to the customer before they ask, and what they choose next.

``tell`` words the news for this customer (their chosen name and formality, "Before anything
else" when it waited for their next contact), offers "here's what we can do" as buttons,
and records it: a policy moment named ``proactive.<event type>`` (so the customer's choice
is carried out by the desk like any other option, and CX sees what people choose) and a
``proactive`` touchpoint in the journey with the event's department.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import date, datetime, timedelta
from typing import Protocol

from bot.backoffice import Customer, NotFound
from bot.handoff import HandoffDesk
from bot.journey.store import JourneyStore
from bot.policies.engine import Decision
from bot.policies.moments import PolicyLog
from bot.preferences import PreferenceStore
from bot.proactive import outcomes
from bot.proactive.events import EventCatalogue
from bot.proactive.store import ProactiveEvent, ProactiveStore
from bot.support.delivery import cancel_and_refund
from bot.support.handler import Desk, OrderCheck
from bot.support.open_work import capitalised, when
from bot.support.parsing import day_text, money
from bot.support.replies import (
    NEED_LABELS,
    REFUND_DAYS,
    NeedContext,
    Reply,
    button,
    option_buttons,
)

POLICY_PREFIX = "proactive."
# Options that are goodwill: carried out only when the news offered them (a hand-typed
# button payload must not grant them).
OFFER_ONLY = frozenset({"delay_discount", "delay_cancel_refund", "payment_grace"})


class NewsDesk(Desk, Protocol):
    """What telling a department's news, and carrying out what it offers, use of the desk:
    a department handler's part, and the news, the journey and the customer's ways."""

    @property
    def events(self) -> EventCatalogue:
        """The event types departments report, with their options and terms."""

    @property
    def proactive(self) -> ProactiveStore:
        """The events reported, and where each was told."""

    @property
    def journey(self) -> JourneyStore:
        """The touchpoints of every journey."""

    @property
    def preferences(self) -> PreferenceStore:
        """How each customer likes to be addressed and contacted."""

    @property
    def policy_log(self) -> PolicyLog:
        """What was offered in each conversation, and what was chosen."""

    @property
    def handoffs(self) -> HandoffDesk:
        """The departments and the handoffs to them."""

    def customer(self, customer_id: str | None) -> Customer | None:
        """The customer with that id, or None."""

    def check_order(self, raw_order_id: str | None, customer_id: str | None) -> OrderCheck:
        """Accept an order number only if it exists and belongs to the known customer."""

    def stage_of(self, need: str | None, customer: Customer | None) -> str:
        """The journey stage of a touchpoint about ``need``."""


# An option offered by the news: it may read the news and its terms.
NewsOption = Callable[[NewsDesk, NeedContext], Reply]


def policy_name(event_type: str) -> str:
    """The policy moment's name for news of ``event_type``: ``proactive.<type>``."""
    return f"{POLICY_PREFIX}{event_type}"


def news_type(policy: str) -> str:
    """The event type a ``proactive.<type>`` policy moment is about."""
    return policy[len(POLICY_PREFIX) :]


def tell(
    desk: NewsDesk,
    event: ProactiveEvent,
    conversation_id: str,
    at_next_contact: bool = False,
    remember_order: bool = True,
) -> Reply:
    """The news of ``event`` for its customer in ``conversation_id``, recorded in the journey.

    The conversation then knows the event's order or invoice (``remember_order``), so "where
    is it now?" needs no number; not when the news comes first in a turn where the customer
    raised a need of their own, which may be about another order.
    """
    event_type = desk.events.types[event.type]
    # A handoff's outcome is about the handoff's own need (bot/proactive/outcomes.py).
    need = event.details.get("need") or event_type.need
    customer = desk.customer(event.customer_id)
    prefs = desk.preferences.get(event.customer_id)
    name = prefs.address(customer.name if customer else None)
    if at_next_contact:
        opening = f"Before anything else{', ' + name if name else ''}:"
    else:
        hello = "Hello" if prefs.formality == "formal" else "Hi"
        opening = (
            f"{hello} {name}, a quick note from our {event.department} team:"
            if name
            else (f"{hello}, a quick note from our {event.department} team:")
        )
    facts = _facts(desk, event)
    buttons = option_buttons(event_type.options)
    if event_type.buttons:
        needs = [button(NEED_LABELS.get(n, n), n) for n in event_type.buttons]
        buttons = buttons[:-1] + needs + buttons[-1:]  # "Talk to a person" stays last
    slots = {"customer_id": event.customer_id}
    if customer is not None:
        slots["customer_name"] = name or customer.first_name
    if remember_order and event.order_id:
        slots["order_id"] = event.order_id
    if remember_order and event.invoice_id:
        slots["invoice_id"] = event.invoice_id
    reply = Reply(slots=slots).say(event_type.response, buttons=buttons, opening=opening, **facts)

    desk.policy_log.offered(
        conversation_id,
        event.customer_id,
        need,
        Decision(
            policy_name(event.type),
            within=False,
            reason=f"{event.type} ({event.event_id})",
            alternatives=event_type.options,
        ),
    )
    touchpoint_id = desk.journey.record_proactive(
        event.event_id,
        event.customer_id,
        need,
        event.department,
        desk.stage_of(need, customer),
        event.order_id,
        customer.name if customer else None,
        customer.tier if customer else None,
    )
    desk.proactive.attach(event.id, conversation_id, touchpoint_id)
    return reply


def about_the_news(desk: NewsDesk, ctx: NeedContext, policy: str) -> NeedContext:
    """``ctx`` for a choice offered by the news: its order and invoice are the event's own,
    whatever the conversation talked about since; the event itself as ``ctx.news``."""
    event = desk.proactive.open_offer(ctx.conversation_id, news_type(policy))
    if event is None:
        return ctx
    if ctx.customer is not None and ctx.customer.id != event.customer_id:
        # Someone else's news in this chat: their order and invoice are not this customer's.
        return replace(ctx, order=None, invoice_id=None, news=event)
    order = desk.check_order(event.order_id, event.customer_id).order if event.order_id else None
    return replace(
        ctx,
        customer=ctx.customer or desk.customer(event.customer_id),
        order=order or ctx.order,
        invoice_id=event.invoice_id or ctx.invoice_id,
        news=event,
    )


def chosen(desk: NewsDesk, event: ProactiveEvent | None, option: str, reply: Reply) -> None:
    """The customer took ``option`` from the news of ``event`` (as ``about_the_news`` found
    it): the event and its touchpoint say so."""
    if event is None:
        return
    desk.proactive.chose(event.id, option)
    if event.touchpoint_id is not None and reply.handoff is not None:
        department = reply.handoff.department.name
        outcome = "escalated" if department == "support" else "handed_off"
        desk.journey.note_outcome(event.touchpoint_id, outcome, department)


def _facts(desk: NewsDesk, event: ProactiveEvent) -> dict[str, str]:
    """What the response quotes, in words: dates, amounts, the plan."""
    today = desk.today()
    details = event.details
    facts: dict[str, str] = {
        "order_id": event.order_id or "",
        "invoice_id": event.invoice_id or "",
        "refund_days": REFUND_DAYS,
    }
    if "new_date" in details:
        facts["new_date"] = _on(date.fromisoformat(details["new_date"]), today)
    facts["because"] = f" ({details['reason']})" if details.get("reason") else ""
    if "amount" in details:
        facts["amount"] = money(details["amount"])
    if event.order_id and event.type == "shipment.delivered":
        order = desk.check_order(event.order_id, event.customer_id).order
        facts["delivered"] = day_text(order.delivered_at if order else today, today)
    if event.invoice_id:
        try:
            facts["amount"] = money(desk.backoffice.invoice(event.invoice_id).amount)
        except NotFound:  # gone from the back office since: the news still goes out
            facts.setdefault("amount", "the amount due")
    if event.type in outcomes.TYPES:
        department = desk.handoffs.department(event.department)
        facts["team"] = capitalised(department.title if department else "our team")
        facts["reference"] = f"H-{details['handoff_id']}"
        facts["note"] = details.get("note") or ""
        if event.type == outcomes.ACKNOWLEDGED:
            facts["by"] = f" ({details['by']})" if details.get("by") else ""
            facts["note"] = f" {facts['note']}" if facts["note"] else ""
            due = datetime.fromisoformat(details["due"]) if details.get("due") else None
            facts["due"] = when(due, desk.now()) if due else "the time they gave"
    if event.type == "subscription.renewal_due":
        sub = desk.backoffice.subscription_of(event.customer_id)
        facts["plan"] = sub.plan.title() if sub else "current"
        facts["price"] = money(sub.price) if sub else "the usual price"
        facts["renews"] = _on(sub.renews_at, today) if sub and sub.renews_at else "soon"
    return facts


def _on(day: date, today: date) -> str:
    text = day_text(day, today)
    return text if text in ("today", "tomorrow", "yesterday") else f"on {text}"


# -- options the news offers ----------------------------------------------------------
def _keep_new_date(desk: NewsDesk, ctx: NeedContext) -> Reply:
    event = ctx.news
    if event is None or event.type != "shipment.delayed":
        # Not chosen from the news' own offer (a button kept after the chat moved on).
        event = desk.proactive.open_offer(ctx.conversation_id, "shipment.delayed")
    new_date = event.details.get("new_date") if event else None
    when = _on(date.fromisoformat(new_date), desk.today()) if new_date else "on the new date"
    return Reply().say(
        "utter_option_keep_new_date", order_id=ctx.order.id if ctx.order else "", date=when
    )


def _delay_cancel_refund(desk: Desk, ctx: NeedContext) -> Reply:
    order = ctx.order
    if order is None:
        return Reply().say("utter_option_needs_order")
    if not order.dispatched:
        return cancel_and_refund(desk, order, "utter_option_delay_cancelled")
    # On its way already: the carrier brings it back, and the refund follows in full.
    handoff = desk.hand_off(
        ctx,
        f"Delayed order {order.id}: the customer chose to cancel. Recall it from "
        f"{order.carrier or 'the carrier'} and refund {money(order.total)} in full.",
        department="delivery",
        option=ctx.option,
        refund=order.total,
    )
    return desk.handed_off(
        Reply().say("utter_option_delay_recalled", order_id=order.id, amount=money(order.total)),
        handoff,
    )


def _delay_discount(desk: NewsDesk, ctx: NeedContext) -> Reply:
    if ctx.customer is None:
        return Reply().say("utter_option_needs_customer")
    percent = desk.events.types["shipment.delayed"].terms.get("discount_percent", 10)
    handoff = desk.hand_off(
        ctx,
        f"Delayed order {ctx.order.id if ctx.order else ''}: the customer accepted the delay; "
        f"apply a {percent}% apology discount to their next order.",
        department="billing",
        option=ctx.option,
        percent=percent,
    )
    return desk.handed_off(Reply().say("utter_option_delay_discount", percent=percent), handoff)


def _all_good(desk: Desk, ctx: NeedContext) -> Reply:
    return Reply().say("utter_option_all_good")


def _payment_link(desk: Desk, ctx: NeedContext) -> Reply:
    invoice_id = ctx.invoice_id or ""
    return Reply().say(
        "utter_option_payment_link", invoice_id=invoice_id, link=payment_link(invoice_id)
    )


def payment_link(invoice_id: str) -> str:
    """Where the customer pays an invoice or changes the card it is charged to."""
    return f"https://billing.example.com/pay/{invoice_id}"


def _payment_grace(desk: NewsDesk, ctx: NeedContext) -> Reply:
    if ctx.customer is None:
        return Reply().say("utter_option_needs_customer")
    days = desk.events.types["invoice.failed"].terms.get("grace_days", 7)
    until = day_text(desk.today() + timedelta(days=days), desk.today())
    handoff = desk.hand_off(
        ctx,
        f"Failed payment of invoice {ctx.invoice_id}: the customer asks for {days} more days "
        f"to pay (until {until}); hold reminders and late fees until then.",
        department="billing",
        option=ctx.option,
        grace_days=days,
    )
    return desk.handed_off(
        Reply().say("utter_option_payment_grace", days=days, until=until), handoff
    )


def _keep_plan(desk: Desk, ctx: NeedContext) -> Reply:
    return Reply().say("utter_option_keep_plan")


OPTIONS: dict[str, NewsOption] = {
    "keep_new_date": _keep_new_date,
    "delay_cancel_refund": _delay_cancel_refund,
    "delay_discount": _delay_discount,
    "all_good": _all_good,
    "payment_link": _payment_link,
    "payment_grace": _payment_grace,
    "keep_plan": _keep_plan,
}
