"""What a need handler is, and the part of the support desk it may use.

A handler (``request_invoice`` in bot/support/billing.py, ``order_status`` in
bot/support/delivery.py...) is a function of the desk and the need's context that returns a
``Reply``. The desk (bot/support/desk.py) imports every handler module to gather them, so the
handler modules see the desk through ``Desk`` below instead of importing it: the imports go
one way, and this list says what a handler can reach.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Protocol

from bot.backoffice import BackOffice, Customer, Order
from bot.handoff import Handoff, HandoffDesk
from bot.journey.store import JourneyStore
from bot.policies.engine import Decision, PolicyEngine
from bot.policies.moments import PolicyLog
from bot.preferences import PreferenceStore
from bot.proactive.events import EventCatalogue
from bot.proactive.store import ProactiveStore
from bot.support.facts import DepartmentFacts
from bot.support.replies import NeedContext, Reply


@dataclass(frozen=True)
class OrderCheck:
    """The result of checking an order number the customer gave."""

    order: Order | None
    customer: Customer | None = None
    problem: str | None = None  # response name explaining why it was refused


class Desk(Protocol):
    """What the need handlers, the news told first (bot/support/proactive.py), the yes to a
    change (bot/support/confirm.py) and the outgoing guard use of ``SupportDesk``."""

    backoffice: BackOffice
    policies: PolicyEngine
    policy_log: PolicyLog
    journey: JourneyStore
    preferences: PreferenceStore
    events: EventCatalogue
    proactive: ProactiveStore
    handoffs: HandoffDesk
    facts: DepartmentFacts
    today: Callable[[], date]
    now: Callable[[], datetime]

    def customer(self, customer_id: str | None) -> Customer | None:
        """The customer with that id, or None."""

    def check_order(self, raw_order_id: str | None, customer_id: str | None) -> OrderCheck:
        """Accept an order number only if it exists and belongs to the known customer."""

    def decide(self, policy: str, ctx: NeedContext, **facts) -> Decision:
        """Check one policy for this customer."""

    def alternatives_for(self, policy: str, ctx: NeedContext) -> tuple[str, ...]:
        """What we can do for this customer when ``policy`` stands in the way."""

    def hand_off(
        self,
        ctx: NeedContext,
        summary: str,
        department: str | None = None,
        priority: str = "normal",
        **context,
    ) -> Handoff:
        """Hand the need to its department with the whole context packet."""

    def handed_off(self, reply: Reply, handoff: Handoff) -> Reply:
        """Tell the customer who will handle it, through which channel and by when."""

    def stage_of(self, need: str | None, customer: Customer | None) -> str:
        """The journey stage of a touchpoint about ``need``."""

    def handler_for(self, need: str | None) -> Handler | None:
        """The handler that serves ``need``, if any (a confirmed change is served again)."""


# A need's handler (HANDLERS) or an offered option's (OPTIONS), gathered in bot/support/desk.py.
Handler = Callable[[Desk, NeedContext], Reply]
