"""Realistic synthetic journeys for demos and scale tests (``python -m bot demo-data``).

Customers (standard, silver and gold tiers, and anonymous visitors) come back over weeks
on the website chat, Slack and the REST API; each conversation session is a touchpoint
with a journey stage, needs drawn from routing.yml, orders, an outcome, signals of
frustration and sometimes a rating and an effort answer. Needs the assistant cannot
finish are handed to their department and acknowledged around the department's service
level (late more often at weekends and at night, as in life); escalations are taken over
by agents after a wait; requests that meet a policy limit are policy moments whose
alternatives are often taken. Some conversations leave something unresolved, and the
customer comes back about it within days: those are the repeat contacts, marked on the
earlier touchpoint (``came_back``) as the journey store marks them.

Deterministic for a seed and an end time. Two passes: first every customer's contact
times (small integers, sorted), then the touchpoints in time order, so ids grow with time
as in a live store, written with executemany in batches.
"""

from __future__ import annotations

import functools
import itertools
import json
import math
import random
import secrets
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, insert, select, text, update
from sqlalchemy.engine import Connection, Engine

from bot.departments import Department, load_departments
from bot.journey.schema import (
    feedback,
    handoffs,
    identities,
    journey_customers,
    policy_moments,
    routing_decisions,
    takeovers,
    touchpoints,
    users,
)
from bot.journey.signals import Signals
from bot.journey.store import REPEAT_CONTACT_DAYS, outcome_at_end
from bot.policies.engine import PolicyEngine
from bot.routing import FROM_CUSTOMER, RoutingMap

BATCH = 20_000  # touchpoints per transaction (with their handoffs, moments, ratings...)
MAX_DAYS = 730  # contact times are packed in 26 bits of seconds
CHANNELS = ("socketio", "slack", "rest")
CHANNEL_SHARE = (0.62, 0.28, 0.10)
TIERS = ("standard", "silver", "gold")
TIER_SHARE = (0.70, 0.20, 0.10)
ANONYMOUS_SHARE = 0.12  # visitors who never say who they are (prospects)
SUPPORT = "support"
# Customers' contacts: about 8 in a customer's life, weeks apart, unless something was left
# unresolved, when they come back within days about the same thing.
CHURN_PER_CONTACT = 0.12
MEAN_GAP_DAYS = 21.0
COME_BACK_SHARE = 0.18
# How busy each hour of the day is (relative), midnight first.
HOURLY = (2, 1, 1, 1, 1, 2, 4, 8, 14, 18, 19, 19, 17, 17, 18, 18, 17, 16, 16, 17, 17, 14, 9, 5)
# How often each need is raised, relative to 1 for needs not listed (new ones in routing.yml).
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
# Acknowledgement time as a share of the service level: median, spread (log-normal).
ACK_SPEED = {"delivery": (0.40, 0.55), "billing": (0.45, 0.60), "sales": (0.35, 0.65)}
FIRST_NAMES = ("Jane", "Omar", "Li", "Ana", "Tom", "Priya", "Lukas", "Maria", "Kofi", "Sara",
               "Noah", "Yuki", "Ines", "Ben", "Amara", "Jonas", "Chloe", "Ravi", "Eva", "Sam")  # fmt: skip
LAST_NAMES = ("Doe", "Khan", "Wei", "Silva", "Brown", "Patel", "Meyer", "Rossi", "Mensah",
              "Nilsson", "Garcia", "Sato", "Costa", "Cohen", "Okafor", "Berg", "Martin")  # fmt: skip
_HOURS = tuple(range(24))
_HOURLY_CUMULATIVE = tuple(itertools.accumulate(HOURLY))
DEMO_AGENTS = (("demo-ana", "Ana"), ("demo-ben", "Ben"), ("demo-chloe", "Chloe"))


