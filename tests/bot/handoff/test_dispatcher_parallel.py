"""Several handoff dispatchers on one journey database, against a real department server.

The scale-out runs two or more dispatchers side by side (bot/handoff/dispatcher.py). What
must hold, whatever the interleaving: no handoff is sent twice (raw requests, not only
after the receiver's Idempotency-Key dedup), and a conversation's handoffs arrive in the
order they were made. On PostgreSQL the dispatchers share the work (row locks, SKIP
LOCKED); on SQLite they take turns (one dispatch lock per database file).
"""

from __future__ import annotations

import os
import signal
import threading
from collections import Counter
from datetime import datetime

import pytest
import requests

from bot.db.engine import make_engine
from bot.departments import load_departments
from bot.handoff import outbox
from bot.handoff.dispatcher import Dispatcher
from tests.bot.handoff.test_dispatcher import (
    SECRETS,
    Receiver,
    Reply,
    child_dispatcher,
    hand_off,
    row,
)

DISPATCHER_HEADER = "x-test-dispatcher"  # which dispatcher sent a request (a session header)


@pytest.fixture
def db(journey_engine):
    return journey_engine


@pytest.fixture
def receiver():
    department = Receiver()  # the real clock: the dispatchers here sign with it
    department.start()
    yield department
    department.stop()


def own_engine(db):
    """A second engine on the same database, as another dispatcher process would open."""
    engine = make_engine(db.url.render_as_string(hide_password=False))
    translate = db.get_execution_options().get("schema_translate_map")
    return engine.execution_options(schema_translate_map=translate) if translate else engine


def named_dispatcher(db, receiver, name: str) -> Dispatcher:
    session = requests.Session()
    session.headers[DISPATCHER_HEADER] = name
    return Dispatcher(
        own_engine(db),
        load_departments(hub_url=receiver.url),
        secrets=SECRETS,
        session=session,
        timeout=10.0,
    )


def test_three_dispatchers_send_every_handoff_once_and_each_conversation_in_order(db, receiver):
    # 12 conversations x 4 handoffs, interleaved; the department takes 20 ms per request so
    # the dispatchers' runs overlap (the old one-dispatcher design sends rows twice here).
    made: dict[str, tuple[str, int]] = {}
    for n in range(4):
        for c in range(12):
            conversation = f"c{c:02d}"
            made[
                hand_off(db, datetime.now, conversation, department=("billing", "sales")[n % 2])
            ] = (
                conversation,
                n,
            )
    receiver.replies = [Reply(200, delay=0.02) for _ in made]
    dispatchers = [named_dispatcher(db, receiver, f"d{i}") for i in range(3)]
    stop = threading.Event()
    threads = [
        threading.Thread(target=d.run_forever, args=(stop,), kwargs={"idle_sleep": 0.02})
        for d in dispatchers
    ]
    for t in threads:
        t.start()
    try:
        for _ in range(600):  # at most 30 s
            if outbox.pending_count(db) == 0:
                break
            stop.wait(0.05)
    finally:
        stop.set()
        for t in threads:
            t.join(20)
        for d in dispatchers:
            d.close()
            d.engine.dispose()

    assert outbox.pending_count(db) == 0
    sent = Counter(receiver.keys())
    assert sorted(sent) == sorted(made)
    assert [key for key, times in sent.items() if times > 1] == []  # raw requests, no dedup
    assert all(r.signature_ok for r in receiver.requests)
    arrival = receiver.keys()
    for c in range(12):
        order = [made[k][1] for k in arrival if made[k][0] == f"c{c:02d}"]
        assert order == [0, 1, 2, 3], f"c{c:02d} arrived as {order}"
    for key in made:
        assert (row(db, key).state, row(db, key).attempts) == ("sent", 1)
    senders = Counter(r.headers[DISPATCHER_HEADER] for r in receiver.requests)
    if db.dialect.name == "postgresql":
        assert len(senders) >= 2, f"the work was not shared: {senders}"
    else:
        assert len(receiver.requests) == len(made)  # took turns, each row once


def test_a_second_dispatcher_skips_a_row_in_flight_and_the_rest_of_its_conversation(db, receiver):
    first = hand_off(db, datetime.now, "c1", need="refund")
    second = hand_off(db, datetime.now, "c1", need="invoice_copy")
    other = hand_off(db, datetime.now, "c2")
    arrived, release = threading.Event(), threading.Event()

    def hold_the_first(request):
        if request.key == first:
            arrived.set()
            release.wait(10)  # the department is slow with c1's first handoff

    receiver.on_request = hold_the_first
    a, b = (named_dispatcher(db, receiver, name) for name in ("a", "b"))
    runs = {}
    busy = threading.Thread(target=lambda: runs.setdefault("a", a.run_once()))
    busy.start()
    try:
        assert arrived.wait(10), "dispatcher a never sent c1's first handoff"
        report = b.run_once()  # while a holds c1's first handoff
    finally:
        release.set()
        busy.join(20)
    receiver.on_request = None

    if db.dialect.name == "postgresql":
        # b took the other conversation's row and left c1 (both rows) to a.
        assert (report.sent, report.skipped, report.standby) == (1, 1, False)
        assert [r.headers[DISPATCHER_HEADER] for r in receiver.requests if r.key == other] == ["b"]
    else:
        # SQLite: a held the database's dispatch turn, so b did nothing at all.
        assert (report.standby, report.due, report.sent) == (True, 0, 0)
    assert b.run_once().sent + runs["a"].sent + report.sent == 3
    keys = receiver.keys()
    assert sorted(keys) == sorted([first, second, other])  # each once
    assert keys.index(first) < keys.index(second)
    for d in (a, b):
        d.close()
        d.engine.dispose()


def test_a_dispatcher_killed_mid_call_frees_its_row_for_the_other(db, receiver):
    key = hand_off(db, datetime.now, "c1")
    child: dict = {}
    arrived = threading.Event()

    def kill_after_the_other_looked(request):
        arrived.set()
        child["looked"].wait(10)
        os.kill(child["process"].pid, signal.SIGKILL)  # it sent, it never hears the answer
        child["process"].wait(10)

    child["looked"] = threading.Event()
    receiver.on_request = kill_after_the_other_looked
    child["process"] = child_dispatcher(db, receiver)
    survivor = named_dispatcher(db, receiver, "survivor")
    try:
        assert arrived.wait(30), "the child dispatcher never sent"
        while_held = survivor.run_once()
        child["looked"].set()
        assert child["process"].wait(30) == -signal.SIGKILL
        receiver.on_request = None
        # PostgreSQL rolled the dead dispatcher's transaction back (its row lock with it);
        # on SQLite the kernel released its flock. Either way the row is pending again.
        assert (row(db, key).state, row(db, key).attempts) == ("pending", 0)
        for _ in range(50):  # PostgreSQL ends the dead backend within moments, not at once
            after = survivor.run_once()
            if after.sent:
                break
            threading.Event().wait(0.1)
    finally:
        child["looked"].set()
        if child["process"].poll() is None:
            child["process"].kill()
        survivor.close()
        survivor.engine.dispose()

    assert while_held.sent == 0  # not while the other had it
    assert while_held.skipped == 1 or while_held.standby
    assert after.sent == 1
    assert receiver.keys() == [key, key]  # the resend, same key: the department dedups
    assert [r.key for r in receiver.processed] == [key]
    assert row(db, key).state == "sent"
