"""Handoff delivery through faults: processes killed mid-delivery, a department down for ten
minutes, a secret rotated while handoffs are in flight.

Everything here is a real process on a real socket: the dispatcher is ``python -m bot
dispatch`` as ``make run`` starts it (bot/runner.py), the hub is ``python -m bot hub``, and a
department's own system is tests/fakes/department.py in its own process, which checks every
signature and deduplicates on the Idempotency-Key, journalling each request before it
answers. Where minutes must pass, the dispatcher runs in this process on a simulated clock
(its ``now=``) that the receiver shares through its control file.
"""

from __future__ import annotations

import json
import os
import random
import signal
import socket
import subprocess
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path

import pytest
import requests
from sqlalchemy import select

from bot.db.schema import handoffs as handoffs_table
from bot.db.schema import inbox as inbox_table
from bot.db.schema import outbox as outbox_table
from bot.departments import load_departments
from bot.handoff import HandoffDesk, HandoffRequest, outbox
from bot.handoff.dispatcher import Dispatcher
from bot.handoff.signing import signature_headers
from tests.fakes.clock import Clock
from tests.fakes.department import read_journal

ROOT = Path(__file__).resolve().parents[3]
DEPARTMENTS = ("billing", "sales", "delivery")
SECRETS = {f"CX_WEBHOOK_SECRET_{d.upper()}": f"secret-of-{d}" for d in (*DEPARTMENTS, "support")}
NEEDS = ("refund", "invoice_copy", "quote")


# --- processes ------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Receiver:
    """tests/fakes/department.py in its own process, on a port that stays the same across restarts."""

    def __init__(self, tmp: Path, secrets: dict[str, list[str]], **options: object):
        self.journal = tmp / "receiver.jsonl"
        self.control = tmp / "receiver-control.json"
        self.log = tmp / "receiver.log"
        self.secrets = secrets
        self.options = options
        self.port = free_port()
        self.process: subprocess.Popen | None = None

    @property
    def hub_url(self) -> str:
        """What ``{hub_url}`` in departments.yml becomes: every department's URL is on us."""
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        command = [
            sys.executable,
            "-m",
            "tests.fakes.department",
            f"--port={self.port}",
            f"--journal={self.journal}",
            f"--control={self.control}",
            f"--secrets={json.dumps(self.secrets)}",
        ] + [f"--{k.replace('_', '-')}={v}" for k, v in self.options.items()]
        self.process = subprocess.Popen(
            command, cwd=ROOT, stdout=subprocess.PIPE, stderr=self.log.open("ab"), text=True
        )
        line = self.process.stdout.readline()
        assert line.startswith("listening"), f"the receiver did not start: {self.log.read_text()}"

    def kill(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)

    def set(self, **control: object) -> None:
        """Replace the receiver's control file atomically (it reads it on every request)."""
        scratch = self.control.with_suffix(".tmp")
        scratch.write_text(json.dumps(control))
        scratch.replace(self.control)

    def entries(self) -> list[dict]:
        return list(read_journal(self.journal))


def start_dispatcher(journey_url: str, hub_url: str, tmp: Path, secrets: dict) -> subprocess.Popen:
    """``python -m bot dispatch`` with the environment bot/runner.py gives it."""
    port = hub_url.rsplit(":", 1)[1]
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("CX_")},
        **secrets,
        "CX_JOURNEY_URL": journey_url,
        "CX_HOST": "127.0.0.1",
        "CX_HUB_PORT": port,
        "CX_VAR_DIR": str(tmp / "var"),
    }
    return subprocess.Popen(
        [sys.executable, "-m", "bot", "dispatch"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=(tmp / "dispatcher.log").open("ab"),
    )


def start_hub(journey_url: str, port: int, tmp: Path, secrets: dict) -> subprocess.Popen:
    """``python -m bot hub`` on ``port``; returns once /health answers."""
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("CX_")},
        **secrets,
        "CX_JOURNEY_URL": journey_url,
        "CX_HOST": "127.0.0.1",
        "CX_HUB_PORT": str(port),
        "CX_VAR_DIR": str(tmp / "var"),
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "bot", "hub"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=(tmp / "hub.log").open("ab"),
    )
    wait_for(lambda: _answers(f"http://127.0.0.1:{port}/health"), 120, "the hub to start", tmp)
    return process


def _answers(url: str) -> bool:
    try:
        return requests.get(url, timeout=1).ok
    except requests.RequestException:
        return False


