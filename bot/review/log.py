"""The touchpoint log for CX review: filtered, newest first, one page at a time, and exports.

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

``LogFilters`` adds to the metrics' ``Filters`` what only the log filters on: the
customer's rating, frustration, policy moments, review flags, failed identity checks,
and words the customer wrote. ``parse_filters`` reads them from a query string and ``filter_query`` writes them
back, so a filtered view is a URL; ``LogExport`` feeds the CSV and JSON downloads.

The customer's words are matched with LIKE (ILIKE on PostgreSQL) over ``customer_text``:
each word or "quoted phrase" anywhere, any part of a word, in any case. A common word fills
a page from the newest window at once. When that window had too few, the trigram index
(migration 0010_search: SQLite FTS5, PostgreSQL pg_trgm; bot/review/sql.py) is asked which
touchpoints may hold the words: if at most ``RARE_WORDS``, the page is read from those
alone, newest first, and is full whatever ``SCAN_SECONDS`` says; if more, the walk goes on
in windows, where words that common are dense. Words under three characters cannot be
looked up and always walk.
"""

from __future__ import annotations

import csv
import io
import json
import re
import shlex
import time
from collections.abc import Collection, Iterator, Mapping
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import and_, exists, func, or_, select, tuple_
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import FunctionElement
from sqlalchemy.types import Integer

from bot.cx_routing import CxRules
from bot.identity.checks import FAILED, LIMITED
from bot.journey.schema import (
    identity_checks,
    journey_customers,
    policy_moments,
    review_flags,
    touchpoints,
)
from bot.journey.store import OUTCOMES
from bot.policies.moments import met_a_limit
from bot.redaction import redact, redact_data
from bot.review.filters import NO_DEPARTMENT, UNKNOWN_STAGE, Filters, filter_conditions
from bot.review.sql import (
    connected,
    contains_text,
    indexed_terms,
    like_pattern,
    text_candidates,
)
from bot.routing import STAGES

PAGE_SIZE = 50
MAX_PAGE_SIZE = 500
EXPORT_LIMIT = 100_000  # rows in one CSV or JSON download; the file and its headers say so
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

# "Frustrated" in the log means what makes the assistant bring in a person: the routing
# rule frustrated_customer (routing.yml, frustration_at_least). The hub passes the
# configured value; this is the default when a routing file names none.
FRUSTRATED_AT = 3
MAX_SEARCH_CHARS = 200
MAX_SEARCH_TERMS = 8
# Channels the assistant is reachable on, as people call them.
CHANNELS = {
    "socketio": "Website chat",
    "slack": "Slack",
    "rest": "REST API",
    "proactive": "News told first",
}
POLICY_CHOICES = {
    "yes": "had a policy moment",
    "taken": "an alternative was taken",
    "not_taken": "offered, none taken",
    "no": "no policy moment",
}
YES_NO = {"yes": True, "no": False}
_NAME = re.compile(r"^[A-Za-z0-9_.:-]{1,64}$")
_RATING = re.compile(r"^([1-5])(?:-([1-5]))?$")


class BadCursor(ValueError):
    """A page cursor that this module did not make (say, edited by hand in a URL)."""


class BadFilter(ValueError):
    """A filter value that can't be used; the message names the filter and what it takes."""


@dataclass(frozen=True)
class LogFilters:
    """What the log shows: the metrics' ``Filters`` and the filters only the log has.

    ``rating``: ``"4"`` (exactly), ``"1-2"`` (a range), ``"rated"`` or ``"unrated"``.
    ``frustrated``: whether the touchpoint's frustration reached ``frustrated_at``.
    ``policy``: a key of ``POLICY_CHOICES``. ``flagged``: flagged for review or not.
    ``identity_failed``: whether an identity check of the session failed or was refused
    (a security signal: someone trying order numbers, emails or codes).
    ``text``: words the customer wrote, each of them, in any case ("quoted phrases" kept
    together).
    """

    base: Filters = field(default_factory=Filters)
    rating: str | None = None
    frustrated: bool | None = None
    frustrated_at: int = FRUSTRATED_AT
    policy: str | None = None
    flagged: bool | None = None
    identity_failed: bool | None = None
    text: str | None = None

    def terms(self) -> list[str]:
        """The words and phrases of ``text``, each to be found in what the customer wrote."""
        return search_terms(self.text or "")


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


