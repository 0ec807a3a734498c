"""The dispatcher's database side: due rows, claiming one, recording results, taking turns.

Apart from bot/handoff/dispatcher.py because it is the SQL and the locking only: which
outbox rows may be sent now, in conversation order; the row lock (PostgreSQL) or file lock
(SQLite) that keeps side-by-side dispatchers off each other's rows; the commits that skip
the fsync. Why each holds is told in bot/handoff/dispatcher.py's docstring; the decisions
(send, retry, give up) are made there.
"""

from __future__ import annotations

import fcntl
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from sqlalchemy import exists, select, update
from sqlalchemy.engine import Connection, Engine

from bot.db.schema import outbox
from bot.handoff.outbox import PENDING

# What a dispatcher reads of an outbox row to send it.
SENT_COLUMNS = (
    outbox.c.id,
    outbox.c.conversation_id,
    outbox.c.department,
    outbox.c.idempotency_key,
    outbox.c.body,
    outbox.c.created_at,
    outbox.c.attempts,
)


def due_rows(conn: Connection, now: datetime, limit: int) -> list[Any]:
    """Due pending rows by id, without those behind an older pending row that is not due.

    Older rows that *are* due come back in the same list (they have lower ids), and
    ``run_once`` holds a conversation's later rows while its earlier one is unsent.
    """
    older = outbox.alias("older")
    behind_a_waiting_row = exists().where(
        older.c.conversation_id == outbox.c.conversation_id,
        older.c.state == PENDING,
        older.c.id < outbox.c.id,
        older.c.next_attempt_at > now,
    )
    query = (
        select(*SENT_COLUMNS)
        .where(outbox.c.state == PENDING, outbox.c.next_attempt_at <= now, ~behind_a_waiting_row)
        .order_by(outbox.c.id)
        .limit(limit)
    )
    with conn.begin():
        return list(conn.execute(query))


def claim_row(conn: Connection, outbox_id: int, now: datetime) -> Any | None:
    """The row, fresh and locked (where the database can), if it is still ours to send.

    Ours: pending, due, not locked by another dispatcher, and no older row of its
    conversation pending (sending, retrying or blocked): the per-conversation order.
    """
    older = outbox.alias("older")
    query = (
        select(*SENT_COLUMNS)
        .where(
            outbox.c.id == outbox_id,
            outbox.c.state == PENDING,
            outbox.c.next_attempt_at <= now,
            ~exists().where(
                older.c.conversation_id == outbox.c.conversation_id,
                older.c.state == PENDING,
                older.c.id < outbox.c.id,
            ),
        )
        # SQLite renders no lock clause; PostgreSQL skips a row another dispatcher holds.
        .with_for_update(skip_locked=True, of=outbox)
    )
    return conn.execute(query).first()


def record_attempt(conn: Connection, outbox_id: int, **values: Any) -> None:
    """Count one attempt on a still-pending row and set ``values`` (its state, status, error)."""
    statement = (
        update(outbox)
        # Only a pending row: a row someone else finished or revived is left alone.
        .where(outbox.c.id == outbox_id, outbox.c.state == PENDING)
        .values(attempts=outbox.c.attempts + 1, **values)
    )
    if conn.in_transaction():  # the claim's (row locks): committed with it
        conn.execute(statement)
        return
    with conn.begin():
        conn.execute(statement)


def record_problems(conn: Connection, problems: dict[int, str]) -> None:
    """Put a blocked row's reason in last_error, where the hub shows it; attempts untouched."""
    with conn.begin():
        for outbox_id, problem in problems.items():
            conn.execute(
                update(outbox)
                .where(outbox.c.id == outbox_id, outbox.c.state == PENDING)
                .values(last_error=problem)
            )


@contextmanager
def sqlite_turn(engine: Engine) -> Iterator[bool]:
    """On an SQLite file, hold its dispatch lock for the run if free: True if this run has it.

    ``flock`` on a file beside the database: exclusive between processes and between
    threads alike (each call opens its own descriptor), released by the kernel when a
    dispatcher dies. Other databases lock rows instead (``claim_row``): always True.
    """
    database = engine.url.database
    if engine.dialect.name != "sqlite" or not database or database == ":memory:":
        yield True
        return
    with open(f"{database}.dispatch.lock", "a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


@contextmanager
def without_waiting_for_the_disk(conn: Connection) -> Iterator[None]:
    """Let this connection's commits skip the fsync (see the dispatcher's docstring), then undo it.

    Undone afterwards because the connection may go back to a pool the app's writes use.
    """
    dialect = conn.dialect.name
    if dialect == "sqlite":
        previous = conn.exec_driver_sql("PRAGMA synchronous").scalar()
        conn.exec_driver_sql("PRAGMA synchronous=NORMAL")
        restore = f"PRAGMA synchronous={int(previous)}"
    elif dialect == "postgresql":
        conn.exec_driver_sql("SET synchronous_commit TO OFF")
        restore = "RESET synchronous_commit"
    else:
        yield
        return
    conn.commit()
    try:
        yield
    finally:
        conn.rollback()  # a write that failed half-way may have left its transaction open
        conn.exec_driver_sql(restore)
        conn.commit()
