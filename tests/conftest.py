"""Shared fixtures: a seeded demo back office and a support desk on fresh databases.

Store tests run on a fresh SQLite file per test, and again on PostgreSQL when
TEST_POSTGRES_URL is set (.ci/run sets it when a local server answers). Fresh is cheap:
each starting state is built (seeded, migrated) once per test process, then copied (SQLite)
or put back without DDL (PostgreSQL) for every test.
"""

from __future__ import annotations

import copy
import os
import shutil
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime
from graphlib import TopologicalSorter
from pathlib import Path

import argon2
import pytest
import yaml
from sqlalchemy import text
from sqlalchemy.engine import Engine

from bot.backoffice.http import HttpBackOffice, serve_backoffice
from bot.backoffice.sql import SqlBackOffice, seed
from bot.db.engine import make_engine, with_search_path
from bot.db.migrate import migrate
from bot.departments import load_departments
from bot.handoff import HandoffDesk
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


# A database's starting state, named by what it holds: nothing, the seeded demo back office,
# the journey schema at Alembic's head, or both (the back office seeded first, as the
# desk's own start-up does).
EMPTY, BACKOFFICE, JOURNEY, BOTH = "empty", "backoffice", "journey", "backoffice_journey"


def build(engine: Engine, shape: str) -> None:
    """Bring an empty database to ``shape`` the slow way: seed and migrate (DDL)."""
    if shape in (BACKOFFICE, BOTH):
        seed(engine, today=TODAY)
    if shape in (JOURNEY, BOTH):
        migrate(engine)


class SqliteTemplates:
    """Each shape built once per test process into a template file; a test gets a copy.
    Copying a few hundred kB costs a millisecond where seeding and migrating cost 0.2 s."""

    def __init__(self, folder: Path):
        self.folder = folder
        self.files: dict[str, Path] = {}

    def fresh(self, shape: str, path: Path) -> Engine:
        if shape != EMPTY:
            if shape not in self.files:
                template = self.folder / f"{shape}.db"
                eng = make_engine(f"sqlite:///{template}")
                build(eng, shape)
                with eng.connect() as conn:  # everything into the file itself, none in -wal
                    conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
                eng.dispose()
                self.files[shape] = template
            shutil.copyfile(self.files[shape], path)
        return make_engine(f"sqlite:///{path}")


# Everything a test could change in a schema's structure (the schema itself, tables,
# columns, defaults, indexes, constraints, triggers, routines, types), as one digest.
SCHEMA_DIGEST = text(
    """
    SELECT md5(coalesce(string_agg(part, '|' ORDER BY part), '')) FROM (
      SELECT c.relkind::text || ' ' || c.relname || '(' || coalesce((
          SELECT string_agg(a.attname || ' ' || format_type(a.atttypid, a.atttypmod)
                            || CASE WHEN a.attnotnull THEN ' not null' ELSE '' END
                            || coalesce(' default ' || pg_get_expr(d.adbin, d.adrelid), ''),
                            ', ' ORDER BY a.attnum)
          FROM pg_attribute a
          LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
          WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped), '') || ')'
        || CASE WHEN c.relkind = 'i' THEN pg_get_indexdef(c.oid) ELSE '' END AS part
      FROM pg_class c WHERE c.relnamespace = to_regnamespace(:schema)
      UNION ALL
      SELECT 'constraint ' || conname || ' ' || pg_get_constraintdef(oid) FROM pg_constraint
      WHERE connamespace = to_regnamespace(:schema)
      UNION ALL
      SELECT 'trigger ' || t.tgname FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid
      WHERE c.relnamespace = to_regnamespace(:schema)
      UNION ALL
      SELECT 'routine ' || proname FROM pg_proc WHERE pronamespace = to_regnamespace(:schema)
      UNION ALL
      SELECT 'schema ' || nspname FROM pg_namespace WHERE nspname = :schema
      UNION ALL
      SELECT 'type ' || typname FROM pg_type
      WHERE typnamespace = to_regnamespace(:schema) AND typrelid = 0
    ) AS parts
    """
)


@dataclass
class ScratchSchema:
    """One shape's scratch schema on PostgreSQL, and how to put it back as it was built."""

    name: str
    digest: str
    reset_sql: str