@dataclass(frozen=True)
class DemoSummary:
    """What was written, and how long it took."""

    customers: int
    touchpoints: int
    handoffs: int
    takeovers: int
    policy_moments: int
    ratings: int
    seconds: float
    agents_created: tuple[str, ...] = ()


class DemoDataExists(RuntimeError):
    """Demo data with this seed is in the store already (its ids would collide)."""


def load_demo_data(
    engine: Engine,
    touchpoints_wanted: int,
    seed: int = 1,
    days: int = 90,
    end: datetime | None = None,
    progress: Callable[[str], None] | None = None,
) -> DemoSummary:
    """Write ``touchpoints_wanted`` synthetic touchpoints over the ``days`` before ``end``.

    The journey database must be migrated, and nothing else writing to it meanwhile (ids
    are handed out up front, for the bulk inserts). Raises ``DemoDataExists`` when this
    seed was loaded before; ``progress`` receives a line now and then.
    """
    if touchpoints_wanted < 1:
        raise ValueError("ask for at least one touchpoint")
    if not 1 <= days <= MAX_DAYS:
        raise ValueError(f"--days is 1 to {MAX_DAYS}")
    started = time.monotonic()
    end = (end or datetime.now()).replace(microsecond=0)
    say = progress or (lambda _line: None)
    prefix = f"demo{seed}-"
    with engine.connect() as conn:
        if conn.execute(
            select(journey_customers.c.id)
            .where(
                journey_customers.c.id.like(f"{prefix}%")
                | journey_customers.c.id.like(f"anon-%-{prefix}%")
            )
            .limit(1)
        ).first():
            raise DemoDataExists(
                f"demo data with seed {seed} is already in this store; load another with --seed"
            )
    agents, created = _agents(engine)
    rng = random.Random(seed)
    start = end - timedelta(days=days)
    # Contact times count seconds from the midnight before the window, so hours are hours.
    origin = datetime.combine(start.date(), datetime.min.time())
    first_second = int((start - origin).total_seconds())
    schedule, anonymous = _schedule(rng, touchpoints_wanted, first_second, days)
    say(f"demo data: {len(schedule):,} touchpoints over {days} days to {end:%Y-%m-%d %H:%M}")
    maker = _Journeys(
        rng=rng,
        prefix=prefix,
        origin=origin,
        end=end,
        routing=RoutingMap.load(),
        departments=load_departments(),
        policies=PolicyEngine.load(),
        agents=agents,
        next_ids=_next_ids(engine),
        anonymous=anonymous,
    )
    written = 0
    for first in range(0, len(schedule), BATCH):
        rows = maker.make(schedule[first : first + BATCH])
        with engine.begin() as conn:
            _write(conn, rows)
            _mark_came_back(conn, maker.take_late_marks())
        written += len(rows["touchpoints"])
        say(
            f"  {written:,} / {len(schedule):,} touchpoints "
            f"({100 * written // len(schedule)}%), {time.monotonic() - started:.0f} s"
        )
    if engine.dialect.name == "postgresql":
        with engine.begin() as conn:
            _advance_sequences(conn)
    return DemoSummary(
        customers=maker.counts["customers"],
        touchpoints=written,
        handoffs=maker.counts["handoffs"],
        takeovers=maker.counts["takeovers"],
        policy_moments=maker.counts["policy_moments"],
        ratings=maker.counts["ratings"],
        seconds=time.monotonic() - started,
        agents_created=created,
    )


# -- pass 1: when each customer gets in touch ------------------------------------------------

# A contact packs into one int, so a million sort fast and small: seconds since the start |
# customer | the customer's contact number (capped) | comes back about it | is a repeat.
_CUSTOMER_BITS, _NTH_BITS = 24, 4


def _pack(second: int, customer: int, nth: int, comes_back: bool, repeat: bool) -> int:
    return (
        (((second << _CUSTOMER_BITS | customer) << _NTH_BITS | min(nth, 15)) << 2)
        | comes_back << 1
        | repeat
    )


