"""The CX metrics page (``/review``), its CSV download and its JSON API, for analysts.

All three read the same query parameters (``parse_query``) and show one ``MetricsTable``
from ``bot.analytics.metrics.metrics_table``, computed once per request; the CSV and JSON are
``bot.analytics.export``'s, byte for byte what ``python -m bot report`` prints for the same
window and filters, so the page, the downloads and the CLI agree by construction. The page
is server-rendered: a GET form (its URL is shareable), the table with each heading's
definition, and charts as inline SVG (bot/analytics/charts.py). Its one small script only
moves the window choice to "between the dates" when a date is edited; without it the form
works the same.

Parameters (all optional): ``window`` (``7d``, ``30d``, ``4w``... up to now, or ``dates``),
``since`` and ``until`` (``YYYY-MM-DD``, both days included, used when ``window`` is
``dates`` or absent), ``by`` (day, week, stage, department), and the filters ``channel``,
``stage``, ``department`` and ``outcome``. Anything malformed is a 400 saying what to write.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import replace
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

from markupsafe import Markup
from sanic.request import Request
from sanic.response import HTTPResponse, text
from sanic.response import json as json_response

from bot.analytics.charts import Series, bar_chart, line_chart
from bot.analytics.export import as_csv, as_json, cell_text
from bot.analytics.filters import NO_DEPARTMENT, UNKNOWN_STAGE
from bot.analytics.log_filters import CHANNELS
from bot.analytics.metric_definitions import DEFINITIONS, METRICS
from bot.analytics.metrics import GROUPINGS, MetricsTable, metrics_table
from bot.hub.auth import require
from bot.hub.openapi_parts import (
    TO_SIGN_IN,
    error_spec,
    html_spec,
    json_spec,
    schema_ref,
)
from bot.hub.registry import RouteTable
from bot.hub.review import schemas
from bot.hub.review.layout import API, PREFIX, page
from bot.hub.review.metrics_query import (
    DATES,
    QUERY_PARAMETERS,
    QUICK_WINDOWS,
    TIME_GROUPINGS,
    BadQuery,
    MetricsQuery,
    parse_query,
)
from bot.hub.templating import render_fragment
from bot.hub.web import HubError, in_thread
from bot.journey.store import OUTCOMES
from bot.routing import STAGES

CSV_PATH = f"{PREFIX}/metrics.csv"
JSON_PATH = f"{API}/metrics"
EMPTY_SHOWN = "show"  # ?empty=show: every day or week, the empty runs unfolded


# -- how the routes are described (bot/hub/registry.py) ----------------------------------------
_REVIEW = (
    "For a signed-in analyst or admin (the session cookie from /login). Same parameters, "
    "same numbers as the page, the CSV and `python -m bot report`."
)
_BAD_QUERY = "A parameter is malformed (unknown grouping, a date that isn't YYYY-MM-DD, since after until, a window over 400 days...); the message says which."

routes = RouteTable(
    tags=["CX review"],
    schemas=schemas.METRICS_SCHEMAS,
)


@routes.route(
    PREFIX,
    name="review_metrics_page",
    summary="The CX metrics page: table, charts and downloads",
    description=_REVIEW,
    operation_id="reviewMetricsPage",
    parameters=[
        *QUERY_PARAMETERS,
        {
            "name": "empty",
            "in": "query",
            "description": (
                "`show`: every day or week in the table; by default a run of days or "
                "weeks without conversations is folded into its first."
            ),
            "schema": {"type": "string", "enum": [EMPTY_SHOWN]},
        },
    ],
    responses={
        "200": html_spec("The metrics page."),
        "303": TO_SIGN_IN,
        "400": html_spec(_BAD_QUERY),
        "403": html_spec("Signed in with a role other than analyst or admin."),
    },
)
async def metrics_page(request: Request) -> HTTPResponse:
    """The metrics table and its charts for the window and filters in the URL."""
    session = await require(request, "review")
    query, table = await _metrics(request)
    # Off the event loop too: a year by day is some 50 ms of markup, and the console's
    # polls should not wait behind it.
    show_empty = request.args.get("empty") == EMPTY_SHOWN
    body = await in_thread(render, query, table, request.app.ctx.departments, show_empty)
    return page(
        "Metrics", body, request=request, session=session, current=PREFIX, scripts=("metrics.js",)
    )


@routes.route(
    CSV_PATH,
    name="review_metrics_csv",
    summary="The CX metrics as CSV (a download)",
    description=(
        _REVIEW + " One line per group and the total last; rates are fractions, empty "
        "where there was nothing to measure."
    ),
    operation_id="reviewMetricsCsv",
    parameters=QUERY_PARAMETERS,
    responses={
        "200": {
            "description": "The table, as an attachment.",
            "content": {"text/csv": {"schema": {"type": "string"}}},
        },
        "303": TO_SIGN_IN,
        "400": html_spec(_BAD_QUERY),
        "403": html_spec("Signed in with a role other than analyst or admin."),
    },
)
async def metrics_csv(request: Request) -> HTTPResponse:
    """The table as a CSV file, as ``python -m bot report --format csv`` writes it."""
    await require(request, "review")
    query, table = await _metrics(request)
    return text(
        as_csv(table),
        content_type="text/csv; charset=utf-8",
        headers={
            "Content-Disposition": f'attachment; filename="{file_name(query)}.csv"',
            "Cache-Control": "no-store",
            "X-Content-Type-Options": "nosniff",
        },
    )


@routes.route(
    JSON_PATH,
    name="review_metrics_api",
    summary="The CX metrics as JSON",
    description=_REVIEW,
    operation_id="reviewMetrics",
    parameters=QUERY_PARAMETERS,
    responses={
        "200": json_spec("The metrics table.", schema_ref("MetricsTable")),
        "400": error_spec(_BAD_QUERY),
        "401": error_spec("Not signed in."),
        "403": error_spec("Signed in with a role other than analyst or admin."),
    },
)
async def metrics_api(request: Request) -> HTTPResponse:
    """The table as JSON (``python -m bot report --format json``), with the filters used."""
    await require(request, "review")
    query, table = await _metrics(request)
    data = as_json(table)
    data["filters"] = query.filter_values()
    return json_response(data, headers={"Cache-Control": "no-store"})


async def _metrics(request: Request) -> tuple[MetricsQuery, MetricsTable]:
    """The request's query, and its table: one ``metrics_table`` call, off the event loop."""
    ctx = request.app.ctx
    now = datetime.fromtimestamp(ctx.settings.clock()).replace(microsecond=0)
    args = {name: request.args.get(name) for name in PARAMETERS}
    try:
        query = parse_query(args, now, ctx.departments)
    except BadQuery as e:
        raise HubError(400, str(e)) from None
    table = await in_thread(
        metrics_table,
        ctx.engine,
        query.since,
        query.until,
        query.group_by,
        query.filters(),
        departments=ctx.departments,  # already loaded: no YAML read per request
        now=now,
    )
    return query, table


