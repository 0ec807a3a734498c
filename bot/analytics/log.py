"""The touchpoint log for CX review: filtered, newest first, one page at a time.

Pages are cut by keyset (the last row's start time and id), not by OFFSET, so page 2,000
costs what page 1 costs on a million touchpoints: the database walks an index on
(started_at, id), or on (outcome, started_at, id) when filtered by outcome, from the
cursor and stops after one page.

A filter that matches few touchpoints (a rare word, a flag, a combination nobody had)
would still make that walk read the whole store before it found a page. So the walk goes
in windows of the index, each a bounded number of touchpoints, and a page that has used
up its time stops at a window's edge: it shows what it found, and its cursor carries on
from where it stopped (``LogPage.searched_until``). A page therefore answers in about
``SCAN_SECONDS`` at worst, whatever the filters. A customer's own touchpoints and the
flagged ones are few and reached through their own index: those pages need no windows.

What the log filters on (``LogFilters``, and the filters in a URL) is in
bot/analytics/log_filters.py, those filters as SQL in bot/analytics/log_conditions.py, and the
CSV and JSON downloads in bot/analytics/log_export.py.

The customer's words are matched with LIKE (ILIKE on PostgreSQL) over ``customer_text``:
each word or "quoted phrase" anywhere, any part of a word, in any case. A common word fills
a page from the newest window at once. When that window had too few, the trigram index
(migration 0010_search: SQLite FTS5, PostgreSQL pg_trgm; bot/analytics/sql.py) is asked which
touchpoints may hold the words: if at most ``RARE_WORDS``, the page is read from those
alone, newest first, and is full whatever ``SCAN_SECONDS`` says; if more, the walk goes on
in windows, where words that common are dense. Words under three characters cannot be
looked up and always walk.
"""

from __future__ import annotations

import json
import time
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select, tuple_
from sqlalchemy.engine import Connection, Engine

from bot.analytics.filters import Filters
from bot.analytics.log_conditions import failed_checks_count, log_conditions
from bot.analytics.log_filters import LogFilters, as_log_filters
from bot.analytics.sql import connected, indexed_terms, text_candidates
from bot.db.schema import journey_customers, review_flags, touchpoints
from bot.redaction import redact

PAGE_SIZE = 50
MAX_PAGE_SIZE = 500
_CURSOR_SEPARATOR = "~"

# The windowed walk (see the module's docstring): the first window is small, so a common
# filter answers from the newest touchpoints at once; each next one is twice as large, or
# what the last one's pace reads in the time left if that is less.
SCAN_SECONDS = 0.4  # a page stops opening new windows after this long
FIRST_WINDOW = 5_000
MAX_WINDOW = 40_000

# A search whose words the text index finds in at most this many touchpoints reads them
# through the index (all of them, sorted: a few milliseconds); one with more walks the
# newest touchpoints in windows, where its words are dense enough to fill a page at once.
RARE_WORDS = 5_000


class BadCursor(ValueError):
    """A page cursor that this module did not make (say, edited by hand in a URL)."""


@dataclass(frozen=True)
class LogPage:
    """One page of the log, and the cursor of the next page (None on the last one).

    ``searched_until`` is set when the page stopped early to stay fast: touchpoints that
    started before it were not looked at yet, and ``next_cursor`` goes on from there.
    """

    entries: list[dict[str, Any]]
    next_cursor: str | None
    searched_until: datetime | None = None


