"""One SQLite journey file, 20 writers at once: nobody fails on a lock, nothing is lost.

The embedded set-up has several writers on var/journey.db: the action server's threads,
the hub, the dispatcher. bot/db/engine/engine.py gives every SQLite connection WAL (readers never wait
for the writer), a 30-second busy timeout (a writer waits for the lock instead of failing
with "database is locked") and short transactions (one per turn or handoff).
"""

from __future__ import annotations

import multiprocessing
import threading
import time
import traceback
from datetime import datetime, timedelta

import pytest
from sqlalchemy import func, select, text

from bot.db.engine import make_engine
from bot.db.migrate import migrate
from bot.db.schema import handoffs, outbox, touchpoints
from bot.departments import load_departments
from bot.handoff import HandoffDesk
from bot.handoff.model import HandoffRequest
from bot.journey.signals import UserMessage
from bot.journey.store import JourneyStore, Turn

WRITERS = 20
CONVERSATIONS_EACH = 5  # per writer
TURNS_EACH = 10  # per conversation: one touchpoint write per turn, the last one hands off
T0 = datetime(2025, 3, 12, 10, 0)  # a Wednesday, 10:00: every department is open


@pytest.fixture
def journey_url(tmp_path) -> str:
    """A fresh, migrated SQLite journey file."""
    url = f"sqlite:///{tmp_path / 'journey.db'}"
    engine = make_engine(url)
    migrate(engine)
    engine.dispose()
    return url


def write_conversations(
    store: JourneyStore,
    desk: HandoffDesk,
    writer: int,
    start: threading.Barrier | None = None,
    customers: int = 0,
) -> None:
    """Writer ``writer``'s conversations, turn by turn as the actions log them, each ending
    in a handoff (its outbox row in the same transaction).

    Each conversation is its own customer's, or one of ``customers`` shared by all writers.
    """
    if start is not None:
        start.wait()
    for c in range(CONVERSATIONS_EACH):
        conversation = f"w{writer}-c{c}"
        said: list[UserMessage] = []
        for t in range(TURNS_EACH):
            said.append(UserMessage(f"message {t} of {conversation}", "order_status", T0))
            who = f"C{(writer + c) % customers}" if customers else f"C-{conversation}"
            store.record(
                Turn(
                    conversation_id=conversation,
                    channel="rest",
                    session_started_at=T0,
                    messages=tuple(said),
                    customer_id=who,
                    email=f"{who}@example.com",
                    need="order_status",
                    department="delivery",
                )
            )
        desk.hand_off(
            HandoffRequest(
                department="delivery",
                need="order_status",
                conversation_id=conversation,
                summary=f"handoff of {conversation}",
                channel="rest",
            )
        )


def assert_nothing_lost(url: str, writers: int) -> None:
    """Every conversation has its one touchpoint with all its messages, its handoff and
    its outbox row."""
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(select(touchpoints.c.conversation_id, touchpoints.c.message_count))
            counts = dict(rows.all())
            expected = {f"w{w}-c{c}" for w in range(writers) for c in range(CONVERSATIONS_EACH)}
            assert set(counts) == expected
            assert set(counts.values()) == {TURNS_EACH}
            for table in (handoffs, outbox):
                assert conn.execute(select(func.count()).select_from(table)).scalar_one() == len(
                    expected
                )
            assert conn.execute(text("PRAGMA integrity_check")).scalar_one() == "ok"
    finally:
        engine.dispose()


def test_sqlite_connections_use_wal_a_busy_timeout_and_a_cheap_sync(journey_url):
    engine = make_engine(journey_url)
    try:
        with engine.connect() as conn:
            assert conn.execute(text("PRAGMA journal_mode")).scalar_one() == "wal"
            assert conn.execute(text("PRAGMA busy_timeout")).scalar_one() >= 30_000
            assert conn.execute(text("PRAGMA synchronous")).scalar_one() == 1  # NORMAL
    finally:
        engine.dispose()


