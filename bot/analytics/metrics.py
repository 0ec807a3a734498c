"""CX metrics over the journey store, by day, week, journey stage or department.

Every metric is about the conversations (touchpoints) that *started* in the chosen window
and match the filters; handoffs, agents' takeovers and policy moments count with the
conversation session they belong to. Each metric is defined in one sentence in
``METRICS`` (bot/analytics/metric_definitions.py; the README quotes them), computed by the
database in a few set-based queries (bot/analytics/metric_aggregates.py), and read through one
public function each. ``metrics_table`` is what the CX review page, the CSV export and
``python -m bot report`` all show, so they agree by construction.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy.engine import Connection, Engine

from bot.analytics.filters import NO_DEPARTMENT, UNKNOWN_STAGE, Filters
from bot.analytics.metric_aggregates import (
    aggregates,
    handoff_counts,
    policy_counts,
    takeover_facts,
    total_of,
    touchpoint_counts,
)
from bot.analytics.metric_definitions import METRICS
from bot.analytics.metric_groups import EPOCH_DAY, TOTAL, day_number
from bot.analytics.sql import EPOCH_WEEKDAY_SHIFT
from bot.departments import Department, load_departments
from bot.routing import STAGES

GROUPINGS = ("day", "week", "stage", "department")
_EPOCH_MONDAY = date(1969, 12, 29)  # the Monday of the week of 1970-01-01
_UNFILTERED = Filters()  # the default of every metric (frozen, so one can be shared)


@dataclass(frozen=True)
class MetricsTable:
    """Rows of metrics, one per day, week, stage or department, and the total row.

    ``columns`` are the keys of each row in order: "group" first, then the metrics, with
    the per-department handoff counts after "handoffs" as ``handoffs_<department>``.
    """

    group_by: str
    since: datetime
    until: datetime
    columns: tuple[str, ...]
    rows: list[dict[str, Any]]
    total: dict[str, Any]
    departments: tuple[str, ...] = field(default_factory=tuple)
    # What each rate and mean is taken over, by group label ("total" too): {column: n}.
    # Shown beside the value on the page ("50.0%" of 2); not part of the CSV or JSON.
    bases: dict[str, dict[str, int]] = field(default_factory=dict)

    def titles(self) -> dict[str, str]:
        """The column headings, by key."""
        by_key = {m.key: m.title for m in METRICS}
        out = {"group": self.group_by}
        for key in self.columns[1:]:
            out[key] = by_key.get(key) or key.removeprefix("handoffs_")
        return out

    def kinds(self) -> dict[str, str]:
        """How each column is shown: text, count, rate, score or minutes."""
        by_key = {m.key: m.kind for m in METRICS}
        return {k: "text" if k == "group" else by_key.get(k, "count") for k in self.columns}


# -- one public function per metric ---------------------------------------------------------
# Each reads the same aggregates and formulas (``_values``) as the table's total row.


def conversations(bind: Engine | Connection, filters: Filters = _UNFILTERED) -> int:
    """How many conversations started in the window (see ``DEFINITIONS``)."""
    return _values(total_of(touchpoint_counts, bind, filters))["conversations"]


def self_service_rate(bind: Engine | Connection, filters: Filters = _UNFILTERED) -> float | None:
    """The share of ended conversations the assistant resolved alone; None without any."""
    return _values(total_of(touchpoint_counts, bind, filters))["self_service_rate"]


def escalation_rate(bind: Engine | Connection, filters: Filters = _UNFILTERED) -> float | None:
    """The share of ended conversations brought to a support agent; None without any."""
    return _values(total_of(touchpoint_counts, bind, filters))["escalation_rate"]


def abandonment_rate(bind: Engine | Connection, filters: Filters = _UNFILTERED) -> float | None:
    """The share of ended conversations the customer abandoned; None without any."""
    return _values(total_of(touchpoint_counts, bind, filters))["abandonment_rate"]


def handoffs_per_department(
    bind: Engine | Connection, filters: Filters = _UNFILTERED
) -> dict[str, int]:
    """Handoffs made in the window's conversations, by department (only those with any)."""
    agg = total_of(handoff_counts, bind, filters, sla={}, now=datetime.now())
    return dict(sorted(_values(agg)["handoffs_by_department"].items()))


