"""Realistic synthetic journeys for demos and scale tests (``python -m bot demo-data``).

Customers (standard, silver and gold tiers, and anonymous visitors) come back over weeks
on the website chat, Slack and the REST API; each conversation session is a touchpoint
with a journey stage, needs drawn from routing.yml, orders, an outcome, signals of
frustration and sometimes a rating and an effort answer. Needs the assistant cannot
finish are handed to their department and acknowledged around the department's service
level; escalations are taken over by agents after a wait; requests that meet a policy
limit are policy moments whose alternatives are often taken. Some conversations leave
something unresolved, and the customer comes back about it within days: those are the
repeat contacts, marked on the earlier touchpoint (``came_back``) as the journey store
marks them.

Deterministic for a seed and an end time. Two passes: first every customer's contact
times (small integers, sorted: demo_schedule.py), then the touchpoints in time order
(demo_journeys.py, with the teams' side in demo_teams.py), so ids grow with time as in a
live store, written with executemany in batches (demo_rows.py). This module loads them:
the checks, the agents, the batches and the progress lines.
"""

from __future__ import annotations

import random
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.engine import Engine

from bot.analytics.demo_journeys import DemoJourneys
from bot.analytics.demo_rows import advance_sequences, mark_came_back, next_ids, write_batch
from bot.analytics.demo_schedule import MAX_DAYS, schedule
from bot.db.schema import journey_customers, users
from bot.departments import load_departments
from bot.policies.engine import PolicyEngine
from bot.routing import RoutingMap

BATCH = 20_000  # touchpoints per transaction (with their handoffs, moments, ratings...)
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
    contacts, anonymous = schedule(rng, touchpoints_wanted, first_second, days)
    say(f"demo data: {len(contacts):,} touchpoints over {days} days to {end:%Y-%m-%d %H:%M}")
    maker = DemoJourneys(
        rng=rng,
        prefix=prefix,
        origin=origin,
        end=end,
        routing=RoutingMap.load(),
        departments=load_departments(),
        policies=PolicyEngine.load(),
        agents=agents,
        next_ids=next_ids(engine),
        anonymous=anonymous,
    )
    written = 0
    for first in range(0, len(contacts), BATCH):
        rows = maker.make(contacts[first : first + BATCH])
        with engine.begin() as conn:
            write_batch(conn, rows)
            mark_came_back(conn, maker.take_late_marks())
        written += len(rows["touchpoints"])
        say(
            f"  {written:,} / {len(contacts):,} touchpoints "
            f"({100 * written // len(contacts)}%), {time.monotonic() - started:.0f} s"
        )
    if engine.dialect.name == "postgresql":
        with engine.begin() as conn:
            advance_sequences(conn)
    return DemoSummary(
        customers=maker.rows.counts["customers"],
        touchpoints=written,
        handoffs=maker.rows.counts["handoffs"],
        takeovers=maker.rows.counts["takeovers"],
        policy_moments=maker.rows.counts["policy_moments"],
        ratings=maker.rows.counts["ratings"],
        seconds=time.monotonic() - started,
        agents_created=created,
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
