"""The touchpoint log's filters as SQL conditions on touchpoints.

The metrics' conditions (bot/analytics/filters.py) first, then what only the log filters on:
rating, frustration (read from the signals JSON), policy moments and failed identity checks
of the touchpoint's own session, review flags, and the customer's words. Apart from the
log's paging (bot/analytics/log.py) because this is what a filter means in SQL, whatever page
or export reads it.
"""

from __future__ import annotations

from collections.abc import Collection

from sqlalchemy import and_, exists, func, or_, select
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import FunctionElement
from sqlalchemy.types import Integer

from bot.analytics.filters import filter_conditions
from bot.analytics.log_filters import POLICY_CHOICES, RATING_PATTERN, BadFilter, LogFilters
from bot.analytics.sql import contains_text, like_pattern
from bot.db.schema import identity_checks, policy_moments, review_flags, touchpoints
from bot.identity.checks import FAILED, LIMITED
from bot.policies.moments import met_a_limit


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
    match = RATING_PATTERN.match(rating)
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