class PostgresScratch:
    """Per test process, one scratch schema per shape, built once (seed, Alembic) and put
    back between tests without DDL: every table emptied (children first), the built rows
    copied back from a side schema, every sequence set back. DDL costs 0.3-1 s a test on
    PostgreSQL (dropping the schema, TRUNCATE, the migrations); this costs about 20 ms.
    A test that changed the structure itself (its digest differs) gets the schema rebuilt."""

    def __init__(self, url: str):
        self.url = url
        self.admin = make_engine(url)
        self.schemas: dict[str, ScratchSchema] = {}

    def fresh(self, shape: str) -> Engine:
        known = self.schemas.get(shape)
        with self.admin.begin() as conn:
            unchanged = known and conn.execute(SCHEMA_DIGEST, {"schema": known.name}).scalar()
            if known and unchanged == known.digest:
                if known.reset_sql:
                    conn.exec_driver_sql(known.reset_sql)
                return make_engine(with_search_path(self.url, known.name))
        return self._rebuild(shape)

    def _rebuild(self, shape: str) -> Engine:
        name = f"{PG_SCHEMA}_{shape}"
        rows = f"{name}_rows"
        with self.admin.begin() as conn:
            conn.exec_driver_sql(
                f"DROP SCHEMA IF EXISTS {name} CASCADE; DROP SCHEMA IF EXISTS {rows} CASCADE;"
                f" CREATE SCHEMA {name}"
            )
        eng = make_engine(with_search_path(self.url, name))
        build(eng, shape)
        eng.dispose()
        with self.admin.begin() as conn:
            self.schemas[shape] = ScratchSchema(
                name,
                conn.execute(SCHEMA_DIGEST, {"schema": name}).scalar(),
                self._reset_sql(conn, name, rows),
            )
        return make_engine(with_search_path(self.url, name))

    @staticmethod
    def _reset_sql(conn, name: str, rows: str) -> str:
        """The statements that put ``name`` back as it is now (its rows kept in ``rows``)."""
        in_schema = {"schema": name}
        tables = (
            conn.execute(
                text("SELECT tablename FROM pg_tables WHERE schemaname = :schema"), in_schema
            )
            .scalars()
            .all()
        )
        parents: dict[str, set[str]] = {table: set() for table in tables}
        for child, parent in conn.execute(
            text(
                "SELECT child.relname, parent.relname FROM pg_constraint c"
                " JOIN pg_class child ON child.oid = c.conrelid"
                " JOIN pg_class parent ON parent.oid = c.confrelid"
                " WHERE c.contype = 'f' AND c.connamespace = to_regnamespace(:schema)"
            ),
            in_schema,
        ):
            if child != parent:  # a table's rows pointing at each other go in one DELETE
                parents[child].add(parent)
        order = list(TopologicalSorter(parents).static_order())  # parents first
        kept = [
            t for t in order if conn.exec_driver_sql(f'SELECT 1 FROM {name}."{t}" LIMIT 1').first()
        ]
        if kept:
            conn.exec_driver_sql(f"CREATE SCHEMA {rows}")
        statements = [f'CREATE TABLE {rows}."{t}" AS TABLE {name}."{t}"' for t in kept]
        for statement in statements:
            conn.exec_driver_sql(statement)
        reset = [f'DELETE FROM {name}."{t}"' for t in reversed(order)]
        reset += [f'INSERT INTO {name}."{t}" SELECT * FROM {rows}."{t}"' for t in kept]
        for sequence, last in conn.execute(
            text("SELECT sequencename, last_value FROM pg_sequences WHERE schemaname = :schema"),
            in_schema,
        ):
            restart = f"{last}, true" if last is not None else "1, false"
            reset.append(f"SELECT setval('{name}.\"{sequence}\"', {restart})")
        return "; ".join(reset)

    def close(self) -> None:
        with self.admin.begin() as conn:
            for schema in self.schemas.values():
                conn.exec_driver_sql(
                    f"DROP SCHEMA IF EXISTS {schema.name} CASCADE;"
                    f" DROP SCHEMA IF EXISTS {schema.name}_rows CASCADE"
                )
        self.admin.dispose()


# Modules that start Rasa itself (e2e systems, `rasa test`), and the few others whose tests
# start and kill processes (about a minute or more each in a clean-clone run): under xdist
# they go out first so that none of them is left for the end while the other worker idles
# (the dispatcher's fault tests, last, were the tail of a 17-minute run).
LONG_UNITS = (
    "tests/e2e/",
    "tests/test_rasa_cli.py",
    "tests/bot/handoff/test_dispatcher_faults.py",
    "tests/bot/rasa/test_action_server_concurrency.py",
    "tests/bot/test_redaction.py",
    "tests/bot/journey/test_store_concurrency.py",
    "tests/bot/journey/test_postgres_restart.py",
)
# The long units that need the trained model: ``make test`` trains it while the tests run, so
# the long units that need none go out before these (the shared assistant's unit, first,
# waits for it in its worker meanwhile).
NEED_THE_MODEL = ("tests/e2e/", "tests/test_rasa_cli.py")


@pytest.hookimpl(tryfirst=True)  # before xdist's own hook reads the groups
def pytest_collection_modifyitems(config, items):
    """Under pytest-xdist (``make test`` runs ``-n 2 --dist loadgroup
    --no-loadscope-reorder``), which tests share a worker, and in what order the units go out.

    Every test on the shared e2e assistant (tests/e2e/conftest.py's session-scoped
    ``assistant``) is one unit, so one Rasa system serves them all; every other module (one
    with a system of its own too) is a unit, so its module-scoped servers start once. Units go
    out the shared assistant's first, then the other long ones (those that need no trained
    model before those that do), then the rest largest first. Without xdist: no effect."""
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
        long = group.startswith(LONG_UNITS)
        needs_model = group.startswith(NEED_THE_MODEL)
        return (group != "e2e-assistant", not long, needs_model, -size[group], group)

    items.sort(key=unit_order)  # stable: a module's tests keep their order


