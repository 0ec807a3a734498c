"""PostgreSQL restarted under our feet: writes fail fast and clearly, then work again.

The journey store and the handoff outbox keep one engine for the life of a process (the
action server, the hub, the dispatcher). When the database server restarts, that process
must not need restarting too: bot/db/engine/engine.py pings a pooled connection before handing it out
(a dead one is replaced), and bounds every connection attempt (``connect_timeout``), so a
write while the server is away raises an error instead of hanging the customer's turn.

The restart tests run a private PostgreSQL cluster started by the test (never the shared
server); they skip when PostgreSQL's binaries are not installed.
"""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.exc import OperationalError

from bot.db.engine import PG_CONNECT_TIMEOUT, make_engine
from bot.db.migrate import migrate
from bot.db.schema import handoffs, outbox, touchpoints
from bot.departments import load_departments
from bot.handoff import HandoffDesk
from bot.handoff.model import HandoffRequest
from bot.journey.signals import UserMessage
from bot.journey.store import JourneyStore, Turn

T0 = datetime(2025, 3, 12, 10, 0)  # a Wednesday, 10:00: every department is open


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class PrivateCluster:
    """A throwaway PostgreSQL cluster in a temporary directory, on its own port."""

    bin: Path
    root: Path
    port: int
    as_postgres: list[str]  # the command prefix that runs as the cluster's owner

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def pg_ctl(self, *args: str) -> None:
        """Run pg_ctl on this cluster; raise with its log when it fails."""
        command = [*self.as_postgres, str(self.bin / "pg_ctl"), "-D", str(self.root / "data")]
        done = subprocess.run(
            [*command, *args], capture_output=True, text=True, timeout=120, check=False
        )
        if done.returncode:
            log = (self.root / "server.log").read_text(errors="replace")[-2000:]
            raise RuntimeError(f"pg_ctl {args[0]} failed: {done.stderr}\n{log}")

    def start(self) -> None:
        options = (
            f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off"
            " -c max_connections=50"
        )
        self.pg_ctl("-o", options, "-l", str(self.root / "server.log"), "-w", "start")

    def stop(self) -> None:
        # fast: sessions are cut off (as in a real restart), then a clean checkpoint.
        self.pg_ctl("-m", "fast", "-w", "stop")


