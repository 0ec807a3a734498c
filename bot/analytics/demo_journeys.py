"""Pass 2 of the demo data, the customers' side: each contact as a touchpoint, in time order.

Customers (standard, silver and gold tiers, and anonymous visitors) come back over weeks
on the website chat, Slack and the REST API; each conversation session is a touchpoint
with a journey stage, needs drawn from routing.yml, orders, an outcome, signals of
frustration and what the customer wrote. A contact about something left unresolved marks
the earlier touchpoint it repeats (``came_back``) as the journey store does. What the teams
do with the contact (handoffs, takeovers, policy moments, ratings) is demo_teams.py.
"""

from __future__ import annotations

import functools
import itertools
import json
import random
from collections.abc import Mapping
from datetime import datetime, timedelta

from bot.analytics.demo_rows import Batch, DemoRows
from bot.analytics.demo_schedule import unpack
from bot.analytics.demo_teams import SUPPORT, DemoTeams
from bot.departments import Department
from bot.journey.repeats import REPEAT_CONTACT_DAYS
from bot.journey.signals import Signals
from bot.journey.store import outcome_at_end
from bot.policies.engine import PolicyEngine
from bot.routing import FROM_CUSTOMER, RoutingMap

CHANNELS = ("socketio", "slack", "rest")
CHANNEL_SHARE = (0.62, 0.28, 0.10)
TIERS = ("standard", "silver", "gold")
TIER_SHARE = (0.70, 0.20, 0.10)
NEED_WEIGHT = {
    "order_status": 14, "order_late": 6, "order_not_received": 3, "report_damaged_item": 2,
    "report_wrong_item": 1.5, "report_missing_item": 1.5, "change_delivery_address": 2,
    "change_delivery_date": 2, "delivery_options": 2, "return_item": 5, "cancel_order": 3,
    "expedite_order": 1.5, "request_invoice": 4, "charged_twice": 2, "unknown_charge": 2,
    "bill_too_high": 1.5, "request_refund": 5, "refund_status": 4, "update_payment_method": 2,
    "payment_failed": 2, "ask_payment_methods": 1.5, "ask_cancellation_fee": 1,
    "ask_refund_policy": 1.5, "cancel_subscription": 1.5, "refund_other_method": 1,
    "ask_pricing": 3, "ask_discount": 2, "ask_free_trial": 1.5, "book_demo": 1,
    "request_quote": 1, "upgrade_plan": 1.5, "ask_renewal": 1.5, "getting_started": 2,
    "place_order": 2, "price_match": 1, "request_human": 2, "complain": 1.5,
}  # fmt: skip
# What customers write about a need (free-text search in the CX log finds these); needs not
# listed are written as their name in words.
SAYS = {
    "order_status": ("where is my order {order}?", "any news on {order}", "has my parcel shipped"),
    "order_late": ("my parcel {order} is late", "it was due yesterday, where is it"),
    "order_not_received": ("it says delivered but I never got {order}",),
    "report_damaged_item": ("the box arrived crushed and the lamp is broken",),
    "return_item": ("I'd like to send {order} back", "how do I return this"),
    "cancel_order": ("please cancel {order}",),
    "request_invoice": ("can I get an invoice for {order}",),
    "charged_twice": ("I was charged twice for {order}",),
    "unknown_charge": ("what is this charge on my card?",),
    "request_refund": ("I want a refund for {order}", "refund please, it doesn't fit"),
    "refund_status": ("where is my refund?",),
    "payment_failed": ("my payment keeps failing",),
    "ask_pricing": ("how much is the pro plan?",),
    "ask_discount": ("do you have any discount for students?",),
    "request_human": ("I want to talk to a person",),
    "complain": ("this is the worst service ever",),
}  # fmt: skip
FRUSTRATED_SAYS = ("I already told you that!", "this is ridiculous", "for the third time...")
# Share of each department's needs the assistant finishes alone (the rest are handed off).
SELF_SERVED = {"delivery": 0.80, "billing": 0.65, "sales": 0.58, SUPPORT: 0.0}
FIRST_NAMES = ("Jane", "Omar", "Li", "Ana", "Tom", "Priya", "Lukas", "Maria", "Kofi", "Sara",
               "Noah", "Yuki", "Ines", "Ben", "Amara", "Jonas", "Chloe", "Ravi", "Eva", "Sam")  # fmt: skip
