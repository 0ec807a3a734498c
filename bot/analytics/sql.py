"""SQL pieces the CX review needs that SQLite and PostgreSQL spell differently.

Each is a SQLAlchemy construct compiled per dialect, so the queries in bot/analytics/ are
written once. Timestamps in the journey store are naive local times; "epoch" here means
whole seconds since 1970-01-01 00:00 of that same clock, which makes day and week
boundaries local days and weeks on both databases.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import BigInteger, Boolean, Date, DateTime, column, func, select, table
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import FunctionElement

from bot.db.schema import TOUCHPOINT_SEARCH, touchpoints

SECONDS_PER_DAY = 86_400
# 1970-01-01 was a Thursday: (day number + 3) % 7 is the weekday with Monday = 0.
EPOCH_WEEKDAY_SHIFT = 3


class epoch(FunctionElement):
    """Whole seconds since 1970-01-01 00:00 of a naive timestamp."""

    type = BigInteger()
    name = "epoch"
    inherit_cache = True


@compiles(epoch, "sqlite")
def _epoch_sqlite(element, compiler, **kw):
    moment = compiler.process(element.clauses, **kw)
    version = getattr(compiler.dialect.dbapi, "sqlite_version_info", (0,))
    if version >= (3, 38):  # unixepoch() parses a moment in a third of strftime's time
        return f"unixepoch({moment})"
    return f"CAST(strftime('%s', {moment}) AS INTEGER)"


@compiles(epoch, "postgresql")
def _epoch_postgresql(element, compiler, **kw):
    # A timestamp without time zone gives its nominal seconds, whatever the server's zone.
    return f"CAST(FLOOR(EXTRACT(EPOCH FROM {compiler.process(element.clauses, **kw)})) AS BIGINT)"


class plus_days(FunctionElement):
    """A stored timestamp column plus a whole number of days (a literal), comparable with
    stored ones (SQLite reads the column twice)."""

    type = DateTime()
    name = "plus_days"
    inherit_cache = True


@compiles(plus_days, "sqlite")
def _plus_days_sqlite(element, compiler, **kw):
    moment, days = list(element.clauses)
    moment = compiler.process(moment, **kw)
    # Stored as 'YYYY-MM-DD HH:MM:SS.ffffff': the new date and time, then the same fraction
    # of a second as it was (strftime's %f keeps milliseconds only), so the text compares
    # like the stored values, to the microsecond.
    return (
        f"(strftime('%Y-%m-%d %H:%M:%S', {moment}, "
        f"'+' || {compiler.process(days, **kw)} || ' days') || substr({moment}, 20))"
    )


@compiles(plus_days, "postgresql")
def _plus_days_postgresql(element, compiler, **kw):
    moment, days = list(element.clauses)
    return (
        f"({compiler.process(moment, **kw)} + "
        f"CAST({compiler.process(days, **kw)} AS INTEGER) * INTERVAL '1 day')"
    )


class day_of(FunctionElement):
    """The calendar day of a naive timestamp, as a date."""

    type = Date()
    name = "day_of"
    inherit_cache = True


@compiles(day_of, "sqlite")
def _day_of_sqlite(element, compiler, **kw):
    # The date part of the stored text: cheaper than parsing it, row after row.
    return f"substr({compiler.process(element.clauses, **kw)}, 1, 10)"


@compiles(day_of, "postgresql")
def _day_of_postgresql(element, compiler, **kw):
    return f"CAST({compiler.process(element.clauses, **kw)} AS DATE)"


class json_lists_overlap(FunctionElement):
    """Whether two JSON lists of strings (stored as text) share an element."""

    type = Boolean()
    name = "json_lists_overlap"
    inherit_cache = True


@compiles(json_lists_overlap, "sqlite")
def _overlap_sqlite(element, compiler, **kw):
    a, b = (compiler.process(c, **kw) for c in element.clauses)
    return (
        f"EXISTS (SELECT 1 FROM json_each({a}) AS x JOIN json_each({b}) AS y ON x.value = y.value)"
    )


@compiles(json_lists_overlap, "postgresql")
def _overlap_postgresql(element, compiler, **kw):
    a, b = (compiler.process(c, **kw) for c in element.clauses)
    return (
        f"EXISTS (SELECT 1 FROM json_array_elements_text(CAST({a} AS json)) AS x(v)"
        f" JOIN json_array_elements_text(CAST({b} AS json)) AS y(v) ON x.v = y.v)"
    )


@contextmanager
def connected(bind: Engine | Connection) -> Iterator[Connection]:
    """A connection from an engine (closed after), or the caller's own connection as is."""
    if isinstance(bind, Connection):
        yield bind
    else:
        with bind.connect() as conn:
            yield conn


class unindexed(FunctionElement):
    """An expression as is, which SQLite will not answer from an index (unary ``+``).

    For queries that should start from another table's index: without statistics, SQLite
    would start from the touchpoints' window and look up each one's handoffs, while the
    handoffs' own time index reaches far fewer rows. Other databases plan by statistics.
    """

    name = "unindexed"
    inherit_cache = True

    def __init__(self, expression):
        super().__init__(expression)
        self.type = expression.type


@compiles(unindexed, "sqlite")
def _unindexed_sqlite(element, compiler, **kw):
    return f"+{compiler.process(element.clauses, **kw)}"


@compiles(unindexed)
def _unindexed_default(element, compiler, **kw):
    return compiler.process(element.clauses, **kw)


