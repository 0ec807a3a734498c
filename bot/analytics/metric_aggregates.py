"""The metrics' queries: each source asks the database for its aggregates per fine key.

Four sources (touchpoints, handoffs, agents' takeovers, policy moments) each count their
facts in a few set-based queries; ``aggregates`` runs them at once and merges what they
found per group (bot/analytics/metric_groups.py), and the table (bot/analytics/metrics.py) turns
the aggregates into metrics. Apart from the table because this is the SQL, and how the
database is tuned to read a month of the journey.
"""

from __future__ import annotations

import json
import statistics
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from functools import partial
from typing import Any

from sqlalchemy import Integer, and_, case, func, literal, null, or_, select
from sqlalchemy.engine import Connection, Engine

from bot.analytics.filters import Filters, filter_conditions
from bot.analytics.metric_groups import (
    TOTAL,
    add_counts,
    by_key,
    collected,
    key_groups,
    touchpoint_key,
)
from bot.analytics.sla_deadline import epoch_of, sla_deadline
from bot.analytics.sql import connected, epoch, json_lists_overlap, plus_days
from bot.db.schema import handoffs, policy_moments, takeovers, touchpoints
from bot.departments import Department
from bot.policies.moments import met_a_limit

ESCALATION_DEPARTMENT = "support"  # the human agents (departments.yml, bot/agents/)
REPEAT_CONTACT_DAYS = 7
SQLITE_CACHE_KIB = 64 * 1024  # per connection the metrics read on


def aggregates(
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
        partial(touchpoint_counts, filters=filters, group_by=group_by, departments=names),
        partial(
            handoff_counts,
            filters=filters,
            group_by=group_by,
            departments=names,
            sla=departments,
            now=now,
        ),
        partial(takeover_facts, filters=filters, group_by=group_by, departments=names),
        partial(policy_counts, filters=filters, group_by=group_by, departments=names),
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


def touchpoint_counts(
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
    query = by_key(
        touchpoint_key(group_by),
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
    out = collected(conn.execute(query), group_by, departments, add_counts)
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
    an order with it (bot.journey.repeats.came_back_marks). Such rows are reached through an
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
    query = by_key(touchpoint_key(group_by), func.count().label("repeated")).where(
        *filter_conditions(filters), tp.c.came_back.is_(None), came_back
    )
    return collected(conn.execute(query), group_by, departments, add_counts)


def handoff_counts(
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
    key = touchpoint_key(group_by, own=h.c.department)
    times = select(
        *([] if key is None else [key.label("key")]),
        h.c.department,
        epoch(h.c.created_at).label("created"),
        epoch(answered_at).label("answered"),
    )
    times = times.select_from(h.join(tp, tp.c.id == h.c.touchpoint_id))
    times = _materialized(conn, times.where(*_handoff_conditions(filters)).cte("handoff_times"))
    t = times.c
    deadline = sla_deadline(t.created, t.department, sla)
    deadlines = select(
        *([] if key is None else [t.key]),
        t.department,
        t.answered,
        deadline.label("deadline"),
    )
    d = _materialized(conn, deadlines.cte("handoff_deadlines")).c
    fact_key = None if key is None else d.key
    query = by_key(
        fact_key,
        d.department,
        func.count().label("n"),
        _sum(_flag(or_(d.answered.isnot(None), d.deadline < epoch_of(now)))).label("decided"),
        _sum(_flag(and_(d.answered.isnot(None), d.answered <= d.deadline))).label("met"),
        extra=(d.department,),
    )

    def add(agg: dict[str, Any], r) -> None:
        by_department = agg.setdefault("handoffs_by_department", {})
        by_department[r.department] = by_department.get(r.department, 0) + int(r.n)
        agg["sla_decided"] = agg.get("sla_decided", 0) + int(r.decided)
        agg["sla_met"] = agg.get("sla_met", 0) + int(r.met)

    return collected(conn.execute(query), group_by, departments, add, own_department=True)


def takeover_facts(
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
    key = touchpoint_key(group_by)
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
    groups_of = key_groups(group_by, departments)
    pickup_groups_of = key_groups(group_by, departments, own_department=True)
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


def policy_counts(
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
        by_key(
            touchpoint_key(group_by),
            func.count().label("policy_moments"),
            _sum(_flag(moments.c.chosen.isnot(None))).label("alternatives_taken"),
        )
        .select_from(moments.join(tp, tp.c.id == moments.c.touchpoint_id))
        .where(*filter_conditions(filters, window_by_index=False))
    )
    return collected(conn.execute(query), group_by, departments, add_counts)


def _handoff_conditions(filters: Filters) -> list:
    """The filters on a handoff's touchpoint, and on the handoff's own department."""
    out = filter_conditions(filters, window_by_index=False)
    if filters.since is not None:  # implied (a handoff comes after its session's start)
        out.append(handoffs.c.created_at >= filters.since)
    if filters.department:
        out.append(handoffs.c.department == filters.department)
    return out


def _flag(condition):
    """1 where ``condition`` holds, else 0."""
    return case((condition, 1), else_=0)


def _sum(value):
    """SUM that is 0, not NULL, over no rows, and an integer on both databases."""
    return func.coalesce(func.sum(value), 0).cast(Integer)


def total_of(source, bind: Engine | Connection, filters: Filters, **extra) -> dict[str, Any]:
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
