"""The touchpoint log page (``/review/log``), its CSV and JSON downloads, and its JSON API.

One set of query parameters (``bot.analytics.log_filters.parse_filters``: the metrics page's names,
plus rating, frustrated, policy, flagged, identity_failed and ``q`` for the customer's
words) drives all
four, so a filtered view is a URL to share and its downloads hold the same touchpoints.
The page is a plain GET form and a table, newest first, with a "next page" link carrying
the keyset cursor: no script, no count (counting a million rows is what makes logs slow).
Downloads stream every match in keyset batches, at most ``EXPORT_LIMIT`` rows.

The helpers at the bottom (links, times, markers) are shared by the conversation and
journey pages.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from datetime import datetime
from typing import Any, TypeVar
from urllib.parse import quote, urlencode

from sanic.request import Request
from sanic.response import HTTPResponse
from sanic.response import json as json_response

from bot.analytics.filters import NO_DEPARTMENT, UNKNOWN_STAGE
from bot.analytics.log import MAX_PAGE_SIZE, PAGE_SIZE, BadCursor, LogPage, touchpoint_log
from bot.analytics.log_export import EXPORT_LIMIT, LogExport, csv_lines, export_record, json_chunks
from bot.analytics.log_filters import (
    CHANNELS,
    FILTER_PARAMETERS,
    POLICY_CHOICES,
    BadFilter,
    LogFilters,
    describe_filters,
    filter_query,
    frustration_threshold,
    parse_filters,
)
from bot.cx_routing import CxRules
from bot.hub.accounts import Session
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
from bot.hub.web import HubError, in_thread
from bot.journey.store import OUTCOMES
from bot.redaction import redact
from bot.routing import STAGES

T = TypeVar("T")

LOG_PATH = f"{PREFIX}/log"
CSV_PATH = f"{PREFIX}/log.csv"
JSON_EXPORT_PATH = f"{PREFIX}/log.json"
API_PATH = f"{API}/touchpoints"
RATINGS = {
    "5": "5",
    "4": "4",
    "3": "3",
    "2": "2",
    "1": "1",
    "4-5": "4-5 (happy)",
    "1-2": "1-2 (unhappy)",
    "rated": "any rating",
    "unrated": "not rated",
}
OUTCOME_NAMES = {
    "self_served": "self-served",
    "handed_off": "handed off",
    "escalated": "escalated",
    "abandoned": "abandoned",
    "resolved": "resolved",
}


# -- how the routes are described (bot/hub/registry.py) ----------------------------------------
_SIGNED_IN = "For a signed-in analyst or admin (session cookie)."
_BAD = "A filter value that can't be used (the message says which and what it takes)."
_DENIED_PAGE = html_spec("Signed in with a role other than analyst or admin.")
_DOWNLOAD = {
    "description": (
        f"An attachment (Content-Disposition) streamed newest first, at most {EXPORT_LIMIT:,} "
        "rows (the `X-CX-Export-Limit` header says so; the JSON says `truncated`). Lists are "
        "joined with `;` in CSV."
    ),
}

routes = RouteTable(
    tags=["CX review"],
    schemas=schemas.LOG_SCHEMAS,
)


# -- routes ------------------------------------------------------------------------------------
@routes.route(
    LOG_PATH,
    name="review_log_page",
    summary="The touchpoint log page: filters, newest first, a page at a time",
    description=_SIGNED_IN,
    operation_id="reviewLogPage",
    parameters=[
        *schemas.LOG_FILTERS,
        {
            "name": "after",
            "in": "query",
            "description": "The next page's cursor.",
            "schema": {"type": "string"},
        },
    ],
    responses={
        "200": html_spec("The log page."),
        "303": TO_SIGN_IN,
        "400": html_spec(_BAD),
        "403": _DENIED_PAGE,
    },
)
async def log_page(request: Request) -> HTTPResponse:
    """The filter form and one page of matching touchpoints, newest first."""
    session = await require(request, "review")
    args = _args(request)
    try:
        filters = filters_of(request)
        after = request.args.get("after") or None
        result = await in_thread(touchpoint_log, request.app.ctx.engine, filters, PAGE_SIZE, after)
    except (BadFilter, BadCursor) as e:
        # The form comes back as typed, with what to change: a 400 the analyst can fix.
        context = log_context(None, args, _options(request), frustrated_at(request), problem=str(e))
        return _log_page(request, session, context, status=400)
    context = log_context(
        result, args, _options(request), frustrated_at(request), filters=filters, after=after
    )
    return _log_page(request, session, context)


def _log_page(
    request: Request, session: Session, context: dict[str, Any], status: int = 200
) -> HTTPResponse:
    return page(
        "Touchpoint log",
        request=request,
        session=session,
        current=LOG_PATH,
        template="review/log.html",
        status=status,
        **context,
    )


@routes.route(
    API_PATH,
    name="review_touchpoints",
    summary="One page of the touchpoint log",
    description=(
        _SIGNED_IN + " A page that has searched for a while stops early: `searched_until` "
        "says how far back it looked, and `next_cursor` goes on from there."
    ),
    operation_id="reviewTouchpoints",
    parameters=[
        *schemas.LOG_FILTERS,
        {
            "name": "after",
            "in": "query",
            "description": "`next_cursor` of the page before.",
            "schema": {"type": "string"},
        },
        {
            "name": "limit",
            "in": "query",
            "schema": {
                "type": "integer",
                "minimum": 1,
                "maximum": MAX_PAGE_SIZE,
                "default": PAGE_SIZE,
            },
        },
    ],
    responses={
        "200": json_spec("Touchpoints, newest first.", schema_ref("TouchpointPage")),
        "400": error_spec(_BAD),
        "401": error_spec("Not signed in."),
        "403": error_spec("Signed in with a role other than analyst or admin."),
    },
)
async def touchpoints_api(request: Request) -> HTTPResponse:
    """One page of the log as JSON: the filters as on the page, plus ``after`` and ``limit``."""
    await require(request, "review")
    filters = _checked(filters_of, request)
    limit = _limit(request.args.get("limit"))
    after = request.args.get("after") or None
    result = await in_thread(
        _checked, touchpoint_log, request.app.ctx.engine, filters, limit, after
    )
    return json_response(
        {
            "filters": describe_filters(filters),
            "touchpoints": [entry_json(e, filters.frustrated_at) for e in result.entries],
            "next_cursor": result.next_cursor,
            "searched_until": _iso(result.searched_until),
        },
        headers={"Cache-Control": "no-store"},
    )


@routes.route(
    CSV_PATH,
    name="review_log_csv",
    summary="Every touchpoint matching the filters, as CSV",
    description=_SIGNED_IN,
    operation_id="reviewLogCsv",
    parameters=schemas.LOG_FILTERS,
    responses={
        "200": {**_DOWNLOAD, "content": {"text/csv": {"schema": {"type": "string"}}}},
        "303": TO_SIGN_IN,
        "400": html_spec(_BAD),
        "403": _DENIED_PAGE,
    },
)
async def log_csv(request: Request) -> HTTPResponse | None:
    """Every matching touchpoint as CSV (a download), at most ``EXPORT_LIMIT`` rows."""
    await require(request, "review")
    filters = _checked(filters_of, request)
    export = LogExport(request.app.ctx.engine, filters)
    await _stream(request, csv_lines(export), "csv", "text/csv; charset=utf-8")
    return None


@routes.route(
    JSON_EXPORT_PATH,
    name="review_log_json",
    summary="Every touchpoint matching the filters, as one JSON document",
    description=_SIGNED_IN,
    operation_id="reviewLogJson",
    parameters=schemas.LOG_FILTERS,
    responses={
        "200": {**json_spec("", schema_ref("TouchpointExport")), **_DOWNLOAD},
        "303": TO_SIGN_IN,
        "400": html_spec(_BAD),
        "403": _DENIED_PAGE,
    },
)
async def log_json(request: Request) -> HTTPResponse | None:
    """Every matching touchpoint as one JSON document (a download), at most ``EXPORT_LIMIT``."""
    await require(request, "review")
    filters = _checked(filters_of, request)
    export = LogExport(request.app.ctx.engine, filters)
    chunks = json_chunks(export, _now(request))
    await _stream(request, chunks, "json", "application/json")
    return None


# -- reading the request ------------------------------------------------------------------------
def filters_of(request: Request) -> LogFilters:
    """The log's filters from the request's query string (``BadFilter`` if one is wrong)."""
    return parse_filters(_args(request), request.app.ctx.departments.keys(), frustrated_at(request))


def frustrated_at(request: Request) -> int:
    """The frustration at which the routing rules bring a person in (read once per app)."""
    ctx = request.app.ctx
    level = getattr(ctx, "review_frustrated_at", None)
    if level is None:
        level = frustration_threshold(CxRules.load(ctx.settings.routing_file))
        ctx.review_frustrated_at = level
    return level


def _args(request: Request) -> dict[str, str]:
    return {name: request.args.get(name) for name in FILTER_PARAMETERS if request.args.get(name)}


def _checked(fn: Callable[..., T], *args: Any) -> T:
    """``fn(*args)``, a bad filter or cursor answered as 400 with what is wrong."""
    try:
        return fn(*args)
    except (BadFilter, BadCursor) as e:
        raise HubError(400, str(e)) from None


def _limit(raw: str | None) -> int:
    if raw is None or raw == "":
        return PAGE_SIZE
    if not raw.isdigit() or not 1 <= int(raw) <= MAX_PAGE_SIZE:
        raise HubError(400, f"limit: {raw!r} is not a whole number from 1 to {MAX_PAGE_SIZE}")
    return int(raw)


def _now(request: Request) -> datetime:
    return datetime.fromtimestamp(request.app.ctx.settings.clock())


def _options(request: Request) -> dict[str, list[tuple[str, str]]]:
    """The choices of the form's drop-downs, as (value, label)."""
    departments = request.app.ctx.departments
    return {
        "channel": list(CHANNELS.items()),
        "stage": [(s, s) for s in STAGES] + [(UNKNOWN_STAGE, "no stage known")],
        "department": [(name, d.title) for name, d in departments.items()]
        + [(NO_DEPARTMENT, "no department")],
        "need": [(n, n) for n in sorted(request.app.ctx.routing)],
        "outcome": [(o, OUTCOME_NAMES.get(o, o)) for o in OUTCOMES],
        "rating": list(RATINGS.items()),
        "policy": list(POLICY_CHOICES.items()),
        "flagged": [("yes", "flagged"), ("no", "not flagged")],
        "identity_failed": [
            ("yes", "some failed or refused"),
            ("no", "none failed"),
        ],
    }


