"""The outbox dispatcher against real departments: HTTP servers on 127.0.0.1, real sockets.

Each receiver records every request, verifies its signature and deduplicates on the
Idempotency-Key as a real department would; replies are scripted per test. Time is a fake
clock the tests move by hand, so retries and backoff are checked without sleeping.
"""

from __future__ import annotations

import json
import logging
import os
import random
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from sqlalchemy import insert, select

from bot.db.engine import make_engine
from bot.db.migrate import migrate
from bot.db.schema import handoffs
from bot.db.schema import outbox as outbox_table
from bot.departments import load_departments
from bot.handoff import outbox
from bot.handoff.dispatcher import DispatchConfigError, Dispatcher, run_dispatcher
from bot.handoff.signing import verify

ROOT = Path(__file__).resolve().parents[3]
START = datetime(2025, 3, 12, 10, 0)  # naive local time, like the journey database
SECRETS = {
    f"CX_WEBHOOK_SECRET_{name.upper()}": f"secret-of-{name}"
    for name in ("billing", "sales", "delivery", "support")
}


# --- a department, for real ---------------------------------------------------------------


@dataclass
class Reply:
    """What the department answers to one request."""

    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b'{"ok":true}'
    delay: float = 0.0  # seconds before answering (after processing, like a slow system)


@dataclass
class Received:
    path: str
    headers: dict[str, str]  # lower-case names
    body: bytes
    signature_ok: bool

    @property
    def key(self) -> str:
        return self.headers["idempotency-key"]

    @property
    def payload(self) -> dict:
        return json.loads(self.body)


class Receiver:
    """A department webhook endpoint: records, verifies, deduplicates, answers as scripted."""

    def __init__(self, clock: Callable[[], datetime] | None = None):
        self.clock = clock  # for checking signature freshness; None: the real clock
        self.replies: list[Reply] = []  # consumed in order; when empty, 200
        self.on_request: Callable[[Received], None] | None = None
        self.requests: list[Received] = []
        self.processed: list[Received] = []  # first delivery of each key, in arrival order
        self.port = 0
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        """Listen (again, on the same port once it has one)."""
        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), self._handler())
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        ).start()

    def stop(self) -> None:
        """Stop listening: connections are refused from now on."""
        self._server.shutdown()
        self._server.server_close()

    def keys(self) -> list[str]:
        return [r.key for r in self.requests]

    def handle(self, path: str, headers: dict[str, str], body: bytes) -> Reply:
        department = path.split("/")[3]  # /api/departments/<name>/handoffs
        now = self.clock() if self.clock else time.time()
        signature_ok = verify(
            SECRETS[f"CX_WEBHOOK_SECRET_{department.upper()}"],
            headers.get("x-cx-timestamp"),
            body,
            headers.get("x-cx-signature"),
            now=now,
        )
        request = Received(path, headers, body, signature_ok)
        with self._lock:
            self.requests.append(request)
            reply = self.replies.pop(0) if self.replies else Reply()
            seen = {r.key for r in self.processed}
            if 200 <= reply.status < 300 and request.key not in seen:
                self.processed.append(request)  # a duplicate is acknowledged, not processed again
        if self.on_request:
            self.on_request(request)
        return reply

    def _handler(self):
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, as the dispatcher's Session expects
            disable_nagle_algorithm = True  # the body is not held back for a delayed ACK (40 ms)

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                headers = {k.lower(): v for k, v in self.headers.items()}
                reply = receiver.handle(self.path, headers, body)
                time.sleep(reply.delay)
                try:
                    self.send_response(reply.status)
                    for name, value in reply.headers.items():
                        self.send_header(name, value)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(reply.body)))
                    self.end_headers()
                    self.wfile.write(reply.body)
                except OSError:
                    pass  # the dispatcher gave up waiting (timeout) or was killed

            def log_message(self, *args):
                pass

        return Handler


class FakeClock:
    """A clock that only moves when told to."""

    def __init__(self, start: datetime = START):
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


