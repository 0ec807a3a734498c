"""Shared fixtures: a seeded demo back office and a support desk on fresh databases.

Store tests run on a fresh SQLite file per test, and again on PostgreSQL when
TEST_POSTGRES_URL is set (.ci/run sets it when a local server answers).
"""

from __future__ import annotations

import os
from datetime import date, datetime

import pytest
from sqlalchemy import text

from bot.backoffice.sql import SqlBackOffice, seed
from bot.db import make_engine
from bot.departments import load_departments
from bot.handoff import HandoffDesk
from bot.handoff.desk import metadata as handoff_metadata
from bot.routing import RoutingMap
from bot.support import SupportDesk

# A Wednesday, 10:00: every department is open.
TODAY = date(2025, 3, 12)
NOW = datetime(2025, 3, 12, 10, 0)

DATABASES = ["sqlite"] + (["postgresql"] if os.environ.get("TEST_POSTGRES_URL") else [])


@pytest.fixture(params=DATABASES)
def engine(request, tmp_path):
    """A fresh, empty database: an SQLite file, or a clean schema on PostgreSQL."""
    if request.param == "sqlite":
        eng = make_engine(f"sqlite:///{tmp_path / 'test.db'}")
        yield eng
        eng.dispose()
        return
    eng = make_engine(os.environ["TEST_POSTGRES_URL"])
    with eng.begin() as conn:
        conn.execute(text("DROP SCHEMA IF EXISTS cx_test CASCADE"))
        conn.execute(text("CREATE SCHEMA cx_test"))
    eng.dispose()
    eng = make_engine(os.environ["TEST_POSTGRES_URL"]).execution_options(
        schema_translate_map={None: "cx_test"}
    )
    yield eng
    eng.dispose()


@pytest.fixture
def backoffice(engine):
    seed(engine, today=TODAY)
    return SqlBackOffice(engine, today=lambda: TODAY)


@pytest.fixture
def handoffs(engine):
    handoff_metadata.drop_all(engine)
    return HandoffDesk(engine, load_departments(), now=lambda: NOW)


@pytest.fixture
def desk(backoffice, handoffs):
    return SupportDesk(
        backoffice, RoutingMap.load(), handoffs, today=lambda: TODAY, now=lambda: NOW
    )