def ratings(bind: Engine | Connection, filters: Filters = _UNFILTERED) -> dict[str, float | None]:
    """Mean customer rating of conversations the assistant handled alone vs. an agent took.

    Returns ``{"assistant": ..., "agents": ...}``; None where nothing was rated.
    """
    agg = {**total_of(touchpoint_counts, bind, filters), **total_of(takeover_facts, bind, filters)}
    values = _values(agg)
    return {"assistant": values["rating_assistant"], "agents": values["rating_agents"]}


def effort_score(bind: Engine | Connection, filters: Filters = _UNFILTERED) -> float | None:
    """The mean customer-effort answer (1-5, 5 = very easy); None when nobody answered."""
    return _values(total_of(touchpoint_counts, bind, filters))["effort_score"]


def repeat_contact_rate(bind: Engine | Connection, filters: Filters = _UNFILTERED) -> float | None:
    """The share of conversations followed within 7 days by another about the same thing."""
    return _values(total_of(touchpoint_counts, bind, filters))["repeat_contact_rate"]


def first_contact_resolution(
    bind: Engine | Connection, filters: Filters = _UNFILTERED
) -> float | None:
    """One minus the repeat-contact rate: conversations not followed by another about it."""
    rate = repeat_contact_rate(bind, filters)
    return None if rate is None else 1 - rate


def median_pickup_minutes(
    bind: Engine | Connection, filters: Filters = _UNFILTERED
) -> float | None:
    """Median minutes from a handoff to an agent's first takeover of it; None if none."""
    return _values(total_of(takeover_facts, bind, filters))["median_pickup_minutes"]


def sla_met_rate(
    bind: Engine | Connection,
    filters: Filters = _UNFILTERED,
    departments: Mapping[str, Department] | None = None,
    now: datetime | None = None,
) -> float | None:
    """The share of decided handoffs acknowledged by their promised deadline; None if none."""
    sla = load_departments() if departments is None else departments
    agg = total_of(handoff_counts, bind, filters, sla=sla, now=now or datetime.now())
    return _values(agg)["sla_met_rate"]


def policy_moment_count(bind: Engine | Connection, filters: Filters = _UNFILTERED) -> int:
    """How many policy moments the window's conversations had."""
    return _values(total_of(policy_counts, bind, filters))["policy_moments"]


def alternative_taken_rate(
    bind: Engine | Connection, filters: Filters = _UNFILTERED
) -> float | None:
    """The share of policy moments where the customer took an alternative; None if none."""
    return _values(total_of(policy_counts, bind, filters))["alternative_taken_rate"]


# -- the table the page, the CSV and the CLI show ----------------------------------------------


def metrics_table(
    bind: Engine | Connection,
    since: datetime,
    until: datetime | None = None,
    group_by: str = "day",
    filters: Filters = _UNFILTERED,
    *,
    departments: Mapping[str, Department] | None = None,
    now: datetime | None = None,
) -> MetricsTable:
    """Every metric for each day, week, stage or department of ``[since, until)``, and in total.

    Days and weeks without conversations are rows of zeros, so charts have no gaps. Rates
    are fractions rounded to 4 places, scores to 2, minutes to 1.
    """
    if group_by not in GROUPINGS:
        raise ValueError(f"group_by must be one of {GROUPINGS}, got {group_by!r}")
    now = now or datetime.now()
    until = until or now
    departments = load_departments() if departments is None else departments
    names = tuple(departments)
    filters = replace(filters, since=since, until=until)
    grouped, total = aggregates(bind, filters, group_by, departments, now)
    # Departments met in the data but missing from departments.yml still get a column.
    seen = {d for agg in [*grouped.values(), total] for d in agg.get("handoffs_by_department", {})}
    handoff_columns = [*names, *sorted(seen - set(names))]
    columns = ["group"]
    for metric in METRICS:
        columns.append(metric.key)
        if metric.key == "handoffs":
            columns += [f"handoffs_{d}" for d in handoff_columns]
    keys = _group_keys(group_by, since, until, names, grouped)
    rows = [_row(label, grouped.get(key, {}), handoff_columns) for key, label in keys]
    bases = {label: _bases(grouped.get(key, {})) for key, label in keys}
    bases[TOTAL] = _bases(total)
    return MetricsTable(
        group_by=group_by,
        since=since,
        until=until,
        columns=tuple(columns),
        rows=rows,
        total=_row(TOTAL, total, handoff_columns),
        departments=tuple(handoff_columns),
        bases=bases,
    )