async def _stream(request: Request, chunks: Iterator[str], kind: str, content_type: str) -> None:
    """Send ``chunks`` as a download, reading each from the database off the event loop."""
    stamp = _now(request).strftime("%Y%m%d-%H%M")
    response = await request.respond(
        content_type=content_type,
        headers={
            "Content-Disposition": f'attachment; filename="touchpoints-{stamp}.{kind}"',
            "Cache-Control": "no-store",
            "X-Content-Type-Options": "nosniff",
            "X-CX-Export-Limit": str(EXPORT_LIMIT),
        },
    )
    while True:
        chunk = await in_thread(next, chunks, None)
        if chunk is None:
            break
        await response.send(chunk.encode())
    await response.eof()


# -- the page ----------------------------------------------------------------------------------
TABLE_HEADS = ["When", "Customer", "Channel", "Stage", "Needs", "Departments", "Outcome"]
TABLE_HEADS += ["Rating", "Frustration", "Flag", "Messages"]


def log_context(
    result: LogPage | None,
    args: Mapping[str, str],
    options: Mapping[str, list[tuple[str, str]]],
    frustrated_at: int,
    *,
    filters: LogFilters | None = None,
    after: str | None = None,
    problem: str | None = None,
) -> dict[str, Any]:
    """What review/log.html shows: the form as typed, then the page of ``result`` (or
    ``problem``, what to change)."""
    context: dict[str, Any] = {
        "args": args,
        "options": options,
        "frustrated_at": frustrated_at,
        "log_path": LOG_PATH,
        "problem": problem,
    }
    if problem is not None:
        return context
    assert result is not None and filters is not None
    query = filter_query(filters)
    shown = urlencode(query)
    searching = bool(filters.terms())
    context.update(
        csv_url=CSV_PATH + _q(shown),
        json_url=JSON_EXPORT_PATH + _q(shown),
        export_limit=EXPORT_LIMIT,
        status_text=_status(result, after),
        searching=searching,
        heads=TABLE_HEADS + (["Customer said"] if searching else []),
        entries=[_entry(e) for e in result.entries],
        newest_url=LOG_PATH + _q(shown) if after else None,
        next_url=(
            LOG_PATH + "?" + urlencode({**query, "after": result.next_cursor})
            if result.next_cursor
            else None
        ),
        next_label="Search older touchpoints" if result.searched_until else "Next page",
    )
    return context


