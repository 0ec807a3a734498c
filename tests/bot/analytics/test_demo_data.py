"""Synthetic journeys: the same seed gives the same store, and the figures look like a business."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from sqlalchemy import func, select

from bot.analytics.demo_data import DemoDataExists, load_demo_data
from bot.analytics.log import touchpoint_log
from bot.analytics.log_filters import LogFilters
from bot.analytics.metrics import metrics_table
from bot.db.engine import make_engine
from bot.db.migrate import migrate
from bot.db.schema import (
    feedback,
    handoffs,
    identities,
    journey_customers,
    policy_moments,
    routing_decisions,
    takeovers,
    touchpoints,
)
from bot.journey.store import JourneyStore, Turn

END = datetime(2025, 3, 12, 10, 0)
TABLES = (
    journey_customers, identities, touchpoints, handoffs, routing_decisions, takeovers,
    policy_moments, feedback,
)  # fmt: skip


def dump(engine) -> dict[str, list[tuple]]:
    with engine.connect() as conn:
        return {
            t.name: [tuple(r) for r in conn.execute(select(t).order_by(*t.primary_key.columns))]
            for t in TABLES
        }


def fresh(path) -> object:
    engine = make_engine(f"sqlite:///{path}")
    migrate(engine)
    return engine


def test_the_same_seed_gives_the_same_journeys(tmp_path):
    first, second, other = (fresh(tmp_path / f"{n}.db") for n in ("a", "b", "c"))
    load_demo_data(first, 1500, seed=11, days=30, end=END)
    load_demo_data(second, 1500, seed=11, days=30, end=END)
    load_demo_data(other, 1500, seed=12, days=30, end=END)
    assert dump(first) == dump(second)
    assert dump(first)["touchpoints"] != dump(other)["touchpoints"]


def test_demo_journeys_look_like_a_business(engine):
    migrate(engine)
    progress = []
    summary = load_demo_data(engine, 4000, seed=5, days=60, end=END, progress=progress.append)
    assert summary.touchpoints == 4000 and summary.customers > 500
    assert progress[-1].startswith("  4,000 / 4,000 touchpoints (100%)")
    with engine.connect() as conn:
        first, last = conn.execute(
            select(func.min(touchpoints.c.started_at), func.max(touchpoints.c.started_at))
        ).one()
        # Every handoff, moment and rating belongs to a touchpoint that exists.
        orphans = conn.execute(
            select(func.count())
            .select_from(
                handoffs.outerjoin(touchpoints, touchpoints.c.id == handoffs.c.touchpoint_id)
            )
            .where(touchpoints.c.id.is_(None))
        ).scalar_one()
        channels = set(conn.execute(select(touchpoints.c.channel).distinct()).scalars())
    assert END - timedelta(days=60) <= first and last < END
    assert orphans == 0 and channels == {"socketio", "slack", "rest"}

    total = metrics_table(engine, END - timedelta(days=60), END, "week", now=END).total
    assert total["conversations"] == 4000
    assert 0.45 <= total["self_service_rate"] <= 0.75
    assert 0.04 <= total["escalation_rate"] <= 0.2
    assert 0.03 <= total["abandonment_rate"] <= 0.2
    assert all(total[f"handoffs_{d}"] > 50 for d in ("sales", "billing", "delivery", "support"))
    assert 0.8 <= total["sla_met_rate"] <= 0.99  # mostly in time, not always
    assert 3 <= total["median_pickup_minutes"] <= 30
    assert 3.2 <= total["rating_assistant"] <= 4.6 and 2.5 <= total["rating_agents"] <= 4.8
    assert 2.5 <= total["effort_score"] <= 4.5
    assert 0.05 <= total["repeat_contact_rate"] <= 0.4
    assert total["policy_moments"] > 50 and 0.3 <= total["alternative_taken_rate"] <= 0.8
    # Some conversations were taken over by the demo agents created for them.
    assert summary.takeovers > 0 and summary.agents_created


def test_the_store_keeps_working_after_a_demo_load(engine):
    """Ids were written explicitly; new rows (PostgreSQL sequences too) come after them."""
    migrate(engine)
    load_demo_data(engine, 300, seed=2, days=10, end=END)
    recorded = JourneyStore(engine, now=lambda: END).record(
        Turn(conversation_id="live-1", channel="rest", session_started_at=END, ended=True)
    )
    with engine.connect() as conn:
        highest = conn.execute(select(func.max(touchpoints.c.id))).scalar_one()
    assert recorded.id == highest > 300
    with pytest.raises(DemoDataExists):
        load_demo_data(engine, 10, seed=2, days=10, end=END)
    load_demo_data(engine, 10, seed=3, days=10, end=END)  # another seed adds to it


def test_demo_customers_wrote_words_the_log_search_finds(engine):
    migrate(engine)
    load_demo_data(engine, 600, seed=5, days=30, end=END)
    with engine.connect() as conn:
        about_refunds = set(
            conn.execute(
                select(touchpoints.c.id).where(touchpoints.c.needs.contains('"request_refund"'))
            ).scalars()
        )
        said = dict(conn.execute(select(touchpoints.c.id, touchpoints.c.customer_text)).all())
    assert about_refunds and all(text and text.startswith("hi") for text in said.values())
    found = {e["id"] for e in touchpoint_log(engine, LogFilters(text="refund"), limit=500).entries}
    # Every chat about a refund says so (so do refund_status ones: "where is my refund?").
    assert about_refunds <= found
    assert all("refund" in said[i].lower() for i in found)