def file_name(query: MetricsQuery) -> str:
    """A download's name that says what is in it: cx-metrics-day-2025-03-10-2025-03-11."""
    parts = ["cx-metrics", query.group_by, f"{query.since:%Y-%m-%d}", f"{query.last_day:%Y-%m-%d}"]
    parts += [v for v in query.filter_values().values() if v]
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", "-".join(parts))


# -- the page ------------------------------------------------------------------------------------


def render(
    query: MetricsQuery,
    table: MetricsTable,
    departments: Iterable[str],
    show_empty: bool = False,
) -> str:
    """The page's body (bot/hub/templates/review/metrics.html): form, downloads, charts,
    the table with the empty runs of days or weeks folded, and the definitions."""
    window = (
        f"from {query.since:%a %Y-%m-%d} to now ({query.until:%a %Y-%m-%d %H:%M})"
        if query.to_now
        else f"from {query.since:%a %Y-%m-%d} to {query.last_day:%a %Y-%m-%d}"
    )
    rows = table_rows(table, fold=not show_empty)
    runs = fold_runs(table)
    chart_table, trimmed = chart_window(table)
    period = {"day": "day", "week": "week"}.get(table.group_by, "")
    params = query.params()
    return render_fragment(
        "review/metrics.html",
        q=query,
        prefix=PREFIX,
        window=window,
        filters_shown=[f"{name} {value}" for name, value in query.filter_values().items() if value],
        windows=_windows(query),
        groupings=[(g, g) for g in GROUPINGS],
        channels=[("", "All"), *_channels(query)],
        stages=[("", "All"), *((s, s) for s in STAGES), (UNKNOWN_STAGE, "unknown")],
        departments=[("", "All"), *((d, d) for d in departments), (NO_DEPARTMENT, "none")],
        outcomes=[("", "All"), *((o, o) for o in OUTCOMES)],
        csv_url=query.url(CSV_PATH),
        json_url=query.url(JSON_PATH),
        file_name=file_name(query),
        conversations=table.total.get("conversations") or 0,
        charts=charts(chart_table),
        chart_range=(
            (chart_table.rows[0]["group"], chart_table.rows[-1]["group"])
            if trimmed is not None and chart_table.rows
            else None
        ),
        trimmed=trimmed or 0,
        period=period,
        columns=_columns(table),
        rows=rows,
        total=_row_cells(table, table.total),
        runs=len(runs),
        folded=sum(run["count"] - 1 for run in runs),
        show_empty=show_empty,
        expand_url=f"{PREFIX}?{urlencode({**params, 'empty': EMPTY_SHOWN})}",
        collapse_url=f"{PREFIX}?{urlencode(params)}",
        definitions=_definitions(table),
        column_groups=column_groups(table),
    )


