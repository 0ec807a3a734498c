"""CX metrics over the journey store, by day, week, journey stage or department.

Every metric is about the conversations (touchpoints) that *started* in the chosen window
and match the filters; handoffs, agents' takeovers and policy moments count with the
conversation session they belong to. Each metric is defined in one sentence in
``METRICS`` (the README quotes them), computed by the database in a few set-based
queries, and read through one public function each. ``metrics_table`` is what the CX
review page, the CSV export and ``python -m bot report`` all show, so they agree by
construction.
"""

from __future__ import annotations

import calendar
import json
import statistics
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time, timedelta
from functools import cache, partial
from typing import Any

from sqlalchemy import (
    BigInteger,
    Integer,
    and_,
    case,
    cast,
    func,
    literal,
    null,
    or_,
    select,
)
from sqlalchemy.engine import Connection, Engine

from bot.departments import WEEKDAYS, Department, load_departments
from bot.journey.schema import handoffs, policy_moments, takeovers, touchpoints
from bot.policies.moments import met_a_limit
from bot.review.sql import (
    EPOCH_WEEKDAY_SHIFT,
    SECONDS_PER_DAY,
    connected,
    day_of,
    epoch,
    json_lists_overlap,
    plus_days,
    unindexed,
)
from bot.routing import STAGES

GROUPINGS = ("day", "week", "stage", "department")
UNKNOWN_STAGE = "unknown"  # touchpoints whose stage was never known (no need, no customer)
NO_DEPARTMENT = "none"  # touchpoints that raised no need any department owns
ESCALATION_DEPARTMENT = "support"  # the human agents (departments.yml, bot/agents/)
REPEAT_CONTACT_DAYS = 7
TOTAL = "total"
PROACTIVE_CHANNEL = "proactive"  # JourneyStore.record_proactive
SQLITE_CACHE_KIB = 64 * 1024  # per connection the metrics read on

_EPOCH_DAY = date(1970, 1, 1)
_EPOCH_MONDAY = date(1969, 12, 29)  # the Monday of the week of 1970-01-01


@dataclass(frozen=True)
class Metric:
    """One column of the metrics table: its key, how it is shown, and what it means."""

    key: str
    title: str  # the column heading on the page and in the terminal
    kind: str  # count | rate | score | minutes
    definition: str  # one sentence, quoted in the README


