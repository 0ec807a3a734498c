"""Billing needs: invoices, odd charges, refunds, payments, cancellation."""

from __future__ import annotations

from collections import Counter
from dataclasses import replace
from datetime import timedelta

from bot.backoffice import NotFound
from bot.backoffice.model import DELIVERED, Payment
from bot.support.confirm import unless_confirmed
from bot.support.handler import Desk, Handler, customer_of, delivered_on, limit_of, order_of
from bot.support.open_work import when
from bot.support.parsing import day_text, money, normalize_invoice_id
from bot.support.replies import (
    REFUND_DAYS,
    Message,
    NeedContext,
    Reply,
    button,
    option_buttons,
    outside_policy,
)

LISTENING_OPTIONS = ("pause_plan", "downgrade_plan")
RECENT_DAYS = 45


def request_invoice(desk: Desk, ctx: NeedContext) -> Reply:
    invoices = desk.backoffice.invoices_of(customer_of(ctx).id)
    wanted = normalize_invoice_id(ctx.invoice_id)
    if ctx.order and not wanted:
        wanted = next((i.id for i in invoices if i.order_id == ctx.order.id), None)
    invoice = (
        next((i for i in invoices if i.id == wanted), None)
        if wanted
        else (invoices[0] if invoices else None)
    )
    if invoice is None:
        if wanted:
            return Reply(slots={"invoice_id": None}).say(
                "utter_invoice_not_found", invoice_id=wanted
            )
        return Reply().say("utter_no_invoices")
    return Reply().say(
        "utter_invoice_copy",
        invoice_id=invoice.id,
        amount=money(invoice.amount),
        issued=day_text(invoice.issued_at, desk.today()),
        link=invoice_link(invoice.id),
    )


def invoice_link(invoice_id: str) -> str:
    return f"https://billing.example.com/invoices/{invoice_id}.pdf"


def charged_twice(desk: Desk, ctx: NeedContext) -> Reply:
    payments = [
        p for p in desk.backoffice.payments_of(customer_of(ctx).id) if p.status == "succeeded"
    ]
    seen = Counter((p.invoice_id, p.amount) for p in payments if p.invoice_id)
    duplicates = [key for key, n in seen.items() if n > 1]
    if not duplicates:
        return Reply().say(
            "utter_no_double_charge",
            charges=_charges_text(desk, _recent_payments(desk, ctx)),
            buttons=[button("Please check anyway", "request_human")],
        )
    invoice_id, amount = duplicates[0]
    handoff = desk.hand_off(
        ctx,
        f"Duplicate charge: {money(amount)} taken twice for {invoice_id}. Refund the duplicate.",
        priority="high",
        invoice_id=invoice_id,
        amount=amount,
    )
    reply = Reply().say(
        "utter_double_charge_found",
        amount=money(amount),
        invoice_id=invoice_id,
        refund_days=REFUND_DAYS,
    )
    return desk.handed_off(reply, handoff)


def unknown_charge(desk: Desk, ctx: NeedContext) -> Reply:
    payments = desk.backoffice.payments_of(customer_of(ctx).id)
    if ctx.amount is not None:
        match = next((p for p in payments if abs(p.amount - ctx.amount) < 0.005), None)
        if match:
            what = _what(match)
            return Reply().say(
                "utter_charge_explained",
                amount=money(match.amount),
                date=day_text(match.created_at.date(), desk.today()),
                what=what,
                method=match.method,
                buttons=[button("I still don't recognise it", "request_human")],
            )
    recent = _recent_payments(desk, ctx)
    # Each charge is a button too, so "the 12 dollar one" or "the storage one" (typed) or a
    # click says which one, and the answer explains that charge.
    buttons = [
        button(f"{money(p.amount)}: {_what(p)}", "unknown_charge", amount=f"{p.amount:.2f}")
        for p in recent[:MAX_CHARGE_BUTTONS]
    ]
    return Reply().say(
        "utter_recent_charges",
        charges=_charges_text(desk, recent),
        buttons=buttons + [button("I still don't recognise one", "request_human")],
    )


# More charges than this are listed, not offered as buttons.
MAX_CHARGE_BUTTONS = 4


def _recent_payments(desk: Desk, ctx: NeedContext) -> list[Payment]:
    since = desk.today() - timedelta(days=RECENT_DAYS)
    return [
        p for p in desk.backoffice.payments_of(customer_of(ctx).id) if p.created_at.date() >= since
    ]