class FixedRandom:
    """An rng whose every draw is ``value``: makes full-jitter backoff exact."""

    def __init__(self, value: float):
        self.value = value

    def random(self) -> float:
        return self.value


# --- fixtures and helpers -----------------------------------------------------------------


@pytest.fixture
def db(journey_engine):
    return journey_engine


@pytest.fixture
def clock():
    return FakeClock()


@pytest.fixture
def receiver(clock):
    department = Receiver(clock)
    department.start()
    yield department
    department.stop()


def dispatcher_for(db, receiver, clock, **options) -> Dispatcher:
    options.setdefault("secrets", SECRETS)
    options.setdefault("rng", FixedRandom(1.0))
    options.setdefault("timeout", 2.0)
    return Dispatcher(db, load_departments(hub_url=receiver.url), now=clock, **options)


def hand_off(
    db, clock, conversation_id: str, department: str = "billing", need: str = "refund"
) -> str:
    """Store a handoff and its outbox row in one transaction, as the handoff desk does; the key."""
    with db.begin() as conn:
        handoff_id = conn.execute(
            insert(handoffs).values(
                created_at=clock(),
                department=department,
                need=need,
                conversation_id=conversation_id,
                channel="web",
                priority="normal",
                summary=f"{need} for {conversation_id}",
                context="{}",
                status="open",
            )
        ).inserted_primary_key[0]
        return outbox.enqueue(
            conn,
            handoff_id=handoff_id,
            conversation_id=conversation_id,
            department=department,
            payload={
                "handoff_id": handoff_id,
                "conversation_id": conversation_id,
                "need": need,
                "created_at": clock(),
            },
            now=clock(),
        )


def row(db, key: str):
    with db.connect() as conn:
        return conn.execute(select(outbox_table).where(outbox_table.c.idempotency_key == key)).one()


def drain(dispatcher: Dispatcher, db, clock: FakeClock, rounds: int = 50) -> None:
    """Run until nothing is pending, moving the clock past any backoff between runs."""
    for _ in range(rounds):
        dispatcher.run_once()
        if outbox.pending_count(db) == 0:
            return
        clock.advance(dispatcher.max_delay + 1)
    raise AssertionError(f"still {outbox.pending_count(db)} pending after {rounds} runs")


# --- the outbox row ------------------------------------------------------------------------


def test_enqueue_writes_in_the_callers_transaction(db, clock):
    key = hand_off(db, clock, "c1")
    stored = row(db, key)
    assert len(key) == 32 and int(key, 16) >= 0
    assert (stored.state, stored.attempts, stored.next_attempt_at) == ("pending", 0, START)
    assert stored.body == json.dumps(json.loads(stored.body), sort_keys=True, separators=(",", ":"))
    assert json.loads(stored.body)["created_at"] == "2025-03-12 10:00:00"

    with pytest.raises(RuntimeError), db.begin() as conn:
        outbox.enqueue(
            conn, handoff_id=1, conversation_id="c2", department="billing", payload={}, now=START
        )
        raise RuntimeError("the handoff failed")
    assert outbox.pending_count(db) == 1  # rolled back with the caller's transaction


# --- delivery ------------------------------------------------------------------------------


def test_delivers_the_stored_body_signed_with_every_header(db, receiver, clock):
    key = hand_off(db, clock, "c1", department="sales")
    report = dispatcher_for(db, receiver, clock).run_once()

    assert (report.sent, report.retried, report.dead) == (1, 0, 0)
    [request] = receiver.requests
    assert request.path == "/api/departments/sales/handoffs"  # {hub_url} filled in
    assert request.body == row(db, key).body.encode()  # byte for byte
    assert request.headers["content-type"] == "application/json"
    assert request.headers["idempotency-key"] == key
    assert request.headers["x-cx-department"] == "sales"
    assert request.headers["x-cx-timestamp"] == str(int(START.timestamp()))
    assert request.headers["x-cx-signature"].startswith("sha256=")
    assert request.signature_ok
    # The same request does not verify under another department's secret.
    assert not verify(
        SECRETS["CX_WEBHOOK_SECRET_BILLING"],
        request.headers["x-cx-timestamp"],
        request.body,
        request.headers["x-cx-signature"],
        now=START,
    )
    stored = row(db, key)
    assert (stored.state, stored.attempts, stored.last_status, stored.sent_at) == (
        "sent",
        1,
        200,
        START,
    )
    assert outbox.pending_count(db) == 0


