"""The support desk: identify the customer, check the details, serve the need.

``SupportDesk`` is what the actions (actions/) call, with no knowledge of Rasa. It is given
every collaborator ready-made (bot/services.py is the composition root), finds a need's
handler in the needs registry (bot/support/needs.py), and serves each need through a fresh
``Serving`` (bot/support/serving.py), the narrow desk a handler sees, which reads each fact
about the customer once. Every message passes the outgoing guard on its way out.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from bot.backoffice import Customer
from bot.backoffice.base import customer_or_none
from bot.handoff import Handoff
from bot.identity.access import ANYONE, TRACKER, AccessRules
from bot.identity.verify import Verifier
from bot.policies.engine import Decision
from bot.support import confirm, delivery, proactive
from bot.support.handler import Handler, OrderCheck, check_order, order_as_told
from bot.support.needs import HANDLERS, OPTIONS, PERSON_NEEDS, REQUIRES
from bot.support.outgoing import OutgoingGuard
from bot.support.replies import NeedContext, Reply, button
from bot.support.serving import Collaborators, Serving


@dataclass(eq=False, repr=False)
class SupportDesk(Collaborators):
    """Everything the actions need, with no knowledge of Rasa."""

    # Who may see and do what (access.yml), and the checks that make a visitor verified.
    access: AccessRules
    verifier: Verifier
    # The last check on every reply: no refusal without an alternative.
    outgoing: OutgoingGuard

    # -- what a need requires ----------------------------------------------------------
    def required_details(self, need: str | None, known: Mapping[str, Any]) -> list[str]:
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
                told = order_as_told(self.backoffice, self.facts, known.get("order_id"))
                if told is not None and not told.order.dispatched:
                    wanted.append(requirement)
        return wanted

    def missing_details(self, need: str | None, known: Mapping[str, Any]) -> list[str]:
        """The slots still to fill for ``need`` (none when all is known)."""
        return [slot for slot in self.required_details(need, known) if not known.get(slot)]

    # -- identification ----------------------------------------------------------------
    def verify_first(self, ctx: NeedContext, limited: bool | None = None) -> Reply:
        """What a visitor who is not verified hears when a need asks for it: why, and what
        we can do now (a person); once over a limit on checks, say so. ``limited`` is
        whether this chat went over that limit, when the caller knows already."""
        person = [button("Talk to a person", "request_human")]
        if limited is None:
            limited = self.verifier.checks.limited_lately(ctx.conversation_id)
        if limited:
            return Reply().say("utter_checks_limited", buttons=person)
        return Reply().say("utter_verify_first", buttons=person)

    def customer(self, customer_id: str | None) -> Customer | None:
        """The customer with that id, or None."""
        return customer_or_none(self.backoffice, customer_id)

    def slack_customer(self, slack_user: str | None) -> Customer | None:
        """The customer a Slack user is mapped to, if any (Slack vouches for its users).

        There is no lookup by email or order number here on purpose: those are claims, and a
        claim becomes a customer only through bot/identity's checks.
        """
        return self.backoffice.customer_by_slack_user(slack_user) if slack_user else None

    def check_order(self, raw_order_id: str | None, customer_id: str | None) -> OrderCheck:
        """Accept an order number only if it exists and belongs to the known customer."""
        return check_order(self.backoffice, self.facts, raw_order_id, customer_id)

    # -- serving -----------------------------------------------------------------------
    def serve(self, ctx: NeedContext) -> Reply:
        """Serve a need; every message passes the refusal guard on its way out."""
        handler = HANDLERS.get(ctx.need)
        if handler is None:
            return Reply().say("utter_what_can_i_do")
        serving = Serving(self)
        needs_order = "order" in REQUIRES.get(ctx.need, ())
        if ctx.customer is None:
            # Not verified: a parcel tracker's answer, or what we can do until they are;
            # nothing about any order once this chat went over a limit on checks.
            level = self.access.level(ctx.need)
            limited = None
            if level != ANYONE:
                limited = self.verifier.checks.limited_lately(ctx.conversation_id)
                if limited:
                    return self._send(serving, self.verify_first(ctx, limited), ctx)
            if level == TRACKER and ctx.order is not None:
                return self._send(serving, delivery.tracker_view(serving, ctx), ctx)
            if self.access.needs_verification(ctx.need) or (needs_order and ctx.order is None):
                return self._send(serving, self.verify_first(ctx, limited), ctx)
        elif needs_order and ctx.order is None:
            # Only an order of their own reaches a handler (need_context checks it).
            return self._send(serving, Reply().say("utter_ask_order_id"), ctx)
        if ctx.need == "request_human":
            # Still asking for a person after "here's what we can do" is worth knowing.
            self.policy_log.asked_for_person(ctx.conversation_id)
        reply = handler(serving, ctx)
        joined = reply.handoff is not None and reply.handoff.joined
        if (reply.handoff is None or joined) and ctx.need not in PERSON_NEEDS:
            owner = self.routing.department_of(ctx.need) or "support"
            decision = serving.routing_for(ctx, owner, "normal")
            if decision.escalate:
                # Listen: a frustrated or returning customer gets a person, not only an answer
                # (one who joined open work too: a repeat contact is a frustration signal).
                summary = f"Bring a person in ({ctx.need}): {decision.reason}."
                handoff = serving.hand_off(ctx, summary)
                serving.handed_off(reply.say("utter_bringing_a_person"), handoff)
        return self._send(serving, reply, ctx)

    def carry_out(self, ctx: NeedContext) -> Reply:
        """Do what the customer picked from the options we offered."""
        option = ctx.option
        handler = OPTIONS.get(option or "")
        if option is None or handler is None:
            return Reply().say("utter_option_unknown")
        serving = Serving(self)
        if ctx.customer is None and self.access.option_needs_verification(option):
            # Options change something or commit money: a verified customer only.
            return self._send(serving, self.verify_first(ctx), ctx)
        moment = self.policy_log.open_offer(ctx.conversation_id, option)
        if moment is None and (
            self.policies.restricted(option)
            or option in proactive.OFFER_ONLY
            or option in confirm.CHOICES
        ):
            # A goodwill option (free express, a partial refund...) only when it was offered:
            # a hand-typed button payload must not grant it.
            return Reply().say("utter_option_unknown")
        news = moment is not None and moment.policy.startswith(proactive.POLICY_PREFIX)
        if moment is not None:
            ctx = replace(ctx, need=moment.need)  # the need the options were offered for
            if news:
                ctx = proactive.about_the_news(self, ctx, moment.policy)
        reply = handler(serving, ctx)
        if moment is not None and not reply.offer_still_open:
            self.policy_log.chose(moment.id, option)
            if news:
                # The outcome flows back to the department's event and its touchpoint.
                proactive.chosen(self, ctx.news, option, reply)
        return self._send(serving, reply, ctx)

    def handler_for(self, need: str | None) -> Handler | None:
        """The handler that serves ``need`` (bot/support/<department>.py), if any."""
        return HANDLERS.get(need or "")

    def _send(self, serving: Serving, reply: Reply, ctx: NeedContext) -> Reply:
        if reply.policy_moment is not None:
            self.policy_log.offered(
                ctx.conversation_id,
                ctx.customer.id if ctx.customer else None,
                ctx.need,
                reply.policy_moment,
            )
        return self.outgoing.review(serving, reply, ctx)

    # -- one question at a time (each reads afresh; a need served reads once) ------------
    def decide(self, policy: str, ctx: NeedContext, **facts: Any) -> Decision:
        """Check one policy for this customer: their tier and earlier contacts about it
        choose the alternatives."""
        return Serving(self).decide(policy, ctx, **facts)

    def alternatives_for(self, policy: str, ctx: NeedContext) -> tuple[str, ...]:
        """What we can do for this customer when ``policy`` stands in the way."""
        return Serving(self).alternatives_for(policy, ctx)

    def hand_off(
        self,
        ctx: NeedContext,
        summary: str,
        department: str | None = None,
        priority: str = "normal",
        **context: Any,
    ) -> Handoff:
        """Hand the need to its department with the whole context packet."""
        return Serving(self).hand_off(ctx, summary, department, priority, **context)

    def handed_off(self, reply: Reply, handoff: Handoff) -> Reply:
        """Tell the customer who will handle it, through which channel and by when."""
        return Serving(self).handed_off(reply, handoff)

    def stage_of(self, need: str | None, customer: Customer | None) -> str:
        """The stage of a touchpoint: the need's own (a cancellation is leaving), else the
        customer's."""
        return self.stages.of_touchpoint(need, lambda: self.stages.of_customer(customer))

    # -- fallback help -----------------------------------------------------------------
    def suggestions(self, ranking: list[dict[str, Any]], limit: int = 3) -> list[dict[str, str]]:
        """Buttons for the likeliest needs when the assistant is unsure what was meant."""
        buttons: list[dict[str, str]] = []
        for entry in ranking:
            name = entry.get("name")
            if not isinstance(name, str) or name == "request_human" or len(buttons) == limit:
                continue
            label = self.routing.label_of(name)
            if label is not None:
                buttons.append(button(label, name))
        if not buttons:
            buttons = [
                button(self.routing.label_of(need) or need, need)
                for need in ("order_status", "request_invoice", "ask_pricing")
            ]
        return buttons + [button("Talk to a person", "request_human")]