# -- the free-text index over touchpoints.customer_text (migration 0010_search) ---------------
TRIGRAM = 3  # characters of a trigram: a shorter word cannot be looked up in the index
MAX_TRIGRAMS = 16  # looked up per search at most (a 200-character search has ~200)
SELECTIVE_TRIGRAMS = 4  # the rarest trigrams a search intersects when some are rare
_search_table = table(TOUCHPOINT_SEARCH, column("rowid"), column(TOUCHPOINT_SEARCH))


def indexed_terms(terms: list[str]) -> list[str]:
    """The search terms the trigram index can look up (three characters or more)."""
    return [t for t in terms if len(t) >= TRIGRAM]


def trigrams(terms: list[str]) -> list[str]:
    """The distinct trigrams of the indexable terms, at most ``MAX_TRIGRAMS``, spread over
    every term rather than the first one's."""
    grams = list(
        dict.fromkeys(
            t[i : i + TRIGRAM] for t in indexed_terms(terms) for i in range(len(t) - TRIGRAM + 1)
        )
    )
    if len(grams) > MAX_TRIGRAMS:
        step = len(grams) / MAX_TRIGRAMS
        grams = [grams[int(i * step)] for i in range(MAX_TRIGRAMS)]
    return grams


def fts5_query(grams: list[str]) -> str:
    """An FTS5 query for rows holding every one of ``grams``.

    Each trigram is quoted, its own double quotes doubled, so nothing a customer or an
    analyst typed is FTS5 syntax. The table keeps no positions (detail=none): a term is the
    AND of its trigrams, a superset of the rows holding it, and the caller checks each row
    against the terms themselves.
    """
    if not grams:
        raise ValueError("no trigram to look up")
    return " AND ".join('"' + g.replace('"', '""') + '"' for g in grams)


def text_candidates(conn: Connection, terms: list[str], most: int) -> list[int] | None:
    """The ids of the touchpoints the text index offers for ``terms`` (every one holding
    them, and on SQLite some that hold only their trigrams), or None when there are more
    than ``most`` (or no term is long enough to look up).

    SQLite: each trigram's posting list is counted first, up to ``most`` (cheap: the count
    stops there). When some are rare, the rarest few are intersected; when none is, one
    trigram of each term at a time (every posting list read costs, and very common ones
    like "the" narrow little) until the intersection holds at most ``most``.
    PostgreSQL: the terms' ILIKE, which the GIN trigram index answers by itself.
    """
    terms = indexed_terms(terms)
    if not terms:
        return None
    if conn.dialect.name == "sqlite":
        grams = trigrams(terms)
        # Every trigram's count in one statement (a round trip costs more than a count).
        counted = select(*(_count(_match([g]), most + 1) for g in grams))
        counts = dict(zip(grams, conn.execute(counted).one(), strict=True))
        rare = sorted((g for g in counts if counts[g] <= most), key=counts.__getitem__)
        if rare:
            ids = _matching_ids(conn, rare[:SELECTIVE_TRIGRAMS], most)
        else:
            picked: list[str] = []
            for gram in _one_per_term(terms, counts)[:SELECTIVE_TRIGRAMS]:
                picked.append(gram)
                ids = _matching_ids(conn, picked, most)
                if len(ids) <= most:
                    break
            else:
                return None
    else:
        tp = touchpoints
        where = [contains_text(tp.c.customer_text, like_pattern(t)) for t in terms]
        ids = [r[0] for r in conn.execute(select(tp.c.id).where(*where).limit(most + 1))]
    return ids if len(ids) <= most else None


def _one_per_term(terms: list[str], counted: dict[str, int]) -> list[str]:
    """Trigrams to intersect when none is rare: the last counted one of each term in turn
    (longest terms first: a long word is rarer than a short one), then the others."""
    per_term = [
        [t[i : i + TRIGRAM] for i in range(len(t) - TRIGRAM, -1, -1)]
        for t in sorted(terms, key=len, reverse=True)
    ]
    order = [g for grams in itertools.zip_longest(*per_term) for g in grams if g]
    return [g for g in dict.fromkeys(order) if g in counted]


def _matching_ids(conn: Connection, grams: list[str], most: int) -> list[int]:
    """The rowids holding every one of ``grams``, at most ``most + 1`` of them."""
    return [r[0] for r in conn.execute(_match(grams).limit(most + 1))]


def _match(grams: list[str]):
    return select(_search_table.c.rowid).where(
        _search_table.c[TOUCHPOINT_SEARCH].op("MATCH")(fts5_query(grams))
    )


def _count(query, most: int):
    """How many rows ``query`` gives, counted up to ``most`` (a scalar subquery)."""
    return select(func.count()).select_from(query.limit(most).subquery()).scalar_subquery()


class contains_text(FunctionElement):
    """Whether a text column matches a LIKE pattern (escaped with ``\\``), in any case.

    SQLite's LIKE ignores case already (for ASCII letters; lower() would be no better and
    costs a copy of every text); PostgreSQL's is ILIKE, which its trigram index serves.
    """

    type = Boolean()
    name = "contains_text"
    inherit_cache = True


@compiles(contains_text, "sqlite")
def _contains_sqlite(element, compiler, **kw):
    column, pattern = (compiler.process(c, **kw) for c in element.clauses)
    return f"({column} LIKE {pattern} ESCAPE '\\')"


@compiles(contains_text, "postgresql")
def _contains_postgresql(element, compiler, **kw):
    column, pattern = (compiler.process(c, **kw) for c in element.clauses)
    return f"({column} ILIKE {pattern} ESCAPE '\\')"


def like_pattern(term: str) -> str:
    """A LIKE pattern that finds ``term`` anywhere, its ``%``, ``_`` and ``\\`` taken literally."""
    escaped = term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"