def test_department_down_then_back_every_handoff_once_and_in_order(db, receiver, clock):
    keys = {}
    for n in range(3):  # interleaved: each conversation hands off three times
        for conversation in ("c1", "c2", "c3"):
            keys[
                hand_off(db, clock, conversation, department="billing" if n % 2 else "delivery")
            ] = (conversation, n)
            clock.advance(1)
    receiver.stop()
    dispatcher = dispatcher_for(db, receiver, clock, rng=random.Random(7))

    report = dispatcher.run_once()
    assert (report.retried, report.held, report.sent) == (3, 6, 0)
    for key, (_, n) in keys.items():
        stored = row(db, key)
        assert stored.state == "pending"
        assert stored.attempts == (1 if n == 0 else 0)  # later handoffs wait for the first
        if n == 0:
            assert "connection failed" in stored.last_error and stored.last_status is None
    for _ in range(3):  # still down for a while: only the first of each conversation is tried
        clock.advance(dispatcher.max_delay + 1)
        assert dispatcher.run_once().retried == 3

    receiver.start()
    drain(dispatcher, db, clock)

    assert sorted(r.key for r in receiver.processed) == sorted(keys)
    assert len(receiver.requests) == len(keys)  # nothing sent twice: every first try reached it
    assert all(r.signature_ok for r in receiver.requests)
    for conversation in ("c1", "c2", "c3"):
        order = [keys[r.key][1] for r in receiver.processed if keys[r.key][0] == conversation]
        assert order == [0, 1, 2]
    assert all(row(db, key).state == "sent" for key in keys)


def test_a_later_handoff_waits_while_the_earlier_one_is_pending(db, receiver, clock):
    first = hand_off(db, clock, "c1", need="refund")
    second = hand_off(db, clock, "c1", need="invoice_copy")
    other = hand_off(db, clock, "c2")
    receiver.replies = [Reply(503)]
    dispatcher = dispatcher_for(db, receiver, clock)

    report = dispatcher.run_once()
    assert (report.retried, report.held, report.sent) == (1, 1, 1)
    assert receiver.keys() == [first, other]

    # The second is due, the first is not (backoff 1 s): the second still waits.
    assert dispatcher.run_once().due == 0
    assert receiver.keys() == [first, other]

    clock.advance(1)
    assert dispatcher.run_once().sent == 2  # both in one run, first then second
    assert receiver.keys() == [first, other, first, second]


def test_slow_department_times_out_and_the_retry_has_the_same_key(db, receiver, clock):
    key = hand_off(db, clock, "c1")
    receiver.replies = [Reply(200, delay=0.6)]  # processes it, answers too late
    dispatcher = dispatcher_for(db, receiver, clock, timeout=0.2)

    report = dispatcher.run_once()
    assert (report.retried, report.sent) == (1, 0)
    stored = row(db, key)
    assert (stored.state, stored.attempts, stored.last_status) == ("pending", 1, None)
    assert "timed out after 0.2 s" in stored.last_error

    clock.advance(1)
    assert dispatcher.run_once().sent == 1
    assert receiver.keys() == [key, key]
    assert [r.key for r in receiver.processed] == [key]  # the department deduplicated
    assert row(db, key).state == "sent"