class LogExport:
    """Every touchpoint matching ``filters``, newest first, in batches, at most ``cap``.

    Iterate ``batches()``; afterwards ``count`` says how many were read and ``truncated``
    whether more matched than the cap let through. Each batch is one keyset page read on
    its own connection, so a long download holds no transaction open.
    """

    def __init__(
        self,
        bind: Engine | Connection,
        filters: LogFilters | Filters | None = None,
        cap: int = EXPORT_LIMIT,
        batch: int = MAX_PAGE_SIZE,
    ):
        self.bind = bind
        self.filters = as_log_filters(filters)
        self.cap = cap
        self.batch = batch
        self.count = 0
        self.truncated = False

    def batches(self) -> Iterator[list[dict[str, Any]]]:
        after = None
        while self.count < self.cap:
            size = min(self.batch, self.cap - self.count)
            page = touchpoint_log(self.bind, self.filters, size, after, scan_seconds=None)
            self.count += len(page.entries)
            if page.entries:
                yield page.entries
            if page.next_cursor is None:
                return
            after = page.next_cursor
        # Without a time limit a page has a next cursor only when another row matched.
        self.truncated = True


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


def as_log_filters(filters: LogFilters | Filters | None) -> LogFilters:
    """``filters`` as ``LogFilters`` (the metrics' ``Filters`` alone filter the log too)."""
    if filters is None:
        return LogFilters()
    return filters if isinstance(filters, LogFilters) else LogFilters(base=filters)


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


# -- the filters as SQL ------------------------------------------------------------------------
def log_conditions(filters: LogFilters, checked: Collection[str] = ()) -> list:
    """The log's filters as conditions on touchpoints (the metrics' ones, then the log's);
    words in ``checked`` are left out (the text index has checked them already)."""
    tp = touchpoints
    out = filter_conditions(filters.base)
    if filters.rating:
        out.append(_rating_condition(filters.rating))
    if filters.frustrated is not None:
        frustration = json_int(tp.c.signals, "frustration")
        out.append(
            frustration >= filters.frustrated_at
            if filters.frustrated
            else frustration < filters.frustrated_at
        )
    if filters.policy:
        out.append(_policy_condition(filters.policy))
    if filters.flagged:
        # Flags are few (set by hand): the database starts from them (rowid lookups).
        out.append(tp.c.id.in_(select(review_flags.c.touchpoint_id)))
    elif filters.flagged is False:
        out.append(review_flags.c.id.is_(None))  # joined for the marker: no row, no flag
    if filters.identity_failed is not None:
        failed = exists().where(*_failed_checks())
        out.append(failed if filters.identity_failed else ~failed)
    for term in filters.terms():
        if term in checked:
            continue
        out.append(contains_text(tp.c.customer_text, like_pattern(term)))
    return out


def _rating_condition(rating: str):
    column = touchpoints.c.rating
    if rating == "rated":
        return column.isnot(None)
    if rating == "unrated":
        return column.is_(None)
    match = _RATING.match(rating)
    if not match:
        raise BadFilter(f"rating: {rating!r} is not a rating filter")
    low, high = int(match[1]), int(match[2] or match[1])
    return column == low if low == high else column.between(min(low, high), max(low, high))


def in_session(conversation_id, at) -> list:
    """Conditions that a row (its ``conversation_id`` and time ``at``) belongs to the
    touchpoint's session: the newest session of its conversation that had started by then
    (as the metrics count policy moments)."""
    tp = touchpoints
    later = touchpoints.alias("later_session")
    taken_by_later_session = (
        exists()
        .where(
            later.c.conversation_id == tp.c.conversation_id,
            later.c.started_at <= at,
            or_(
                later.c.started_at > tp.c.started_at,
                and_(later.c.started_at == tp.c.started_at, later.c.id > tp.c.id),
            ),
        )
        .correlate_except(later)  # two levels down: name what is the outer query's
    )
    return [conversation_id == tp.c.conversation_id, at >= tp.c.started_at, ~taken_by_later_session]