def stop(process: subprocess.Popen | None, sig: int = signal.SIGTERM) -> None:
    if process is not None and process.poll() is None:
        process.send_signal(sig)
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)


def wait_for(condition: Callable[[], bool], seconds: float, what: str, tmp: Path) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.05)
    logs = "\n".join(f"--- {p.name}\n{p.read_text()[-3000:]}" for p in sorted(tmp.glob("*.log")))
    pytest.fail(f"timed out after {seconds} s waiting for {what}\n{logs}")


# --- the journey database -------------------------------------------------------------------


@pytest.fixture
def db(journey_engine):
    return journey_engine


def url_of(engine) -> str:
    return engine.url.render_as_string(hide_password=False)


def hand_off_many(
    engine, hub_url: str, conversations: int, now: Callable[[], datetime] = datetime.now
) -> dict[int, str]:
    """Handoffs made the way the support desk makes them (HandoffDesk): {handoff id: key}."""
    desk = HandoffDesk(engine, load_departments(hub_url=hub_url), now=now)
    for need in NEEDS:  # interleaved, so a conversation's handoffs are not adjacent ids
        for n in range(conversations):
            desk.hand_off(
                HandoffRequest(
                    department=DEPARTMENTS[n % len(DEPARTMENTS)],
                    need=need,
                    conversation_id=f"fault-{n}",
                    summary=f"{need} for conversation {n}",
                    channel="web",
                    context={"transcript": f"customer: I need a {need}"},
                )
            )
    with engine.connect() as conn:
        rows = conn.execute(select(outbox_table.c.handoff_id, outbox_table.c.idempotency_key))
        return {r.handoff_id: r.idempotency_key for r in rows}


def outbox_rows(engine) -> dict[str, object]:
    with engine.connect() as conn:
        rows = conn.execute(select(outbox_table).order_by(outbox_table.c.id))
        return {r.idempotency_key: r for r in rows}


def conversation_of(engine) -> dict[int, str]:
    with engine.connect() as conn:
        rows = conn.execute(select(handoffs_table.c.id, handoffs_table.c.conversation_id))
        return {r.id: r.conversation_id for r in rows}


def assert_exactly_once(entries: list[dict], keys: dict[int, str], engine) -> None:
    """Every handoff processed once, under its own key only, in order within its conversation."""
    processed = [e for e in entries if e["processed"]]
    assert sorted(e["handoff_id"] for e in processed) == sorted(keys)  # none lost, none twice
    keys_seen = defaultdict(set)
    for e in entries:
        keys_seen[e["handoff_id"]].add(e["key"])
    # A handoff that arrived more than once always carried the same key: the receiver could
    # recognise every repeat.
    assert {h: seen for h, seen in keys_seen.items()} == {h: {k} for h, k in keys.items()}
    conversations = conversation_of(engine)
    order = defaultdict(list)
    for e in processed:
        order[conversations[e["handoff_id"]]].append(e["handoff_id"])
    assert all(ids == sorted(ids) for ids in order.values())
    assert all(r.state == "sent" for r in outbox_rows(engine).values())


# --- the dispatcher killed and restarted ----------------------------------------------------


def test_dispatcher_killed_mid_delivery_twice_resumes_and_delivers_each_handoff_once(db, tmp_path):
    # The receiver holds the 5th and the 14th request before answering: the dispatcher is
    # killed while each is in flight (received, not yet acknowledged).
    receiver = Receiver(
        tmp_path,
        {d: [SECRETS[f"CX_WEBHOOK_SECRET_{d.upper()}"]] for d in DEPARTMENTS},
        hang_on="5,14",
        hang_seconds=4,  # under the dispatcher's 5 s timeout: the kill, not a timeout, ends it
    )
    receiver.start()
    keys = hand_off_many(db, receiver.hub_url, conversations=8)
    assert len(keys) == 24
    dispatcher = None
    try:
        for hung in (5, 14):
            dispatcher = start_dispatcher(url_of(db), receiver.hub_url, tmp_path, SECRETS)
            wait_for(lambda n=hung: len(receiver.entries()) >= n, 120, f"request {hung}", tmp_path)
            dispatcher.kill()  # SIGKILL: no clean-up, no last write
            assert dispatcher.wait(10) == -signal.SIGKILL
            in_flight = receiver.entries()[hung - 1]
            row = outbox_rows(db)[in_flight["key"]]
            # Received by the department, but the dispatcher died before recording it.
            assert in_flight["processed"] and (row.state, row.attempts) == ("pending", 0)

        dispatcher = start_dispatcher(url_of(db), receiver.hub_url, tmp_path, SECRETS)
        wait_for(lambda: outbox.pending_count(db) == 0, 120, "every handoff sent", tmp_path)
    finally:
        stop(dispatcher)
        receiver.kill()

    entries = receiver.entries()
    assert all(e["signature_ok"] and e["status"] == 200 for e in entries)
    assert_exactly_once(entries, keys, db)
    repeats = Counter(e["key"] for e in entries if not e["processed"])
    # Exactly the two handoffs in flight at the kills were sent again, each under its own key.
    assert sorted(repeats.values()) == [1, 1]
    assert set(repeats) == {entries[4]["key"], entries[13]["key"]}
    assert len(entries) == len(keys) + 2


