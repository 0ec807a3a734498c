"""One need being served: what its handler may use, with each fact read once.

``Collaborators`` are the services serving a need uses, built once per process by the
composition root (bot/services.py) and shared by every conversation. ``Serving`` is made
for one need served (``SupportDesk.serve`` and ``carry_out``) and is what the handler gets
as its desk (bot/support/handler.py: ``Desk``). It keeps what it read about the customer
while that need is served: their journey stage (the CX rules, the handoff packet and the
touchpoint all ask), their contact preferences, their earlier contacts about a policy and
the conversation's policy moments, so a handler that hands off twice, or a policy checked
and then rewritten by the outgoing guard, reads them once; and its back office reads each
record once (bot/support/records.py). Nothing of it outlives the need: the desk is shared
by the action server's threads.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from bot.backoffice import BackOffice, Customer
from bot.backoffice.base import customer_or_none
from bot.cx_routing import NO_OPTION, CxRules, Facts, RoutingDecision
from bot.handoff import Handoff, HandoffDesk, HandoffRequest
from bot.identity.trust import VERIFIED, Identity
from bot.journey.store import JourneyStore
from bot.policies.engine import Decision, PolicyEngine
from bot.policies.moments import PolicyLog, PolicyMoment
from bot.preferences import Preferences, PreferenceStore
from bot.proactive.events import EventCatalogue
from bot.proactive.store import ProactiveStore
from bot.routing import RoutingMap
from bot.support import open_work
from bot.support.facts import DepartmentFacts
from bot.support.handler import OrderCheck, check_order
from bot.support.records import ReadOnce
from bot.support.replies import NeedContext, Reply
from bot.support.stages import CustomerStages


@dataclass(eq=False, repr=False)
class Collaborators:
    """Every service serving a need uses (built once, in bot/services.py)."""

    backoffice: BackOffice
    routing: RoutingMap
    handoffs: HandoffDesk
    policies: PolicyEngine
    # Policy moments live next to the handoffs, in the journey database.
    policy_log: PolicyLog
    journey: JourneyStore
    # How each customer likes to be contacted ("call me Sam", quiet hours), by journey id.
    preferences: PreferenceStore
    # Department news told first (bot/proactive/): the event types and the events.
    events: EventCatalogue
    proactive: ProactiveStore
    # What departments told us, read over the back office's records (bot/support/facts.py).
    facts: DepartmentFacts
    cx_rules: CxRules
    stages: CustomerStages
    today: Callable[[], date]
    now: Callable[[], datetime]


class Serving:
    """The desk as the handler of one need sees it (bot/support/handler.py: ``Desk``)."""

    def __init__(self, parts: Collaborators) -> None:
        self.parts = parts
        # The records this need reads, each once (afresh after a change).
        self.backoffice: BackOffice = ReadOnce(parts.backoffice)
        self.policies = parts.policies
        self.policy_log = parts.policy_log
        self.facts = parts.facts
        self.events = parts.events
        self.proactive = parts.proactive
        self.journey = parts.journey
        self.preferences = parts.preferences
        self.handoffs = parts.handoffs
        self.today = parts.today
        self.now = parts.now
        # What this need's serving read, each at most once.
        self._stages: dict[str, str] = {}
        self._contacts: dict[tuple[str | None, str, str], int] = {}
        self._preferences: dict[tuple[str, str], Preferences] = {}
        self._moments: dict[str, list[PolicyMoment]] = {}

    # -- who and what ------------------------------------------------------------------
    def customer(self, customer_id: str | None) -> Customer | None:
        """The customer with that id, or None."""
        return customer_or_none(self.backoffice, customer_id)

    def check_order(self, raw_order_id: str | None, customer_id: str | None) -> OrderCheck:
        """Accept an order number only if it exists and belongs to the known customer."""
        return check_order(self.backoffice, self.facts, raw_order_id, customer_id)

    # -- the journey -------------------------------------------------------------------
    def customer_stage(self, customer: Customer | None) -> str:
        """Where the customer is in their journey (read once for this need)."""
        if customer is None:
            return self.parts.stages.of_customer(None)
        if customer.id not in self._stages:
            self._stages[customer.id] = self.parts.stages.of_customer(customer, self.backoffice)
        return self._stages[customer.id]

    def stage_of(self, need: str | None, customer: Customer | None) -> str:
        """The stage of a touchpoint: the need's own (a cancellation is leaving), else the
        customer's."""
        return self.parts.stages.of_touchpoint(need, lambda: self.customer_stage(customer))

    # -- policies ----------------------------------------------------------------------
    def decide(self, policy: str, ctx: NeedContext, **facts: Any) -> Decision:
        """Check one policy for this customer: their tier and earlier contacts about it
        choose the alternatives."""
        return self.policies.decide(policy, facts, _tier(ctx), self._contacts_about(policy, ctx))

    def alternatives_for(self, policy: str, ctx: NeedContext) -> tuple[str, ...]:
        """What we can do for this customer when ``policy`` stands in the way."""
        return self.policies.alternatives(policy, _tier(ctx), self._contacts_about(policy, ctx))

    def _contacts_about(self, policy: str, ctx: NeedContext) -> int:
        # Earlier conversations are counted: what this one records meanwhile changes nothing.
        key = (ctx.customer.id if ctx.customer else None, policy, ctx.conversation_id)
        if key not in self._contacts:
            self._contacts[key] = self.policy_log.contacts(*key)
        return self._contacts[key]

    # -- handing off -------------------------------------------------------------------
    def routing_for(self, ctx: NeedContext, department: str, priority: str) -> RoutingDecision:
        """The CX rules applied to this need, customer and conversation."""
        return self.parts.cx_rules.decide(
            Facts(
                need=ctx.need,
                department=department,
                customer_stage=self.customer_stage(ctx.customer),
                tier=ctx.customer.tier if ctx.customer else None,
                frustration=ctx.signals.frustration,
                repeats=ctx.signals.repeats,
                contacts_about_order=ctx.signals.contacts_about_order,
                option=ctx.option or NO_OPTION,
            ),
            priority,
        )

    def hand_off(
        self,
        ctx: NeedContext,
        summary: str,
        department: str | None = None,
        priority: str = "normal",
        **context: Any,
    ) -> Handoff:
        """Hand the need to its department with the whole context packet.

        ``department`` and ``priority`` are the handler's own choice; the CX rules in
        routing.yml may change them (and say why) from what the journey knows.
        """
        owner = department or self.parts.routing.department_of(ctx.need) or "support"
        decision = self.routing_for(ctx, owner, priority)
        packet = self._packet(ctx, context)
        customer = ctx.customer
        return self.handoffs.hand_off(
            HandoffRequest(
                department=decision.department,
                need=ctx.need,
                conversation_id=ctx.conversation_id,
                summary=summary,
                channel=ctx.channel,
                customer_id=customer.id if customer else None,
                priority=decision.priority,
                context=packet,
                rules=decision.rules,
                reason=decision.reason,
                # What it is about, as the packet says (a handler may name the invoice).
                order_id=packet.get("order_id"),
                invoice_id=packet.get("invoice_id"),
            )
        )

    def _packet(self, ctx: NeedContext, context: dict[str, Any]) -> dict[str, Any]:
        """The context packet a department gets: who, what, what was said and offered."""
        customer = ctx.customer
        preferences = self._preferences_of(ctx)
        return {
            "need": ctx.need,
            "customer": {
                "id": customer.id,
                "name": customer.name,
                "email": customer.email,
                "tier": customer.tier,
            }
            if customer
            else {"email": ctx.email},
            # How sure we are who it is: agents and departments see it on every handoff.
            "identity": (
                ctx.identity or (Identity(VERIFIED, customer.id) if customer else Identity())
            ).as_dict(),
            "stage": self.stage_of(ctx.need, customer),
            "order_id": ctx.order.id if ctx.order else None,
            "invoice_id": ctx.invoice_id,
            "customer_said": ctx.text,
            "transcript": list(ctx.transcript[-10:]),
            "signals": ctx.signals.as_dict(),
            # What the assistant already offered (and what was taken), so no one offers it again.
            "already_offered": [
                {"policy": m.policy, "offered": list(m.offered), "chosen": m.chosen}
                for m in self._moments_of(ctx.conversation_id)
            ],
            # How the customer asked to be contacted; the channel they stated, else this one.
            "preferences": preferences.as_dict(),
            "preferred_channel": preferences.channel or ctx.channel,
            **context,
        }

    def _preferences_of(self, ctx: NeedContext) -> Preferences:
        # Preferences are kept per journey customer: the back office id, or an anonymous
        # visitor's journey id (found through the conversation's channel identity).
        key = ("customer", ctx.customer.id) if ctx.customer else ("visitor", ctx.conversation_id)
        if key not in self._preferences:
            journey_id = (
                ctx.customer.id
                if ctx.customer
                else self.journey.customer_of(ctx.channel, ctx.conversation_id)
            )
            self._preferences[key] = self.preferences.get(journey_id)
        return self._preferences[key]

    def _moments_of(self, conversation_id: str) -> list[PolicyMoment]:
        # Handing off writes no policy moment: a second handoff of this need (a person
        # brought in on top) lists the same ones.
        if conversation_id not in self._moments:
            self._moments[conversation_id] = list(self.policy_log.moments(conversation_id))
        return self._moments[conversation_id]

    def handed_off(self, reply: Reply, handoff: Handoff) -> Reply:
        """Tell the customer who will handle it, through which channel and by when; when it
        joined open work, its reference, state and what they can do now instead."""
        if handoff.joined:
            return open_work.already_open(reply, handoff, self.now())
        reply.handoff = handoff
        return reply.say(
            "utter_handed_off",
            team=handoff.department.title,
            channel=handoff.department.channel,
            promise=handoff.promise,
            reference=f"H-{handoff.id}",
        )


def _tier(ctx: NeedContext) -> str | None:
    return ctx.customer.tier if ctx.customer else None