def _failed_checks() -> list:
    """Conditions on ``identity_checks``: a check of the touchpoint's session that failed or
    was refused by a limit."""
    ic = identity_checks
    return [*in_session(ic.c.conversation_id, ic.c.at), ic.c.outcome.in_((FAILED, LIMITED))]


def failed_checks_count():
    """The touchpoint's failed or refused identity checks, as a column of the log's query."""
    return (
        select(func.count())
        .select_from(identity_checks)
        .where(*_failed_checks())
        .correlate_except(identity_checks)
        .scalar_subquery()
    )


def _policy_condition(policy: str):
    """Policy moments of the touchpoint's session: a moment belongs to the newest session of
    its conversation that had started by then (as the metrics count them)."""
    pm = policy_moments
    # Limits met, not the yes/no question before a change (bot/support/confirm.py).
    in_session_ = [*in_session(pm.c.conversation_id, pm.c.created_at), met_a_limit(pm)]
    any_moment = exists().where(*in_session_)
    alternative_taken = exists().where(*in_session_, pm.c.chosen.isnot(None))
    if policy == "yes":
        return any_moment
    if policy == "no":
        return ~any_moment
    if policy == "taken":
        return alternative_taken
    if policy == "not_taken":
        return and_(any_moment, ~alternative_taken)
    raise BadFilter(f"policy: {policy!r} is not one of {', '.join(POLICY_CHOICES)}")


class json_int(FunctionElement):
    """A whole number from a JSON object stored as text (0 when the key is missing)."""

    type = Integer()
    name = "json_int"
    inherit_cache = True

    def __init__(self, column, key: str):
        if not key.isidentifier():  # it is written into the SQL, so only a plain name
            raise ValueError(f"not a JSON key this reads: {key!r}")
        self.key = key
        super().__init__(column)


@compiles(json_int, "sqlite")
def _json_int_sqlite(element, compiler, **kw):
    column = compiler.process(element.clauses, **kw)
    return f"COALESCE(CAST(json_extract({column}, '$.{element.key}') AS INTEGER), 0)"


@compiles(json_int, "postgresql")
def _json_int_postgresql(element, compiler, **kw):
    column = compiler.process(element.clauses, **kw)
    return f"COALESCE(CAST(CAST({column} AS json) ->> '{element.key}' AS INTEGER), 0)"


def search_terms(text: str) -> list[str]:
    """The words of a search, "quoted phrases" as one; an unpaired quote is just a character."""
    text = text.strip()[:MAX_SEARCH_CHARS]
    if not text:
        return []
    try:
        lexer = shlex.shlex(text, posix=True)
        lexer.whitespace_split = True
        lexer.quotes = '"'
        lexer.escape = ""  # a backslash is a character people search for, not an escape
        terms = list(lexer)
    except ValueError:  # an unpaired double quote
        terms = text.split()
    return [t for t in dict.fromkeys(terms) if t.strip()][:MAX_SEARCH_TERMS]


def matching_lines(text: str, terms: list[str], most: int = 3) -> list[str]:
    """The lines of what the customer wrote that hold a search term, as the log shows them."""
    folded = [t.casefold() for t in terms]
    hits = [line for line in text.splitlines() if any(t in line.casefold() for t in folded)]
    # Redacted again (rows written before the store redacted customer_text), before the cut
    # so no number is left half-shown.
    hits = [redact(line) for line in hits[:most]]
    return [line if len(line) <= 200 else line[:199] + "…" for line in hits]


def frustration_threshold(rules: CxRules) -> int:
    """The frustration at which the routing rules bring a person in: the lowest
    ``frustration_at_least`` of routing.yml's rules, or ``FRUSTRATED_AT`` if none names one."""
    levels = [
        r.when["frustration_at_least"] for r in rules.rules if "frustration_at_least" in r.when
    ]
    return min(levels, default=FRUSTRATED_AT)