METRICS = (
    Metric(
        "conversations",
        "conversations",
        "count",
        "Conversations: the touchpoints (one per conversation session) that started in the "
        "window and match the filters.",
    ),
    Metric(
        "self_service_rate",
        "self-served",
        "rate",
        "Self-service rate: of the conversations that have ended, the share the assistant "
        "resolved alone (outcome self_served: it answered at least one need, with no "
        "handoff and no person; a chat of only small talk, out-of-scope questions, "
        "fallbacks or unanswered turns solved nothing and is abandoned).",
    ),
    Metric(
        "escalation_rate",
        "escalated",
        "rate",
        "Escalation rate: of the conversations that have ended, the share brought to a "
        "support agent (outcome escalated, or a need handed to support and since resolved).",
    ),
    Metric(
        "abandonment_rate",
        "abandoned",
        "rate",
        "Abandonment: of the conversations that have ended, the share the customer left "
        "before anything was resolved (outcome abandoned: set when the session expires "
        "without a goodbye, or at the goodbye of a chat that raised no need).",
    ),
    Metric(
        "handoffs",
        "handoffs",
        "count",
        "Handoffs per department: the handoffs made in those conversations, in total and "
        "for each department they went to.",
    ),
    Metric(
        "rating_assistant",
        "rating bot",
        "score",
        "Rating from the assistant: the mean of customers' own ratings (1-5) of "
        "conversations no agent took over.",
    ),
    Metric(
        "rating_agents",
        "rating agent",
        "score",
        "Rating from agents: the mean of customers' own ratings (1-5) of conversations a "
        "support agent took over.",
    ),
    Metric(
        "effort_score",
        "effort",
        "score",
        "Effort score: the mean answer (1-5, 5 = very easy) to the customer-effort "
        'question "how easy was it to get this sorted?", over the conversations that '
        "answered it.",
    ),
    Metric(
        "repeat_contact_rate",
        "repeat 7d",
        "rate",
        "Repeat contact within 7 days: of the conversations that raised a need or named an "
        "order, the share the same customer followed with another conversation about one of "
        "the same needs or orders within 7 days of its start (first-contact resolution is "
        "one minus this).",
    ),
    Metric(
        "median_pickup_minutes",
        "pickup min",
        "minutes",
        "Median time to agent pickup: the median, in minutes, from a handoff to support to "
        "the first time an agent took that conversation over, over the handoffs picked up.",
    ),
    Metric(
        "sla_met_rate",
        "in SLA",
        "rate",
        "Handoffs acknowledged within their service level: of the handoffs whose deadline "
        "has passed or that were answered, the share acknowledged (or resolved) by the "
        "deadline promised to the customer, the department's sla_hours from the handoff, or "
        "from the team's next opening when it came in outside working hours.",
    ),
    Metric(
        "policy_moments",
        "policy",
        "count",
        "Policy moments: the requests in those conversations that ran into a policy limit "
        "and were offered alternatives instead.",
    ),
    Metric(
        "alternative_taken_rate",
        "alt taken",
        "rate",
        "Alternative taken: of those policy moments, the share where the customer took one "
        "of the alternatives offered.",
    ),
)
DEFINITIONS = {m.key: m.definition for m in METRICS}


@dataclass(frozen=True)
class Filters:
    """Which conversations a metric looks at: a window on their start and their attributes.

    ``since`` is inclusive and ``until`` exclusive; None leaves that side open. The
    department filter keeps conversations that raised a need of that department (and, for
    the handoff metrics, that department's handoffs only); ``stage="unknown"`` and
    ``department="none"`` select touchpoints without one.
    """

    since: datetime | None = None
    until: datetime | None = None
    channel: str | None = None
    stage: str | None = None
    department: str | None = None
    outcome: str | None = None
    need: str | None = None
    customer_id: str | None = None


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


def conversations(bind: Engine | Connection, filters: Filters = Filters()) -> int:
    """How many conversations started in the window (see ``DEFINITIONS``)."""
    return _values(_total(_touchpoint_counts, bind, filters))["conversations"]


def self_service_rate(bind: Engine | Connection, filters: Filters = Filters()) -> float | None:
    """The share of ended conversations the assistant resolved alone; None without any."""
    return _values(_total(_touchpoint_counts, bind, filters))["self_service_rate"]


def escalation_rate(bind: Engine | Connection, filters: Filters = Filters()) -> float | None:
    """The share of ended conversations brought to a support agent; None without any."""
    return _values(_total(_touchpoint_counts, bind, filters))["escalation_rate"]


def abandonment_rate(bind: Engine | Connection, filters: Filters = Filters()) -> float | None:
    """The share of ended conversations the customer abandoned; None without any."""
    return _values(_total(_touchpoint_counts, bind, filters))["abandonment_rate"]


def handoffs_per_department(
    bind: Engine | Connection, filters: Filters = Filters()
) -> dict[str, int]:
    """Handoffs made in the window's conversations, by department (only those with any)."""
    agg = _total(_handoff_counts, bind, filters, sla={}, now=datetime.now())
    return dict(sorted(_values(agg)["handoffs_by_department"].items()))


def ratings(bind: Engine | Connection, filters: Filters = Filters()) -> dict[str, float | None]:
    """Mean customer rating of conversations the assistant handled alone vs. an agent took.

    Returns ``{"assistant": ..., "agents": ...}``; None where nothing was rated.
    """
    agg = {**_total(_touchpoint_counts, bind, filters), **_total(_takeover_facts, bind, filters)}
    values = _values(agg)
    return {"assistant": values["rating_assistant"], "agents": values["rating_agents"]}


