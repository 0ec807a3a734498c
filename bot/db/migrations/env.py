"""Alembic environment for the journey database (run through bot.db.migrate)."""

from __future__ import annotations

from alembic import context

from bot.db.schema import metadata

config = context.config
connection = config.attributes.get("connection")
if connection is None:
    raise RuntimeError(
        "run journey migrations through bot.db.migrate (python -m bot migrate), "
        "which passes the database connection"
    )
context.configure(
    connection=connection,
    target_metadata=metadata,
    render_as_batch=True,  # SQLite alters tables by copying them
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