def run_threads(journey_url: str, customers: int = 0) -> float:
    """``WRITERS`` threads writing at once through one engine; the seconds it took."""
    engine = make_engine(journey_url)  # one engine shared, as in the action server
    store = JourneyStore(engine, now=lambda: T0)
    desk = HandoffDesk(engine, load_departments(), now=lambda: T0)
    start = threading.Barrier(WRITERS)
    errors: list[str] = []

    def writer(n: int) -> None:
        try:
            write_conversations(store, desk, n, start, customers)
        except Exception:  # noqa: BLE001 - every failure is reported by the test
            errors.append(traceback.format_exc())

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(WRITERS)]
    began = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    elapsed = time.perf_counter() - began
    engine.dispose()
    assert not any(t.is_alive() for t in threads), "a writer hung"
    assert not errors, f"{len(errors)} writers failed, the first:\n{errors[0]}"
    return elapsed


def test_20_threads_writing_at_once_lose_nothing(journey_url):
    elapsed = run_threads(journey_url)
    writes = WRITERS * CONVERSATIONS_EACH * (TURNS_EACH + 1)
    print(f"\n{WRITERS} threads: {writes} transactions in {elapsed:.2f} s")
    assert_nothing_lost(journey_url, WRITERS)


def test_20_threads_writing_for_the_same_customers_lose_nothing(journey_url):
    run_threads(journey_url, customers=7)
    assert_nothing_lost(journey_url, WRITERS)


def _process_writer(url: str, n: int, start, errors) -> None:
    """One writing process with its own engine, as the hub or a second action server."""
    engine = make_engine(url)
    try:
        store = JourneyStore(engine, now=lambda: T0)
        desk = HandoffDesk(engine, load_departments(), now=lambda: T0)
        write_conversations(store, desk, n, start)
    except Exception:  # noqa: BLE001 - sent back to the test, which reports it
        errors.put(traceback.format_exc())
    finally:
        engine.dispose()


def test_20_processes_writing_at_once_lose_nothing(journey_url):
    # fork: the children start at once, without importing the project again.
    ctx = multiprocessing.get_context("fork")
    start, errors = ctx.Barrier(WRITERS), ctx.Queue()
    procs = [
        ctx.Process(target=_process_writer, args=(journey_url, n, start, errors))
        for n in range(WRITERS)
    ]
    began = time.perf_counter()
    for p in procs:
        p.start()
    for p in procs:
        p.join(timeout=120)
    elapsed = time.perf_counter() - began
    hung = [p.pid for p in procs if p.is_alive()]
    for p in procs:
        if p.is_alive():
            p.kill()
    assert not hung, f"writers {hung} hung"
    failures = []
    while not errors.empty():
        failures.append(errors.get())
    assert not failures, f"{len(failures)} writers failed, the first:\n{failures[0]}"
    assert [p.exitcode for p in procs] == [0] * WRITERS
    writes = WRITERS * CONVERSATIONS_EACH * (TURNS_EACH + 1)
    print(f"\n{WRITERS} processes: {writes} transactions in {elapsed:.2f} s")
    assert_nothing_lost(journey_url, WRITERS)


def test_a_writer_waits_out_a_long_write_lock_instead_of_failing(journey_url):
    """A writer blocked longer than sqlite3's own 5-second default still gets through."""
    hold = 6.0
    blocker = make_engine(journey_url)
    engine = make_engine(journey_url)
    store = JourneyStore(engine, now=lambda: T0)
    locked = threading.Event()

    def hold_the_lock() -> None:
        with blocker.connect() as conn:
            conn.exec_driver_sql("BEGIN IMMEDIATE")  # the write lock, as a long transaction
            locked.set()
            time.sleep(hold)
            conn.exec_driver_sql("COMMIT")

    holder = threading.Thread(target=hold_the_lock)
    holder.start()
    try:
        assert locked.wait(10)
        began = time.perf_counter()
        tp = store.record(
            Turn(
                conversation_id="waiting",
                channel="rest",
                session_started_at=T0,
                messages=(UserMessage("hello", "greet", T0 + timedelta(seconds=1)),),
            )
        )
        waited = time.perf_counter() - began
    finally:
        holder.join()
        engine.dispose()
        blocker.dispose()
    assert tp.message_count == 1
    assert waited > hold - 1.0, "the write should have waited for the lock"
