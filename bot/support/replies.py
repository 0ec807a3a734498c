"""What a need handler receives (NeedContext) and returns (Reply)."""

from __future__ import annotations

import functools
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from bot.backoffice.model import Customer, Order
from bot.handoff import Handoff
from bot.identity.trust import Identity
from bot.journey.signals import Signals
from bot.policies.engine import Decision
from bot.proactive.store import ProactiveEvent
from bot.routing import RoutingMap
from bot.support.facts import OrderFacts


@dataclass(frozen=True)
class Message:
    """One bot message: a response name from domain.yml, its variables, extra buttons."""

    response: str
    params: dict[str, Any] = field(default_factory=dict)
    buttons: list[dict[str, str]] = field(default_factory=list)


@dataclass
class Reply:
    """Everything the assistant says and remembers after serving a need."""

    messages: list[Message] = field(default_factory=list)
    slots: dict[str, Any] = field(default_factory=dict)
    handoff: Handoff | None = None
    # Set when a request met a policy limit: the decision, with the options actually shown.
    policy_moment: Decision | None = None
    # The option picked needs one more detail first (an email to call back): the offer
    # stays open until it comes.
    offer_still_open: bool = False

    def say(
        self, response: str, buttons: list[dict[str, str]] | None = None, **params: Any
    ) -> Reply:
        self.messages.append(Message(response, params, buttons or []))
        return self

    @property
    def responses(self) -> list[str]:
        return [m.response for m in self.messages]


@dataclass(frozen=True)
class NeedContext:
    """The need being served and what the conversation already knows."""

    need: str
    conversation_id: str
    channel: str = "rest"
    text: str = ""
    customer: Customer | None = None
    order: Order | None = None
    # The department facts over ``order`` as read with it (OrderCheck.facts), if they were.
    order_facts: OrderFacts | None = None
    invoice_id: str | None = None
    email: str | None = None
    new_address: str | None = None
    new_date: date | None = None
    amount: float | None = None
    option: str | None = None
    transcript: tuple[str, ...] = ()
    signals: Signals = Signals()  # effort and frustration so far (bot/journey/signals.py)
    # Who the customer is and how sure we are (bot/identity). ``customer`` is set only when
    # verified; None here means "as ``customer`` says" (tests build contexts by hand).
    identity: Identity | None = None
    # The customer said yes to this very change (bot/support/confirm.py).
    confirmed: bool = False
    # The department's news whose offer the customer is choosing from, as the desk found it
    # once for this choice (bot/support/proactive.py: about_the_news).
    news: ProactiveEvent | None = None

    @property
    def first_name(self) -> str:
        return self.customer.first_name if self.customer else ""


# How long a refund takes to reach the customer once issued (quoted in several replies).
REFUND_DAYS = "5 to 7 business days"

# Button titles of the options the desk can carry out (OPTIONS).
OPTION_LABELS = {
    "store_credit": "Store credit instead",
    "refund_exception": "Ask for an exception",
    "partial_refund": "A partial refund now",
    "refund_original": "Refund to how I paid",
    "refund_method_review": "Ask for a review",
    "return_exception": "Ask for an exception",
    "repair_service": "Repair under warranty",
    "carrier_redirect": "Redirect it to my new address",
    "hold_at_depot": "Hold it at the depot",
    "carrier_reschedule": "Deliver on another day",
    "carrier_recall": "Send it back to you",
    "return_on_arrival": "A return label for when it arrives",
    "paid_express": "Upgrade to express",
    "free_express": "Express, on us",
    "loyalty_discount": "A loyalty discount",
    "sales_callback": "A call from sales",
    "pause_plan": "Pause for a month instead",
    "downgrade_plan": "Switch to a cheaper plan",
    "fee_waiver_review": "Ask us to waive the fee",
    "cancel_anyway": "Cancel anyway",
    # offered by a department's news (bot/support/proactive.py)
    "keep_new_date": "The new date is fine",
    "delay_cancel_refund": "Cancel and refund me",
    "delay_discount": "A discount for the wait",
    "all_good": "All good, thanks",
    "payment_link": "Pay or change my card",
    "payment_grace": "A few more days to pay",
    "keep_plan": "Keep my plan",
}


class _NeedLabels(Mapping[str, str]):
    """The needs' button titles, as bot/config/routing.yml gives them (``label``), read on
    first use: the desk suggests them when unsure what was meant, a department's news
    offers some, agents see them in the console."""

    @functools.cached_property
    def _labels(self) -> dict[str, str]:
        return RoutingMap.load().labels()

    def __getitem__(self, need: str) -> str:
        return self._labels[need]

    def __iter__(self) -> Iterator[str]:
        return iter(self._labels)

    def __len__(self) -> int:
        return len(self._labels)


NEED_LABELS: Mapping[str, str] = _NeedLabels()


def outside_policy(response: str, decision: Decision, **params: Any) -> Reply:
    """The answer to a request outside a policy: why, then "here's what we can do" as buttons.

    The response gets the decision's ``reason``; the reply records the policy moment.
    """
    reply = Reply(policy_moment=decision)
    return reply.say(
        response, buttons=option_buttons(decision.alternatives), reason=decision.reason, **params
    )


def option_buttons(options: tuple[str, ...] | list[str]) -> list[dict[str, str]]:
    """'Here's what we can do': one button per option, then always a person."""
    return [button(OPTION_LABELS[o], "choose_option", option=o) for o in options] + [
        button("Talk to a person", "request_human")
    ]


def button(title: str, intent: str, **entities: str) -> dict[str, str]:
    """A button that sends an intent (with entities) as if the customer had typed it."""
    payload = f"/{intent}"
    if entities:
        import json

        payload += json.dumps(entities, separators=(",", ":"))
    return {"title": title, "payload": payload}
