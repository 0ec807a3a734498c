"""The touchpoint log for CX review: filtered, newest first, one page at a time.

Pages are cut by keyset (the last row's start time and id), not by OFFSET, so page 2,000
costs what page 1 costs on a million touchpoints: the database walks an index on
(started_at, id), or on (outcome, started_at, id) when filtered by outcome, from the
cursor and stops after one page.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select, tuple_
from sqlalchemy.engine import Connection, Engine

from bot.journey.schema import journey_customers, touchpoints
from bot.review.metrics import Filters, filter_conditions
from bot.review.sql import connected

PAGE_SIZE = 50
MAX_PAGE_SIZE = 500
_CURSOR_SEPARATOR = "~"


class BadCursor(ValueError):
    """A page cursor that this module did not make (say, edited by hand in a URL)."""


@dataclass(frozen=True)
class LogPage:
    """One page of the log, and the cursor of the next page (None on the last one)."""

    entries: list[dict[str, Any]]
    next_cursor: str | None


def touchpoint_log(
    bind: Engine | Connection,
    filters: Filters | None = None,
    limit: int = PAGE_SIZE,
    after: str | None = None,
) -> LogPage:
    """Touchpoints matching ``filters``, newest first, ``limit`` of them after ``after``.

    Each entry holds the touchpoint's fields (JSON lists and signals parsed) and the
    customer's name and tier.
    """
    if not 1 <= limit <= MAX_PAGE_SIZE:
        raise ValueError(f"a page holds 1 to {MAX_PAGE_SIZE} rows, not {limit}")
    tp = touchpoints
    query = (
        select(tp, journey_customers.c.name.label("customer_name"), journey_customers.c.tier)
        .select_from(tp.outerjoin(journey_customers, journey_customers.c.id == tp.c.customer_id))
        .where(*filter_conditions(filters or Filters()))
        .order_by(tp.c.started_at.desc(), tp.c.id.desc())
        .limit(limit + 1)  # one more than shown: is there a next page?
    )
    if after is not None:
        started_at, touchpoint_id = parse_cursor(after)
        query = query.where(tuple_(tp.c.started_at, tp.c.id) < tuple_(started_at, touchpoint_id))
    with connected(bind) as conn:
        rows = conn.execute(query).all()
    entries = [_entry(r._mapping) for r in rows[:limit]]
    more = len(rows) > limit
    return LogPage(entries, cursor_of(entries[-1]) if more else None)


def cursor_of(entry: dict[str, Any]) -> str:
    """The cursor that starts the page after ``entry`` (safe in a URL query string)."""
    return f"{entry['started_at'].isoformat()}{_CURSOR_SEPARATOR}{entry['id']}"


def parse_cursor(cursor: str) -> tuple[datetime, int]:
    """(started_at, id) from a cursor; ``BadCursor`` when it is not one."""
    try:
        moment, _, touchpoint_id = cursor.partition(_CURSOR_SEPARATOR)
        return datetime.fromisoformat(moment), int(touchpoint_id)
    except ValueError:
        raise BadCursor(f"not a page cursor: {cursor!r}") from None


def _entry(row) -> dict[str, Any]:
    entry = dict(row)
    for name in ("needs", "departments", "order_ids"):
        entry[name] = json.loads(entry[name])
    entry["signals"] = json.loads(entry["signals"])
    return entry