def _what(payment: Payment) -> str:
    return payment.description or (
        "invoice " + payment.invoice_id if payment.invoice_id else "a payment"
    )


def _charges_text(desk: Desk, payments: list[Payment]) -> str:
    lines = [
        f"- {money(p.amount)} on {day_text(p.created_at.date(), desk.today())}: "
        f"{_what(p)} ({p.method}, {p.status})"
        for p in payments
    ]
    return "\n".join(lines) if lines else "- no charges in the last few weeks"


def bill_too_high(desk: Desk, ctx: NeedContext) -> Reply:
    invoices = [
        i for i in desk.backoffice.invoices_of(customer_of(ctx).id) if i.order_id is None
    ]  # plan invoices
    if not invoices:
        return Reply().say("utter_no_invoices")
    latest = invoices[0]
    previous = invoices[1] if len(invoices) > 1 else None
    lines = "\n".join(f"- {label}: {money(amount)}" for label, amount in latest.lines)
    return Reply().say(
        "utter_bill_explained",
        invoice_id=latest.id,
        amount=money(latest.amount),
        lines=lines,
        previous=money(previous.amount) if previous else "nothing before",
        buttons=[button("That's still not right", "request_human")],
    )


def request_refund(desk: Desk, ctx: NeedContext) -> Reply:
    blocked = _refund_blocked(desk, ctx)
    if blocked is not None:
        return blocked
    return _refund_in_full(desk, ctx)


def refund_other_method(desk: Desk, ctx: NeedContext) -> Reply:
    """A refund, but to another card or account than the one that paid."""
    blocked = _refund_blocked(desk, ctx)
    if blocked is not None:
        return blocked
    order = order_of(ctx)
    decision = desk.decide("refund_to_original_method", ctx, to_original_method=False)
    return outside_policy(
        "utter_refund_method_limit",
        decision,
        order_id=order.id,
        amount=money(order.total),
        method=paid_with(desk, ctx),
    )


def _refund_blocked(desk: Desk, ctx: NeedContext) -> Reply | None:
    """Why the order cannot be refunded straight away (with what we can do), or None."""
    order, today = order_of(ctx), desk.today()
    if order.status != DELIVERED:
        return Reply().say(
            "utter_refund_before_delivery",
            order_id=order.id,
            buttons=[button("Cancel the order", "cancel_order")],
        )
    days_since = (today - delivered_on(order)).days
    decision = desk.decide("refund_window", ctx, days_since_delivery=days_since)
    if decision.within:
        return None
    return outside_policy(
        "utter_refund_outside_window", decision, order_id=order.id, days=days_since
    )


def _refund_in_full(desk: Desk, ctx: NeedContext) -> Reply:
    order = order_of(ctx)
    ask = unless_confirmed(
        ctx,
        "utter_confirm_refund",
        order_id=order.id,
        amount=money(order.total),
        method=paid_with(desk, ctx),
        refund_days=REFUND_DAYS,
    )
    if ask is not None:
        return ask
    refund = desk.backoffice.request_refund(order.id, order.total)
    return Reply().say(
        "utter_refund_requested",
        amount=money(refund.amount),
        order_id=order.id,
        method=paid_with(desk, ctx),
        refund_days=REFUND_DAYS,
    )


def paid_with(desk: Desk, ctx: NeedContext) -> str:
    """How the order was paid ("Visa ending 4242"), as far as the payments show."""
    if ctx.order is None:
        return "your original payment method"
    invoice_ids = {
        i.id
        for i in desk.backoffice.invoices_of(ctx.order.customer_id)
        if i.order_id == ctx.order.id
    }
    payment = next(
        (
            p
            for p in desk.backoffice.payments_of(ctx.order.customer_id)
            if p.invoice_id in invoice_ids and p.status == "succeeded"
        ),
        None,
    )
    return payment.method if payment else "your original payment method"