# -- reading the log ---------------------------------------------------------------------------
def touchpoint_log(
    bind: Engine | Connection,
    filters: LogFilters | Filters | None = None,
    limit: int = PAGE_SIZE,
    after: str | None = None,
    scan_seconds: float | None = SCAN_SECONDS,
) -> LogPage:
    """Touchpoints matching ``filters``, newest first, ``limit`` of them after ``after``.

    Each entry holds the touchpoint's fields (JSON lists and signals parsed), the
    customer's name and tier, its review flag (``flag``: tags and note, or None) and
    ``identity_failures``: the session's identity checks that failed or were refused.
    ``scan_seconds=None`` searches until the page is full (exports do).
    """
    if not 1 <= limit <= MAX_PAGE_SIZE:
        raise ValueError(f"a page holds 1 to {MAX_PAGE_SIZE} rows, not {limit}")
    log_filters = as_log_filters(filters)
    upper = parse_cursor(after) if after is not None else None
    query = _log_query(log_filters)
    terms = log_filters.terms()
    with connected(bind) as conn:
        if _few(log_filters):
            return _page(conn.execute(_below(query, upper).limit(limit + 1)).all(), limit, terms)
        deadline = None if scan_seconds is None else time.monotonic() + scan_seconds
        rows: list = []
        window = FIRST_WINDOW
        start, index_asked = upper, not indexed_terms(terms)
        while True:
            window_started = time.monotonic()
            lower = _window_edge(conn, log_filters.base, upper, window)
            scanned = _below(query, upper)
            if lower is not None:
                scanned = _from(scanned, lower)
            rows += conn.execute(scanned.limit(limit + 1 - len(rows))).all()
            if len(rows) > limit or lower is None:
                return _page(rows, limit, terms)
            if not index_asked:  # the newest window had too few: are the words rare?
                index_asked = True
                candidates = text_candidates(conn, terms, RARE_WORDS)
                if candidates is not None:
                    if conn.dialect.name == "postgresql":  # its ILIKE checked the words
                        query = _log_query(log_filters, checked=indexed_terms(terms))
                    return _page(
                        _through_index(conn, query, start, candidates, limit), limit, terms
                    )
            upper, now = lower, time.monotonic()
            if deadline is None:
                window = min(2 * window, MAX_WINDOW)
                continue
            if now >= deadline:
                if len(rows) == limit:  # a full page after all: the next one goes on
                    return _page(rows, limit, terms, more=True)
                # Out of time: what was found so far, and the next page goes on from here.
                entries = [_entry(r._mapping, terms) for r in rows]
                return LogPage(entries, _cursor(*lower), searched_until=lower[0])
            # The next window is what this one's pace can read in the time left, so the
            # last one does not run far past it.
            pace = window / max(now - window_started, 1e-6)  # touchpoints per second
            window = min(2 * window, MAX_WINDOW, max(int(pace * (deadline - now)), FIRST_WINDOW))


def cursor_of(entry: dict[str, Any]) -> str:
    """The cursor that starts the page after ``entry`` (safe in a URL query string)."""
    return _cursor(entry["started_at"], entry["id"])


def parse_cursor(cursor: str) -> tuple[datetime, int]:
    """(started_at, id) from a cursor; ``BadCursor`` when it is not one."""
    try:
        moment, _, touchpoint_id = cursor.partition(_CURSOR_SEPARATOR)
        return datetime.fromisoformat(moment), int(touchpoint_id)
    except ValueError:
        raise BadCursor(f"not a page cursor: {cursor!r}") from None


def _cursor(started_at: datetime, touchpoint_id: int) -> str:
    return f"{started_at.isoformat()}{_CURSOR_SEPARATOR}{touchpoint_id}"


def _log_query(filters: LogFilters, checked: Collection[str] = ()):
    tp = touchpoints
    shown = [c for c in tp.c if c.name != "customer_text"]
    if filters.terms():  # a search shows the lines it found
        shown.append(tp.c.customer_text)
    return (
        select(
            *shown,
            journey_customers.c.name.label("customer_name"),
            journey_customers.c.tier,
            review_flags.c.tags.label("flag_tags"),
            review_flags.c.note.label("flag_note"),
            review_flags.c.flagged_at,
            failed_checks_count().label("identity_failures"),
        )
        .select_from(
            tp.outerjoin(journey_customers, journey_customers.c.id == tp.c.customer_id).outerjoin(
                review_flags, review_flags.c.touchpoint_id == tp.c.id
            )
        )
        .where(*log_conditions(filters, checked))
        .order_by(tp.c.started_at.desc(), tp.c.id.desc())
    )