def effort_score(bind: Engine | Connection, filters: Filters = Filters()) -> float | None:
    """The mean customer-effort answer (1-5, 5 = very easy); None when nobody answered."""
    return _values(_total(_touchpoint_counts, bind, filters))["effort_score"]


def repeat_contact_rate(bind: Engine | Connection, filters: Filters = Filters()) -> float | None:
    """The share of conversations followed within 7 days by another about the same thing."""
    return _values(_total(_touchpoint_counts, bind, filters))["repeat_contact_rate"]


def first_contact_resolution(
    bind: Engine | Connection, filters: Filters = Filters()
) -> float | None:
    """One minus the repeat-contact rate: conversations not followed by another about it."""
    rate = repeat_contact_rate(bind, filters)
    return None if rate is None else 1 - rate


def median_pickup_minutes(bind: Engine | Connection, filters: Filters = Filters()) -> float | None:
    """Median minutes from a handoff to an agent's first takeover of it; None if none."""
    return _values(_total(_takeover_facts, bind, filters))["median_pickup_minutes"]


def sla_met_rate(
    bind: Engine | Connection,
    filters: Filters = Filters(),
    departments: Mapping[str, Department] | None = None,
    now: datetime | None = None,
) -> float | None:
    """The share of decided handoffs acknowledged by their promised deadline; None if none."""
    sla = load_departments() if departments is None else departments
    agg = _total(_handoff_counts, bind, filters, sla=sla, now=now or datetime.now())
    return _values(agg)["sla_met_rate"]


def policy_moment_count(bind: Engine | Connection, filters: Filters = Filters()) -> int:
    """How many policy moments the window's conversations had."""
    return _values(_total(_policy_counts, bind, filters))["policy_moments"]


def alternative_taken_rate(bind: Engine | Connection, filters: Filters = Filters()) -> float | None:
    """The share of policy moments where the customer took an alternative; None if none."""
    return _values(_total(_policy_counts, bind, filters))["alternative_taken_rate"]


# -- the table the page, the CSV and the CLI show ----------------------------------------------


