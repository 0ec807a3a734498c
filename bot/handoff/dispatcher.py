"""Deliver the handoff outbox to department webhooks: signed, retried, in order, at least once.

Guarantees, and what they rest on:

- **At least once, same key every time.** A row is marked sent only after its department
  answered 2xx, in its own short transaction after the HTTP call. If the process dies in
  between, the row is still pending and is sent again with the same ``Idempotency-Key``;
  departments deduplicate on that key, which makes delivery effectively exactly once.
- **In order per conversation.** A row is not sent while an older row (lower id) of the
  same conversation is still pending, so a department never sees a chat's second handoff
  before its first. A dead row no longer holds the rows behind it. (Ids give the creation
  order because a conversation's handoffs are written one after the other: Rasa's lock
  store serialises a conversation.)
- **Retries you can see.** 5xx, 408, timeouts and connection errors back off exponentially
  with full jitter; 429 (and 503) wait for ``Retry-After`` when given; any other answer is
  a refusal and the row goes dead at once. A row older than ``max_age`` that would be
  retried goes dead instead. Dead rows stay in the table (``outbox.dead_letters``) and can
  be sent again by hand (``outbox.retry``).
- **Configuration errors are loud, not lost.** A row whose department is unknown or whose
  signing secret is missing is not attempted (no attempt is used up): its ``last_error``
  says what to set, the rest of the outbox is still delivered, and ``run_once`` then raises
  ``DispatchConfigError`` naming the variable.

Recording a result does not wait for the disk (SQLite ``synchronous=NORMAL`` in WAL mode,
PostgreSQL ``synchronous_commit=off``, on the dispatcher's own transactions only; the
handoff and its outbox row are written by the app with full durability). A process crash
loses nothing; a power cut or OS crash may forget the last few "sent" marks, and those rows
are sent again with the same key: the duplicate the protocol already allows for. Waiting
for an fsync per row instead halves throughput (bench/dispatch.py).

**Several dispatchers may run side by side** on one journey database (one per machine of a
scale-out, or two for availability); none sends a row another is sending or has sent, and
per-conversation order holds across them:

- *PostgreSQL* (any database with ``FOR UPDATE SKIP LOCKED``): each row is claimed in a
  short transaction of its own that stays open around its HTTP call: ``SELECT ... FOR
  UPDATE SKIP LOCKED`` of the row, only while it is still pending and due and no older row
  of its conversation is pending (being sent elsewhere counts as pending); the result is
  written and committed in that same transaction. A row another dispatcher holds is
  skipped, and its conversation with it for this run, so a later handoff never overtakes
  an earlier one in flight. If a dispatcher dies mid-call, PostgreSQL drops its connection,
  rolls back and frees the lock; the row is still pending and the next claim sends it
  again with the same key. The cost: one open transaction per dispatcher for at most
  ``timeout`` seconds; it locks one outbox row, which only other dispatchers wait for
  (an erasure deleting that row waits up to ``timeout``).
- *SQLite* has no row locks, and holding its one write lock across an HTTP call would
  stall every turn's write. Dispatchers on one SQLite file take turns instead: a run holds
  an exclusive ``flock`` on ``<database>.dispatch.lock`` beside the file (SQLite files are
  local to one machine, so every dispatcher of that file sees the same lock), and a run
  that finds it taken does nothing (``DispatchReport.standby``). So one dispatcher works at
  a time and the others are hot standbys; the app still only inserts rows and the
  dispatcher still never holds a transaction open across an HTTP call there.

The HTTP side of one attempt is bot/handoff/webhook.py; the SQL and the locks,
bot/handoff/dispatch_queries.py.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import requests
from sqlalchemy.engine import Connection, Engine

from bot import monitoring
from bot.db.engine import make_engine
from bot.departments import (
    DEFAULT_HUB_URL,
    DEPARTMENTS_FILE,
    Department,
    MissingSecretError,
    load_departments,
)
from bot.handoff.dispatch_queries import (
    claim_row,
    due_rows,
    record_attempt,
    record_problems,
    sqlite_turn,
    without_waiting_for_the_disk,
)
from bot.handoff.outbox import DEAD, PENDING, SENT
from bot.handoff.webhook import delivery_headers, post_once

log = logging.getLogger(__name__)

MAX_EXPONENT = 32  # 2**32 seconds is already longer than any max_delay; avoids float overflow


class DispatchConfigError(RuntimeError):
    """Some due rows could not be attempted because a department is unknown or has no secret."""

    def __init__(self, problems: list[str], report: DispatchReport):
        super().__init__("; ".join(problems))
        self.problems = problems
        self.report = report  # what the run did deliver despite the problem


@dataclass
class DispatchReport:
    """What one ``run_once`` did: rows delivered, rescheduled, given up, and held back."""

    due: int = 0  # rows selected as due for this run
    sent: int = 0
    retried: int = 0
    dead: int = 0
    held: int = 0  # due, but behind an older pending row of the same conversation
    blocked: int = 0  # due, but their department is unknown or has no secret
    skipped: int = 0  # due, but another dispatcher had it or its conversation (not claimed)
    standby: bool = False  # SQLite: another dispatcher had the turn, this run did nothing

    @property
    def attempted(self) -> int:
        return self.sent + self.retried + self.dead


class Dispatcher:
    """Sends due outbox rows to their department's webhook; see the module docstring."""

    def __init__(
        self,
        engine: Engine,
        departments: Mapping[str, Department],
        *,
        secrets: Mapping[str, str],
        session: requests.Session | None = None,
        # Naive local time, like every time in the journey database (HandoffDesk writes them).
        now: Callable[[], datetime] = datetime.now,
        timeout: float = 5.0,
        base_delay: float = 1.0,
        max_delay: float = 600.0,
        max_age: timedelta = timedelta(hours=24),
        rng: random.Random | None = None,
    ):
        self.engine = engine  # a migrated journey database (bot.db.migrate)
        self.departments = dict(departments)
        self.timeout = timeout
        self.base_delay = base_delay
        self.max_delay = max_delay
        self.max_age = max_age
        self._secrets = secrets
        self._owns_session = session is None
        # One Session for every call: keep-alive connections to each department are reused.
        self._session = session if session is not None else requests.Session()
        self._clock = now
        self._rng = rng if rng is not None else random.Random()

    def close(self) -> None:
        """Close the HTTP session if this dispatcher created it."""
        if self._owns_session:
            self._session.close()

    def __enter__(self) -> Dispatcher:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def missing_secrets(self) -> list[str]:
        """The secret variables not set for the configured departments (checked at start-up)."""
        return [
            d.secret_env for d in self.departments.values() if not self._secrets.get(d.secret_env)
        ]

    def run_once(self, limit: int = 100) -> DispatchReport:
        """Attempt up to ``limit`` due rows, oldest first, keeping each conversation in order."""
        # One connection for the run, each write still its own short transaction: a checkout
        # per write can cost more than the write (with a NullPool: reconnect and pragmas).
        with sqlite_turn(self.engine) as mine:
            if not mine:
                return DispatchReport(standby=True)
            with self.engine.connect() as conn, without_waiting_for_the_disk(conn):
                return self._run(conn, limit)

    def _run(self, conn: Connection, limit: int) -> DispatchReport:
        report = DispatchReport()
        rows = due_rows(conn, self._now(), limit)
        report.due = len(rows)
        held_conversations: set[str] = set()
        problems: dict[int, str] = {}
        for row in rows:
            if row.conversation_id in held_conversations:
                report.held += 1
                continue
            department = self.departments.get(row.department)
            try:
                if department is None:
                    raise LookupError(
                        f"no department named {row.department!r} in departments.yml; add it, "
                        f"or send outbox row {row.id} again once it exists"
                    )
                secret = department.webhook_secret(self._secrets)
            except (LookupError, MissingSecretError) as e:
                problems[row.id] = str(e)
                held_conversations.add(row.conversation_id)
                report.blocked += 1
                continue
            state = self._claim_and_attempt(conn, row.id, department, secret)
            if state is not None:
                monitoring.delivered(department.name, state)
            if state is None:
                # Another dispatcher is sending it (or an older row of its conversation), or
                # has already: leave the whole conversation to it for this run.
                report.skipped += 1
                held_conversations.add(row.conversation_id)
            elif state == SENT:
                report.sent += 1
            elif state == DEAD:
                report.dead += 1
            else:
                report.retried += 1
                held_conversations.add(row.conversation_id)
        if problems:
            record_problems(conn, problems)
            raise DispatchConfigError(sorted(set(problems.values())), report)
        return report

    def run_forever(
        self,
        stop: threading.Event,
        idle_sleep: float = 0.5,
        error_sleep: float = 5.0,
        batch: int = 100,
    ) -> None:
        """Dispatch until ``stop`` is set: straight on while there is work, else every ``idle_sleep``."""
        log.info("handoff dispatcher started")
        last_logged: dict[str, float] = {}
        while not stop.is_set():
            try:
                report = self.run_once(limit=batch)
            except DispatchConfigError as e:
                # Once a minute is enough to be seen; the other departments keep going meanwhile.
                message = str(e)
                if time.monotonic() - last_logged.get(message, -60.0) >= 60:
                    last_logged[message] = time.monotonic()
                    log.error("handoff dispatcher: %s", message)
                report = e.report
                if report.sent == 0 and report.dead == 0:
                    stop.wait(error_sleep)
                continue
            except Exception:
                # The database may be down or not migrated yet; the outbox keeps the work safe.
                log.exception("handoff dispatcher: run failed; trying again in %.0f s", error_sleep)
                stop.wait(error_sleep)
                continue
            # Only retries (no progress) means every department left is failing: do not spin.
            if report.sent == 0 and report.dead == 0 and report.due < batch:
                stop.wait(idle_sleep)
        log.info("handoff dispatcher stopped")

    # --- one row -------------------------------------------------------------------------

    def _claim_and_attempt(
        self, conn: Connection, outbox_id: int, department: Department, secret: str
    ) -> str | None:
        """Claim the row, POST it once and record the result; None if it could not be claimed."""
        if conn.dialect.name == "sqlite":
            # The run holds the database's dispatch turn (``sqlite_turn``): no one else is
            # sending, so the claim is a plain read and each write its own short transaction.
            with conn.begin():
                row = claim_row(conn, outbox_id, self._now())
            return None if row is None else self._attempt(conn, row, department, secret)
        # The row lock lives as long as this transaction: around the HTTP call and the write
        # of its result, so no other dispatcher can take the row in between.
        with conn.begin():
            row = claim_row(conn, outbox_id, self._now())
            return None if row is None else self._attempt(conn, row, department, secret)

    def _attempt(self, conn: Connection, row: Any, department: Department, secret: str) -> str:
        """POST one row once and record the result; returns the row's new state."""
        body = row.body.encode("utf-8")  # the stored JSON is ASCII: these are the exact bytes
        headers = delivery_headers(row.idempotency_key, department.name, secret, body, self._now())
        attempt = row.attempts + 1
        outcome = post_once(
            self._session,
            department.webhook_url,
            body,
            headers,
            timeout=self.timeout,
            now=self._now,
        )
        now = self._now()
        where = (
            f"outbox {row.id} -> {department.name} (key {row.idempotency_key}, attempt {attempt})"
        )
        if outcome.error is None:
            self._mark_sent(conn, row.id, outcome.status, now)
            log.info("%s: delivered, HTTP %s", where, outcome.status)
            return SENT
        age = now - row.created_at
        if not outcome.retryable or age >= self.max_age:
            reason = (
                outcome.error if not outcome.retryable else f"{outcome.error} (gave up after {age})"
            )
            self._mark_dead(conn, row.id, outcome.status, reason, now)
            log.warning("%s: dead letter: %s", where, reason)
            return DEAD
        delay = (
            outcome.retry_after if outcome.retry_after is not None else self._backoff(row.attempts)
        )
        self._schedule_retry(
            conn, row.id, outcome.status, outcome.error, now + timedelta(seconds=delay)
        )
        log.warning("%s: %s; next attempt in %.1f s", where, outcome.error, delay)
        return PENDING

    def _backoff(self, failures_so_far: int) -> float:
        """Full jitter: a uniform wait up to ``min(max_delay, base_delay * 2**failures)``."""
        ceiling: float = min(
            self.max_delay, self.base_delay * 2 ** min(failures_so_far, MAX_EXPONENT)
        )
        return ceiling * self._rng.random()

    # --- recording results: one short transaction each, never across an HTTP call ------------
    # Methods, not bare calls, so a test can make the process die between send and mark.

    def _mark_sent(
        self, conn: Connection, outbox_id: int, status: int | None, now: datetime
    ) -> None:
        record_attempt(conn, outbox_id, state=SENT, sent_at=now, last_status=status)

    def _mark_dead(
        self, conn: Connection, outbox_id: int, status: int | None, error: str, now: datetime
    ) -> None:
        record_attempt(
            conn, outbox_id, state=DEAD, dead_at=now, last_status=status, last_error=error
        )

    def _schedule_retry(
        self,
        conn: Connection,
        outbox_id: int,
        status: int | None,
        error: str,
        next_attempt_at: datetime,
    ) -> None:
        record_attempt(
            conn, outbox_id, next_attempt_at=next_attempt_at, last_status=status, last_error=error
        )

    def _now(self) -> datetime:
        moment = self._clock()
        if moment.tzinfo is not None:  # the database holds naive local times
            moment = moment.astimezone().replace(tzinfo=None)
        return moment


def run_dispatcher(
    journey_url: str,
    stop: threading.Event,
    *,
    hub_url: str = DEFAULT_HUB_URL,
    departments_file: Path = DEPARTMENTS_FILE,
    secrets: Mapping[str, str],
) -> None:
    """Deliver the outbox of the journey database at ``journey_url`` until ``stop`` is set.

    The entry point for the CLI (in a thread or its own process). The database is migrated
    by whoever starts the app; until it is, runs fail, are logged and are tried again.
    """
    engine = make_engine(journey_url)
    departments = load_departments(departments_file, hub_url=hub_url)
    monitoring.serve_dispatcher(engine, departments)  # on loopback; the outbox read per scrape
    try:
        with Dispatcher(engine, departments, secrets=secrets) as dispatcher:
            missing = dispatcher.missing_secrets()
            if missing:
                log.warning(
                    "handoff dispatcher: no signing secret in %s; handoffs to those departments "
                    "wait until it is set",
                    ", ".join(missing),
                )
            dispatcher.run_forever(stop)
    finally:
        engine.dispose()