# -- the filters in a URL ----------------------------------------------------------------------
# Query parameters, named as the metrics page names them: since, until (dates YYYY-MM-DD,
# both days included), channel, stage, department, need,
# outcome, customer, rating, frustrated (yes/no), policy, flagged (yes/no), identity_failed
# (yes/no: an identity check failed or was refused), q (the words).
FILTER_PARAMETERS = (
    "since", "until", "channel", "stage", "department", "need", "outcome", "customer",
    "rating", "frustrated", "policy", "flagged", "identity_failed", "q",
)  # fmt: skip


def parse_filters(
    args: Mapping[str, str],
    departments: Collection[str],
    frustrated_at: int = FRUSTRATED_AT,
) -> LogFilters:
    """``LogFilters`` from query parameters (empty ones ignored); ``BadFilter`` says which is
    wrong and what it takes."""

    def value(name: str) -> str | None:
        raw = args.get(name)
        return raw.strip() if isinstance(raw, str) and raw.strip() else None

    since = _date(value("since"), "since")
    to = _date(value("until"), "until")
    if since and to and since > to:
        raise BadFilter(f"since ({since}) is after until ({to})")
    stage = _one_of(value("stage"), "stage", (*STAGES, UNKNOWN_STAGE))
    department = _one_of(value("department"), "department", (*departments, NO_DEPARTMENT))
    outcome = _one_of(value("outcome"), "outcome", OUTCOMES)
    rating = value("rating")
    if rating is not None and rating not in ("rated", "unrated") and not _RATING.match(rating):
        raise BadFilter(f"rating: {rating!r} is not 1 to 5, a range like 1-2, 'rated' or 'unrated'")
    text = value("q")
    if text is not None and len(text) > MAX_SEARCH_CHARS:
        raise BadFilter(f"q: search for at most {MAX_SEARCH_CHARS} characters")
    return LogFilters(
        base=Filters(
            since=datetime.combine(since, datetime.min.time()) if since else None,
            until=datetime.combine(to + timedelta(days=1), datetime.min.time()) if to else None,
            channel=_name(value("channel"), "channel"),
            stage=stage,
            department=department,
            outcome=outcome,
            need=_name(value("need"), "need"),
            customer_id=_name(value("customer"), "customer", 64, free=True),
        ),
        rating=rating,
        frustrated=_yes_no(value("frustrated"), "frustrated"),
        frustrated_at=frustrated_at,
        policy=_one_of(value("policy"), "policy", POLICY_CHOICES),
        flagged=_yes_no(value("flagged"), "flagged"),
        identity_failed=_yes_no(value("identity_failed"), "identity_failed"),
        text=text,
    )


def filter_query(filters: LogFilters) -> dict[str, str]:
    """The query parameters that ``parse_filters`` reads back into ``filters`` (set ones only)."""
    base = filters.base
    out = {
        "since": base.since.date().isoformat() if base.since else None,
        "until": (base.until - timedelta(days=1)).date().isoformat() if base.until else None,
        "channel": base.channel,
        "stage": base.stage,
        "department": base.department,
        "need": base.need,
        "outcome": base.outcome,
        "customer": base.customer_id,
        "rating": filters.rating,
        "frustrated": _from_yes_no(filters.frustrated),
        "policy": filters.policy,
        "flagged": _from_yes_no(filters.flagged),
        "identity_failed": _from_yes_no(filters.identity_failed),
        "q": filters.text,
    }
    return {k: v for k, v in out.items() if v}


def describe_filters(filters: LogFilters) -> dict[str, Any]:
    """The filters as JSON-ready data (an export says what it holds)."""
    data = {k: v for k, v in asdict(filters.base).items() if v is not None}
    for key in ("since", "until"):
        if key in data:
            data[key] = data[key].isoformat(timespec="seconds")
    for key in ("rating", "frustrated", "policy", "flagged", "identity_failed", "text"):
        if getattr(filters, key) is not None:
            data[key] = getattr(filters, key)
    if filters.frustrated is not None:
        data["frustrated_at"] = filters.frustrated_at
    return data


def _date(raw: str | None, name: str) -> date | None:
    if raw is None:
        return None
    try:
        return date.fromisoformat(raw)
    except ValueError:
        raise BadFilter(f"{name}: {raw!r} is not a date (YYYY-MM-DD)") from None


