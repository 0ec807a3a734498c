"""How the metrics' facts are grouped: the fine key the database groups them by, and the
groups of the table (and the total) each fine key adds into.

Each source asks the database for its aggregates grouped by one "fine key" of the facts it
counts (touchpoints, handoffs, pickups, policy moments): the day a touchpoint started, its
stage, or its list of departments (a handoff's own department for the handoff metrics).
Python then adds each fine key's aggregates into the groups of the table it belongs to
(``key_groups``: a day's into its week, a department list's into each department) and into
the total. One pass over the facts, no second one for the total; a touchpoint counts once
in the total even when it counts under two departments.

Apart from the queries themselves (bot/analytics/metric_aggregates.py) because every source
shares this one way of grouping, and the table (bot/analytics/metrics.py) numbers its days and
weeks the same way.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from datetime import date, datetime
from functools import cache
from typing import Any

from sqlalchemy import null, select

from bot.analytics.filters import NO_DEPARTMENT, UNKNOWN_STAGE
from bot.analytics.sql import EPOCH_WEEKDAY_SHIFT, day_of
from bot.db.schema import touchpoints

TOTAL = "total"  # the key of the aggregates over every group, and the total row's label
EPOCH_DAY = date(1970, 1, 1)


def touchpoint_key(group_by: str | None, own=None):
    """The fine key facts are grouped by in the database for ``group_by`` (None: no groups):
    the day a touchpoint started, its stage, or its departments (a JSON list), or ``own``
    (a handoff's department) by department when given."""
    tp = touchpoints
    if group_by in ("day", "week"):
        return day_of(tp.c.started_at)
    if group_by == "stage":
        return tp.c.stage
    if group_by == "department":
        return tp.c.departments if own is None else own
    return None


def by_key(key, *aggregates, extra: Sequence = ()):
    """SELECT key, aggregates ... GROUP BY key (and ``extra``); without a key, one row."""
    if key is None:
        return select(null().label("key"), *aggregates).group_by(*extra)
    return select(key.label("key"), *aggregates).group_by(key, *extra)


def key_groups(
    group_by: str | None, departments: Sequence[str], own_department: bool = False
) -> Callable[[Any], tuple]:
    """The table's groups that facts with a fine key count in (the total aside): the day
    number, the week number, the stage ("unknown" for none), or each department among the
    touchpoint's ("none" when it had none), or the handoff's own department."""
    if group_by is None:
        return lambda key: ()
    if group_by == "day":
        return lambda key: (day_number(key),)
    if group_by == "week":
        return lambda key: ((day_number(key) + EPOCH_WEEKDAY_SHIFT) // 7,)
    if group_by == "stage":
        return lambda key: (UNKNOWN_STAGE if key is None else key,)
    if own_department:
        return lambda key: (key,)

    @cache
    def among(listed: str) -> tuple:
        # As the department filter reads it: the JSON list names the department.
        found = tuple(d for d in departments if json.dumps(d) in listed)
        return found if listed != "[]" else (NO_DEPARTMENT,)

    return among


def collected(
    rows,
    group_by: str | None,
    departments: Sequence[str],
    add: Callable[[dict[str, Any], Any], None],
    own_department: bool = False,
) -> dict[Any, dict[str, Any]]:
    """Rows of aggregates by fine key, ``add``-ed up into each of their groups and the total."""
    groups_of = key_groups(group_by, departments, own_department)
    out: dict[Any, dict[str, Any]] = {TOTAL: {}}
    for r in rows:
        for group in (*groups_of(r.key), TOTAL):
            add(out.setdefault(group, {}), r)
    return out


def add_counts(agg: dict[str, Any], r) -> None:
    """Add a row's counts and sums (every column but the key) into ``agg``."""
    for name, value in r._mapping.items():
        if name != "key":
            agg[name] = agg.get(name, 0) + int(value)


def day_number(moment: date | datetime) -> int:
    """Days since 1970-01-01 to the day of ``moment``."""
    day = moment.date() if isinstance(moment, datetime) else moment
    return (day - EPOCH_DAY).days
