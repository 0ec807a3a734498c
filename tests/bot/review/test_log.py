"""The touchpoint log: filtered, newest first, paged by keyset without gaps or repeats."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from sqlalchemy import insert

from bot.journey.migrate import migrate
from bot.journey.schema import journey_customers, touchpoints
from bot.review.log import BadCursor, touchpoint_log
from bot.review.metrics import Filters

START = datetime(2025, 3, 1, 9, 0)


@pytest.fixture
def store(engine):
    """53 touchpoints, two of them at the very same moment (ids break the tie)."""
    migrate(engine)
    rows = []
    for i in range(1, 54):
        started = START + timedelta(minutes=10 * i) if i != 53 else START + timedelta(minutes=10)
        rows.append(
            {
                "id": i, "conversation_id": f"c{i}", "session_started_at": started,
                "customer_id": "C1" if i % 2 else None,
                "channel": ("socketio", "slack", "rest")[i % 3],
                "stage": "usage", "needs": '["order_status"]' if i % 4 else "[]",
                "departments": '["delivery"]' if i % 4 else "[]", "order_ids": "[]",
                "outcome": "abandoned" if i % 5 == 0 else "self_served",
                "signals": '{"frustration": 0}', "message_count": 3, "started_at": started,
                "last_activity_at": started,
            }
        )  # fmt: skip
    with engine.begin() as conn:
        conn.execute(
            insert(journey_customers).values(id="C1", created_at=START, name="Jane", tier="gold")
        )
        conn.execute(insert(touchpoints), rows)
    return engine


def every_page(engine, filters=None, limit=10):
    pages, after = [], None
    while True:
        page = touchpoint_log(engine, filters, limit=limit, after=after)
        pages.append(page.entries)
        if page.next_cursor is None:
            return pages
        after = page.next_cursor


def test_pages_walk_every_touchpoint_once_newest_first(store):
    pages = every_page(store)
    assert [len(p) for p in pages] == [10, 10, 10, 10, 10, 3]
    entries = [e for page in pages for e in page]
    assert len({e["id"] for e in entries}) == 53
    keys = [(e["started_at"], e["id"]) for e in entries]
    assert keys == sorted(keys, reverse=True)
    # Touchpoints 1 and 53 started at the same moment: the higher id comes first.
    assert [e["id"] for e in entries[-2:]] == [53, 1]


def test_an_entry_carries_the_customer_and_parsed_lists(store):
    newest = touchpoint_log(store, limit=1).entries[0]
    assert newest["id"] == 52 and newest["customer_name"] is None
    jane = touchpoint_log(store, Filters(customer_id="C1"), limit=1).entries[0]
    assert jane["customer_name"] == "Jane" and jane["tier"] == "gold"
    assert jane["needs"] == ["order_status"] and jane["signals"] == {"frustration": 0}


def test_filters_page_too(store):
    slack_abandoned = Filters(channel="slack", outcome="abandoned")
    entries = [e for page in every_page(store, slack_abandoned, limit=2) for e in page]
    # i % 3 == 1 (slack) and i % 5 == 0 (abandoned): 10, 25, 40.
    assert [e["id"] for e in entries] == [40, 25, 10]
    no_department = Filters(department="none", since=START + timedelta(minutes=200))
    assert [e["id"] for e in touchpoint_log(store, no_department).entries] == [
        52, 48, 44, 40, 36, 32, 28, 24, 20,
    ]  # fmt: skip


def test_a_cursor_made_by_hand_is_refused(store):
    with pytest.raises(BadCursor):
        touchpoint_log(store, after="yesterday~7")
    with pytest.raises(ValueError):
        touchpoint_log(store, limit=0)