LAST_NAMES = ("Doe", "Khan", "Wei", "Silva", "Brown", "Patel", "Meyer", "Rossi", "Mensah",
              "Nilsson", "Garcia", "Sato", "Costa", "Cohen", "Okafor", "Berg", "Martin")  # fmt: skip


class _Customer:
    """What the generator remembers about one customer between their contacts."""

    __slots__ = (
        "id", "tier", "name", "anonymous", "channel", "orders", "last", "seen_channels", "recent",
    )  # fmt: skip

    def __init__(self, id, tier, name, anonymous, channel):
        self.id = id
        self.tier = tier
        self.name = name
        self.anonymous = anonymous
        self.channel = channel
        self.orders: list[str] = []
        self.last: tuple[str, str | None] | None = None  # (need, order) of the last contact
        self.seen_channels: list[str] = []
        # Their touchpoints about something, of their last REPEAT_CONTACT_DAYS, not yet
        # repeated: (started, what about, touchpoint id).
        self.recent: list[tuple[datetime, frozenset, int]] = []


class DemoJourneys:
    """Turns packed contacts into rows for every journey table."""

    def __init__(
        self,
        rng: random.Random,
        prefix: str,
        origin: datetime,
        end: datetime,
        routing: RoutingMap,
        departments: Mapping[str, Department],
        policies: PolicyEngine,
        agents: list[int],
        next_ids: dict[str, int],
        anonymous: bytearray,
    ):
        self.rng = rng
        self.prefix = prefix
        self.origin = origin
        self.end = end
        self.routes = {
            need: spec
            for need, spec in routing.as_dict().items()
            if spec["department"] in departments
        }
        self.needs = list(self.routes)
        self.need_weights = list(itertools.accumulate(NEED_WEIGHT.get(n, 1.0) for n in self.needs))
        self.anonymous = anonymous
        self.prospect_needs = [n for n in self.needs if self.routes[n]["stage"] == "prospect"]
        self.rows = DemoRows(next_ids)
        self.teams = DemoTeams(rng, end, departments, policies, agents, self.rows)
        self.customers: dict[int, _Customer] = {}
        self.late_marks: list[int] = []

    def take_late_marks(self) -> list[int]:
        """Touchpoints written in an earlier batch that a later one has since repeated."""
        marks, self.late_marks = self.late_marks, []
        return marks

    def make(self, packed_contacts: list[int]) -> Batch:
        """Rows for a batch of contacts, by table, parents before children."""
        batch = self.rows.start_batch()
        for packed in packed_contacts:
            self._contact(*unpack(packed))
        return batch

    def _customer(self, number: int, nth: int, at: datetime) -> _Customer:
        c = self.customers.get(number)
        if c is not None:
            return c
        rng = self.rng
        anonymous = bool(self.anonymous[number])
        channel = rng.choices(CHANNELS, weights=CHANNEL_SHARE)[0]
        if anonymous:
            channel = "socketio" if channel == "slack" else channel
            conversation = f"{self.prefix}{channel}-{number}"
            c = _Customer(f"anon-{channel}-{conversation}"[:64], None, None, True, channel)
        else:
            name = f"{rng.choice(FIRST_NAMES)} {rng.choice(LAST_NAMES)}"
            tier = rng.choices(TIERS, weights=TIER_SHARE)[0]
            c = _Customer(f"{self.prefix}{number}", tier, name, False, channel)
            email = f"{name.lower().replace(' ', '.')}.{number}@{self.prefix}example.com"
            self._identity(c, "email", email, at)
        self.customers[number] = c
        self.rows.counts["customers"] += 1
        self.rows.add(
            "journey_customers", {"id": c.id, "created_at": at, "name": c.name, "tier": c.tier}
        )
        return c

    def _identity(self, c: _Customer, kind: str, value: str, at: datetime) -> None:
        self.rows.add(
            "customer_identities",
            {
                "id": self.rows.new_id("customer_identities"),
                "customer_id": c.id,
                "kind": kind,
                "value": value,
                "created_at": at,
            },
        )

    def _contact(self, second: int, number: int, nth: int, comes_back: bool, repeat: bool):
        rng = self.rng
        started = self.origin + timedelta(seconds=second)
        c = self._customer(number, nth, started)
        channel = c.channel if c.anonymous or rng.random() < 0.8 else rng.choice(CHANNELS)
        conversation = f"{self.prefix}{channel}-{number}"
        if channel not in c.seen_channels:
            c.seen_channels.append(channel)
            if not c.anonymous or channel == c.channel:
                self._identity(c, channel, conversation, started)
            if channel == "slack" and not c.anonymous:
                self._identity(c, "slack", f"U{self.prefix.upper()}{number}", started)

        needs, order = self._needs(c, nth, repeat)
        departments = list(dict.fromkeys(self.routes[n]["department"] for n in needs))
        stage = self._stage(c, nth, needs)
        # Signals of effort: more when they had to come back, or will have to.
        frustrated = rng.random() < 0.06 + 0.18 * repeat + 0.12 * comes_back
        signals = Signals(
            repeats=rng.randint(1, 3) if frustrated and rng.random() < 0.7 else 0,
            told_you=rng.randint(1, 2) if frustrated and repeat and rng.random() < 0.5 else 0,
            negative_words=rng.randint(1, 3) if frustrated else 0,
            contacts_about_order=1 if repeat and order else 0,
        )
        touchpoint_id = self.rows.new_id("touchpoints")
        messages = rng.randint(2, 8) + 3 * frustrated + (rng.randint(0, 6) if needs else 0)
        last_activity = started + timedelta(seconds=messages * rng.uniform(15, 60))

        outcome, handed = self._outcome(needs, departments, comes_back, frustrated)
        known = None if c.anonymous else c.id  # the customer departments and policies see
        moment = self.teams.policy_moment(known, c.tier, needs, conversation, started, repeat)
        if moment is not None:
            if moment["asked_for_person"]:
                outcome, handed = "escalated", [SUPPORT]
            elif moment["chosen"] and outcome != "abandoned":
                outcome, handed = "self_served", []
        all_resolved, agent_until = True, None
        for department in handed:
            resolved, until = self.teams.handoff(
                known, c.tier, department, needs[0] if needs else "request_human", conversation,
                channel, touchpoint_id, started, frustrated,
            )  # fmt: skip
            all_resolved &= resolved
            if until is not None:
                agent_until = max(agent_until or until, until)
            if department not in departments:
                departments.append(department)
        if agent_until is not None:
            last_activity = max(last_activity, agent_until)
        if handed and all_resolved:
            outcome = "resolved"
        # The idle sweep closes a quiet chat after the session expiry (an hour here).
        ended: datetime | None
        ended = last_activity + (
            timedelta(hours=1) if outcome == "abandoned" else timedelta(seconds=rng.randint(5, 90))
        )
        if ended > self.end:
            ended = None
            if outcome == "abandoned":
                outcome = "self_served"  # not swept yet: still a live chat
        rating = effort = None
        if ended is not None and rng.random() < (0.04 if outcome == "abandoned" else 0.3):
            rating = self.teams.rating(outcome, agent_until is not None, frustrated, repeat)
            if rng.random() < 0.6:
                effort = self.teams.effort(messages, handed, frustrated, repeat)
            self.teams.feedback(touchpoint_id, conversation, rating, ended)
        row = {
            "id": touchpoint_id,
            "conversation_id": conversation,
            "session_started_at": started,
            "customer_id": c.id,
            "channel": channel,
            "stage": stage,
            "needs": json.dumps(needs),
            "departments": json.dumps(departments),
            "order_ids": json.dumps([order] if order else []),
            # A chat that ended having raised no need solved nothing (the store's rule).
            "outcome": outcome
            if ended is None
            else outcome_at_end(outcome, json.dumps(needs), messages),
            "signals": _signals_json(signals),
            "rating": rating,
            "effort": effort,
            "message_count": messages,
            "customer_text": _customer_words(touchpoint_id, needs, order, frustrated),
            "started_at": started,
            "last_activity_at": last_activity,
            "ended_at": ended,
            "came_back": False,  # until a later one repeats it
        }
        self.rows.add("touchpoints", row)
        self._mark_repeats(c, started, touchpoint_id, needs, order)
        c.last = (needs[0], order) if needs else c.last

    def _mark_repeats(self, c: _Customer, started: datetime, touchpoint_id: int, needs, order):
        """Mark the customer's touchpoints this one repeats, as the journey store does
        (``came_back``, the rule of bot.journey.repeats.came_back_marks): those that started
        before it, at most REPEAT_CONTACT_DAYS before, sharing a need or an order with it."""
        about = frozenset([*(("need", n) for n in needs), *([("order", order)] if order else [])])
        window = timedelta(days=REPEAT_CONTACT_DAYS)
        waiting = []
        for earlier in c.recent:
            earlier_started, earlier_about, earlier_id = earlier
            if started > earlier_started + window:
                continue  # out of reach from now on
            if earlier_started < started and about & earlier_about:
                first = self.rows.first_touchpoint
                if earlier_id >= first:  # in this batch, not written yet
                    self.rows.batch["touchpoints"][earlier_id - first]["came_back"] = True
                else:
                    self.late_marks.append(earlier_id)
            else:
                waiting.append(earlier)
        c.recent = waiting
        if about:
            c.recent.append((started, about, touchpoint_id))

    def _needs(self, c: _Customer, nth: int, repeat: bool) -> tuple[list[str], str | None]:
        rng = self.rng
        if repeat and c.last is not None:
            need, order = c.last
            if rng.random() < 0.25:  # the same matter, asked another way (same department)
                same = [
                    n
                    for n in self.needs
                    if self.routes[n]["department"] == self.routes[need]["department"]
                ]
                need = rng.choice(same)
            return [need], order
        if rng.random() < 0.07:
            return [], None  # a greeting, a question about nothing we route
        if c.anonymous or (nth == 0 and rng.random() < 0.35):
            needs = [rng.choice(self.prospect_needs)]
        else:
            needs = [rng.choices(self.needs, cum_weights=self.need_weights)[0]]
            if rng.random() < 0.12:
                second = rng.choices(self.needs, cum_weights=self.need_weights)[0]
                if second != needs[0]:
                    needs.append(second)
        order = None
        if not c.anonymous and self.routes[needs[0]]["department"] in ("delivery", "billing"):
            if not c.orders or rng.random() < 0.3:
                c.orders.append(f"ORD-{c.id.upper()}-{len(c.orders) + 1}")
            order = c.orders[-1]
        return needs, order

    def _stage(self, c: _Customer, nth: int, needs: list[str]) -> str | None:
        if needs and self.routes[needs[0]]["stage"] != FROM_CUSTOMER:
            return self.routes[needs[0]]["stage"]
        if c.anonymous or not c.orders:
            return "prospect" if needs or not c.anonymous else None
        return ("purchase", "purchase", "onboarding")[nth] if nth < 3 else "usage"

    def _outcome(
        self, needs: list[str], departments: list[str], comes_back: bool, frustrated: bool
    ) -> tuple[str, list[str]]:
        """The outcome so far, and the departments the conversation is handed to."""
        rng = self.rng
        if rng.random() < (0.22 if comes_back else 0.07):
            return "abandoned", []
        if not needs:
            return "self_served", []
        department = departments[0]
        if department == SUPPORT or (frustrated and rng.random() < 0.35) or rng.random() < 0.02:
            return "escalated", [SUPPORT]
        self_served = SELF_SERVED.get(department, 0.5) * (0.55 if comes_back else 1.0)
        if rng.random() < self_served:
            return "self_served", []
        return "handed_off", [department]


def _customer_words(
    touchpoint_id: int, needs: list[str], order: str | None, frustrated: bool
) -> str:
    """Plausible customer messages for a touchpoint (no random draws: the journeys a seed
    makes stay the same), one per line as ``touchpoints.customer_text`` holds them."""
    lines = ["hi"]
    for need in needs:
        options = SAYS.get(need) or (f"I have a question: {need.replace('_', ' ')}",)
        lines.append(options[touchpoint_id % len(options)].format(order=order or "my order"))
    if frustrated:
        lines.append(FRUSTRATED_SAYS[touchpoint_id % len(FRUSTRATED_SAYS)])
    return "\n".join(lines)


@functools.lru_cache(maxsize=1024)
def _signals_json(signals: Signals) -> str:
    """A touchpoint's signals as stored (few distinct ones: cached, as_dict is slow)."""
    return json.dumps(signals.as_dict())