# --- the hub killed and restarted -------------------------------------------------------------


def signed_post(url: str, secret: str, body: bytes = b"", at: float | None = None):
    headers = {"Content-Type": "application/json"}
    headers.update(signature_headers(secret, body, time.time() if at is None else at))
    return requests.post(url, data=body, headers=headers, timeout=5)


def test_hub_killed_and_restarted_loses_no_handoff_and_no_acknowledgement(db, tmp_path):
    port = free_port()
    hub_url = f"http://127.0.0.1:{port}"
    keys = hand_off_many(db, hub_url, conversations=10)
    hub = start_hub(url_of(db), port, tmp_path, SECRETS)
    dispatcher = start_dispatcher(url_of(db), hub_url, tmp_path, SECRETS)
    billing = SECRETS["CX_WEBHOOK_SECRET_BILLING"]

    def inbox_size() -> int:
        with db.connect() as conn:
            return len(conn.execute(select(inbox_table.c.id)).all())

    try:
        wait_for(lambda: inbox_size() >= 6, 120, "six deliveries in the hub's inbox", tmp_path)
        hub.kill()
        assert hub.wait(10) == -signal.SIGKILL
        delivered_before = inbox_size()
        with db.connect() as conn:
            first_billing = conn.execute(
                select(inbox_table.c.handoff_id)
                .where(inbox_table.c.department == "billing")
                .order_by(inbox_table.c.id)
            ).first()[0]
        ack_url = f"{hub_url}/api/handoffs/{first_billing}/acknowledge"
        with pytest.raises(requests.ConnectionError):
            signed_post(ack_url, billing)  # billing acknowledges while the hub is down

        hub = start_hub(url_of(db), port, tmp_path, SECRETS)
        answer = signed_post(ack_url, billing)  # its retry, signed afresh, gets through
        assert answer.status_code == 200, answer.text
        acknowledged_at = answer.json()["acknowledged_at"]

        # The answer to that retry was lost too, so billing sends it once more: nothing changes,
        # and the 409 says the handoff is already where billing wants it.
        again = signed_post(ack_url, billing)
        assert again.status_code == 409 and again.json()["status"] == "acknowledged"

        resolve_url = f"{hub_url}/api/handoffs/{first_billing}/resolve"
        body = json.dumps({"resolution": "refunded"}).encode()
        assert signed_post(resolve_url, billing, body).status_code == 200
        repeat = signed_post(resolve_url, billing, json.dumps({"resolution": "other"}).encode())
        assert repeat.status_code == 409 and repeat.json()["status"] == "resolved"

        wait_for(lambda: outbox.pending_count(db) == 0, 120, "every handoff sent", tmp_path)
    finally:
        stop(dispatcher)
        stop(hub)

    assert delivered_before < len(keys)  # the kill came mid-delivery: some were still to go
    with db.connect() as conn:
        inbox = conn.execute(select(inbox_table)).all()
        handoff = conn.execute(
            select(handoffs_table).where(handoffs_table.c.id == first_billing)
        ).one()
    # One inbox row per handoff, under the outbox's key: a repeat only counted as a delivery.
    assert sorted(r.handoff_id for r in inbox) == sorted(keys)
    assert {r.handoff_id: r.idempotency_key for r in inbox} == keys
    assert all(r.state == "sent" for r in outbox_rows(db).values())
    assert handoff.status == "resolved" and handoff.resolution == "refunded"
    assert handoff.acknowledged_at.isoformat() == acknowledged_at  # not moved by the repeat


# --- a department down for ten minutes ----------------------------------------------------------


