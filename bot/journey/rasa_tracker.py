"""Rasa's SQL tracker store, as a customer's data reaches into it: find it, read a
conversation's events, erase them, and delete the old ones.

Rasa's tracker is erased by deleting the conversation's rows from the SQL tracker store's
``events`` table, not through Rasa's HTTP API: ``PUT /conversations/{id}/tracker/events``
with ``[]`` saves an empty tracker, and ``SQLTrackerStore.save`` only *appends* the events
beyond those already stored, so it deletes nothing. The SQL store is also reachable when
Rasa is down. Rasa reads the store afresh on every message (no cache), so the next message
of an erased conversation starts an empty tracker. Apart from privacy.py because it is
another database, with Rasa's schema and Rasa's configuration.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import datetime
from typing import Any

import yaml
from sqlalchemy import (
    Column,
    Float,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    delete,
    func,
    inspect,
    select,
)
from sqlalchemy.engine import URL, Connection, Engine

from bot.settings import Settings

# Rasa's SQLTrackerStore table (rasa/core/tracker_store.py: SQLEvent), as far as we use it.
_tracker_metadata = MetaData()
tracker_events = Table(
    "events",
    _tracker_metadata,
    Column("id", Integer, primary_key=True),
    Column("sender_id", String(255), nullable=False),
    Column("type_name", String(255), nullable=False),
    Column("timestamp", Float),
    Column("intent_name", String(255)),
    Column("action_name", String(255)),
    Column("data", Text),
)


def tracker_store_url(settings: Settings) -> str | None:
    """The SQLAlchemy URL of Rasa's SQL tracker store: ``CX_TRACKER_URL``, else the one
    endpoints.yml configures (as ``make run`` points it at ``var/``); None when Rasa's
    tracker store is not SQL."""
    if settings.tracker_url:
        return settings.tracker_url
    config = yaml.safe_load((settings.root / "endpoints.yml").read_text(encoding="utf-8")) or {}
    store = config.get("tracker_store") or {}
    if str(store.get("type", "")).upper() != "SQL":
        return None
    dialect = store.get("dialect", "sqlite")
    if dialect == "sqlite":
        return f"sqlite:///{settings.var_dir / 'tracker.db'}"  # as bot/runner.py writes it
    url: str = URL.create(
        dialect,
        username=store.get("username"),
        password=store.get("password"),
        host=store.get("url"),
        port=store.get("port"),
        database=store.get("db"),
        query=store.get("query") or {},
    ).render_as_string(hide_password=False)
    return url


def _tracker_table_exists(conn: Connection) -> bool:
    exists: bool = inspect(conn).has_table("events")
    return exists


def tracker_events_of(
    tracker: Engine, conversations: Iterable[str]
) -> dict[str, list[dict[str, Any]]]:
    """Every event Rasa keeps for these conversations, oldest first, by conversation."""
    conversations = sorted(set(conversations))
    out: dict[str, list[dict[str, Any]]] = {}
    if not conversations:
        return out
    with tracker.connect() as conn:
        if not _tracker_table_exists(conn):
            return out
        query = (
            select(tracker_events.c.sender_id, tracker_events.c.data)
            .where(tracker_events.c.sender_id.in_(conversations))
            .order_by(tracker_events.c.id)
        )
        for sender, data in conn.execute(query):
            try:
                event = json.loads(data) if data else {}
            except ValueError:
                event = {"data": data}
            out.setdefault(sender, []).append(event)
    return out


def erase_tracker(tracker: Engine, conversations: Iterable[str]) -> dict[str, int]:
    """Delete these conversations' events; how many each had (those that had any)."""
    conversations = sorted(set(conversations))
    if not conversations:
        return {}
    with tracker.begin() as conn:
        if not _tracker_table_exists(conn):
            return {}
        of_them = tracker_events.c.sender_id.in_(conversations)
        had = dict(
            conn.execute(
                select(tracker_events.c.sender_id, func.count())
                .where(of_them)
                .group_by(tracker_events.c.sender_id)
            ).all()
        )
        conn.execute(delete(tracker_events).where(of_them))
    return had


def tracker_retention(tracker: Engine, cutoff: datetime, dry_run: bool) -> int:
    """Delete Rasa's events older than ``cutoff`` (count them, on a dry run); how many."""
    older = tracker_events.c.timestamp < cutoff.timestamp()  # Rasa's timestamps: epoch seconds
    with tracker.begin() as conn:
        if not _tracker_table_exists(conn):
            return 0
        if dry_run:
            count: int = conn.execute(
                select(func.count()).select_from(tracker_events).where(older)
            ).scalar_one()
            return count
        deleted: int = conn.execute(delete(tracker_events).where(older)).rowcount
        return deleted