def _values(agg: Mapping[str, Any]) -> dict[str, Any]:
    """Every metric from a group's aggregates, unrounded: the formulas live here, once."""
    by_department = agg.get("handoffs_by_department", {})
    ended = agg.get("ended", 0)
    return {
        "conversations": agg.get("conversations", 0),
        "self_service_rate": _ratio(agg.get("self_served", 0), ended),
        "escalation_rate": _ratio(agg.get("escalated", 0), ended),
        "abandonment_rate": _ratio(agg.get("abandoned", 0), ended),
        "handoffs": sum(by_department.values()),
        "handoffs_by_department": dict(by_department),
        "rating_assistant": _mean(
            agg.get("rating_sum", 0) - agg.get("agent_rating_sum", 0),
            agg.get("ratings", 0) - agg.get("agent_ratings", 0),
        ),
        "rating_agents": _mean(agg.get("agent_rating_sum", 0), agg.get("agent_ratings", 0)),
        "effort_score": _mean(agg.get("effort_sum", 0), agg.get("effort_answers", 0)),
        "repeat_contact_rate": _ratio(agg.get("repeated", 0), agg.get("about_something", 0)),
        "median_pickup_minutes": agg.get("median_pickup_minutes"),
        "sla_met_rate": _ratio(agg.get("sla_met", 0), agg.get("sla_decided", 0)),
        "policy_moments": agg.get("policy_moments", 0),
        "alternative_taken_rate": _ratio(
            agg.get("alternatives_taken", 0), agg.get("policy_moments", 0)
        ),
    }


def _bases(agg: Mapping[str, Any]) -> dict[str, int]:
    """How many things each rate and mean of a group is taken over (its n)."""
    ended = agg.get("ended", 0)
    return {
        "self_service_rate": ended,
        "escalation_rate": ended,
        "abandonment_rate": ended,
        "rating_assistant": agg.get("ratings", 0) - agg.get("agent_ratings", 0),
        "rating_agents": agg.get("agent_ratings", 0),
        "effort_score": agg.get("effort_answers", 0),
        "repeat_contact_rate": agg.get("about_something", 0),
        "sla_met_rate": agg.get("sla_decided", 0),
        "alternative_taken_rate": agg.get("policy_moments", 0),
    }


_PLACES = {"rate": 4, "score": 2, "minutes": 1}


def _row(label: str, agg: Mapping[str, Any], departments: Sequence[str]) -> dict[str, Any]:
    """One row of the table: the group's label, then every metric rounded for showing."""
    values = _values(agg)
    row: dict[str, Any] = {"group": label}
    for metric in METRICS:
        value = values[metric.key]
        places = _PLACES.get(metric.kind)
        row[metric.key] = _round(value, places) if places else value
        if metric.key == "handoffs":
            by_department = values["handoffs_by_department"]
            row.update({f"handoffs_{d}": by_department.get(d, 0) for d in departments})
    return row


def _group_keys(
    group_by: str,
    since: datetime,
    until: datetime,
    departments: Sequence[str],
    found: Mapping[Any, Any],
) -> list[tuple[Any, str]]:
    """The table's groups in order, as (key in the query results, label)."""
    if group_by == "day":
        first, last = day_number(since), day_number(until - timedelta(microseconds=1))
        return [(d, (EPOCH_DAY + timedelta(days=d)).isoformat()) for d in range(first, last + 1)]
    if group_by == "week":
        first = (day_number(since) + EPOCH_WEEKDAY_SHIFT) // 7
        last = (day_number(until - timedelta(microseconds=1)) + EPOCH_WEEKDAY_SHIFT) // 7
        return [(w, _week_label(w)) for w in range(first, last + 1)]
    if group_by == "stage":
        extra = sorted(k for k in found if k not in STAGES and k != UNKNOWN_STAGE)
        tail = [UNKNOWN_STAGE] if UNKNOWN_STAGE in found else []
        return [(s, s) for s in (*STAGES, *extra, *tail)]
    extra = sorted(k for k in found if k not in departments and k != NO_DEPARTMENT)
    return [(d, d) for d in (*departments, *extra, NO_DEPARTMENT)]


def _week_label(week: int) -> str:
    monday = _EPOCH_MONDAY + timedelta(weeks=week)
    year, number, _ = monday.isocalendar()
    return f"{year}-W{number:02d}"


def _ratio(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def _mean(total: int, count: int) -> float | None:
    return total / count if count else None


def _round(value: float | None, places: int) -> float | None:
    return None if value is None else round(value, places)
