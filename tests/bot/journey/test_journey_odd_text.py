"""Odd text in the journey store (issue 9): what customers type and what their names hold is
stored as data and read back exactly, on SQLite and on PostgreSQL (which refuses NUL in
text: the store removes it, as the channels do before it).

The end-to-end half, over the real assistant, is tests/e2e/test_odd_messages.py.
"""

from __future__ import annotations

import pytest
from sqlalchemy import select

from bot.db.schema import journey_customers, touchpoints
from bot.journey.signals import UserMessage
from bot.journey.store import CUSTOMER_TEXT_LIMIT, JourneyStore, Turn
from tests.fakes.clock import WEDNESDAY_10AM, Clock

ODD = {
    "nul": ("where is my\x00 order?", "where is my order?"),
    "zero-width": ("where\u200d is\u200b my\u2060 order?",) * 2,
    "rtl": ("أين طلبي؟ \u202eORD-10003\u202c איפה",) * 2,
    "emoji-only": ("😡📦❓🙏🏽👨‍👩‍👧",) * 2,
    "sql": ("'; DROP TABLE touchpoints; --",) * 2,
    "html": ("<img src=x onerror=alert(1)>",) * 2,
    "long": ("x" * 20_000, "x" * CUSTOMER_TEXT_LIMIT),
}


@pytest.fixture
def journey(journey_engine):
    return JourneyStore(journey_engine, now=Clock())


@pytest.mark.parametrize("name", list(ODD))
def test_what_the_customer_typed_is_kept_exactly_but_nul(journey, engine, name):
    typed, kept = ODD[name]
    touchpoint = journey.record(
        Turn(
            conversation_id=f"odd-{name}",
            channel="rest",
            session_started_at=WEDNESDAY_10AM,
            messages=(UserMessage(typed, "order_status", WEDNESDAY_10AM),),
        )
    )
    with engine.connect() as conn:
        stored = conn.execute(
            select(touchpoints.c.customer_text).where(touchpoints.c.id == touchpoint.id)
        ).scalar_one()
    assert stored == kept


def test_a_hostile_customer_name_is_stored_as_text(journey, engine):
    name = "Robert'); DROP TABLE journey_customers; -- <img src=x onerror=alert(1)> 😡"
    journey.record(
        Turn(
            conversation_id="odd-name",
            channel="rest",
            session_started_at=WEDNESDAY_10AM,
            customer_id="C-ODD",
            customer_name=name,
        )
    )
    with engine.connect() as conn:
        stored = conn.execute(
            select(journey_customers.c.name).where(journey_customers.c.id == "C-ODD")
        ).scalar_one()
    assert stored == name