class Ticker:
    """Runs the dispatcher as run_forever would, on a simulated clock, one tick at a time."""

    def __init__(self, dispatcher: Dispatcher, clock: Clock, receiver: Receiver, engine):
        self.dispatcher = dispatcher
        self.clock = clock
        self.receiver = receiver
        self.engine = engine
        self.start = clock()
        self.attempts: dict[str, list[float]] = defaultdict(list)  # key -> seconds since start
        self.dead_seen = 0

    def elapsed(self) -> float:
        return (self.clock() - self.start).total_seconds()

    def run_until(self, seconds: float, status: int | None = None) -> None:
        """Tick each simulated second until ``seconds``; the receiver answers ``status`` if set."""
        while self.elapsed() < seconds:
            # The receiver shares the simulated clock, so signatures are checked against it.
            self.receiver.set(now=self.clock().timestamp(), status=status)
            before = {k: r.attempts for k, r in outbox_rows(self.engine).items()}
            self.dispatcher.run_once()
            for key, row in outbox_rows(self.engine).items():
                if row.attempts > before[key]:
                    self.attempts[key].append(self.elapsed())
                self.dead_seen += row.state == "dead"
            self.clock.advance(seconds=1)


def first_of_each_conversation(engine, keys: dict[int, str]) -> set[str]:
    firsts: dict[str, int] = {}
    for handoff_id, conversation in conversation_of(engine).items():
        firsts[conversation] = min(handoff_id, firsts.get(conversation, handoff_id))
    return {keys[h] for h in firsts.values()}


def test_a_department_down_ten_minutes_gets_everything_after_exactly_once(db, tmp_path):
    receiver = Receiver(
        tmp_path, {d: [SECRETS[f"CX_WEBHOOK_SECRET_{d.upper()}"]] for d in DEPARTMENTS}
    )
    clock = Clock(datetime.now().replace(microsecond=0))
    keys = hand_off_many(db, receiver.hub_url, conversations=4, now=clock)
    heads = first_of_each_conversation(db, keys)
    dispatcher = Dispatcher(
        db,
        load_departments(hub_url=receiver.hub_url),
        secrets=SECRETS,
        now=clock,
        timeout=2.0,
        rng=random.Random(20261124),
    )  # the defaults make run uses: 1 s base delay, 600 s ceiling, give up after 24 h
    ticker = Ticker(dispatcher, clock, receiver, db)
    try:
        ticker.run_until(300)  # minutes 0-5: nothing listens (connection refused)
        receiver.start()
        ticker.run_until(600, status=503)  # minutes 5-10: up, but answering 503
        assert not any(e["processed"] for e in receiver.entries())
        back = ticker.elapsed()
        rows = outbox_rows(db)
        assert all(r.state == "pending" for r in rows.values())
        latest_next = max(r.next_attempt_at for r in rows.values())
        ticker.run_until(back + dispatcher.max_delay + 2)  # back to normal
    finally:
        receiver.kill()
        dispatcher.close()

    entries = receiver.entries()
    assert_exactly_once(entries, keys, db)
    assert ticker.dead_seen == 0  # never given up: far from the 24 h give-up time
    # Everything arrived by the first retry the schedule had planned after the outage ended.
    sent_at = max(r.sent_at for r in outbox_rows(db).values())
    assert sent_at <= latest_next + timedelta(seconds=1)
    assert (sent_at - ticker.start).total_seconds() <= back + dispatcher.max_delay + 1
    # Each retry was signed when it was sent: fresh to a receiver on the same clock.
    answered = [e for e in entries if e["status"] in (200, 503)]
    assert answered and all(e["signature_ok"] for e in answered)
    assert all(abs(e["at"] - int(e["timestamp"])) <= 1 for e in answered)
    # The backoff: only a conversation's first handoff is retried while it fails, each wait
    # is under its exponential ceiling (1, 2, 4 ... capped at 600 s), and it kept trying.
    assert set(ticker.attempts) >= heads
    for key in heads:
        times = ticker.attempts[key]
        waits = [b - a for a, b in zip(times, times[1:], strict=False)]
        ceilings = [min(600.0, 2.0**n) for n in range(len(waits))]
        assert all(w <= c + 1 for w, c in zip(waits, ceilings, strict=True)), (waits, ceilings)
        failures = [t for t in times if t < back]
        assert 5 <= len(failures) <= 30, failures  # retried, without hammering
    for key in set(keys.values()) - heads:
        assert len(ticker.attempts[key]) == 1  # held behind their head: one attempt, the good one


