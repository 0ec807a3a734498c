"""The record of events a channel has taken in, on SQLite and (when set) PostgreSQL."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import func, inspect, select

from bot.db.migrate import alembic_config, current_revision, head_revision, migrate
from bot.db.schema import channel_events, metadata
from bot.rasa.channels.dedup import PRUNE_EVERY, SeenEvents
from tests.fakes.clock import WEDNESDAY_10AM, Clock

T0 = WEDNESDAY_10AM


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def seen(journey_engine, clock):
    return SeenEvents(journey_engine, "slack", now=clock)


def rows(engine) -> int:
    with engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(channel_events)).scalar_one()


def test_an_event_is_taken_in_the_first_time_only(seen):
    assert seen.first_time(["Ev1", "D0JANE/1741773600.000100"])
    assert not seen.first_time(["Ev1", "D0JANE/1741773600.000100"])  # Slack's retry
    assert seen.first_time(["Ev2", "D0JANE/1741773700.000200"])


def test_any_key_already_seen_makes_it_a_repeat_and_records_nothing_new(seen, engine):
    seen.first_time(["Ev1", "C0SUPPORT/1.1"])
    assert not seen.first_time(["Ev2", "C0SUPPORT/1.1"])  # the same message as app_mention
    assert rows(engine) == 2
    assert seen.first_time(["Ev2"])  # the repeat above left no trace of Ev2


def test_channels_keep_separate_records(seen, engine, clock):
    seen.first_time(["Ev1"])
    assert SeenEvents(engine, "other", now=clock).first_time(["Ev1"])


def test_an_event_without_ids_is_taken_in(seen, engine):
    assert seen.first_time(["", ""]) and seen.first_time([])
    assert rows(engine) == 0


def test_the_record_outlives_the_process_that_wrote_it(seen, engine, clock):
    seen.first_time(["Ev1"])
    assert not SeenEvents(engine, "slack", now=clock).first_time(["Ev1"])


def test_concurrent_deliveries_of_one_event_let_exactly_one_through(seen):
    results: list[bool] = []
    start = threading.Barrier(8)

    def deliver():
        start.wait()
        results.append(seen.first_time(["Ev-race", "D0JANE/1.1"]))

    threads = [threading.Thread(target=deliver) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == [False] * 7 + [True]


def test_old_events_are_pruned_now_and_then_by_whoever_inserts(seen, engine, clock):
    seen.first_time(["Ev-old"])
    SeenEvents(engine, "other", now=clock).first_time(["Ev-other"])
    clock.now = T0 + timedelta(days=1, minutes=1)
    seen.first_time(["Ev-new"])  # a day later: the hourly prune runs first
    with engine.connect() as conn:
        left = conn.execute(select(channel_events.c.channel, channel_events.c.event_id)).all()
    assert sorted(left) == [("other", "Ev-other"), ("slack", "Ev-new")]
    # Forgotten: a (very late) repeat would be taken in again.
    assert seen.first_time(["Ev-old"])


def test_pruning_runs_at_most_once_an_hour(engine, clock):
    migrate(engine)
    seen = SeenEvents(engine, "slack", keep=timedelta(minutes=10), now=clock)
    seen.first_time(["Ev1"])  # the first use prunes
    clock.now = T0 + timedelta(minutes=30)
    seen.first_time(["Ev2"])  # Ev1 is stale, but the next prune is not due yet
    assert rows(engine) == 2
    clock.now = T0 + PRUNE_EVERY + timedelta(minutes=1)
    seen.first_time(["Ev3"])
    assert rows(engine) == 1


# -- the schema change ------------------------------------------------------------------------


def test_migration_0002_builds_the_table_the_code_declares(engine):
    migrate(engine)
    with engine.connect() as conn:
        assert current_revision(conn) == head_revision()
        differences = compare_metadata(MigrationContext.configure(conn), metadata)
    assert [d for d in differences if "channel_events" in repr(d)] == []
    unique = inspect(engine).get_unique_constraints("channel_events")
    assert [u["column_names"] for u in unique] == [["channel", "event_id"]]


def test_a_journey_database_from_the_first_revision_is_upgraded_in_place(engine):
    with engine.begin() as conn:
        config = alembic_config()
        config.attributes["connection"] = conn
        command.upgrade(config, "0001")
    assert not inspect(engine).has_table("channel_events")
    migrate(engine)
    migrate(engine)  # again: nothing to do
    assert inspect(engine).has_table("channel_events")
    with engine.connect() as conn:
        assert current_revision(conn) == head_revision()