def _unpack(packed: int) -> tuple[int, int, int, bool, bool]:
    repeat, comes_back = packed & 1, packed >> 1 & 1
    rest = packed >> 2
    nth = rest & (1 << _NTH_BITS) - 1
    rest >>= _NTH_BITS
    return (
        rest >> _CUSTOMER_BITS,
        rest & (1 << _CUSTOMER_BITS) - 1,
        nth,
        bool(comes_back),
        bool(repeat),
    )


def _schedule(
    rng: random.Random, wanted: int, first_second: int, days: int
) -> tuple[list[int], bytearray]:
    """Every contact in the window, packed and sorted by time (exactly ``wanted`` of them),
    and which customers are anonymous visitors (1) by number.

    Times are seconds from the midnight before the window, which starts at ``first_second``.
    """
    span = first_second + days * 86_400
    lifetime = 200 * 86_400  # customers met before the window still get in touch in it
    contacts: list[int] = []
    anonymous_ones = bytearray()
    customer = 0
    while len(contacts) < wanted:
        if customer >= 1 << _CUSTOMER_BITS:
            raise ValueError("too many customers for one demo load; ask for fewer touchpoints")
        at = rng.uniform(first_second - lifetime, span)
        anonymous = rng.random() < ANONYMOUS_SHARE
        anonymous_ones.append(anonymous)
        nth, repeat, previous = 0, False, -1
        mine = []
        while at < span:
            comes_back = rng.random() < COME_BACK_SHARE
            if at >= first_second:
                # Ten minutes at least after their previous contact, so order and sessions hold.
                second = max(_business_like(rng, int(at)), previous + 600)
                if not first_second <= second < span:
                    break
                mine.append(_pack(second, customer, nth, comes_back, repeat))
                previous = second
            if anonymous and not comes_back:
                break  # visitors rarely return, unless something was left open
            if comes_back:
                at += rng.uniform(0.2, 6.5) * 86_400
                repeat = True
            else:
                if rng.random() < CHURN_PER_CONTACT:
                    break
                at += rng.expovariate(1 / (MEAN_GAP_DAYS * 86_400))
                repeat = False
            nth += 1
        contacts += mine[: wanted - len(contacts)]
        customer += 1
    contacts.sort()
    return contacts, anonymous_ones


def _business_like(rng: random.Random, second: int) -> int:
    """Move a moment to an hour of the same day drawn from how busy each hour is."""
    day = second - second % 86_400
    hour = rng.choices(_HOURS, cum_weights=_HOURLY_CUMULATIVE)[0]
    return day + hour * 3600 + rng.randrange(3600)


# -- pass 2: the touchpoints, in time order --------------------------------------------------


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


