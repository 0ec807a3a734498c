"""Bring a journey database to the newest schema with Alembic (idempotent, safe to repeat)."""

from __future__ import annotations

import time
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import DBAPIError

MIGRATIONS = Path(__file__).with_name("migrations")
MIGRATION_WAIT = 60.0  # seconds to wait for another process's migration to finish


def alembic_config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


def migrate(engine: Engine) -> None:
    """Upgrade the database behind ``engine`` to the newest revision.

    Safe when several processes start together: if another one migrated first (our
    attempt fails on tables it already made), the database is at the head and all is well.
    """
    try:
        _upgrade(engine)
    except DBAPIError:
        # Another process is migrating (SQLite creates its tables one commit at a time):
        # wait for it to reach the head rather than fail.
        deadline = time.monotonic() + MIGRATION_WAIT
        while time.monotonic() < deadline:
            with engine.connect() as conn:
                if current_revision(conn) == head_revision():
                    return
            time.sleep(0.2)
        raise


def _upgrade(engine: Engine) -> None:
    with engine.begin() as conn:
        current = current_revision(conn)
        if current == head_revision():
            return  # the common case at start-up: nothing to do, no Alembic output
        tables = inspect(conn)
        # Tables but no version table at all (another process migrating has made one first).
        if (
            current is None
            and tables.has_table("handoffs")
            and not tables.has_table("alembic_version")
        ):
            # Written by a version from before migrations existed: never guess at it.
            raise RuntimeError(
                f"{engine.url!r} holds a journey database from before schema migrations; "
                "move it aside (e.g. mv var/journey.db var/journey.db.old) and start again"
            )
        config = alembic_config()
        config.attributes["connection"] = conn
        command.upgrade(config, "head")


def head_revision() -> str | None:
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def current_revision(conn: Connection) -> str | None:
    return MigrationContext.configure(conn).get_current_revision()
