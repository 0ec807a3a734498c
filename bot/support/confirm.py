"""Nothing irreversible without a clear yes.

Cancelling an order, refunding it, moving it to another address or another day cannot be
taken back once the back office has done it, and customers often ask *about* these things
before they want them ("if I cancelled ORD-10004 would I get all my money back? just
asking"). So a handler about to make such a change first says exactly what will happen
(the order, the amount, the address or the day) and offers two buttons, "Yes, ..." and
"No, leave it as it is"; a typed "yes please" or "no" picks one (bot/choices.py). Only the
yes, taken from that very offer, makes the change; a no changes nothing.

The offer is a policy moment like "here's what we can do" (bot/policies/moments.py), named
``confirm:<need>``, so its buttons work only while offered, the CX review lists them with
the other offers, and a hand-typed payload cannot skip the question. A change the customer
picked from options we offered is not asked again: it was already a clear choice.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import date
from typing import Any

from bot.policies.engine import Decision
from bot.policies.moments import CONFIRMATION
from bot.support.handler import Desk, Handler
from bot.support.parsing import address_in, parse_date
from bot.support.replies import NeedContext, Reply, button

POLICY_PREFIX = CONFIRMATION
GO_AHEAD = "go_ahead"
LEAVE_AS_IS = "leave_as_is"
# The yes button names the change: a customer scanning buttons sees what they agree to.
YES_TITLES = {
    "cancel_order": "Yes, cancel it",
    "request_refund": "Yes, refund it",
    "change_delivery_address": "Yes, send it there",
    "change_delivery_date": "Yes, move it",
}
NO_TITLE = "No, leave it as it is"


def unless_confirmed(ctx: NeedContext, response: str, **params: Any) -> Reply | None:
    """None when the customer said yes to this change (go ahead); otherwise the question:
    ``response`` (which says what will happen, with ``params``) and the yes/no buttons."""
    if ctx.confirmed:
        return None
    decision = Decision(
        policy=f"{POLICY_PREFIX}{ctx.need}",
        within=True,
        reason="an irreversible change: the customer confirms first",
        alternatives=(GO_AHEAD, LEAVE_AS_IS),
    )
    yes = YES_TITLES.get(ctx.need, "Yes, go ahead")
    buttons = [
        button(yes, "choose_option", option=GO_AHEAD),
        button(NO_TITLE, "choose_option", option=LEAVE_AS_IS),
    ]
    return Reply(policy_moment=decision).say(response, buttons=buttons, **params)


def options(handlers: Mapping[str, Handler]) -> dict[str, Handler]:
    """The yes and the no as options; the yes serves the confirmed need again with its
    handler from ``handlers`` (the needs registry, bot/support/needs.py)."""

    def go_ahead(desk: Desk, ctx: NeedContext) -> Reply:
        """The yes: serve the confirmed need again, this time making the change."""
        handler = handlers.get(ctx.need or "")
        if handler is None:
            return Reply().say("utter_option_unknown")
        if ctx.order is None or any(
            getattr(ctx, detail) is None for detail in _DETAILS.get(ctx.need, ())
        ):
            # An old button pressed after the chat moved on (a new session forgot the order
            # or the new address): nothing to confirm any more.
            return Reply().say("utter_option_needs_order")
        return handler(desk, replace(ctx, confirmed=True))

    return {GO_AHEAD: go_ahead, LEAVE_AS_IS: leave_as_is}


# What each confirmable change needs besides the order, as NeedContext fields.
_DETAILS = {"change_delivery_address": ("new_address",), "change_delivery_date": ("new_date",)}


def leave_as_is(desk: Desk, ctx: NeedContext) -> Reply:
    """The no: nothing changes, and the customer hears so."""
    return Reply().say("utter_left_as_is")


# The options a confirmation question offers.
CHOICES = (GO_AHEAD, LEAVE_AS_IS)

# The detail each confirmable change is about, and how to find a new one in a message.
_CORRECTED_BY = {
    "change_delivery_date": lambda text: parse_date(text, date.today()) is not None,
    "change_delivery_address": lambda text: address_in(text) is not None,
}


def correction_to(text: str, buttons: Sequence[Any]) -> str | None:
    """The change a message corrects while we wait for its yes or no, if any.

    "Just to check: deliver ORD-10004 Monday 14 December?" answered with "hmm no, make that
    16 December" is neither yes nor no: it is the same change with another day, asked again
    (the caller parses it as that need). ``buttons`` are the ones on offer (objects with
    ``title`` and ``payload``).
    """
    need = next(
        (
            n
            for b in buttons
            if f'"{GO_AHEAD}"' in b.payload
            for n, title in YES_TITLES.items()
            if title == b.title
        ),
        None,
    )
    corrected = _CORRECTED_BY.get(need or "")
    return need if corrected is not None and corrected(text) else None