class ParsedYaml:
    """``yaml.safe_load`` with each distinct text parsed once per test process and every
    caller given a deep copy of its own. The desk alone reads domain.yml (35 kB) and five
    config files per test: PyYAML's pure-Python parser made that 60-70% of the support
    desk's test time; a copy costs about a millisecond. Same text in, equal data out; a
    text that fails to parse is parsed (and fails) again every time."""

    def __init__(self, parse):
        self.parse = parse
        self.parsed: dict[str, object] = {}

    def __call__(self, stream):
        if not isinstance(stream, str):  # a file object or bytes: read as it comes
            return self.parse(stream)
        if stream not in self.parsed:
            self.parsed[stream] = self.parse(stream)
        return copy.deepcopy(self.parsed[stream])


@pytest.fixture(scope="session", autouse=True)
def _yaml_parsed_once() -> Iterator[None]:
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(yaml, "safe_load", ParsedYaml(yaml.safe_load))
        yield


def hashed_once(hash_password):
    """``argon2.PasswordHasher.hash`` computing one hash per password and parameters per test
    process: tests create hundreds of staff users, nearly all with one password, and each
    Argon2id hash costs ~0.2 s of CPU (64 MiB, 3 passes). The stored hash is still a real
    Argon2id hash of that password (one random salt for all of them), and every sign-in
    still verifies against it for real."""
    hashes: dict[tuple, str] = {}

    def hash_of(hasher, password, *, salt=None):
        if salt is not None:  # a caller that chose its salt gets exactly that
            return hash_password(hasher, password, salt=salt)
        key = (password, hasher.time_cost, hasher.memory_cost, hasher.parallelism,
               hasher.hash_len, hasher.salt_len, hasher.type)  # fmt: skip
        if key not in hashes:
            hashes[key] = hash_password(hasher, password)
        return hashes[key]

    return hash_of


@pytest.fixture(scope="session", autouse=True)
def _passwords_hashed_once() -> Iterator[None]:
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(argon2.PasswordHasher, "hash", hashed_once(argon2.PasswordHasher.hash))
        yield


@pytest.fixture(scope="session")
def sqlite_templates(tmp_path_factory) -> SqliteTemplates:
    return SqliteTemplates(tmp_path_factory.mktemp("templates"))


@pytest.fixture(scope="session")
def postgres_scratch() -> Iterator[PostgresScratch]:
    scratch = PostgresScratch(os.environ["TEST_POSTGRES_URL"])
    yield scratch
    scratch.close()


def fresh_engine(request, kind: str, shape: str, tmp_path: Path) -> Iterator[Engine]:
    """An engine on a database of its own for this test, in ``shape``."""
    if kind == "sqlite":
        eng = request.getfixturevalue("sqlite_templates").fresh(shape, tmp_path / "test.db")
    else:
        eng = request.getfixturevalue("postgres_scratch").fresh(shape)
    yield eng
    eng.dispose()


# Which database ``engine`` and ``journey_engine`` are on; one parameter for both, so a test
# asking for the two gets one database, once per kind.
@pytest.fixture(params=DATABASES)
def database_kind(request) -> str:
    return request.param


@pytest.fixture
def engine(request, database_kind, tmp_path):
    """A fresh, empty database; at the journey schema's newest revision instead when the
    test asks for ``journey_engine`` too (the same database)."""
    shape = JOURNEY if "journey_engine" in request.fixturenames else EMPTY
    yield from fresh_engine(request, database_kind, shape, tmp_path)


@pytest.fixture
def journey_engine(engine):
    """A fresh journey database at the newest revision, no rows: what ``migrate`` makes of
    an empty one, without running Alembic per test."""
    return engine


@pytest.fixture(params=STORES, ids=["-".join(s) for s in STORES])
def store(request, tmp_path):
    """(engine, back office) seeded with the demo data, used directly or over HTTP; with the
    journey schema migrated too when the test uses the ``desk`` (which needs it)."""
    kind, access = request.param
    shape = BOTH if "desk" in request.fixturenames else BACKOFFICE
    for eng in fresh_engine(request, kind, shape, tmp_path):
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


@pytest.fixture(scope="session")
def _parsed_config() -> tuple[RoutingMap, dict]:
    """routing.yml and departments.yml, parsed once per process (parsing the YAML costs
    more than most tests do); each test gets copies of its own."""
    return RoutingMap.load(), load_departments()


def _handoff_desk(eng, parsed_config) -> HandoffDesk:
    # Department is frozen: a new dict is a copy.
    return HandoffDesk(eng, dict(parsed_config[1]), now=lambda: NOW)


@pytest.fixture
def handoffs(journey_engine, _parsed_config):
    return _handoff_desk(journey_engine, _parsed_config)


@pytest.fixture
def desk(store, _parsed_config):
    eng, backoffice = store  # the journey schema is already at its head (``store``)
    return assemble_desk(
        backoffice,
        copy.deepcopy(_parsed_config[0]),
        _handoff_desk(eng, _parsed_config),
        today=lambda: TODAY,
        now=lambda: NOW,
        mailer=Mailbox(),
    )