@pytest.fixture
def cluster() -> Iterator[PrivateCluster]:
    """A private cluster, started; stopped and deleted afterwards."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    initdb = found[-1] if found else shutil.which("initdb")
    if not initdb:
        pytest.skip("PostgreSQL's server binaries (initdb, pg_ctl) are not installed")
    bin_dir = Path(initdb).parent
    root = Path(tempfile.mkdtemp(prefix="cx-pg-restart-"))
    as_postgres: list[str] = []
    if os.geteuid() == 0:  # initdb refuses to run as root: the cluster belongs to postgres
        runuser = shutil.which("runuser")
        if runuser is None:
            shutil.rmtree(root)
            pytest.skip("running as root without runuser: initdb can't run as root")
        try:
            shutil.chown(root, user="postgres", group="postgres")
        except LookupError:
            shutil.rmtree(root)
            pytest.skip("running as root and there is no postgres user to own the cluster")
        as_postgres = [runuser, "-u", "postgres", "--"]
    pg = PrivateCluster(bin_dir, root, free_port(), as_postgres)
    init = [str(bin_dir / "initdb"), "-D", str(root / "data"), "-U", "postgres"]
    done = subprocess.run(
        [*as_postgres, *init, "--auth=trust", "--no-sync"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if done.returncode:
        shutil.rmtree(root, ignore_errors=True)
        pytest.skip(f"initdb failed here: {done.stderr.strip()[-500:]}")
    pg.start()
    try:
        yield pg
    finally:
        with contextlib.suppress(RuntimeError):  # already stopped
            pg.pg_ctl("-m", "immediate", "-w", "stop")
        shutil.rmtree(root, ignore_errors=True)


class Writer:
    """The journey writes of one action server: a turn logged per conversation, then
    its handoff (with its outbox row), through one engine kept for the whole test."""

    def __init__(self, url: str):
        self.engine = make_engine(url)
        migrate(self.engine)
        self.store = JourneyStore(self.engine, now=lambda: T0)
        self.desk = HandoffDesk(self.engine, load_departments(), now=lambda: T0)
        self.done: list[str] = []  # conversations whose writes all succeeded

    def write(self, conversation: str) -> None:
        """One turn and one handoff for ``conversation`` (raises as the database does)."""
        said = (UserMessage(f"where is my order? ({conversation})", "order_status", T0),)
        self.store.record(
            Turn(
                conversation_id=conversation,
                channel="rest",
                session_started_at=T0,
                messages=said,
                need="order_status",
                department="delivery",
            )
        )
        self.desk.hand_off(
            HandoffRequest(
                department="delivery",
                need="order_status",
                conversation_id=conversation,
                summary=f"order question in {conversation}",
                channel="rest",
            )
        )
        self.done.append(conversation)

    def stored(self) -> dict[str, set[str]]:
        """The conversations with a touchpoint, a handoff, and an outbox row."""
        with self.engine.connect() as conn:
            return {
                table.name: set(conn.execute(select(table.c.conversation_id)).scalars())
                for table in (touchpoints, handoffs, outbox)
            }


def test_the_first_writes_after_a_quiet_restart_succeed(cluster):
    writer = Writer(cluster.url)
    try:
        # Three connections in the pool, as after some traffic; all die with the restart.
        threads = [threading.Thread(target=writer.write, args=(f"before-{n}",)) for n in range(3)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert writer.engine.pool.checkedin() >= 1

        cluster.stop()
        cluster.start()

        for n in range(5):  # each would meet a dead pooled connection without pre-ping
            writer.write(f"after-{n}")
        every = {f"before-{n}" for n in range(3)} | {f"after-{n}" for n in range(5)}
        assert writer.stored() == {"touchpoints": every, "handoffs": every, "outbox": every}
    finally:
        writer.engine.dispose()


def test_writes_during_a_restart_fail_fast_and_clearly_then_recover(cluster):
    writer = Writer(cluster.url)
    outcomes: list[tuple[float, float, BaseException | None]] = []  # started, took, error
    stop = threading.Event()

    def traffic() -> None:
        n = 0
        while not stop.is_set():
            began = time.monotonic()
            try:
                writer.write(f"turn-{n}")
                error = None
            except Exception as e:  # noqa: BLE001 - each failure is checked below
                error = e
            outcomes.append((began, time.monotonic() - began, error))
            n += 1
            time.sleep(0.02)

    thread = threading.Thread(target=traffic)
    try:
        thread.start()
        time.sleep(1.0)
        cluster.stop()
        down = time.monotonic()
        time.sleep(2.0)  # the outage: every write now meets a server that is not there
        cluster.start()
        up = time.monotonic()
        time.sleep(1.5)
        stop.set()
        thread.join(timeout=PG_CONNECT_TIMEOUT * 3)
        assert not thread.is_alive(), "a write hung"

        failed = [(b, took, e) for b, took, e in outcomes if e is not None]
        after = [e for b, _, e in outcomes if b > up]
        assert failed, "no write met the outage"
        print(
            f"\n{len(outcomes)} writes, {len(failed)} failed during the {up - down:.1f} s "
            f"outage; slowest failure {max(t for _, t, _ in failed):.2f} s; first write after "
            f"the restart took {next(t for b, t, _ in outcomes if b > up):.2f} s"
        )
        for _, took, error in failed:
            # A clear error of the database layer, given within the connect timeout.
            assert isinstance(error, OperationalError), repr(error)
            assert took < PG_CONNECT_TIMEOUT + 2, f"a failed write took {took:.1f} s"
        assert after and not any(after), "writes after the restart should all succeed"

        # Everything reported as written is there: nothing acknowledged was lost. (A write
        # cut off mid-way may have committed its touchpoint, or even its handoff, unseen.)
        stored = writer.stored()
        assert set(writer.done) <= stored["handoffs"] <= stored["touchpoints"]
        assert stored["outbox"] == stored["handoffs"]  # one transaction: never one alone
    finally:
        stop.set()
        thread.join(timeout=30)
        writer.engine.dispose()


def test_a_write_while_the_server_is_down_raises_at_once(cluster):
    writer = Writer(cluster.url)
    try:
        writer.write("before")
        cluster.stop()
        began = time.monotonic()
        with pytest.raises(OperationalError, match="(?i)connect|refused"):
            writer.write("while-down")
        assert time.monotonic() - began < 2.0
        cluster.start()
        writer.write("after")
        assert writer.stored()["outbox"] == {"before", "after"}
    finally:
        writer.engine.dispose()


def test_a_server_that_never_answers_is_given_up_after_the_connect_timeout():
    """A listening socket that never speaks PostgreSQL (an unreachable or stuck server):
    without a connect timeout libpq waits for its answer forever."""
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(16)  # the kernel completes the handshake; nobody ever answers
    port = silent.getsockname()[1]
    engine = make_engine(f"postgresql://postgres@127.0.0.1:{port}/postgres")
    store = JourneyStore(engine)
    outcome: list[BaseException | None] = []

    def attempt() -> None:
        try:
            store.touchpoints_of("anyone")
            outcome.append(None)
        except Exception as e:  # noqa: BLE001 - checked below
            outcome.append(e)

    began = time.monotonic()
    thread = threading.Thread(target=attempt, daemon=True)  # a hang must not hold pytest
    thread.start()
    thread.join(timeout=PG_CONNECT_TIMEOUT + 10)
    took = time.monotonic() - began
    try:
        assert not thread.is_alive(), f"still waiting after {took:.0f} s: no connect timeout"
        [error] = outcome
        assert isinstance(error, OperationalError) and "timeout" in str(error).lower(), error
        assert PG_CONNECT_TIMEOUT - 1 <= took < PG_CONNECT_TIMEOUT + 5
    finally:
        silent.close()
        engine.dispose()