def metrics_table(
    bind: Engine | Connection,
    since: datetime,
    until: datetime | None = None,
    group_by: str = "day",
    filters: Filters = Filters(),
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
    grouped, total = _aggregates(bind, filters, group_by, departments, now)
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
        first, last = _day_number(since), _day_number(until - timedelta(microseconds=1))
        return [(d, (_EPOCH_DAY + timedelta(days=d)).isoformat()) for d in range(first, last + 1)]
    if group_by == "week":
        first = (_day_number(since) + EPOCH_WEEKDAY_SHIFT) // 7
        last = (_day_number(until - timedelta(microseconds=1)) + EPOCH_WEEKDAY_SHIFT) // 7
        return [(w, _week_label(w)) for w in range(first, last + 1)]
    if group_by == "stage":
        extra = sorted(k for k in found if k not in STAGES and k != UNKNOWN_STAGE)
        tail = [UNKNOWN_STAGE] if UNKNOWN_STAGE in found else []
        return [(s, s) for s in (*STAGES, *extra, *tail)]
    extra = sorted(k for k in found if k not in departments and k != NO_DEPARTMENT)
    return [(d, d) for d in (*departments, *extra, NO_DEPARTMENT)]


def _day_number(moment: date | datetime) -> int:
    """Days since 1970-01-01 to the day of ``moment``."""
    day = moment.date() if isinstance(moment, datetime) else moment
    return (day - _EPOCH_DAY).days


def _week_label(week: int) -> str:
    monday = _EPOCH_MONDAY + timedelta(weeks=week)
    year, number, _ = monday.isocalendar()
    return f"{year}-W{number:02d}"


# -- the queries -----------------------------------------------------------------------------
#
# Each source asks the database for its aggregates grouped by one "fine key" of the facts it
# counts (touchpoints, handoffs, pickups, policy moments): the day a touchpoint started, its
# stage, or its list of departments (a handoff's own department for the handoff metrics).
# Python then adds each fine key's aggregates into the groups of the table it belongs to
# (``_groups_of``: a day's into its week, a department list's into each department) and into
# the total. One pass over the facts, no second one for the total; a touchpoint counts once
# in the total even when it counts under two departments.


def _aggregates(
    bind: Engine | Connection,
    filters: Filters,
    group_by: str | None,
    departments: Mapping[str, Department],
    now: datetime,
) -> tuple[dict[Any, dict[str, Any]], dict[str, Any]]:
    """Every source's aggregates, merged: ({group key: {name: value}}, the total's).

    Given an engine, the sources run at once, each on its own connection (SQLite and
    PostgreSQL both answer several readers in parallel); given a connection, one by one.
    """
    names = tuple(departments)
    sources = [  # the slowest first
        partial(_touchpoint_counts, filters=filters, group_by=group_by, departments=names),
        partial(
            _handoff_counts,
            filters=filters,
            group_by=group_by,
            departments=names,
            sla=departments,
            now=now,
        ),
        partial(_takeover_facts, filters=filters, group_by=group_by, departments=names),
        partial(_policy_counts, filters=filters, group_by=group_by, departments=names),
    ]
    if isinstance(bind, Connection):
        _tuned_for_reports(bind)
        parts = [source(bind) for source in sources]
    else:
        with ThreadPoolExecutor(max_workers=len(sources)) as pool:
            parts = list(pool.map(lambda source: _on_own_connection(bind, source), sources))
    merged: dict[Any, dict[str, Any]] = {}
    for part in parts:
        for key, values in part.items():
            merged.setdefault(key, {}).update(values)
    total = merged.pop(TOTAL, {})
    return merged, total


def _on_own_connection(engine: Engine, source: Callable[[Connection], dict]) -> dict:
    with engine.connect() as conn:
        _tuned_for_reports(conn)
        return source(conn)


def _touchpoint_counts(
    conn: Connection, filters: Filters, group_by: str | None, departments: Sequence[str]
) -> dict[Any, dict[str, Any]]:
    """Conversations, ended ones by outcome, ratings, effort answers and repeat contacts,
    per group."""
    tp = touchpoints
    ended = tp.c.ended_at.isnot(None)
    escalated = or_(
        tp.c.outcome == "escalated",
        tp.c.departments.contains(json.dumps(ESCALATION_DEPARTMENT), autoescape=True),
    )
    query = _by_key(
        _touchpoint_key(group_by),
        func.count().label("conversations"),
        _sum(_flag(ended)).label("ended"),
        _sum(_flag(and_(ended, tp.c.outcome == "self_served"))).label("self_served"),
        _sum(_flag(and_(ended, escalated))).label("escalated"),
        _sum(_flag(and_(ended, tp.c.outcome == "abandoned"))).label("abandoned"),
        _sum(tp.c.rating).label("rating_sum"),
        func.count(tp.c.rating).label("ratings"),
        _sum(tp.c.effort).label("effort_sum"),
        func.count(tp.c.effort).label("effort_answers"),
        _sum(_flag(or_(tp.c.needs != "[]", tp.c.order_ids != "[]"))).label("about_something"),
        # Marked by the journey store as it writes (and by migration 0006 for older rows).
        _sum(_flag(tp.c.came_back.is_(True))).label("repeated"),
    ).where(*filter_conditions(filters))
    out = _collected(conn.execute(query), group_by, departments, _add_counts)
    for key, values in _unmarked_repeats(conn, filters, group_by, departments).items():
        agg = out.setdefault(key, {})
        agg["repeated"] = agg.get("repeated", 0) + values.get("repeated", 0)
    return out


def _unmarked_repeats(
    conn: Connection, filters: Filters, group_by: str | None, departments: Sequence[str]
) -> dict[Any, dict[str, Any]]:
    """Repeat contacts among touchpoints never marked (``came_back`` NULL: written by other
    means than the journey store), worked out here by the same rule, per group.

    A later touchpoint of the customer's, at most 7 days after its start, shares a need or
    an order with it (bot.journey.store.came_back_marks). Such rows are reached through an
    index of their own, so where there are none this costs nothing.
    """
    tp, later = touchpoints, touchpoints.alias("later")
    came_back = (
        select(literal(1))
        .where(
            later.c.customer_id == tp.c.customer_id,
            later.c.started_at > tp.c.started_at,
            later.c.started_at <= plus_days(tp.c.started_at, literal(REPEAT_CONTACT_DAYS)),
            or_(
                json_lists_overlap(tp.c.needs, later.c.needs),
                json_lists_overlap(tp.c.order_ids, later.c.order_ids),
            ),
        )
        .correlate(tp)
        .exists()
    )
    query = _by_key(_touchpoint_key(group_by), func.count().label("repeated")).where(
        *filter_conditions(filters), tp.c.came_back.is_(None), came_back
    )
    return _collected(conn.execute(query), group_by, departments, _add_counts)


def _handoff_counts(
    conn: Connection,
    filters: Filters,
    group_by: str | None,
    departments: Sequence[str],
    sla: Mapping[str, Department],
    now: datetime,
) -> dict[Any, dict[str, Any]]:
    """Handoffs per department, and how many met their service level, per group."""
    tp, h = touchpoints, handoffs
    answered_at = func.coalesce(h.c.acknowledged_at, h.c.resolved_at)
    # Three steps, each computed once per handoff: times as epoch seconds, then the
    # deadline (a CASE reading "created" many times), then whether it was met.
    key = _touchpoint_key(group_by, own=h.c.department)
    times = select(
        *([] if key is None else [key.label("key")]),
        h.c.department,
        epoch(h.c.created_at).label("created"),
        epoch(answered_at).label("answered"),
    )
    times = times.select_from(h.join(tp, tp.c.id == h.c.touchpoint_id))
    times = _materialized(conn, times.where(*_handoff_conditions(filters)).cte("handoff_times"))
    t = times.c
    deadline = _sla_deadline(t.created, t.department, sla)
    deadlines = select(
        *([] if key is None else [t.key]),
        t.department,
        t.answered,
        deadline.label("deadline"),
    )
    d = _materialized(conn, deadlines.cte("handoff_deadlines")).c
    fact_key = None if key is None else d.key
    query = _by_key(
        fact_key,
        d.department,
        func.count().label("n"),
        _sum(_flag(or_(d.answered.isnot(None), d.deadline < _epoch_of(now)))).label("decided"),
        _sum(_flag(and_(d.answered.isnot(None), d.answered <= d.deadline))).label("met"),
        extra=(d.department,),
    )

    def add(agg: dict[str, Any], r) -> None:
        by_department = agg.setdefault("handoffs_by_department", {})
        by_department[r.department] = by_department.get(r.department, 0) + int(r.n)
        agg["sla_decided"] = agg.get("sla_decided", 0) + int(r.decided)
        agg["sla_met"] = agg.get("sla_met", 0) + int(r.met)

    return _collected(conn.execute(query), group_by, departments, add, own_department=True)


def _takeover_facts(
    conn: Connection, filters: Filters, group_by: str | None, departments: Sequence[str]
) -> dict[Any, dict[str, Any]]:
    """From the agents' takeovers: the median wait from a handoff to its first takeover, and
    customers' ratings of conversations an agent took over, per group.

    Takeovers are few (a few thousand a month), so they come back one by one, each handoff's
    in the order they happened, and are counted here: the first of a handoff's gives its
    wait; a conversation taken over (once or more) with a rating gives an agent's rating.
    """
    tp, h, t = touchpoints, handoffs, takeovers
    conditions = filter_conditions(filters, window_by_index=False)
    if filters.since is not None:
        # Implied (a handoff comes after its session's start, a takeover after its handoff),
        # and they let each table's time index help.
        conditions += [h.c.created_at >= filters.since, t.c.started_at >= filters.since]
    # Pickups count the handoffs to the department filtered (ratings, any handoff's).
    picked = literal(1) if not filters.department else _flag(h.c.department == filters.department)
    key = _touchpoint_key(group_by)
    query = (
        select(
            t.c.handoff_id,
            h.c.department,
            (epoch(t.c.started_at) - epoch(h.c.created_at)).label("wait"),
            picked.label("counted"),
            tp.c.id.label("touchpoint_id"),
            tp.c.rating,
            (null() if key is None else key).label("key"),
        )
        .select_from(t.join(h, h.c.id == t.c.handoff_id).join(tp, tp.c.id == h.c.touchpoint_id))
        .where(*conditions)
        .order_by(t.c.handoff_id, t.c.started_at, t.c.id)
    )
    groups_of = _groups_of(group_by, departments)
    pickup_groups_of = _groups_of(group_by, departments, own_department=True)
    by_department = group_by == "department"
    waits: dict[Any, list[int]] = {}
    rated: dict[int, tuple[Any, int]] = {}
    previous = None
    for handoff, department, wait, counted, touchpoint, rating, key in conn.execute(query):
        if handoff != previous and counted:  # a handoff's first takeover
            waits.setdefault(department if by_department else key, []).append(wait)
        previous = handoff
        if rating is not None:  # a conversation taken over twice counts once
            rated[touchpoint] = (key, rating)
    out: dict[Any, dict[str, Any]] = {}
    everyone: list[int] = []
    for key, found in waits.items():
        everyone += found
        for group in pickup_groups_of(key):
            out.setdefault(group, {}).setdefault("waits", []).extend(found)
    if everyone:
        out[TOTAL] = {"waits": everyone}
    for agg in out.values():
        agg["median_pickup_minutes"] = statistics.median(agg.pop("waits")) / 60
    for key, rating in rated.values():
        for group in (*groups_of(key), TOTAL):
            agg = out.setdefault(group, {})
            agg["agent_rating_sum"] = agg.get("agent_rating_sum", 0) + int(rating)
            agg["agent_ratings"] = agg.get("agent_ratings", 0) + 1
    return out


def _policy_counts(
    conn: Connection, filters: Filters, group_by: str | None, departments: Sequence[str]
) -> dict[Any, dict[str, Any]]:
    """Policy moments and those where an alternative was taken, per group."""
    tp, pm = touchpoints, policy_moments
    later = touchpoints.alias("later")
    # A moment belongs to the newest session of its conversation that had started by then.
    session = (
        select(later.c.id)
        .where(
            later.c.conversation_id == pm.c.conversation_id,
            later.c.started_at <= pm.c.created_at,
        )
        .order_by(later.c.started_at.desc(), later.c.id.desc())
        .limit(1)
        .scalar_subquery()
    )
    # Limits met, not the yes/no question before a change (bot/support/confirm.py).
    moments = select(pm.c.chosen, session.label("touchpoint_id")).where(met_a_limit(pm))
    if filters.since is not None:  # implied (a moment comes after its session's start)
        moments = moments.where(pm.c.created_at >= filters.since)
    # Materialised: each moment's session is looked up once, then joined by primary key.
    moments = _materialized(conn, moments.cte("moments"))
    query = (
        _by_key(
            _touchpoint_key(group_by),
            func.count().label("policy_moments"),
            _sum(_flag(moments.c.chosen.isnot(None))).label("alternatives_taken"),
        )
        .select_from(moments.join(tp, tp.c.id == moments.c.touchpoint_id))
        .where(*filter_conditions(filters, window_by_index=False))
    )
    return _collected(conn.execute(query), group_by, departments, _add_counts)


def _touchpoint_key(group_by: str | None, own=None):
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


def _by_key(key, *aggregates, extra: Sequence = ()):
    """SELECT key, aggregates ... GROUP BY key (and ``extra``); without a key, one row."""
    if key is None:
        return select(null().label("key"), *aggregates).group_by(*extra)
    return select(key.label("key"), *aggregates).group_by(key, *extra)


def _groups_of(
    group_by: str | None, departments: Sequence[str], own_department: bool = False
) -> Callable[[Any], tuple]:
    """The table's groups that facts with a fine key count in (the total aside): the day
    number, the week number, the stage ("unknown" for none), or each department among the
    touchpoint's ("none" when it had none), or the handoff's own department."""
    if group_by is None:
        return lambda key: ()
    if group_by == "day":
        return lambda key: (_day_number(key),)
    if group_by == "week":
        return lambda key: ((_day_number(key) + EPOCH_WEEKDAY_SHIFT) // 7,)
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


def _collected(
    rows,
    group_by: str | None,
    departments: Sequence[str],
    add: Callable[[dict[str, Any], Any], None],
    own_department: bool = False,
) -> dict[Any, dict[str, Any]]:
    """Rows of aggregates by fine key, ``add``-ed up into each of their groups and the total."""
    groups_of = _groups_of(group_by, departments, own_department)
    out: dict[Any, dict[str, Any]] = {TOTAL: {}}
    for r in rows:
        for group in (*groups_of(r.key), TOTAL):
            add(out.setdefault(group, {}), r)
    return out


def _add_counts(agg: dict[str, Any], r) -> None:
    """Add a row's counts and sums (every column but the key) into ``agg``."""
    for name, value in r._mapping.items():
        if name != "key":
            agg[name] = agg.get(name, 0) + int(value)


def filter_conditions(filters: Filters, window_by_index: bool = True) -> list:
    """The filters as conditions on touchpoints.

    Without ``window_by_index``, the window on started_at is no index condition on SQLite,
    for queries that start from their own table's time index and then look touchpoints up.
    """
    tp = touchpoints
    started_at = tp.c.started_at if window_by_index else unindexed(tp.c.started_at)
    out = []
    if filters.since is not None:
        out.append(started_at >= filters.since)
    if filters.until is not None:
        out.append(started_at < filters.until)
    if filters.channel:
        out.append(tp.c.channel == filters.channel)
    else:
        # A department's news told first is a touchpoint but not a conversation: it would
        # count as self-served with no message. Its metrics are the "proactive" channel's.
        out.append(tp.c.channel != PROACTIVE_CHANNEL)
    if filters.stage:
        out.append(
            tp.c.stage.is_(None) if filters.stage == UNKNOWN_STAGE else tp.c.stage == filters.stage
        )
    if filters.outcome:
        out.append(tp.c.outcome == filters.outcome)
    if filters.department:
        out.append(
            tp.c.departments == "[]"
            if filters.department == NO_DEPARTMENT
            else tp.c.departments.contains(json.dumps(filters.department), autoescape=True)
        )
    if filters.need:
        out.append(tp.c.needs.contains(json.dumps(filters.need), autoescape=True))
    if filters.customer_id:
        out.append(tp.c.customer_id == filters.customer_id)
    return out


def _handoff_conditions(filters: Filters) -> list:
    """The filters on a handoff's touchpoint, and on the handoff's own department."""
    out = filter_conditions(filters, window_by_index=False)
    if filters.since is not None:  # implied (a handoff comes after its session's start)
        out.append(handoffs.c.created_at >= filters.since)
    if filters.department:
        out.append(handoffs.c.department == filters.department)
    return out


def _sla_deadline(created, department, departments: Mapping[str, Department]):
    """When a handoff was due to be acknowledged, in epoch seconds, as promised to the customer.

    The department's sla_hours from the handoff when the team was at work, else from its
    next opening (``Department.promise``): a CASE over department, weekday and time of day.
    """
    day_start = created - created % SECONDS_PER_DAY
    time_of_day = created % SECONDS_PER_DAY
    weekday = (created / SECONDS_PER_DAY + EPOCH_WEEKDAY_SHIFT) % 7
    branches = {}
    for name, d in departments.items():
        working = [i for i, day in enumerate(WEEKDAYS) if day in d.days]
        if not working:
            continue
        sla = d.sla_hours * 3600
        start, end = _seconds(d.start), _seconds(d.end)
        # After hours or on a day off: the next working day's opening, this many days ahead.
        ahead = {wd: next(k for k in range(1, 8) if (wd + k) % 7 in working) for wd in range(7)}
        branches[name] = case(
            (and_(weekday.in_(working), time_of_day < start), day_start + (start + sla)),
            (and_(weekday.in_(working), time_of_day < end), created + sla),
            else_=day_start
            + case(
                {wd: k * SECONDS_PER_DAY + start + sla for wd, k in ahead.items()},
                value=weekday,
            ),
        )
    if not branches:
        return cast(null(), BigInteger)  # typed, for PostgreSQL to compare with numbers
    return case(branches, value=department, else_=null())


def _seconds(t: time) -> int:
    return t.hour * 3600 + t.minute * 60 + t.second


def _epoch_of(moment: datetime) -> int:
    """A naive datetime as epoch seconds on the same clock as ``sql.epoch``."""
    return calendar.timegm(moment.timetuple())


def _flag(condition):
    """1 where ``condition`` holds, else 0."""
    return case((condition, 1), else_=0)


def _sum(value):
    """SUM that is 0, not NULL, over no rows, and an integer on both databases."""
    return func.coalesce(func.sum(value), 0).cast(Integer)


def _ratio(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def _mean(total: int, count: int) -> float | None:
    return total / count if count else None


def _round(value: float | None, places: int) -> float | None:
    return None if value is None else round(value, places)


def _total(source, bind: Engine | Connection, filters: Filters, **extra) -> dict[str, Any]:
    """One source's aggregates over all the filtered conversations."""
    with connected(bind) as conn:
        _tuned_for_reports(conn)
        return source(conn, filters, None, (), **extra).get(TOTAL, {})


def _materialized(conn: Connection, cte):
    """``cte`` computed once, before the query that reads it (PostgreSQL, SQLite >= 3.35)."""
    dbapi = conn.dialect.dbapi
    if conn.dialect.name == "sqlite" and getattr(dbapi, "sqlite_version_info", (0,)) < (3, 35):
        return cte  # older SQLite has no hint; it materialises CTEs of this shape anyway
    return cte.prefix_with("MATERIALIZED")


def _tuned_for_reports(conn: Connection) -> None:
    """Settings for reading a month of the journey at once, on this connection.

    PostgreSQL, for this transaction: no JIT compilation (a lookup per conversation makes
    cost estimates cross its threshold, and compiling takes longer than running, over a
    second on a million touchpoints); room to group (with the default 4 MB, grouping a
    month by day sorts on disk instead of hashing: PostgreSQL can't tell how few days
    there are); and index reads priced as what they are for a month of the journey, rows
    in memory or on SSD (at the default random_page_cost of 4, for spinning disks, it reads
    the whole table to find one month: 3 times slower). SQLite: a page cache that holds a
    month of touchpoints (tens of MB; the default 2 MB makes every query read them again).
    """
    if conn.dialect.name == "postgresql":
        conn.exec_driver_sql("SET LOCAL jit = off")
        conn.exec_driver_sql("SET LOCAL work_mem = '32MB'")
        conn.exec_driver_sql("SET LOCAL random_page_cost = 1.1")
    elif conn.dialect.name == "sqlite":
        conn.exec_driver_sql(f"PRAGMA cache_size = -{SQLITE_CACHE_KIB}")