def refund_status(desk: Desk, ctx: NeedContext) -> Reply:
    reply = Reply()
    # What billing told us when they closed a request of this customer (an exception review
    # approved, a refund issued) is the newest word on it: said first.
    notes = desk.facts.resolved_notes(customer_of(ctx).id, "billing", desk.now())
    if ctx.order is not None:
        notes = [n for n in notes if n.order_id in (None, ctx.order.id)]
    for note in notes[:1]:
        reply.say(
            "utter_resolved_by_department",
            team="Our billing team",
            reference=f"H-{note.handoff_id}",
            when=when(note.resolved_at, desk.now()),
            note=note.note,
        )
    refunds = [desk.facts.refund(r) for r in desk.backoffice.refunds_of(customer_of(ctx).id)]
    if ctx.order is not None:
        refunds = [r for r in refunds if r.order_id == ctx.order.id]
        if not refunds:
            if reply.messages:
                return reply
            # "Hi again, about the refund for ORD-10005": none yet, so say so and go on
            # with what we can do for that order now (its window, its options), rather
            # than make them ask a second time.
            reply = request_refund(desk, replace(ctx, need="request_refund"))
            reply.messages.insert(
                0, Message("utter_no_refund_for_order", {"order_id": ctx.order.id})
            )
            return reply
    if not refunds:
        if reply.messages:
            return reply
        return reply.say(
            "utter_no_refund_found", buttons=[button("Ask for a refund", "request_refund")]
        )
    r = refunds[0]
    return reply.say(
        "utter_refund_status",
        amount=money(r.amount),
        order_id=r.order_id,
        status=r.status,
        requested=day_text(r.requested_at, desk.today()),
        refund_days=REFUND_DAYS,
    )


def update_payment_method(desk: Desk, ctx: NeedContext) -> Reply:
    return Reply().say("utter_update_payment_link", link=payment_link(ctx))


def payment_link(ctx: NeedContext) -> str:
    return "https://billing.example.com/payment-method" + (
        f"?customer={ctx.customer.id}" if ctx.customer else ""
    )


def payment_failed(desk: Desk, ctx: NeedContext) -> Reply:
    failed = [p for p in desk.backoffice.payments_of(customer_of(ctx).id) if p.status == "failed"]
    if not failed:
        # The back office has no failed payment yet, but billing told us an invoice failed:
        # that is the newer fact, and the answer.
        for event in desk.facts.failed_invoices(customer_of(ctx).id)[:1]:
            try:
                invoice = desk.facts.invoice(desk.backoffice.invoice(event.invoice_id or ""))
            except NotFound:
                break
            if invoice.status == "failed":
                return Reply().say(
                    "utter_invoice_failed_known",
                    invoice_id=invoice.id,
                    amount=money(invoice.amount),
                    told=when(event.received_at, desk.now()),
                    link=payment_link(ctx),
                )
        return Reply().say(
            "utter_no_failed_payment", buttons=[button("Talk to a person", "request_human")]
        )
    p = failed[0]
    return Reply().say(
        "utter_payment_failed_reason",
        amount=money(p.amount),
        date=day_text(p.created_at.date(), desk.today()),
        method=p.method,
        reason=p.failure_reason or "the bank declined it",
        link=payment_link(ctx),
    )


def ask_payment_methods(desk: Desk, ctx: NeedContext) -> Reply:
    return Reply().say("utter_payment_methods")


def ask_refund_policy(desk: Desk, ctx: NeedContext) -> Reply:
    window = limit_of(desk, "refund_window")
    return Reply().say("utter_refund_policy", window=int(window), refund_days=REFUND_DAYS)


def ask_cancellation_fee(desk: Desk, ctx: NeedContext) -> Reply:
    sub = desk.backoffice.subscription_of(customer_of(ctx).id)
    if (
        sub is None
        or not sub.early_cancel_fee
        or sub.contract_end is None
        or sub.contract_end <= desk.today()
    ):
        return Reply().say("utter_no_cancellation_fee")
    return Reply().say(
        "utter_cancellation_fee",
        fee=money(sub.early_cancel_fee),
        plan=sub.plan,
        contract_end=day_text(sub.contract_end, desk.today()),
    )


def cancel_subscription(desk: Desk, ctx: NeedContext) -> Reply:
    sub = desk.backoffice.subscription_of(customer_of(ctx).id)
    if sub is None or sub.status == "cancelled":
        return Reply().say("utter_no_subscription")
    days_left = (sub.contract_end - desk.today()).days if sub.contract_end else 0
    decision = desk.decide("early_cancellation_fee", ctx, days_left_in_contract=days_left)
    # Leaving is a moment to listen: options are offered whether or not a fee is due; the
    # policy's own alternatives (a fee waiver review for valued customers) only when it is.
    alternatives = LISTENING_OPTIONS if decision.within else decision.alternatives
    moment = (
        None
        if decision.within
        else replace(decision, alternatives=(*alternatives, "cancel_anyway"))
    )
    return Reply(policy_moment=moment).say(
        "utter_cancel_listen" if decision.within else "utter_cancel_listen_fee",
        plan=sub.plan,
        renews=day_text(sub.renews_at, desk.today()),
        fee=money(sub.early_cancel_fee),
        buttons=option_buttons((*alternatives, "cancel_anyway")),
    )