def _entry(e: dict[str, Any]) -> dict[str, Any]:
    """A log entry with its links and labels, as the table shows it."""
    return {
        **e,
        "href": conversation_href(e["id"]),
        "customer_id": e.get("customer_id"),
        "customer_name": e.get("customer_name"),
        "journey_href": journey_href(e["customer_id"]) if e.get("customer_id") else None,
        "channel_name": channel_name(e["channel"]),
        "outcome_name": OUTCOME_NAMES.get(e["outcome"], e["outcome"]),
        "flag_tags": [str(t) for t in e["flag"]["tags"]] if e.get("flag") else None,
        "identity_failures": int(e.get("identity_failures") or 0),
        "matched": e.get("matched", []),
    }


def _status(result: LogPage, after: str | None) -> str:
    count = len(result.entries)
    where = "older touchpoints" if after else "touchpoints"
    if result.searched_until is not None:
        return (
            f"{count} matching {where} among those started since "
            f"{when(result.searched_until)}; older ones were not searched yet (the search "
            "stops after a moment to stay quick)."
        )
    if count:
        return f"{count} {where}, newest first" + ("." if result.next_cursor else "; no more.")
    return "No touchpoint matches these filters" + (" further back." if after else ".")


def _q(query: str) -> str:
    return f"?{query}" if query else ""


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat(timespec="seconds") if moment else None