class _Journeys:
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
        self.departments = departments
        self.routes = {
            need: spec
            for need, spec in routing.as_dict().items()
            if spec["department"] in departments
        }
        self.needs = list(self.routes)
        self.need_weights = list(itertools.accumulate(NEED_WEIGHT.get(n, 1.0) for n in self.needs))
        self.anonymous = anonymous
        self.prospect_needs = [n for n in self.needs if self.routes[n]["stage"] == "prospect"]
        self.policy_of = {need: name for name, p in policies.policies.items() for need in p.needs}
        self.policies = policies
        self.agents = agents
        self.ids = next_ids
        self.customers: dict[int, _Customer] = {}
        self.counts = dict.fromkeys(
            ("customers", "handoffs", "takeovers", "policy_moments", "ratings"), 0
        )
        self.late_marks: list[int] = []
        self.batch_first_id = next_ids["touchpoints"]

    def take_late_marks(self) -> list[int]:
        """Touchpoints written in an earlier batch that a later one has since repeated."""
        marks, self.late_marks = self.late_marks, []
        return marks

    def make(self, packed_contacts: list[int]) -> dict[str, list[dict[str, Any]]]:
        """Rows for a batch of contacts, by table, parents before children."""
        self.rows: dict[str, list[dict[str, Any]]] = {
            name: []
            for name in (
                "journey_customers", "customer_identities", "touchpoints", "handoffs",
                "routing_decisions", "takeovers", "policy_moments", "feedback",
            )
        }  # fmt: skip
        self.batch_first_id = self.ids["touchpoints"]
        for packed in packed_contacts:
            self._contact(*_unpack(packed))
        return self.rows

    def _id(self, table: str) -> int:
        self.ids[table] += 1
        return self.ids[table] - 1

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
        self.counts["customers"] += 1
        self.rows["journey_customers"].append(
            {"id": c.id, "created_at": at, "name": c.name, "tier": c.tier}
        )
        return c

    def _identity(self, c: _Customer, kind: str, value: str, at: datetime) -> None:
        self.rows["customer_identities"].append(
            {
                "id": self._id("customer_identities"),
                "customer_id": c.id,
                "kind": kind,
                "value": value,
                "created_at": at,
            }
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
        touchpoint_id = self._id("touchpoints")
        messages = rng.randint(2, 8) + 3 * frustrated + (rng.randint(0, 6) if needs else 0)
        last_activity = started + timedelta(seconds=messages * rng.uniform(15, 60))

        outcome, handed = self._outcome(needs, departments, comes_back, frustrated)
        moment = self._policy_moment(c, needs, conversation, started, repeat)
        if moment is not None:
            if moment["asked_for_person"]:
                outcome, handed = "escalated", [SUPPORT]
            elif moment["chosen"] and outcome != "abandoned":
                outcome, handed = "self_served", []
        all_resolved, agent_until = True, None
        for department in handed:
            resolved, until = self._handoff(
                c, department, needs[0] if needs else "request_human", conversation,
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
            rating = self._rating(outcome, agent_until is not None, frustrated, repeat)
            if rng.random() < 0.6:
                effort = self._effort(messages, handed, frustrated, repeat)
            self._feedback(touchpoint_id, conversation, rating, ended)
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
        self.rows["touchpoints"].append(row)
        self._mark_repeats(c, started, touchpoint_id, needs, order)
        c.last = (needs[0], order) if needs else c.last

    def _mark_repeats(self, c: _Customer, started: datetime, touchpoint_id: int, needs, order):
        """Mark the customer's touchpoints this one repeats, as the journey store does
        (``came_back``, the rule of bot.journey.store.came_back_marks): those that started
        before it, at most REPEAT_CONTACT_DAYS before, sharing a need or an order with it."""
        about = frozenset([*(("need", n) for n in needs), *([("order", order)] if order else [])])
        window = timedelta(days=REPEAT_CONTACT_DAYS)
        waiting = []
        for earlier in c.recent:
            earlier_started, earlier_about, earlier_id = earlier
            if started > earlier_started + window:
                continue  # out of reach from now on
            if earlier_started < started and about & earlier_about:
                if earlier_id >= self.batch_first_id:  # in this batch, not written yet
                    self.rows["touchpoints"][earlier_id - self.batch_first_id]["came_back"] = True
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

    def _handoff(
        self,
        c: _Customer,
        department: str,
        need: str,
        conversation: str,
        channel: str,
        touchpoint_id: int,
        started: datetime,
        frustrated: bool,
    ) -> tuple[bool, datetime | None]:
        """One handoff (and, to support, an agent's takeover); (resolved?, agent's end)."""
        rng = self.rng
        team = self.departments[department]
        created = started + timedelta(seconds=rng.randint(60, 420))
        handoff_id = self._id("handoffs")
        opening = team.next_opening(created)
        agent_until = None
        acknowledged: datetime | None
        if department == SUPPORT:
            # An agent picks the chat up: minutes while the team works, else after opening.
            wait = rng.lognormvariate(math.log(7 if opening == created else 25), 0.8)
            acknowledged = opening + timedelta(minutes=wait)
            took = timedelta(minutes=rng.lognormvariate(math.log(12), 0.6))
            resolved = acknowledged + took if rng.random() < 0.7 else None
            if acknowledged <= self.end and self.agents:
                agent_until = min(acknowledged + took, self.end)
                self._takeover(conversation, channel, handoff_id, acknowledged, agent_until)
        else:
            median, spread = ACK_SPEED.get(department, (0.45, 0.6))
            share = rng.lognormvariate(math.log(median), spread)
            acknowledged = opening + timedelta(hours=team.sla_hours * share)
            resolved = acknowledged + timedelta(hours=rng.lognormvariate(math.log(6), 0.9))
        if acknowledged > self.end:
            acknowledged = resolved = None
        elif resolved is not None and resolved > self.end:
            resolved = None
        priority = (
            "urgent" if frustrated and c.tier == "gold" else "high" if frustrated else "normal"
        )
        rule = "frustrated_customer" if frustrated and department == SUPPORT else "intent_map"
        self.rows["handoffs"].append(
            {
                "id": handoff_id,
                "created_at": created,
                "department": department,
                "need": need,
                "conversation_id": conversation,
                "touchpoint_id": touchpoint_id,
                "customer_id": None if c.anonymous else c.id,
                "channel": channel,
                "priority": priority,
                "summary": f"{need.replace('_', ' ')} (demo)",
                "context": json.dumps({"demo": True, "need": need, "tier": c.tier}),
                "status": "resolved" if resolved else "acknowledged" if acknowledged else "open",
                "acknowledged_at": acknowledged,
                "resolved_at": resolved,
                "resolution": "done (demo)" if resolved else None,
            }
        )
        self.rows["routing_decisions"].append(
            {
                "id": self._id("routing_decisions"),
                "created_at": created,
                "touchpoint_id": touchpoint_id,
                "conversation_id": conversation,
                "need": need,
                "department": department,
                "priority": priority,
                "rule": rule,
                "reason": f"{need} belongs to {department}"
                if rule == "intent_map"
                else "the customer is frustrated: a person takes over",
            }
        )
        self.counts["handoffs"] += 1
        return resolved is not None, agent_until

    def _takeover(self, conversation, channel, handoff_id, started, ended) -> None:
        status = self.rng.choices(
            ("resolved", "handed_back", "transferred", "abandoned"), weights=(65, 25, 5, 5)
        )[0]
        self.rows["takeovers"].append(
            {
                "id": self._id("takeovers"),
                "conversation_id": conversation,
                "channel": channel,
                "handoff_id": handoff_id,
                "agent_id": self.rng.choice(self.agents),
                "status": status,
                "started_at": started,
                "lease_expires_at": ended,
                "ended_at": ended,
                "note": f"{status.replace('_', ' ')} (demo)",
            }
        )
        self.counts["takeovers"] += 1

    def _policy_moment(self, c, needs, conversation, started, repeat) -> dict | None:
        rng = self.rng
        policy = next((self.policy_of[n] for n in needs if n in self.policy_of), None)
        if policy is None or rng.random() > 0.35:
            return None
        offered = list(self.policies.alternatives(policy, c.tier, 2 if repeat else 1))
        roll = rng.random()
        chosen = rng.choices(offered, weights=[3, 2, 1][: len(offered)])[0] if roll < 0.55 else None
        asked = 0.55 <= roll < 0.72
        created = started + timedelta(seconds=rng.randint(30, 200))
        moment = {
            "id": self._id("policy_moments"),
            "created_at": created,
            "conversation_id": conversation,
            "customer_id": None if c.anonymous else c.id,
            "need": next(n for n in needs if n in self.policy_of),
            "policy": policy,
            "reason": self.policies.policies[policy].reason,
            "offered": json.dumps(offered),
            "chosen": chosen,
            "asked_for_person": asked,
            "closed_at": created + timedelta(seconds=rng.randint(20, 120))
            if chosen or asked
            else None,
        }
        self.rows["policy_moments"].append(moment)
        self.counts["policy_moments"] += 1
        return moment

    def _rating(self, outcome: str, agent: bool, frustrated: bool, repeat: bool) -> int:
        mean = {"self_served": 4.3, "resolved": 4.0, "handed_off": 3.6, "escalated": 3.4}.get(
            outcome, 2.2
        )
        mean += 0.4 * agent - 1.2 * frustrated - 0.5 * repeat
        return max(1, min(5, round(self.rng.gauss(mean, 0.8))))

    def _effort(self, messages: int, handed: list[str], frustrated: bool, repeat: bool) -> int:
        mean = 4.5 - 0.08 * messages - 0.6 * bool(handed) - 1.0 * frustrated - 0.7 * repeat
        return max(1, min(5, round(self.rng.gauss(mean, 0.7))))

    def _feedback(self, touchpoint_id, conversation, rating, at) -> None:
        self.rows["feedback"].append(
            {
                "id": self._id("feedback"),
                "created_at": at,
                "touchpoint_id": touchpoint_id,
                "conversation_id": conversation,
                "rating": rating,
                "comment": None,
            }
        )
        self.counts["ratings"] += 1


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


# -- writing ----------------------------------------------------------------------------------

_TABLES = {
    t.name: t
    for t in (
        journey_customers, identities, touchpoints, handoffs, routing_decisions, takeovers,
        policy_moments, feedback,
    )
}  # fmt: skip
_SEQUENCED = [name for name in _TABLES if name != "journey_customers"]


def _write(conn: Connection, rows: Mapping[str, list[dict[str, Any]]]) -> None:
    """One batch, parents first (PostgreSQL checks every foreign key as it goes)."""
    for name, batch in rows.items():
        if batch:
            conn.execute(insert(_TABLES[name]), batch)


def _mark_came_back(conn: Connection, ids: list[int]) -> None:
    """Mark touchpoints of earlier batches that this batch's repeated (``came_back``)."""
    for first in range(0, len(ids), 500):
        conn.execute(
            update(touchpoints)
            .where(touchpoints.c.id.in_(ids[first : first + 500]))
            .values(came_back=True)
        )


def _next_ids(engine: Engine) -> dict[str, int]:
    """The first free id of each table written with explicit ids."""
    with engine.connect() as conn:
        return {
            name: (conn.execute(select(func.max(_TABLES[name].c.id))).scalar() or 0) + 1
            for name in _SEQUENCED
        }


def _advance_sequences(conn: Connection) -> None:
    """PostgreSQL: move each id sequence past the ids written explicitly."""
    for name in _SEQUENCED:
        conn.execute(
            text(
                f"SELECT setval(pg_get_serial_sequence('{name}', 'id'), "
                f"(SELECT COALESCE(MAX(id), 0) + 1 FROM {name}), false)"
            )
        )


def _agents(engine: Engine) -> tuple[list[int], tuple[str, ...]]:
    """Agents to take conversations over: the store's own, else a few demo agents.

    Demo agents get a random password nobody knows; ``python -m bot users passwd`` sets one.
    """
    with engine.connect() as conn:
        found = list(
            conn.execute(
                select(users.c.id)
                .where(users.c.role == "agent", users.c.disabled_at.is_(None))
                .order_by(users.c.id)
            ).scalars()
        )
    if found:
        return found, ()
    # Imported here: only this path needs the hub's accounts (and its password hashing).
    from bot.hub.accounts import Accounts

    accounts = Accounts(engine)
    made = [
        accounts.add(username, secrets.token_urlsafe(24), "agent", f"{name} (demo)").id
        for username, name in DEMO_AGENTS
    ]
    return made, tuple(username for username, _ in DEMO_AGENTS)
