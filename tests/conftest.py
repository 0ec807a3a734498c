"""Shared fixtures: a seeded demo back office and a support desk on fresh databases.

Store tests run on a fresh SQLite file per test, and again on PostgreSQL when
TEST_POSTGRES_URL is set (.ci/run sets it when a local server answers).
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime

import pytest
from sqlalchemy import text

from bot.backoffice.http import HttpBackOffice, serve_backoffice
from bot.backoffice.sql import SqlBackOffice, seed
from bot.db import make_engine, with_search_path
from bot.departments import load_departments
from bot.handoff import HandoffDesk
from bot.journey.migrate import migrate
from bot.routing import RoutingMap
from bot.services import assemble_desk
from tests.fakes.mailbox import Mailbox

# A Wednesday, 10:00: every department is open.
TODAY = date(2025, 3, 12)
NOW = datetime(2025, 3, 12, 10, 0)

DATABASES = ["sqlite"] + (["postgresql"] if os.environ.get("TEST_POSTGRES_URL") else [])
# The back office directly on each database, and through its HTTP contract (on SQLite:
# the contract does not depend on the database behind it).
STORES = [("sqlite", "sql"), ("sqlite", "http")] + (
    [("postgresql", "sql")] if "postgresql" in DATABASES else []
)


# One scratch schema per test process: two test runs on the same server (a developer's and
# CI's) never drop each other's tables.
PG_SCHEMA = f"cx_test_{os.getpid()}"


@contextmanager
def scratch_journey_url(kind: str, tmp, schema: str) -> Iterator[str]:
    """The URL of a fresh journey database for a server under test: an SQLite file in
    ``tmp``, or a clean PostgreSQL ``schema`` named in the URL (a server only takes a URL,
    so the schema travels in it, as a deployment's would), dropped afterwards."""
    if kind == "sqlite":
        yield f"sqlite:///{tmp / 'journey.db'}"
        return
    admin = make_engine(os.environ["TEST_POSTGRES_URL"])
    drop = text(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
    with admin.begin() as conn:
        conn.execute(drop)
        conn.execute(text(f"CREATE SCHEMA {schema}"))
    try:
        yield with_search_path(os.environ["TEST_POSTGRES_URL"], schema)
    finally:
        with admin.begin() as conn:
            conn.execute(drop)
        admin.dispose()


def _engine(kind: str, tmp_path):
    """A fresh, empty database: an SQLite file, or a clean schema on PostgreSQL."""
    if kind == "sqlite":
        eng = make_engine(f"sqlite:///{tmp_path / 'test.db'}")
        yield eng
        eng.dispose()
        return
    admin = make_engine(os.environ["TEST_POSTGRES_URL"])
    with admin.begin() as conn:
        conn.execute(text(f"DROP SCHEMA IF EXISTS {PG_SCHEMA} CASCADE"))
        conn.execute(text(f"CREATE SCHEMA {PG_SCHEMA}"))
    # Every connection works in the fresh schema (raw SQL and Alembic's version table too).
    eng = make_engine(with_search_path(os.environ["TEST_POSTGRES_URL"], PG_SCHEMA))
    yield eng
    eng.dispose()
    with admin.begin() as conn:
        conn.execute(text(f"DROP SCHEMA IF EXISTS {PG_SCHEMA} CASCADE"))
    admin.dispose()


# Modules that start Rasa itself (e2e systems, `rasa test`), and the few others whose tests
# start and kill processes (about a minute or more each in a clean-clone run): under xdist
# they go out first so that none of them is left for the end while the other worker idles
# (the dispatcher's fault tests, last, were the tail of a 17-minute run).
LONG_UNITS = (
    "tests/e2e/",
    "tests/test_rasa_cli.py",
    "tests/bot/test_dispatcher_faults.py",
    "tests/bot/test_action_server_concurrency.py",
    "tests/bot/test_redaction.py",
    "tests/bot/test_store_concurrency.py",
    "tests/bot/test_postgres_restart.py",
)


@pytest.hookimpl(tryfirst=True)  # before xdist's own hook reads the groups
def pytest_collection_modifyitems(config, items):
    """Under pytest-xdist (``make test`` runs ``-n 2 --dist loadgroup
    --no-loadscope-reorder``), which tests share a worker, and in what order the units go out.

    Every test on the shared e2e assistant (tests/e2e/conftest.py's session-scoped
    ``assistant``) is one unit, so one Rasa system serves them all; every other module (one
    with a system of its own too) is a unit, so its module-scoped servers start once. Units go
    out the shared assistant's first, then the other long ones, then the rest largest first.
    Without xdist: no effect."""
    if not getattr(config.option, "loadgroup", False):
        return
    groups = {}
    for item in items:
        shared = "assistant" in item.fixturenames and "own_assistant" not in item.fixturenames
        groups[item] = "e2e-assistant" if shared else item.nodeid.split("::")[0]
        item.add_marker(pytest.mark.xdist_group(groups[item]))
    size = Counter(groups.values())

    def unit_order(item):
        group = groups[item]
        return (group != "e2e-assistant", not group.startswith(LONG_UNITS), -size[group], group)

    items.sort(key=unit_order)  # stable: a module's tests keep their order


@pytest.fixture(params=DATABASES)
def engine(request, tmp_path):
    yield from _engine(request.param, tmp_path)


@pytest.fixture(params=STORES, ids=["-".join(s) for s in STORES])
def store(request, tmp_path):
    """(engine, back office) seeded with the demo data, used directly or over HTTP."""
    kind, access = request.param
    for eng in _engine(kind, tmp_path):
        seed(eng, today=TODAY)
        sql = SqlBackOffice(eng, today=lambda: TODAY)
        if access == "sql":
            yield eng, sql
            continue
        server = serve_backoffice(sql)
        try:
            yield eng, HttpBackOffice(f"http://127.0.0.1:{server.server_address[1]}")
        finally:
            server.shutdown()
            server.server_close()


@pytest.fixture
def backoffice(store):
    return store[1]


def _handoff_desk(eng) -> HandoffDesk:
    migrate(eng)
    return HandoffDesk(eng, load_departments(), now=lambda: NOW)


@pytest.fixture
def handoffs(engine):
    return _handoff_desk(engine)


@pytest.fixture
def desk(store):
    eng, backoffice = store
    return assemble_desk(
        backoffice,
        RoutingMap.load(),
        _handoff_desk(eng),
        today=lambda: TODAY,
        now=lambda: NOW,
        mailer=Mailbox(),
    )
