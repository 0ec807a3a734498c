"""Bring a journey database to the newest schema with Alembic (idempotent, safe to repeat)."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect
from sqlalchemy.engine import Engine

MIGRATIONS = Path(__file__).with_name("migrations")


def alembic_config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


def migrate(engine: Engine) -> None:
    """Upgrade the database behind ``engine`` to the newest revision."""
    with engine.begin() as conn:
        current = current_revision(conn)
        if current == head_revision():
            return  # the common case at start-up: nothing to do, no Alembic output
        if current is None and inspect(conn).has_table("handoffs"):
            # Written by a version from before migrations existed: never guess at it.
            raise RuntimeError(
                f"{engine.url!r} holds a journey database from before schema migrations; "
                "move it aside (e.g. mv var/journey.db var/journey.db.old) and start again"
            )
        config = alembic_config()
        config.attributes["connection"] = conn
        command.upgrade(config, "head")


def head_revision() -> str:
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def current_revision(conn) -> str | None:
    return MigrationContext.configure(conn).get_current_revision()