def test_503_three_times_then_200_backs_off_exponentially(db, receiver, clock, caplog):
    caplog.set_level(logging.INFO, logger="bot.handoff.dispatcher")
    key = hand_off(db, clock, "c1")
    receiver.replies = [Reply(503, body=b"maintenance")] * 3
    dispatcher = dispatcher_for(db, receiver, clock, base_delay=1.0, max_delay=600.0)

    for attempt, ceiling in enumerate([1, 2, 4], start=1):
        assert dispatcher.run_once().retried == 1
        stored = row(db, key)
        assert stored.attempts == attempt
        assert stored.next_attempt_at == clock() + timedelta(seconds=ceiling)
        assert (stored.last_status, stored.last_error) == (503, "HTTP 503: maintenance")
        clock.advance(ceiling - 0.5)
        assert dispatcher.run_once().due == 0  # not before its time
        clock.advance(0.5)

    assert dispatcher.run_once().sent == 1
    stored = row(db, key)
    assert (stored.state, stored.attempts, stored.last_status) == ("sent", 4, 200)
    assert receiver.keys() == [key] * 4
    attempts = [r for r in caplog.records if key in r.getMessage()]
    assert [r.levelname for r in attempts] == ["WARNING"] * 3 + ["INFO"]  # a line per attempt
    assert "attempt 4" in attempts[-1].getMessage()


def test_backoff_is_full_jitter_under_the_ceiling_and_capped(db, receiver, clock):
    key = hand_off(db, clock, "c1")
    receiver.replies = [Reply(500)] * 4
    dispatcher = dispatcher_for(
        db, receiver, clock, rng=FixedRandom(0.25), base_delay=2.0, max_delay=10.0
    )
    waits = []
    for _ in range(4):
        dispatcher.run_once()
        waits.append((row(db, key).next_attempt_at - clock()).total_seconds())
        clock.advance(10)
    assert waits == [0.5, 1.0, 2.0, 2.5]  # 0.25 x min(10, 2 x 2**n)


def test_429_waits_for_retry_after_in_seconds(db, receiver, clock):
    key = hand_off(db, clock, "c1")
    receiver.replies = [Reply(429, headers={"Retry-After": "2"})]
    dispatcher = dispatcher_for(db, receiver, clock)  # its own backoff would be 1 s

    assert dispatcher.run_once().retried == 1
    stored = row(db, key)
    assert stored.next_attempt_at == START + timedelta(seconds=2)
    assert (stored.attempts, stored.last_status) == (1, 429)
    clock.advance(1)
    assert dispatcher.run_once().due == 0
    clock.advance(1)
    assert dispatcher.run_once().sent == 1
    assert receiver.keys() == [key, key]


def test_429_waits_for_retry_after_as_an_http_date_or_backs_off_without_it(db, receiver, clock):
    dated = hand_off(db, clock, "c1")
    bare = hand_off(db, clock, "c2")
    when = format_datetime((START + timedelta(seconds=30)).astimezone(timezone.utc), usegmt=True)
    receiver.replies = [Reply(429, headers={"Retry-After": when}), Reply(429)]
    dispatcher_for(db, receiver, clock).run_once()
    assert row(db, dated).next_attempt_at == START + timedelta(seconds=30)
    assert row(db, bare).next_attempt_at == START + timedelta(seconds=1)


def test_400_is_a_dead_letter_at_once_and_can_be_sent_again_by_hand(db, receiver, clock):
    refused = hand_off(db, clock, "c1")
    behind = hand_off(db, clock, "c1", need="invoice_copy")
    receiver.replies = [Reply(400, body=b'{"error":"unknown customer"}')]
    dispatcher = dispatcher_for(db, receiver, clock)

    report = dispatcher.run_once()
    assert (report.dead, report.sent, report.retried) == (1, 1, 0)  # a dead row holds nothing back
    stored = row(db, refused)
    assert (stored.state, stored.attempts, stored.last_status, stored.dead_at) == (
        "dead",
        1,
        400,
        START,
    )
    assert "unknown customer" in stored.last_error
    [letter] = outbox.dead_letters(db)
    assert (letter["idempotency_key"], letter["last_status"]) == (refused, 400)

    clock.advance(3600)
    assert dispatcher.run_once().due == 0  # dead means not sent again on its own
    assert receiver.keys() == [refused, behind]

    assert outbox.retry(db, stored.id, clock())
    assert not outbox.retry(db, stored.id, clock())  # no longer dead
    assert outbox.dead_letters(db) == []
    revived = row(db, refused)
    assert (revived.state, revived.attempts, revived.next_attempt_at) == ("pending", 1, clock())
    assert dispatcher.run_once().sent == 1
    assert row(db, refused).state == "sent"
    assert [r.key for r in receiver.processed] == [behind, refused]