def test_a_handoff_is_never_given_up_before_the_configured_time(db, tmp_path):
    port = free_port()  # nothing listens there: every attempt is refused
    clock = Clock(datetime.now().replace(microsecond=0))
    keys = hand_off_many(db, f"http://127.0.0.1:{port}", conversations=3, now=clock)
    give_up = timedelta(minutes=30)
    dispatcher = Dispatcher(
        db,
        load_departments(hub_url=f"http://127.0.0.1:{port}"),
        secrets=SECRETS,
        now=clock,
        timeout=2.0,
        max_age=give_up,
        rng=random.Random(7),
    )
    created = clock()
    try:
        while clock() - created < give_up + timedelta(seconds=dispatcher.max_delay + 60):
            dispatcher.run_once()
            rows = outbox_rows(db).values()
            if clock() - created < give_up:
                assert all(r.state == "pending" for r in rows), "gave up before max_age"
            clock.advance(seconds=5)
    finally:
        dispatcher.close()
    rows = outbox_rows(db)
    heads = first_of_each_conversation(db, keys)
    assert len(rows) == len(keys) and all(r.state == "dead" for r in rows.values())
    for key in heads:
        r = rows[key]
        # Dead at the first retry due at or after the give-up time, never before it.
        assert give_up <= r.dead_at - r.created_at <= give_up + timedelta(seconds=605)
        assert "gave up after" in r.last_error and "connection failed" in r.last_error
        assert r.attempts >= 8  # it kept trying all along
    # A dead row no longer holds its conversation back: the later ones were tried in turn
    # (each once: they too are past the give-up time).
    for key in set(keys.values()) - heads:
        assert rows[key].attempts == 1 and rows[key].dead_at - rows[key].created_at >= give_up


# --- a secret rotated while handoffs are in flight ---------------------------------------------


def test_rotation_dispatcher_signs_with_the_new_secret_receivers_accept_both(db, tmp_path):
    old, new = "billing-secret-2025", "billing-secret-2026"
    # The department's receiver has switched to the new secret and still accepts the old one.
    receiver = Receiver(tmp_path, {"billing": [new, old]})
    receiver.start()
    desk_url = receiver.hub_url
    keys = {}
    port = free_port()
    hub = None
    try:
        keys = hand_off_many(db, desk_url, conversations=1)  # one each: billing only
        # A dispatcher still on the old secret (not restarted yet), then one restarted in the
        # overlap: it holds both and signs with the new one only.
        for secrets in (
            {**SECRETS, "CX_WEBHOOK_SECRET_BILLING": old},
            {
                **SECRETS,
                "CX_WEBHOOK_SECRET_BILLING": new,
                "CX_WEBHOOK_SECRET_BILLING_PREVIOUS": old,
            },
        ):
            departments = load_departments(hub_url=desk_url)
            with Dispatcher(db, departments, secrets=secrets, timeout=2.0) as dispatcher:
                assert dispatcher.run_once(limit=1).sent == 1
        entries = receiver.entries()
        assert [(e["signature_ok"], e["signed_with"]) for e in entries] == [(True, 1), (True, 0)]

        # The hub's inbox and acknowledgement routes during the overlap: both secrets work...
        rotating = {
            **SECRETS,
            "CX_WEBHOOK_SECRET_BILLING": new,
            "CX_WEBHOOK_SECRET_BILLING_PREVIOUS": old,
        }
        hub = start_hub(url_of(db), port, tmp_path, rotating)
        hub_url = f"http://127.0.0.1:{port}"
        [first, second, third] = sorted(keys)
        assert signed_post(f"{hub_url}/api/handoffs/{first}/acknowledge", old).status_code == 200
        assert signed_post(f"{hub_url}/api/handoffs/{second}/acknowledge", new).status_code == 200
        forged = signed_post(f"{hub_url}/api/handoffs/{third}/acknowledge", "guess")
        assert forged.status_code == 401
        stale = signed_post(
            f"{hub_url}/api/handoffs/{third}/acknowledge", new, at=time.time() - 301
        )
        assert stale.status_code == 401 and "away from the hub's clock" in stale.text
        stop(hub)

        # ...and once the overlap ends (the _PREVIOUS variable removed), the old one no longer does.
        rotated = {**SECRETS, "CX_WEBHOOK_SECRET_BILLING": new}
        hub = start_hub(url_of(db), port, tmp_path, rotated)
        refused = signed_post(f"{hub_url}/api/handoffs/{third}/acknowledge", old)
        assert refused.status_code == 401
        assert signed_post(f"{hub_url}/api/handoffs/{third}/acknowledge", new).status_code == 200
    finally:
        stop(hub)
        receiver.kill()