def _through_index(conn: Connection, query, upper, candidates: list[int], limit: int) -> list:
    """The rows of a page of ``query`` below ``upper`` among the text index's ``candidates``:
    the page's ids first (sorting thousands of candidates costs little), then what the log
    shows of them (a correlated count per row, a few joins)."""
    found = _below(query.where(touchpoints.c.id.in_(candidates)), upper)
    ids = conn.execute(found.with_only_columns(touchpoints.c.id).limit(limit + 1)).scalars()
    return conn.execute(query.where(touchpoints.c.id.in_(ids.all()))).all()


def _few(filters: LogFilters) -> bool:
    """Whether the filters pick few touchpoints through an index of their own (one
    customer's, the flagged ones): then the page is read without windows."""
    return filters.base.customer_id is not None or bool(filters.flagged)


def _below(query, upper: tuple[datetime, int] | None):
    """``query`` for touchpoints before ``upper`` (started_at, id) in the log's order."""
    if upper is None:
        return query
    started_at = touchpoints.c.started_at
    # The plain bound on started_at says as much as the row comparison, but a planner can
    # estimate it: PostgreSQL, guessing a window of two row comparisons to hold a handful
    # of rows, would read the whole table instead of that stretch of the index.
    return query.where(
        started_at <= upper[0], tuple_(started_at, touchpoints.c.id) < tuple_(*upper)
    )


def _from(query, lower: tuple[datetime, int]):
    """``query`` for touchpoints from ``lower`` (started_at, id) on, in the log's order."""
    started_at = touchpoints.c.started_at
    return query.where(
        started_at >= lower[0], tuple_(started_at, touchpoints.c.id) >= tuple_(*lower)
    )


def _window_edge(
    conn: Connection, base: Filters, upper: tuple[datetime, int] | None, size: int
) -> tuple[datetime, int] | None:
    """The oldest (started_at, id) of the next ``size`` touchpoints below ``upper`` within
    the date range, or None when fewer are left (the window then runs to the end).

    Read from the (started_at, id) index alone, without touching the rows.
    """
    tp = touchpoints
    query = select(tp.c.started_at, tp.c.id).order_by(tp.c.started_at.desc(), tp.c.id.desc())
    if base.since is not None:
        query = query.where(tp.c.started_at >= base.since)
    if base.until is not None:
        query = query.where(tp.c.started_at < base.until)
    edge = conn.execute(_below(query, upper).offset(size - 1).limit(1)).first()
    return (edge.started_at, edge.id) if edge is not None else None


def _page(rows: list, limit: int, terms: list[str], more: bool = False) -> LogPage:
    """A page of the first ``limit`` rows; another follows if there were more (or ``more``)."""
    entries = [_entry(r._mapping, terms) for r in rows[:limit]]
    more = more or len(rows) > limit
    return LogPage(entries, cursor_of(entries[-1]) if more and entries else None)


def _entry(row: Mapping[str, Any], terms: list[str]) -> dict[str, Any]:
    entry = dict(row)
    for name in ("needs", "departments", "order_ids"):
        entry[name] = json.loads(entry[name])
    entry["signals"] = json.loads(entry["signals"])
    entry["frustration"] = int(entry["signals"].get("frustration") or 0)
    tags, note, flagged_at = (entry.pop(k) for k in ("flag_tags", "flag_note", "flagged_at"))
    entry["flag"] = (
        {"tags": json.loads(tags), "note": note, "flagged_at": flagged_at}
        if flagged_at is not None
        else None
    )
    if "customer_text" in entry:  # a search: the lines it found
        entry["matched"] = matching_lines(entry.pop("customer_text") or "", terms)
    return entry


def matching_lines(text: str, terms: list[str], most: int = 3) -> list[str]:
    """The lines of what the customer wrote that hold a search term, as the log shows them."""
    folded = [t.casefold() for t in terms]
    hits = [line for line in text.splitlines() if any(t in line.casefold() for t in folded)]
    # Redacted again (rows written before the store redacted customer_text), before the cut
    # so no number is left half-shown.
    hits = [redact(line) for line in hits[:most]]
    return [line if len(line) <= 200 else line[:199] + "…" for line in hits]