def test_too_old_to_retry_goes_dead(db, receiver, clock):
    old = hand_off(db, clock, "c1")
    clock.advance(25 * 3600)
    young = hand_off(db, clock, "c2")
    receiver.replies = [Reply(503), Reply(503)]
    report = dispatcher_for(db, receiver, clock, max_age=timedelta(hours=24)).run_once()

    assert (report.dead, report.retried) == (1, 1)
    stored = row(db, old)
    assert stored.state == "dead" and "gave up after 1 day, 1:00:00" in stored.last_error
    assert row(db, young).state == "pending"
    assert [d["idempotency_key"] for d in outbox.dead_letters(db)] == [old]


# --- crashes: sent, but not marked ----------------------------------------------------------


class SimulatedCrash(Exception):
    pass


def test_crash_between_send_and_mark_resends_with_the_same_key(db, receiver, clock):
    key = hand_off(db, clock, "c1")
    crashing = dispatcher_for(db, receiver, clock)

    def die(*args, **kwargs):
        raise SimulatedCrash("process died before marking the row sent")

    crashing._mark_sent = die
    with pytest.raises(SimulatedCrash):
        crashing.run_once()
    assert (row(db, key).state, row(db, key).attempts) == ("pending", 0)

    restarted = dispatcher_for(db, receiver, clock)
    assert restarted.run_once().sent == 1
    assert receiver.keys() == [key, key]
    assert len({r.key for r in receiver.requests}) == 1
    assert [r.key for r in receiver.processed] == [key]
    assert row(db, key).state == "sent"


CHILD = """
import json, sys
from bot.db.engine import make_engine
from bot.departments import load_departments
from bot.handoff.dispatcher import Dispatcher

config = json.loads(sys.argv[1])
engine = make_engine(config["url"])
if config["schema"]:
    engine = engine.execution_options(schema_translate_map={None: config["schema"]})
Dispatcher(engine, load_departments(hub_url=config["hub_url"]), secrets=config["secrets"]).run_once()
"""


def child_dispatcher(db, receiver) -> subprocess.Popen:
    """CHILD in a process of its own: a dispatcher on ``db`` delivering to ``receiver``."""
    config = {
        "url": db.url.render_as_string(hide_password=False),
        "schema": (db.get_execution_options().get("schema_translate_map") or {}).get(None),
        "hub_url": receiver.url,
        "secrets": SECRETS,
    }
    return subprocess.Popen([sys.executable, "-c", CHILD, json.dumps(config)], cwd=ROOT)


def test_killed_process_between_send_and_mark_resends_with_the_same_key(db, receiver, clock):
    key = hand_off(db, clock, "c1")
    receiver.clock = None  # the child process signs with the real clock
    child_started = threading.Event()
    child = {}

    def kill_the_dispatcher(request):
        child_started.wait(10)
        os.kill(child["process"].pid, signal.SIGKILL)  # after receiving, before answering
        child["process"].wait(10)

    receiver.on_request = kill_the_dispatcher
    child["process"] = child_dispatcher(db, receiver)
    child_started.set()
    assert child["process"].wait(30) == -signal.SIGKILL
    receiver.on_request = None

    assert (row(db, key).state, row(db, key).attempts) == ("pending", 0)
    assert dispatcher_for(db, receiver, clock).run_once().sent == 1
    assert receiver.keys() == [key, key]
    assert [r.key for r in receiver.processed] == [key]
    assert row(db, key).state == "sent"


# --- configuration ---------------------------------------------------------------------------


