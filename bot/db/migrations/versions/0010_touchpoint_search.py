"""A real full-text index for the CX log's search of what customers wrote.

The log's search finds each word or "quoted phrase" anywhere in touchpoints.customer_text,
in any case (bot/analytics/log.py). A LIKE scan read every touchpoint for a rare word; this
indexes the text by trigrams, which serve exactly that (any part of a word, punctuation
included), where a word index (tsvector, FTS5's unicode61) would find only whole words:
- SQLite: an FTS5 table with the trigram tokenizer whose content is the touchpoints table
  (nothing stored twice), kept up to date by triggers on insert, update and delete;
- PostgreSQL: the pg_trgm extension (made in schema ``public`` when absent, so dropping a
  scratch schema never takes it away) and a GIN index of customer_text's trigrams, which
  PostgreSQL keeps up to date itself.
Both are built from the rows already there (the backfill). Every statement may be run
again (IF NOT EXISTS, and FTS5's 'rebuild'): Python's sqlite3 commits DDL as it goes, so an
upgrade stopped halfway on SQLite leaves the table without the revision, and the next
upgrade completes it. On PostgreSQL the index is built
in the migration's transaction: writes to touchpoints wait for it (about a minute per
million touchpoints).

Revision ID: 0010_search
Revises: 0009
Create Date: 2026-12-07 12:00:00
"""

import sqlalchemy as sa
from alembic import op

from bot.db.schema import (
    TOUCHPOINT_SEARCH,
    TOUCHPOINT_SEARCH_TRIGGERS,
    TOUCHPOINT_TRIGRAM_INDEX,
)

revision = "0010_search"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "sqlite":
        # detail=none: row lists only, no positions (a third of the size); the log checks
        # each row it shows against the words themselves.
        op.execute(
            f"CREATE VIRTUAL TABLE IF NOT EXISTS {TOUCHPOINT_SEARCH} USING fts5(customer_text, "
            "content='touchpoints', content_rowid='id', tokenize='trigram', detail='none')"
        )
        for trigger in TOUCHPOINT_SEARCH_TRIGGERS:
            op.execute(trigger)
        op.execute(f"INSERT INTO {TOUCHPOINT_SEARCH}({TOUCHPOINT_SEARCH}) VALUES ('rebuild')")
    elif bind.dialect.name == "postgresql":
        schema = _trigram_schema(bind)
        op.execute(
            f"CREATE INDEX IF NOT EXISTS {TOUCHPOINT_TRIGRAM_INDEX} ON touchpoints "
            f'USING gin (customer_text "{schema}".gin_trgm_ops)'
        )


def downgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "sqlite":
        for what in ("insert", "update", "delete"):
            op.execute(f"DROP TRIGGER IF EXISTS {TOUCHPOINT_SEARCH}_{what}")
        op.execute(f"DROP TABLE IF EXISTS {TOUCHPOINT_SEARCH}")
    elif bind.dialect.name == "postgresql":
        op.execute(f"DROP INDEX IF EXISTS {TOUCHPOINT_TRIGRAM_INDEX}")


def _trigram_schema(bind: sa.engine.Connection) -> str:
    """The schema pg_trgm lives in, making the extension (in ``public``) if it is absent."""
    find = sa.text(
        "SELECT extnamespace::regnamespace::text FROM pg_extension WHERE extname = 'pg_trgm'"
    )
    schema: str | None = bind.execute(find).scalar()
    if schema is not None:
        return schema.strip('"')
    public = bind.execute(
        sa.text("SELECT count(*) FROM pg_namespace WHERE nspname = 'public'")
    ).scalar()
    try:
        with bind.begin_nested():
            op.execute(
                "CREATE EXTENSION IF NOT EXISTS pg_trgm" + (" WITH SCHEMA public" if public else "")
            )
    except sa.exc.DBAPIError as e:
        schema = bind.execute(find).scalar()  # another process made it at the same moment
        if schema is None:
            raise RuntimeError(
                "the CX log's text index needs PostgreSQL's pg_trgm extension, which this role "
                "may not create: ask an administrator to run CREATE EXTENSION pg_trgm in this "
                "database (it ships with PostgreSQL's contrib package), then migrate again "
                f"({e.orig})"
            ) from e
        return schema.strip('"')
    made: str = bind.execute(find).scalar()
    return made.strip('"')
