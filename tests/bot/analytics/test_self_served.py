"""Self-served means the assistant answered a need: a chat that solved nothing is abandoned.

Live (JourneyStore.record decides as the chat ends), in the history (migration
0011_self_served) and in the metrics that count them. SQLite, and PostgreSQL when
TEST_POSTGRES_URL is set.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from alembic import command
from sqlalchemy import insert, select

from bot.analytics.filters import Filters
from bot.analytics.metrics import abandonment_rate, self_service_rate
from bot.db.migrate import alembic_config, migrate
from bot.db.schema import journey_customers, touchpoints
from bot.journey.signals import UserMessage
from bot.journey.store import JourneyStore, Turn, outcome_at_end

T0 = datetime(2025, 3, 11, 10, 0)


@pytest.fixture
def journey(journey_engine):
    return JourneyStore(journey_engine, now=lambda: T0 + timedelta(minutes=5))


def chat(journey, conversation: str, *turns: tuple[str, str | None, str | None]):
    """Record each (text, intent, need) turn of one chat; a goodbye ends it."""
    said: list[UserMessage] = []
    touchpoint = None
    for n, (text, intent, need) in enumerate(turns):
        said.append(UserMessage(text, intent, T0 + timedelta(seconds=10 * n)))
        touchpoint = journey.record(
            Turn(
                conversation, "socketio", T0, messages=tuple(said), need=need,
                outcome="handed_off" if need == "order_late" else None,
                ended=intent == "goodbye",
            )
        )  # fmt: skip
    return touchpoint


OUT_OF_SCOPE = ("what's the weather on mars", "out_of_scope", None)
FALLBACK = ("blorp fnord", "nlu_fallback", None)
BYE = ("bye", "goodbye", None)


def test_a_chat_that_solved_nothing_ends_abandoned_not_self_served(journey):
    nothing = chat(journey, "mars", ("hi", "greet", None), OUT_OF_SCOPE, FALLBACK, BYE)
    assert nothing.outcome == "abandoned" and nothing.ended_at is not None
    answered = chat(journey, "order", ("where is ORD-1", "order_status", "order_status"), BYE)
    assert answered.outcome == "self_served"
    handed = chat(journey, "late", ("my parcel is late", "order_late", "order_late"), BYE)
    assert handed.outcome == "handed_off"
    # Out of scope first, then a need answered: it solved something.
    both = chat(
        journey, "both", OUT_OF_SCOPE, ("where is ORD-1", "order_status", "order_status"), BYE
    )
    assert both.outcome == "self_served"


def test_a_chat_that_comes_back_after_its_goodbye_is_decided_again(journey):
    said = [UserMessage(*OUT_OF_SCOPE[:2], T0), UserMessage(*BYE[:2], T0)]
    ended = journey.record(Turn("back", "socketio", T0, messages=tuple(said), ended=True))
    assert ended.outcome == "abandoned"
    said.append(UserMessage("actually, where is ORD-1", "order_status", T0))
    reopened = journey.record(
        Turn("back", "socketio", T0, messages=tuple(said), need="order_status")
    )
    assert (reopened.outcome, reopened.ended_at) == ("self_served", None)
    said.append(UserMessage("bye", "goodbye", T0))
    again = journey.record(Turn("back", "socketio", T0, messages=tuple(said), ended=True))
    assert again.outcome == "self_served"


def test_the_rule_itself():
    assert outcome_at_end("self_served", "[]", 3) == "abandoned"
    assert outcome_at_end("self_served", '["order_status"]', 3) == "self_served"
    assert outcome_at_end("self_served", "[]", 0) == "self_served"  # nobody wrote anything
    # The assistant's serving action ran though no need was noted (a hand-built tracker).
    assert outcome_at_end("self_served", "[]", 3, served=True) == "self_served"
    for kept in ("handed_off", "escalated", "resolved", "abandoned"):
        assert outcome_at_end(kept, "[]", 3) == kept


def test_the_metrics_count_a_chat_that_solved_nothing_as_abandoned(journey, engine):
    chat(journey, "mars", OUT_OF_SCOPE, BYE)
    chat(journey, "order", ("where is ORD-1", "order_status", "order_status"), BYE)
    window = Filters(since=T0 - timedelta(days=1), until=T0 + timedelta(days=1))
    # Ended: both. Self-served: the order question only; the out-of-scope chat abandoned.
    assert self_service_rate(engine, window) == pytest.approx(1 / 2)
    assert abandonment_rate(engine, window) == pytest.approx(1 / 2)


# -- the history -------------------------------------------------------------------------------
def stored(i, outcome, needs, ended, messages=2) -> dict:
    at = T0 + timedelta(minutes=i)
    return {
        "id": i, "conversation_id": f"c{i}", "session_started_at": at, "customer_id": "C1",
        "channel": "socketio", "stage": "usage", "needs": needs, "departments": "[]",
        "order_ids": "[]", "outcome": outcome, "signals": "{}", "message_count": messages,
        "customer_text": "hello", "started_at": at, "last_activity_at": at,
        "ended_at": at if ended else None,
    }  # fmt: skip


def test_the_migration_applies_the_definition_to_the_history(engine):
    with engine.begin() as conn:
        config = alembic_config()
        config.attributes["connection"] = conn
        command.upgrade(config, "0010_search")
    history = {
        1: ("self_served", "[]", True, 2, "abandoned"),  # ended having solved nothing
        2: ("self_served", '["order_status"]', True, 2, "self_served"),
        3: ("self_served", "[]", False, 2, "self_served"),  # still going: decided as it ends
        4: ("self_served", "[]", True, 0, "self_served"),  # no message at all
        5: ("escalated", "[]", True, 2, "escalated"),  # asked for a person straight away
        6: ("resolved", "[]", True, 2, "resolved"),
        7: ("abandoned", '["order_late"]', True, 2, "abandoned"),
    }
    with engine.begin() as conn:
        conn.execute(insert(journey_customers).values(id="C1", created_at=T0))
        conn.execute(
            insert(touchpoints),
            [stored(i, o, needs, ended, n) for i, (o, needs, ended, n, _) in history.items()],
        )
    migrate(engine)
    with engine.connect() as conn:
        after = dict(conn.execute(select(touchpoints.c.id, touchpoints.c.outcome)).all())
    assert after == {i: expected for i, (*_, expected) in history.items()}