def test_a_missing_secret_is_a_clear_error_and_other_departments_still_get_theirs(
    db, receiver, clock
):
    billing = hand_off(db, clock, "c1", department="billing")
    billing_later = hand_off(db, clock, "c1", department="sales")
    sales = hand_off(db, clock, "c2", department="sales")
    secrets = {k: v for k, v in SECRETS.items() if k != "CX_WEBHOOK_SECRET_BILLING"}

    with pytest.raises(
        DispatchConfigError, match="set the environment variable CX_WEBHOOK_SECRET_BILLING"
    ) as error:
        dispatcher_for(db, receiver, clock, secrets=secrets).run_once()
    assert (error.value.report.sent, error.value.report.blocked, error.value.report.held) == (
        1,
        1,
        1,
    )
    assert receiver.keys() == [sales]
    stored = row(db, billing)
    assert (stored.state, stored.attempts) == ("pending", 0)  # no attempt used up
    assert "CX_WEBHOOK_SECRET_BILLING" in stored.last_error
    assert row(db, billing_later).attempts == 0  # still in order behind it

    assert dispatcher_for(db, receiver, clock).run_once().sent == 2
    assert receiver.keys() == [sales, billing, billing_later]


def test_an_unknown_department_is_a_clear_error(db, receiver, clock):
    key = hand_off(db, clock, "c1", department="legal")
    with pytest.raises(DispatchConfigError, match="no department named 'legal'"):
        dispatcher_for(db, receiver, clock).run_once()
    assert row(db, key).attempts == 0 and receiver.requests == []


# --- running ----------------------------------------------------------------------------------


def test_run_forever_delivers_until_stopped(db, receiver, clock):
    keys = [hand_off(db, clock, f"c{n % 3}") for n in range(12)]
    dispatcher = dispatcher_for(db, receiver, clock)
    stop = threading.Event()
    worker = threading.Thread(
        target=dispatcher.run_forever, args=(stop,), kwargs={"idle_sleep": 0.01}
    )
    worker.start()
    try:
        deadline = time.monotonic() + 10
        while outbox.pending_count(db) and time.monotonic() < deadline:
            time.sleep(0.01)
    finally:
        stop.set()
        worker.join(5)
    assert not worker.is_alive()
    assert sorted(r.key for r in receiver.processed) == sorted(keys)


def test_run_forever_keeps_delivering_while_one_department_has_no_secret(db, receiver, clock):
    blocked = hand_off(db, clock, "c1", department="billing")
    delivered = [hand_off(db, clock, f"c{n}", department="sales") for n in range(2, 6)]
    secrets = {k: v for k, v in SECRETS.items() if k != "CX_WEBHOOK_SECRET_BILLING"}
    dispatcher = dispatcher_for(db, receiver, clock, secrets=secrets)
    stop = threading.Event()
    worker = threading.Thread(
        target=dispatcher.run_forever, args=(stop,), kwargs={"idle_sleep": 0.01, "batch": 2}
    )
    worker.start()
    try:
        deadline = time.monotonic() + 10
        while len(receiver.processed) < len(delivered) and time.monotonic() < deadline:
            time.sleep(0.01)
    finally:
        stop.set()
        worker.join(5)
    assert not worker.is_alive()
    assert sorted(r.key for r in receiver.processed) == sorted(delivered)
    assert "CX_WEBHOOK_SECRET_BILLING" in row(db, blocked).last_error


def test_run_dispatcher_delivers_a_journey_database_by_url(tmp_path):
    url = f"sqlite:///{tmp_path / 'journey.db'}"
    engine = make_engine(url)
    migrate(engine)
    clock = FakeClock(datetime.now() - timedelta(seconds=1))
    key = hand_off(engine, clock, "c1", department="delivery")
    receiver = Receiver()
    receiver.start()
    stop = threading.Event()
    worker = threading.Thread(
        target=run_dispatcher,
        args=(url, stop),
        kwargs={"hub_url": receiver.url, "secrets": SECRETS},
    )
    worker.start()
    try:
        deadline = time.monotonic() + 10
        while not receiver.processed and time.monotonic() < deadline:
            time.sleep(0.01)
    finally:
        stop.set()
        worker.join(5)
        receiver.stop()
    assert [r.key for r in receiver.processed] == [key]
    assert receiver.processed[0].signature_ok
    assert row(engine, key).state == "sent"
    engine.dispose()
