"""Repeat contacts: the marks written with touchpoints (touchpoints.came_back) and the rule the
metric works out for rows without one agree, for the journey store, demo data and raw rows.

The metric reads ``came_back`` where it is set and works the rule out in SQL where it is
NULL; so a table computed with every mark erased must equal the one computed from them.
"""

from __future__ import annotations

import itertools
import json
import random
from collections import defaultdict
from datetime import datetime, timedelta

import pytest
from sqlalchemy import insert, select, update

from bot.analytics.demo_data import load_demo_data
from bot.analytics.filters import Filters
from bot.analytics.metrics import metrics_table, repeat_contact_rate
from bot.db.migrate import migrate
from bot.db.schema import journey_customers, touchpoints
from bot.journey.repeats import came_back_marks
from bot.journey.store import JourneyStore, Turn

START = datetime(2025, 3, 3, 9, 0)
END = datetime(2025, 3, 31)


def marks(engine) -> dict[int, bool | None]:
    with engine.connect() as conn:
        rows = conn.execute(select(touchpoints.c.id, touchpoints.c.came_back)).all()
    return {r.id: r.came_back for r in rows}


def rule(engine) -> dict[int, bool]:
    """Each touchpoint's mark by the rule, worked out in Python from the rows as they are."""
    tp = touchpoints
    by_customer = defaultdict(list)
    with engine.connect() as conn:
        for r in conn.execute(select(tp).order_by(tp.c.started_at, tp.c.id)):
            about = {("need", n) for n in json.loads(r.needs)}
            about |= {("order", o) for o in json.loads(r.order_ids)}
            by_customer[r.customer_id].append((r.id, r.started_at, frozenset(about)))
    out = {}
    for customer, rows in by_customer.items():
        found = came_back_marks([(started, about) for _, started, about in rows])
        out.update(
            {id: customer is not None and m for (id, _, _), m in zip(rows, found, strict=True)}
        )
    return out


def tables_with_and_without_marks(engine, since, until):
    """The metrics table by day read from the marks, and again with every mark erased."""
    with_marks = metrics_table(engine, since, until, "day", now=until)
    with engine.begin() as conn:
        conn.execute(update(touchpoints).values(came_back=None))
    worked_out = metrics_table(engine, since, until, "day", now=until)
    return with_marks, worked_out


def test_the_store_marks_what_the_rule_says_through_any_order_of_turns(engine):
    """Random chats of a few customers, on several channels, turn by turn, as the assistant
    records them: needs and orders raised late, sessions days apart, visitors who identify."""
    migrate(engine)
    rng = random.Random(7)
    clock = [START]
    store = JourneyStore(engine, now=lambda: clock[0])
    needs = ("order_status", "order_late", "request_refund", "ask_pricing")
    orders = ("ORD-1", "ORD-2", "ORD-3")
    sessions = []  # (conversation, channel, started, customer or None for a visitor)
    for n in range(60):
        clock[0] += timedelta(hours=rng.choice((1, 5, 20, 40, 70)))
        customer = rng.choice(("C1", "C2", "C3", None))
        sessions.append((f"conv-{n % 23}", rng.choice(("rest", "slack")), clock[0], customer))
        # A turn or two in an open session: the newest, or one of the last few.
        for _ in range(rng.randint(1, 3)):
            conversation, channel, started, who = rng.choice(sessions[-4:])
            if who is None and rng.random() < 0.2:
                who = rng.choice(("C1", "C2"))  # the visitor says who they are
            clock[0] += timedelta(minutes=1)
            store.record(
                Turn(
                    conversation_id=conversation,
                    channel=channel,
                    session_started_at=started,
                    customer_id=who,
                    need=rng.choice((*needs, None)),
                    order_id=rng.choice((*orders, None, None)),
                )
            )
    stored = marks(engine)
    assert None not in stored.values()
    assert stored == rule(engine)
    assert 0 < sum(stored.values()) < len(stored)  # some repeats, not all
    with_marks, worked_out = tables_with_and_without_marks(engine, START, clock[0])
    assert with_marks == worked_out


def test_demo_data_marks_repeats_as_the_store_would(engine):
    migrate(engine)
    load_demo_data(engine, 3000, seed=4, days=28, end=END)
    stored = marks(engine)
    assert stored == rule(engine)
    assert 0.05 <= sum(stored.values()) / len(stored) <= 0.4
    with_marks, worked_out = tables_with_and_without_marks(engine, END - timedelta(days=28), END)
    assert with_marks == worked_out


def test_demo_data_marks_across_its_write_batches(engine, monkeypatch):
    """A repeat in one batch of the load marks a touchpoint written with an earlier one."""
    import bot.analytics.demo_data as demo

    monkeypatch.setattr(demo, "BATCH", 97)
    migrate(engine)
    load_demo_data(engine, 1500, seed=6, days=20, end=END)
    assert marks(engine) == rule(engine)


@pytest.mark.parametrize(
    "gap, repeated", [(timedelta(0), True), (timedelta(microseconds=1), False)]
)
def test_rows_without_a_mark_are_worked_out_to_the_microsecond(engine, gap, repeated):
    """Rows written by other means (no mark): the metric applies the same rule itself, 7
    days included, a microsecond more excluded."""
    migrate(engine)
    first = datetime(2025, 3, 10, 9, 30, 15, 123456)
    base = {
        "customer_id": "C1", "channel": "rest", "departments": "[]", "order_ids": "[]",
        "outcome": "self_served", "signals": "{}", "message_count": 1,
    }  # fmt: skip
    rows = [
        {**base, "id": 1, "needs": '["order_late"]', "started_at": first},
        {**base, "id": 2, "needs": '["order_late"]', "started_at": first + timedelta(days=7) + gap},
    ]
    for row, n in zip(rows, itertools.count()):
        row.update(
            conversation_id=f"c{n}",
            session_started_at=row["started_at"],
            last_activity_at=row["started_at"],
        )
    with engine.begin() as conn:
        conn.execute(insert(journey_customers).values(id="C1", created_at=first))
        conn.execute(insert(touchpoints), rows)
    assert marks(engine) == {1: None, 2: None}
    window = Filters(since=first, until=first + timedelta(days=1))
    assert repeat_contact_rate(engine, window) == (1.0 if repeated else 0.0)
    assert rule(engine)[1] is repeated