# -- shared by the review pages: links, times and markers ----------------------------------------
def conversation_href(touchpoint_id: int) -> str:
    """The conversation page of a touchpoint."""
    return f"{PREFIX}/conversations/{int(touchpoint_id)}"


def journey_href(customer_id: str) -> str:
    """The journey page of a customer (the id is quoted: anonymous ids hold any text)."""
    return f"{PREFIX}/customers/{quote(customer_id, safe='')}"


def channel_name(channel: str) -> str:
    return CHANNELS.get(channel, channel)


def when(moment: datetime | None) -> str:
    """A moment as people read it in the review: 2025-03-12 10:05."""
    return moment.strftime("%Y-%m-%d %H:%M") if moment else ""


def entry_json(entry: dict[str, Any], frustrated_at: int) -> dict[str, Any]:
    """A log entry as the JSON API gives it: the export's record plus links and extras."""
    record = export_record(entry)
    record["signals"] = entry["signals"]
    record["frustrated"] = entry["frustration"] >= frustrated_at
    record["flag"] = (
        {
            "tags": entry["flag"]["tags"],
            "note": redact(entry["flag"]["note"] or "") or None,  # an analyst's words
            "flagged_at": _iso(entry["flag"]["flagged_at"]),
        }
        if entry.get("flag")
        else None
    )
    if "matched" in entry:
        record["matched"] = entry["matched"]
    record["links"] = {
        "conversation": conversation_href(entry["id"]),
        "journey": journey_href(entry["customer_id"]) if entry.get("customer_id") else None,
    }
    return record
