"""The support desk: identify the customer, check the details, serve the need."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import replace
from datetime import date, datetime

from bot.backoffice import BackOffice, Customer, Order
from bot.backoffice.base import customer_or_none, order_or_none
from bot.cx_routing import NO_OPTION, CxRules, Facts, RoutingDecision
from bot.handoff import Handoff, HandoffDesk, HandoffRequest
from bot.identity.access import ANYONE, DEFAULT, TRACKER, AccessRules
from bot.identity.checks import IdentityChecks
from bot.identity.trust import VERIFIED, Identity
from bot.identity.verify import Mailer, Verifier
from bot.journey.store import JourneyStore
from bot.policies.engine import Decision, PolicyEngine
from bot.policies.moments import PolicyLog
from bot.preferences import PreferenceStore
from bot.proactive import outcomes
from bot.proactive.events import EventCatalogue
from bot.proactive.store import ProactiveStore
from bot.routing import FROM_CUSTOMER, RoutingMap, stage_from_orders
from bot.support import billing, confirm, delivery, open_work, people, proactive, sales
from bot.support.facts import DepartmentFacts
from bot.support.handler import Handler, OrderCheck
from bot.support.outgoing import OutgoingGuard
from bot.support.parsing import normalize_order_id
from bot.support.replies import NEED_LABELS, NeedContext, Reply, button

HANDLERS: dict[str, Handler] = {
    **delivery.HANDLERS,
    **billing.HANDLERS,
    **sales.HANDLERS,
    **people.HANDLERS,
}
# What each need must know before it can be served, in the order it is asked for:
# order = a valid order number; customer = an identified customer;
# contact = an identified customer or at least an email to reach them.
REQUIRES: dict[str, tuple[str, ...]] = {
    **delivery.REQUIRES,
    **billing.REQUIRES,
    **sales.REQUIRES,
    **people.REQUIRES,
}
OPTIONS: dict[str, Handler] = {
    **billing.OPTIONS,
    **delivery.OPTIONS,
    **sales.OPTIONS,
    **proactive.OPTIONS,
    **confirm.OPTIONS,
}

# A subscriber whose plan renews within this many days is in the renewal stage.
RENEWAL_DAYS = 30
# How long a customer's journey stage is reused before the back office is asked again.
STAGE_TTL = 60.0
# Needs that already bring a person in: no extra escalation on top.
PERSON_NEEDS = ("request_human", "complain")


class SupportDesk:
    """Everything the actions need, with no knowledge of Rasa."""

    def __init__(
        self,
        backoffice: BackOffice,
        routing: RoutingMap,
        handoffs: HandoffDesk,
        today: Callable[[], date] = date.today,
        now: Callable[[], datetime] = datetime.now,
        policies: PolicyEngine | None = None,
        policy_log: PolicyLog | None = None,
        outgoing: OutgoingGuard | None = None,
        cx_rules: CxRules | None = None,
        access: AccessRules | None = None,
        mailer: Mailer | None = None,
    ):
        self.backoffice = backoffice
        self.routing = routing
        self.handoffs = handoffs
        self.policies = policies or PolicyEngine.load(known_options=OPTIONS)
        # Policy moments live next to the handoffs, in the journey database.
        self.policy_log = policy_log or PolicyLog(handoffs.engine, now)
        self.journey = JourneyStore(handoffs.engine, now)
        # How each customer likes to be contacted ("call me Sam", quiet hours), by journey id.
        self.preferences = PreferenceStore(handoffs.engine, now)
        # Department news told first (bot/proactive/): the event types and the events.
        self.events = EventCatalogue.load(known_options=set(OPTIONS), known_needs=set(routing))
        # A handoff's outcome, told like a department's event (bot/proactive/outcomes.py).
        self.events.types.update(outcomes.TYPES)
        self.proactive = ProactiveStore(handoffs.engine, now)
        # What departments told us, read over the back office's records (bot/support/facts.py).
        self.facts = DepartmentFacts(handoffs.engine)
        self.outgoing = outgoing or OutgoingGuard()
        self.cx_rules = cx_rules or CxRules.load()
        # Who may see and do what (access.yml), and the checks that make a visitor verified.
        self.access = access or AccessRules.load(known_needs=routing)
        self.verifier = Verifier(
            backoffice, IdentityChecks(handoffs.engine, self.access, now), mailer
        )
        self._stages: dict[tuple[str, date], tuple[str, float]] = {}
        self.today = today
        self.now = now
        unknown_options = set(self.access.options) - {DEFAULT} - set(OPTIONS)
        if unknown_options:
            raise ValueError(f"access.yml names options no one offers: {sorted(unknown_options)}")
        missing = set(HANDLERS) ^ set(routing)
        if missing:
            raise ValueError(
                f"routing.yml and the need handlers disagree about: {', '.join(sorted(missing))}"
            )

    # -- what a need requires ----------------------------------------------------------
    def required_details(self, need: str | None, known: dict) -> list[str]:
        """The slots ``need`` requires, filled or not, in asking order."""
        wanted: list[str] = []
        requirements = REQUIRES.get(need or "", ())
        if self.access.needs_verification(need) and "customer" not in requirements:
            # Personal details and changes: a verified customer, checked after the order
            # number (the email on that order is one way to pass the check).
            at = 1 if "order" in requirements else 0
            requirements = requirements[:at] + ("customer",) + requirements[at:]
        for requirement in requirements:
            if requirement == "order":
                wanted.append("order_id")
            elif requirement == "customer":
                # customer_id holds only a verified customer (bot/identity): asking for it
                # is asking the visitor to verify.
                wanted.append("customer_id")
            elif requirement == "contact" and not known.get("customer_id"):
                wanted.append("email")
            elif requirement == "new_address":
                # Asked even after dispatch: the carrier can still redirect to it.
                wanted.append(requirement)
            elif requirement == "new_date":
                order = self._order_or_none(known.get("order_id"))
                if order is not None and not order.dispatched:
                    wanted.append(requirement)
        return wanted

    def missing_details(self, need: str | None, known: dict) -> list[str]:
        """The slots still to fill for ``need`` (none when all is known)."""
        return [slot for slot in self.required_details(need, known) if not known.get(slot)]

    # -- identification ----------------------------------------------------------------
    def verify_first(self, ctx: NeedContext) -> Reply:
        """What a visitor who is not verified hears when a need asks for it: why, and what
        we can do now (a person); once over a limit on checks, say so."""
        person = [button("Talk to a person", "request_human")]
        if self.verifier.checks.limited_lately(ctx.conversation_id):
            return Reply().say("utter_checks_limited", buttons=person)
        return Reply().say("utter_verify_first", buttons=person)

    def customer(self, customer_id: str | None) -> Customer | None:
        return customer_or_none(self.backoffice, customer_id)

    def slack_customer(self, slack_user: str | None) -> Customer | None:
        """The customer a Slack user is mapped to, if any (Slack vouches for its users).

        There is no lookup by email or order number here on purpose: those are claims, and a
        claim becomes a customer only through bot/identity's checks.
        """
        return self.backoffice.customer_by_slack_user(slack_user) if slack_user else None

    def check_order(self, raw_order_id: str | None, customer_id: str | None) -> OrderCheck:
        """Accept an order number only if it exists and belongs to the known customer."""
        order_id = normalize_order_id(raw_order_id)
        if order_id is None:
            return OrderCheck(None, problem="utter_order_id_unreadable")
        order = self._order_or_none(order_id)
        if order is None or (customer_id and order.customer_id != customer_id):
            # The same answer for "no such order" and "someone else's order": no leaks.
            return OrderCheck(None, problem="utter_order_not_found")
        return OrderCheck(order, customer=self.customer(order.customer_id))

    def _order_or_none(self, order_id: str | None) -> Order | None:
        """The order as we tell it: the back office's record with newer department facts."""
        order = order_or_none(self.backoffice, order_id)
        return self.facts.order(order).order if order is not None else None

    # -- serving -----------------------------------------------------------------------
    def serve(self, ctx: NeedContext) -> Reply:
        """Serve a need; every message passes the refusal guard on its way out."""
        handler = HANDLERS.get(ctx.need)
        if handler is None:
            return Reply().say("utter_what_can_i_do")
        needs_order = "order" in REQUIRES.get(ctx.need, ())
        if ctx.customer is None:
            # Not verified: a parcel tracker's answer, or what we can do until they are;
            # nothing about any order once this chat went over a limit on checks.
            level = self.access.level(ctx.need)
            if level != ANYONE and self.verifier.checks.limited_lately(ctx.conversation_id):
                return self._send(self.verify_first(ctx), ctx)
            if level == TRACKER and ctx.order is not None:
                return self._send(delivery.tracker_view(self, ctx), ctx)
            if self.access.needs_verification(ctx.need) or (needs_order and ctx.order is None):
                return self._send(self.verify_first(ctx), ctx)
        elif needs_order and ctx.order is None:
            # Only an order of their own reaches a handler (need_context checks it).
            return self._send(Reply().say("utter_ask_order_id"), ctx)
        if ctx.need == "request_human":
            # Still asking for a person after "here's what we can do" is worth knowing.
            self.policy_log.asked_for_person(ctx.conversation_id)
        reply = handler(self, ctx)
        joined = reply.handoff is not None and reply.handoff.joined
        if (reply.handoff is None or joined) and ctx.need not in PERSON_NEEDS:
            owner = self.routing.department_of(ctx.need) or "support"
            decision = self.routing_for(ctx, owner, "normal")
            if decision.escalate:
                # Listen: a frustrated or returning customer gets a person, not only an answer
                # (one who joined open work too: a repeat contact is a frustration signal).
                handoff = self.hand_off(ctx, f"Bring a person in ({ctx.need}): {decision.reason}.")
                self.handed_off(reply.say("utter_bringing_a_person"), handoff)
        return self._send(reply, ctx)

    def carry_out(self, ctx: NeedContext) -> Reply:
        """Do what the customer picked from the options we offered."""
        handler = OPTIONS.get(ctx.option or "")
        if handler is None:
            return Reply().say("utter_option_unknown")
        if ctx.customer is None and self.access.option_needs_verification(ctx.option):
            # Options change something or commit money: a verified customer only.
            return self._send(self.verify_first(ctx), ctx)
        moment = self.policy_log.open_offer(ctx.conversation_id, ctx.option)
        if moment is None and (
            self.policies.restricted(ctx.option)
            or ctx.option in proactive.OFFER_ONLY
            or ctx.option in confirm.OPTIONS
        ):
            # A goodwill option (free express, a partial refund...) only when it was offered:
            # a hand-typed button payload must not grant it.
            return Reply().say("utter_option_unknown")
        if moment is not None:
            ctx = replace(ctx, need=moment.need)  # the need the options were offered for
            if moment.policy.startswith(proactive.POLICY_PREFIX):
                ctx = proactive.about_the_news(self, ctx, moment.policy)
        reply = handler(self, ctx)
        if moment is not None and not reply.offer_still_open:
            self.policy_log.chose(moment.id, ctx.option)
            if moment.policy.startswith(proactive.POLICY_PREFIX):
                # The outcome flows back to the department's event and its touchpoint.
                proactive.chosen(self, ctx.conversation_id, moment.policy, ctx.option, reply)
        return self._send(reply, ctx)

    def handler_for(self, need: str | None) -> Handler | None:
        """The handler that serves ``need`` (bot/support/<department>.py), if any."""
        return HANDLERS.get(need or "")

    def _send(self, reply: Reply, ctx: NeedContext) -> Reply:
        if reply.policy_moment is not None:
            self.policy_log.offered(
                ctx.conversation_id,
                ctx.customer.id if ctx.customer else None,
                ctx.need,
                reply.policy_moment,
            )
        return self.outgoing.review(self, reply, ctx)

    def decide(self, policy: str, ctx: NeedContext, **facts) -> Decision:
        """Check one policy for this customer: their tier and earlier contacts about it
        choose the alternatives."""
        return self.policies.decide(policy, facts, self._tier(ctx), self._contacts(policy, ctx))

    def alternatives_for(self, policy: str, ctx: NeedContext) -> tuple[str, ...]:
        """What we can do for this customer when ``policy`` stands in the way."""
        return self.policies.alternatives(policy, self._tier(ctx), self._contacts(policy, ctx))

    def _tier(self, ctx: NeedContext) -> str | None:
        return ctx.customer.tier if ctx.customer else None

    def _contacts(self, policy: str, ctx: NeedContext) -> int:
        customer_id = ctx.customer.id if ctx.customer else None
        return self.policy_log.contacts(customer_id, policy, ctx.conversation_id)

    def hand_off(
        self,
        ctx: NeedContext,
        summary: str,
        department: str | None = None,
        priority: str = "normal",
        **context,
    ) -> Handoff:
        """Hand the need to its department with the whole context packet.

        ``department`` and ``priority`` are the desk's own choice; the CX rules in
        routing.yml may change them (and say why) from what the journey knows.
        """
        owner = department or self.routing.department_of(ctx.need) or "support"
        decision = self.routing_for(ctx, owner, priority)
        customer = ctx.customer
        # Preferences are kept per journey customer: the back office id, or an anonymous
        # visitor's journey id (found through the conversation's channel identity).
        preferences = self.preferences.get(
            customer.id if customer else self.journey.customer_of(ctx.channel, ctx.conversation_id)
        )
        packet = {
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
                for m in self.policy_log.moments(ctx.conversation_id)
            ],
            # How the customer asked to be contacted; the channel they stated, else this one.
            "preferences": preferences.as_dict(),
            "preferred_channel": preferences.channel or ctx.channel,
            **context,
        }
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

    def routing_for(self, ctx: NeedContext, department: str, priority: str) -> RoutingDecision:
        """The CX rules applied to this need, customer and conversation."""
        return self.cx_rules.decide(
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

    # -- the journey ---------------------------------------------------------------------
    def customer_stage(self, customer: Customer | None) -> str:
        """Where the customer is in their journey, from their record.

        Asked several times per turn (the touchpoint, the CX rules, the handoff packet), so
        kept for a minute: it costs two back-office reads, possibly over HTTP.
        """
        if customer is None:
            return "prospect"
        key = (customer.id, self.today())
        cached = self._stages.get(key)
        if cached is not None and cached[1] > time.monotonic():
            return cached[0]
        if len(self._stages) > 10_000:
            self._stages.clear()
        stage = self._customer_stage(customer)
        self._stages[key] = (stage, time.monotonic() + STAGE_TTL)
        return stage

    def _customer_stage(self, customer: Customer) -> str:
        sub = self.backoffice.subscription_of(customer.id)
        renewing = sub is not None and sub.status in ("active", "past_due") and sub.renews_at
        if renewing and 0 <= (sub.renews_at - self.today()).days <= RENEWAL_DAYS:
            return "renewal"
        return stage_from_orders(self.backoffice.orders_of(customer.id), self.today())

    def stage_of(self, need: str | None, customer: Customer | None) -> str:
        """The stage of a touchpoint: the need's own (a cancellation is leaving), else the
        customer's."""
        stage = self.routing.stage_of(need)
        return self.customer_stage(customer) if stage == FROM_CUSTOMER else stage

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

    # -- fallback help -----------------------------------------------------------------
    def suggestions(self, ranking: list[dict], limit: int = 3) -> list[dict[str, str]]:
        """Buttons for the likeliest needs when the assistant is unsure what was meant."""
        buttons = []
        for entry in ranking:
            name = entry.get("name")
            if name in NEED_LABELS and name != "request_human" and len(buttons) < limit:
                buttons.append(button(NEED_LABELS[name], name))
        if not buttons:
            buttons = [
                button(NEED_LABELS[i], i)
                for i in ("order_status", "request_invoice", "ask_pricing")
            ]
        return buttons + [button("Talk to a person", "request_human")]
