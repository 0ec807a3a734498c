"""Sales needs: prices, discounts, trials, demos, quotes, upgrades, renewals, orders."""

from __future__ import annotations

from bot.support.handler import Desk, Handler, customer_of
from bot.support.parsing import day_text, money
from bot.support.replies import NeedContext, Reply, button, outside_policy


def ask_pricing(desk: Desk, ctx: NeedContext) -> Reply:
    # What each plan includes answers "what's the difference between Pro and Business?"
    plans = "\n".join(
        f"- {p.name}: {money(p.price)} per {p.per}, for {p.summary}"
        + (f" ({', '.join(p.features)})" if p.features else "")
        for p in desk.backoffice.plans()
    )
    return Reply().say(
        "utter_pricing",
        plans=plans,
        buttons=[
            button("Start a free trial", "ask_free_trial"),
            button("Book a demo", "book_demo"),
            button("A quote for my team", "request_quote"),
        ],
    )


def ask_discount(desk: Desk, ctx: NeedContext) -> Reply:
    return Reply().say("utter_discounts")


def ask_free_trial(desk: Desk, ctx: NeedContext) -> Reply:
    return Reply().say("utter_free_trial")


def getting_started(desk: Desk, ctx: NeedContext) -> Reply:
    return Reply().say("utter_getting_started")


def place_order(desk: Desk, ctx: NeedContext) -> Reply:
    return Reply().say("utter_place_order", buttons=[button("Talk to sales", "request_quote")])


def _sales_handoff(summary: str, response: str) -> Handler:
    def handle(desk: Desk, ctx: NeedContext) -> Reply:
        sub = desk.backoffice.subscription_of(ctx.customer.id) if ctx.customer else None
        handoff = desk.hand_off(
            ctx,
            summary,
            contact_email=ctx.customer.email if ctx.customer else ctx.email,
            current_plan=f"{sub.plan}, {sub.seats} seat(s)" if sub else None,
        )
        return desk.handed_off(Reply().say(response), handoff)

    return handle


def upgrade_plan(desk: Desk, ctx: NeedContext) -> Reply:
    sub = desk.backoffice.subscription_of(customer_of(ctx).id)
    if sub is None:
        return ask_pricing(desk, ctx)
    handoff = desk.hand_off(
        ctx,
        f"Upgrade or extra seats on {sub.plan} ({sub.seats} seats).",
        current_plan=sub.plan,
        seats=sub.seats,
    )
    reply = Reply().say("utter_upgrade", plan=sub.plan, seats=sub.seats, price=money(sub.price))
    return desk.handed_off(reply, handoff)


def ask_renewal(desk: Desk, ctx: NeedContext) -> Reply:
    sub = desk.backoffice.subscription_of(customer_of(ctx).id)
    if sub is None:
        return Reply().say("utter_no_subscription")
    if sub.status == "past_due":
        return Reply().say(
            "utter_renewal_past_due",
            plan=sub.plan,
            buttons=[button("Fix my payment", "payment_failed")],
        )
    return Reply().say(
        "utter_renewal",
        plan=sub.plan,
        seats=sub.seats,
        renews=day_text(sub.renews_at, desk.today()),
        price=money(sub.price * (sub.seats if "seat" in _per(desk, sub.plan) else 1)),
    )


def _per(desk: Desk, plan_name: str) -> str:
    return next((p.per for p in desk.backoffice.plans() if p.name == plan_name), "month")


def price_match(desk: Desk, ctx: NeedContext) -> Reply:
    # The assistant cannot check another shop's price, so the difference is unknown (None)
    # and the request is outside the policy; a catalogue lookup could supply it one day.
    decision = desk.decide("no_price_match", ctx, price_difference=None)
    return outside_policy(
        "utter_price_match_limit",
        decision,
        percent=desk.policies.policies["no_price_match"].terms["loyalty_discount_percent"],
    )


# -- options the customer can pick ("here's what we can do") ---------------------------
def _loyalty_discount(desk: Desk, ctx: NeedContext) -> Reply:
    if ctx.customer is None:
        return Reply().say("utter_option_needs_customer")
    percent = desk.policies.policies["no_price_match"].terms["loyalty_discount_percent"]
    handoff = desk.hand_off(
        ctx,
        f"Price-match request: apply the {percent}% loyalty discount to the customer's next order.",
        department="billing",
        option=ctx.option,
        percent=percent,
        customer_said=ctx.text,
    )
    return desk.handed_off(Reply().say("utter_option_loyalty_discount", percent=percent), handoff)


def _sales_callback(desk: Desk, ctx: NeedContext) -> Reply:
    if ctx.customer is None and not ctx.email:
        # Told what we can do first; the email only now that they want the call.
        return Reply(slots={"email_wanted_for": "sales_callback"}, offer_still_open=True).say(
            "utter_ask_callback_email"
        )
    handoff = desk.hand_off(
        ctx,
        "Price-match request: call the customer back about bundles, volume or annual pricing.",
        department="sales",
        option=ctx.option,
        contact_email=ctx.customer.email if ctx.customer else ctx.email,
    )
    return desk.handed_off(Reply().say("utter_option_sales_callback"), handoff)


OPTIONS = {"loyalty_discount": _loyalty_discount, "sales_callback": _sales_callback}

HANDLERS = {
    "ask_pricing": ask_pricing,
    "ask_discount": ask_discount,
    "ask_free_trial": ask_free_trial,
    "book_demo": _sales_handoff("Customer would like a demo.", "utter_demo_booked"),
    "request_quote": _sales_handoff("Customer asked for a volume quote.", "utter_quote_requested"),
    "upgrade_plan": upgrade_plan,
    "ask_renewal": ask_renewal,
    "getting_started": getting_started,
    "place_order": place_order,
    "price_match": price_match,
}
REQUIRES = {
    "book_demo": ("contact",),
    "request_quote": ("contact",),
    "upgrade_plan": ("customer",),
    "ask_renewal": ("customer",),
}