def column_groups(table: MetricsTable) -> list[tuple[str, list[str]]]:
    """The groups of columns a reader may hide (static/metrics.js), as (label, columns)."""
    groups = [
        ("Outcome rates", ["self_service_rate", "escalation_rate", "abandonment_rate"]),
        ("Handoffs by department", [f"handoffs_{d}" for d in table.departments]),
        ("Ratings and effort", ["rating_assistant", "rating_agents", "effort_score"]),
        ("Follow-through", ["repeat_contact_rate", "median_pickup_minutes", "sla_met_rate"]),
        ("Policy moments", ["policy_moments", "alternative_taken_rate"]),
    ]
    return [(label, [c for c in keys if c in table.columns]) for label, keys in groups]


def _windows(query: MetricsQuery) -> list[tuple[str, str]]:
    windows = [
        (w, f"Last {w[:-1]} {'days' if w.endswith('d') else 'weeks'}") for w in QUICK_WINDOWS
    ]
    if query.window not in (*QUICK_WINDOWS, DATES):  # e.g. 14d from a shared link
        windows.append((query.window, f"Last {query.window}"))
    windows.append((DATES, "Between the dates"))
    return windows


def _channels(query: MetricsQuery) -> list[tuple[str, str]]:
    channels = [(name, f"{title} ({name})") for name, title in CHANNELS.items()]
    if query.channel and query.channel not in CHANNELS:
        channels.append((query.channel, query.channel))
    return channels


def _columns(table: MetricsTable) -> list[dict[str, Any]]:
    """Each column's key, heading and definition (shown on pointing at the heading)."""
    titles, kinds = table.titles(), table.kinds()
    out = []
    for c in table.columns:
        title, definition = titles[c], DEFINITIONS.get(c)
        if c != "group" and definition is None:  # a department's share of the handoffs
            department = c.removeprefix("handoffs_")
            title = f"→ {department}"
            definition = (
                f"Handoffs to {department}: the handoffs in those conversations that went to "
                f"{department}."
            )
        out.append(
            {"key": c, "title": title, "definition": definition, "numeric": kinds[c] != "text"}
        )
    return out


def _row_cells(table: MetricsTable, values: dict[str, Any]) -> dict[str, Any]:
    """A row as the template shows it: each cell as (column, the exact value as the CSV has
    it, the number a rate or mean is taken over, the value as the terminal shows it)."""
    kinds = table.kinds()
    bases = table.bases.get(str(values["group"]), {})
    cells = [
        (
            c,
            "" if values[c] is None else str(values[c]),
            bases.get(c) if values[c] is not None else None,
            cell_text(values[c], kinds[c]),
        )
        for c in table.columns[1:]
    ]  # tuples: the template unpacks them (400 rows by day: lookups by name cost)
    return {"group": str(values["group"]), "cells": cells}


def _is_empty(row: dict[str, Any]) -> bool:
    return all(not v for k, v in row.items() if k != "group")


def fold_runs(table: MetricsTable) -> list[dict[str, Any]]:
    """The runs of two or more days or weeks in a row without anything to count:
    [{"first": index, "count": n, "last": label}]. None for stages and departments."""
    if table.group_by not in TIME_GROUPINGS:
        return []
    runs, start = [], None
    for i, row in enumerate([*table.rows, None]):
        if row is not None and _is_empty(row):
            start = i if start is None else start
            continue
        if start is not None and i - start >= 2:
            runs.append({"first": start, "count": i - start, "last": table.rows[i - 1]["group"]})
        start = None
    return runs


