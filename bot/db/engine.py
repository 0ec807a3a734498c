"""Engines for the project's databases (SQLite by default, PostgreSQL by URL)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, event
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.pool import QueuePool

# Seconds to wait for PostgreSQL to accept a connection (libpq's connect_timeout); a URL
# with its own ?connect_timeout=N keeps it.
PG_CONNECT_TIMEOUT = 5


def make_engine(url: str) -> Engine:
    """A 2.0-style engine; SQLite gets WAL and a busy timeout so writers wait, not fail."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        # SQLAlchemy 1.4 opens a new SQLite connection per checkout (NullPool), which costs
        # more than the query; keep a pool of them, as SQLAlchemy 2.0 does by default.
        pooled = {"poolclass": QueuePool} if parsed.database not in (None, "", ":memory:") else {}
        engine = create_engine(
            url,
            future=True,
            connect_args={"timeout": 30, "check_same_thread": False},
            **pooled,
        )

        # SQLAlchemy 1.4 ships no types: its decorator is untyped, the DB-API connection too.
        @event.listens_for(engine, "connect")  # type: ignore[untyped-decorator]
        def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            # In WAL mode NORMAL is safe against the app crashing (committed work survives);
            # only a power cut can lose the last commits, and it spares an fsync per commit,
            # which is most of what logging a turn costs.
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.close()

        return engine
    connect_args = {}
    if parsed.get_backend_name() == "postgresql" and "connect_timeout" not in parsed.query:
        # A server that is down refuses at once, but one that is unreachable or stuck never
        # answers: give up after this many seconds rather than hold the turn forever.
        connect_args["connect_timeout"] = PG_CONNECT_TIMEOUT
    # pre_ping: a pooled connection that died with a server restart is replaced on checkout,
    # so the first write after the restart succeeds instead of failing.
    return create_engine(url, future=True, pool_pre_ping=True, connect_args=connect_args)


def with_search_path(url: str, schema: str) -> str:
    """A PostgreSQL URL whose connections all work in ``schema`` (scratch schemas for tests
    and benchmarks: raw SQL and Alembic's version table land there too)."""
    return f"{url}{'&' if '?' in url else '?'}options=-csearch_path%3D{schema}"