# -- options the customer can pick (buttons above) -------------------------------------
def _option_handoff(summary: str, response: str, need: str) -> Handler:
    """An option our billing team carries out: hand it over, say who and by when."""

    def handle(desk: Desk, ctx: NeedContext) -> Reply:
        if ctx.customer is None:
            return Reply().say("utter_option_needs_customer")
        order = ctx.order
        handoff = desk.hand_off(
            replace(ctx, need=need),
            summary.format(
                order_id=order.id if order else "their order",
                amount=money(order.total) if order else "the amount",
            ),
            department="billing",
            option=ctx.option,
        )
        return desk.handed_off(Reply().say(response), handoff)

    return handle


def _refund_original(desk: Desk, ctx: NeedContext) -> Reply:
    """The refund as the policy has it: to the original payment method, now."""
    if ctx.order is None:
        return Reply().say("utter_option_needs_order")
    # Picked from what we offered: that was the clear yes.
    return _refund_in_full(desk, replace(ctx, confirmed=True))


def _partial_refund(desk: Desk, ctx: NeedContext) -> Reply:
    """Goodwill for a customer who came back about a late refund: part of it, at once."""
    if ctx.order is None:
        return Reply().say("utter_option_needs_order")
    percent = desk.policies.policies["refund_window"].terms["partial_refund_percent"]
    refund = desk.backoffice.request_refund(ctx.order.id, round(ctx.order.total * percent / 100, 2))
    return Reply().say(
        "utter_option_partial_refund",
        amount=money(refund.amount),
        order_id=ctx.order.id,
        method=paid_with(desk, ctx),
        refund_days=REFUND_DAYS,
    )


OPTIONS = {
    "store_credit": _option_handoff(
        "Customer chose store credit of {amount} for {order_id} instead of a refund.",
        "utter_option_store_credit",
        "request_refund",
    ),
    "refund_exception": _option_handoff(
        "Refund outside the window for {order_id} ({amount}): review as an exception.",
        "utter_option_exception_review",
        "request_refund",
    ),
    "refund_method_review": _option_handoff(
        "Customer asks for the refund of {order_id} ({amount}) to another payment method: review.",
        "utter_option_refund_method_review",
        "refund_other_method",
    ),
    "refund_original": _refund_original,
    "partial_refund": _partial_refund,
    "pause_plan": _option_handoff(
        "Customer wants to pause their plan for a month instead of cancelling.",
        "utter_option_pause",
        "cancel_subscription",
    ),
    "downgrade_plan": _option_handoff(
        "Customer wants a cheaper plan instead of cancelling.",
        "utter_option_downgrade",
        "cancel_subscription",
    ),
    "fee_waiver_review": _option_handoff(
        "Valued customer asks to waive the early cancellation fee.",
        "utter_option_fee_waiver",
        "cancel_subscription",
    ),
    "cancel_anyway": _option_handoff(
        "Customer confirmed cancellation. Close the subscription at the end of the period.",
        "utter_option_cancel",
        "cancel_subscription",
    ),
}

HANDLERS = {
    "request_invoice": request_invoice,
    "charged_twice": charged_twice,
    "unknown_charge": unknown_charge,
    "bill_too_high": bill_too_high,
    "request_refund": request_refund,
    "refund_other_method": refund_other_method,
    "refund_status": refund_status,
    "update_payment_method": update_payment_method,
    "payment_failed": payment_failed,
    "ask_payment_methods": ask_payment_methods,
    "ask_cancellation_fee": ask_cancellation_fee,
    "ask_refund_policy": ask_refund_policy,
    "cancel_subscription": cancel_subscription,
}
REQUIRES = {
    "request_invoice": ("customer",),
    "charged_twice": ("customer",),
    "unknown_charge": ("customer",),
    "bill_too_high": ("customer",),
    "request_refund": ("order",),
    "refund_other_method": ("order",),
    "refund_status": ("customer",),
    "update_payment_method": ("customer",),
    "payment_failed": ("customer",),
    "ask_cancellation_fee": ("customer",),
    "cancel_subscription": ("customer",),
}