def table_rows(table: MetricsTable, fold: bool = True) -> list[dict[str, Any]]:
    """The table's rows; with ``fold``, a run of empty days stands in its first row (the
    rest stay in the table, hidden, so the table still holds every day)."""
    rows = [{**_row_cells(table, r), "run": None, "hidden": False} for r in table.rows]
    if fold:
        for run in fold_runs(table):
            first = run["first"]
            rows[first]["run"] = run
            for row in rows[first + 1 : first + run["count"]]:
                row["hidden"] = True
    return rows


def chart_window(table: MetricsTable) -> tuple[MetricsTable, int | None]:
    """The table the charts draw: days or weeks from the first to the last with data, so one
    busy day is not a sliver among empty ones; and how many were left out (None: all kept)."""
    if table.group_by not in TIME_GROUPINGS:
        return table, None
    busy = [i for i, row in enumerate(table.rows) if not _is_empty(row)]
    if not busy:
        return table, None
    kept = table.rows[busy[0] : busy[-1] + 1]
    return replace(table, rows=kept), len(table.rows) - len(kept)


def _definitions(table: MetricsTable) -> list[tuple[str, str]]:
    """Every column's one-sentence definition (the README quotes the same sentences)."""
    titles = table.titles()
    items = [(titles.get(m.key, m.title), m.definition) for m in METRICS]
    if table.departments:
        items.append(
            (
                ", ".join(f"→ {d}" for d in table.departments),
                "The handoffs counted under handoffs, by the department they went to.",
            )
        )
    return items


def charts(table: MetricsTable) -> list[tuple[str, Markup]]:
    """The page's charts, each (caption, inline SVG from bot/analytics/charts.py).

    Days and weeks are drawn as lines where rates and means are over time; stages and
    departments, which have no order in time, as bars side by side.
    """
    labels = [str(r["group"]) for r in table.rows]
    by = table.group_by
    per = {"day": "per day", "week": "per week"}.get(by, f"by {by}")

    def column(key: str) -> list[Any]:
        return [r.get(key) for r in table.rows]

    def over_groups(title: str, chart_id: str, series: list[Series], kind: str) -> str:
        draw = line_chart if by in TIME_GROUPINGS else bar_chart
        return draw(title, labels, series, chart_id=chart_id, kind=kind)

    volume = [
        Series("conversations", column("conversations")),
        Series("handoffs", column("handoffs")),
    ]
    outcomes = [
        Series("self-served", column("self_service_rate"), "#009E73"),
        Series("escalated", column("escalation_rate"), "#E69F00"),
        Series("abandoned", column("abandonment_rate"), "#D55E00"),
    ]
    # Each department with its total in the legend: the sizes read without hovering.
    by_department = [
        Series(f"{d} ({table.total.get(f'handoffs_{d}', 0)})", column(f"handoffs_{d}"))
        for d in table.departments
    ]
    ratings = [
        Series("rating of the assistant", column("rating_assistant"), "#0072B2"),
        Series("rating of agents", column("rating_agents"), "#E69F00"),
        Series("effort (5 = very easy)", column("effort_score"), "#999999"),
    ]
    follow_through = [
        Series("handoffs in SLA", column("sla_met_rate"), "#0072B2"),
        Series("repeat contact in 7 days", column("repeat_contact_rate"), "#D55E00"),
        Series("alternative taken", column("alternative_taken_rate"), "#CC79A7"),
    ]
    figures = [
        (
            title := f"Conversations and handoffs {per}",
            bar_chart(title, labels, volume, chart_id="chart-volume"),
        ),
        (
            title := f"Self-served, escalated and abandoned {per} (% of ended conversations)",
            over_groups(title, "chart-outcomes", outcomes, "rate"),
        ),
        (
            title := f"Handoffs per department, {per}",
            bar_chart(title, labels, by_department, chart_id="chart-handoffs", stacked=True),
        ),
        (
            title := f"Customer ratings {per}: the assistant vs. agents, and effort (1-5)",
            over_groups(title, "chart-ratings", ratings, "score"),
        ),
        (
            title := f"Handoffs in SLA, repeat contact and alternatives taken {per} (%)",
            over_groups(title, "chart-follow-through", follow_through, "rate"),
        ),
    ]
    # The SVG is bot/analytics/charts.py's, which escapes every label it writes.
    return [(t, Markup(svg)) for t, svg in figures]


PARAMETERS = ("window", "since", "until", "by", "channel", "stage", "department", "outcome")

__all__ = [
    "BadQuery",
    "MetricsQuery",
    "routes",
    "charts",
    "parse_query",
    "render",
]
