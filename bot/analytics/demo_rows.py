"""The demo data's rows: made batch by batch with ids handed out up front, and written.

Apart from the journeys that fill them (demo_journeys.py, demo_teams.py) because this is
the one place that knows the tables: which ones a demo load writes, in which order (parents
first), how ids are handed out before the bulk inserts, and how PostgreSQL's sequences are
moved past them afterwards.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, insert, select, text, update
from sqlalchemy.engine import Connection, Engine

from bot.db.schema import (
    feedback,
    handoffs,
    identities,
    journey_customers,
    policy_moments,
    routing_decisions,
    takeovers,
    touchpoints,
)

# Parents before children (PostgreSQL checks every foreign key as it goes).
_TABLES = {
    t.name: t
    for t in (
        journey_customers, identities, touchpoints, handoffs, routing_decisions, takeovers,
        policy_moments, feedback,
    )
}  # fmt: skip
_SEQUENCED = [name for name in _TABLES if name != "journey_customers"]

Batch = dict[str, list[dict[str, Any]]]  # rows by table name, parents first


class DemoRows:
    """The batch of rows being made, the next free id of each table, and counts so far."""

    def __init__(self, next_ids: dict[str, int]):
        self.ids = next_ids
        self.counts = dict.fromkeys(
            ("customers", "handoffs", "takeovers", "policy_moments", "ratings"), 0
        )
        self.batch: Batch = {}
        self.first_touchpoint = next_ids["touchpoints"]  # the batch's first touchpoint id

    def start_batch(self) -> Batch:
        """An empty batch, every table in write order; the one ``add`` fills from now on."""
        self.batch = {name: [] for name in _TABLES}
        self.first_touchpoint = self.ids["touchpoints"]
        return self.batch

    def new_id(self, table: str) -> int:
        """The next id of ``table``, handed out (the store's own sequence is not asked)."""
        self.ids[table] += 1
        return self.ids[table] - 1

    def add(self, table: str, row: dict[str, Any]) -> None:
        """One row of the current batch."""
        self.batch[table].append(row)


def write_batch(conn: Connection, rows: Batch) -> None:
    """One batch, parents first (PostgreSQL checks every foreign key as it goes)."""
    for name, batch in rows.items():
        if batch:
            conn.execute(insert(_TABLES[name]), batch)


def mark_came_back(conn: Connection, ids: list[int]) -> None:
    """Mark touchpoints of earlier batches that this batch's repeated (``came_back``)."""
    for first in range(0, len(ids), 500):
        conn.execute(
            update(touchpoints)
            .where(touchpoints.c.id.in_(ids[first : first + 500]))
            .values(came_back=True)
        )


def next_ids(engine: Engine) -> dict[str, int]:
    """The first free id of each table written with explicit ids."""
    with engine.connect() as conn:
        return {
            name: (conn.execute(select(func.max(_TABLES[name].c.id))).scalar() or 0) + 1
            for name in _SEQUENCED
        }


def advance_sequences(conn: Connection) -> None:
    """PostgreSQL: move each id sequence past the ids written explicitly."""
    for name in _SEQUENCED:
        conn.execute(
            text(
                f"SELECT setval(pg_get_serial_sequence('{name}', 'id'), "
                f"(SELECT COALESCE(MAX(id), 0) + 1 FROM {name}), false)"
            )
        )