def _one_of(raw: str | None, name: str, allowed: Collection[str]) -> str | None:
    if raw is not None and raw not in allowed:
        raise BadFilter(f"{name}: {raw!r} is not one of {', '.join(allowed)}")
    return raw


def _name(raw: str | None, name: str, most: int = 64, free: bool = False) -> str | None:
    """A short identifier (a channel, a need); a customer id may hold any printable text."""
    if raw is None:
        return None
    if len(raw) > most or (not free and not _NAME.match(raw)) or not raw.isprintable():
        raise BadFilter(f"{name}: {raw!r} is not a {name} name")
    return raw


def _yes_no(raw: str | None, name: str) -> bool | None:
    if raw is None:
        return None
    if raw not in YES_NO:
        raise BadFilter(f"{name}: {raw!r} is not yes or no")
    return YES_NO[raw]


def _from_yes_no(value: bool | None) -> str | None:
    return None if value is None else ("yes" if value else "no")


# -- exports -----------------------------------------------------------------------------------
EXPORT_COLUMNS = (
    "id", "conversation_id", "started_at", "last_activity_at", "ended_at", "customer_id",
    "customer_name", "tier", "channel", "stage", "needs", "departments", "order_ids",
    "outcome", "rating", "effort", "frustration", "repeats", "told_you", "negative_words",
    "contacts_about_order", "message_count", "flagged", "flag_tags", "identity_checks_failed",
)  # fmt: skip
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def export_record(entry: dict[str, Any]) -> dict[str, Any]:
    """One log entry as a flat, JSON-ready record with ``EXPORT_COLUMNS``."""
    signals, flag = entry["signals"], entry.get("flag")
    record = {
        **{k: entry.get(k) for k in EXPORT_COLUMNS},
        "frustration": entry["frustration"],
        "flagged": flag is not None,
        "flag_tags": list(flag["tags"]) if flag else [],
        "identity_checks_failed": int(entry.get("identity_failures") or 0),
    }
    for key in ("repeats", "told_you", "negative_words", "contacts_about_order"):
        record[key] = int(signals.get(key) or 0)
    for key in ("started_at", "last_activity_at", "ended_at"):
        if record[key] is not None:
            record[key] = record[key].isoformat(timespec="seconds")
    # What people typed (a customer's name, an analyst's tags) leaves without personal data.
    for key in ("customer_name", "flag_tags"):
        record[key] = redact_data(record[key])
    return record


def csv_lines(export: LogExport) -> Iterator[str]:
    """The export as CSV text, the header first, a chunk per batch.

    Lists are joined with ``;``. A cell that a spreadsheet would run as a formula (starting
    with = + - @) gets a leading apostrophe: customers' names are customers' input.
    """
    yield _csv_line(EXPORT_COLUMNS)
    for entries in export.batches():
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\r\n")
        for entry in entries:
            record = export_record(entry)
            writer.writerow([_csv_cell(record[k]) for k in EXPORT_COLUMNS])
        yield out.getvalue()


def json_chunks(export: LogExport, exported_at: datetime) -> Iterator[str]:
    """The export as one JSON document, written as it goes: what it holds, the rows, then
    how many there were and whether the cap cut them short."""
    head = {
        "exported_at": exported_at.isoformat(timespec="seconds"),
        "filters": describe_filters(export.filters),
        "limit": export.cap,
        "columns": list(EXPORT_COLUMNS),
    }
    yield json.dumps(head, ensure_ascii=False)[:-1] + ', "touchpoints": ['
    first = True
    for entries in export.batches():
        records = ",".join(json.dumps(export_record(e), ensure_ascii=False) for e in entries)
        yield ("" if first else ",") + records
        first = False
    yield f'], "count": {export.count}, "truncated": {json.dumps(export.truncated)}}}'


def _csv_line(values) -> str:
    out = io.StringIO()
    csv.writer(out, lineterminator="\r\n").writerow(values)
    return out.getvalue()


def _csv_cell(value: Any) -> Any:
    if isinstance(value, list):
        value = ";".join(str(v) for v in value)
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return "" if value is None else value
