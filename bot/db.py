"""Engines for the project's databases (SQLite by default, PostgreSQL by URL)."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import create_engine, event
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.pool import QueuePool


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

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn, _record):
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            # In WAL mode NORMAL is safe against the app crashing (committed work survives);
            # only a power cut can lose the last commits, and it spares an fsync per commit,
            # which is most of what logging a turn costs.
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.close()

        return engine
    return create_engine(url, future=True, pool_pre_ping=True)


def with_search_path(url: str, schema: str) -> str:
    """A PostgreSQL URL whose connections all work in ``schema`` (scratch schemas for tests
    and benchmarks: raw SQL and Alembic's version table land there too)."""
    return f"{url}{'&' if '?' in url else '?'}options=-csearch_path%3D{schema}"
