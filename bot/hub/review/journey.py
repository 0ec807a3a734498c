"""One customer's journey (``/review/customers/<customer_id>``) and its JSON API.

The page draws the customer's touchpoints as a timeline in server-rendered SVG: time runs
left to right, a lane per journey stage from prospect to leaving, one mark per touchpoint
(its colour is the outcome, its shape the channel) linking to that conversation, and below
the stages a lane per department with a tick where a touchpoint involved it. A legend
explains colours and shapes; a sentence sums the journey up and the table below lists
every touchpoint, which is also the timeline's text alternative. Data from
``bot.review.journeys``; no script (the CSP allows none here anyway).
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta
from html import escape
from typing import Any
from urllib.parse import urlencode

from sanic import Sanic
from sanic.request import Request
from sanic.response import HTTPResponse
from sanic.response import json as json_response

from bot.hub.auth import require
from bot.hub.openapi_parts import (
    LOCAL_TIME,
    TO_SIGN_IN,
    error_spec,
    html_spec,
    json_spec,
    schema_ref,
)
from bot.hub.review.layout import API, PREFIX, page
from bot.hub.review.log import (
    LOG_PATH,
    OUTCOME_NAMES,
    channel_name,
    conversation_href,
    flag_html,
    frustrated_at,
    frustration_html,
    outcome_html,
    time_html,
    when,
)
from bot.hub.web import HubError, in_thread
from bot.review.journeys import MAX_TOUCHPOINTS, Journey, journey
from bot.routing import DEPARTMENTS, STAGES

# Colour-blind-safe (Okabe-Ito) colours for outcomes; shapes tell channels apart as well.
OUTCOME_COLOURS = {
    "self_served": "#009E73",
    "resolved": "#56B4E9",
    "handed_off": "#E69F00",
    "escalated": "#D55E00",
    "abandoned": "#999999",
}
SHAPES = {"socketio": "circle", "slack": "square", "rest": "diamond", "proactive": "triangle"}
OTHER_SHAPE = "triangle"
NO_STAGE = "no stage"

# The timeline's geometry, in SVG units (it scales to the page's width).
WIDTH = 960
LEFT = 120  # lane labels
RIGHT = 24
TOP = 8
STAGE_LANE = 34
DEPARTMENT_LANE = 18
GAP = 14  # between the stage lanes and the department lanes
AXIS = 30
MARK = 7  # half the size of a mark
# Tick spacing the time axis may use, and how each labels a moment.
_TICKS = (
    (timedelta(hours=1), "%H:%M"),
    (timedelta(hours=6), "%d %b %H:%M"),
    (timedelta(days=1), "%d %b"),
    (timedelta(days=7), "%d %b"),
    (timedelta(days=30), "%b %Y"),
    (timedelta(days=91), "%b %Y"),
    (timedelta(days=365), "%Y"),
)
MAX_TICKS = 8
MAX_NUMBERED = 60  # marks get their number above them up to this many touchpoints


def add_routes(app: Sanic) -> None:
    """Register the journey page and its JSON API on ``app``."""
    # Matched on the path as sent, then unquoted: an id may hold "/" (quoted as %2F).
    app.add_route(
        journey_page,
        f"{PREFIX}/customers/<customer_id>",
        methods=["GET"],
        name="review_journey",
        unquote=True,
    )
    app.add_route(
        journey_api,
        f"{API}/customers/<customer_id>",
        methods=["GET"],
        name="review_journey_api",
        unquote=True,
    )


async def journey_page(request: Request, customer_id: str) -> HTTPResponse:
    """The customer's journey: the timeline, a summary, and every touchpoint."""
    session = await require(request, "review")
    found = await _journey(request, customer_id)
    body = render_journey(found, frustrated_at(request))
    who = found.customer["name"] or "an anonymous visitor"
    return page(f"Journey of {who}", body, request=request, session=session, current=LOG_PATH)


async def journey_api(request: Request, customer_id: str) -> HTTPResponse:
    """The customer's journey as JSON: the customer, how they are known, their touchpoints."""
    await require(request, "review")
    found = await _journey(request, customer_id)
    return json_response(found.as_json(), headers={"Cache-Control": "no-store"})


async def _journey(request: Request, customer_id: str) -> Journey:
    if len(customer_id) > 64:  # journey_customers.id is at most 64 characters
        raise HubError(404, "no customer with that id in the journey")
    found = await in_thread(journey, request.app.ctx.engine, customer_id)
    if found is None:
        raise HubError(404, f"no customer {customer_id!r} in the journey")
    return found


# -- the page ----------------------------------------------------------------------------------
def render_journey(found: Journey, frustrated_level: int) -> str:
    """The journey page's body (every value escaped)."""
    customer = found.customer
    name = customer["name"] or "Anonymous visitor"
    known = ", ".join(f"{i['kind']} {i['value']}" for i in found.identities)
    facts = [f"<dt>Customer id</dt><dd>{escape(customer['id'])}</dd>"]
    if customer["tier"]:
        facts.append(f"<dt>Tier</dt><dd>{escape(customer['tier'])}</dd>")
    if customer["since"]:
        facts.append(f"<dt>Known since</dt><dd>{time_html(customer['since'])}</dd>")
    if known:
        facts.append(f"<dt>Known as</dt><dd>{escape(known)}</dd>")
    log_link = LOG_PATH + "?" + urlencode({"customer": customer["id"]})
    parts = [
        f"<p><a href='{LOG_PATH}'>← Touchpoint log</a></p>",
        f"<h1>Journey of {escape(name)}</h1>",
        f"<dl id='customer'>{''.join(facts)}</dl>",
    ]
    if not found.touchpoints:
        parts.append("<p class='empty'>No touchpoints yet.</p>")
        return "".join(parts)
    parts += [
        f"<p id='journey-summary'>{escape(summary(found))}</p>",
        "<figure id='timeline-figure'><figcaption>Timeline: each mark is a touchpoint "
        "(select one to open the conversation)</figcaption>"
        f"<div class='scroll'>{timeline_svg(found)}</div>{legend()}</figure>",
        "<h2 id='touchpoints-heading'>Touchpoints</h2>",
    ]
    if found.truncated:
        parts.append(
            f"<p class='hint'>The {len(found.touchpoints)} most recent of {found.total} "
            f"touchpoints. <a href='{escape(log_link, quote=True)}'>All of them in the "
            "log</a>.</p>"
        )
    else:
        parts.append(
            f"<p class='hint'><a href='{escape(log_link, quote=True)}'>These touchpoints in the "
            "log</a> (filter and download them there).</p>"
        )
    parts.append(_table(found, frustrated_level))
    return "".join(parts)


def summary(found: Journey) -> str:
    """The journey in one sentence: the timeline's text summary."""
    tps = found.touchpoints
    channels = list(dict.fromkeys(channel_name(t["channel"]) for t in tps))
    stages = found.stages()
    departments = sorted({d for t in tps for d in t["departments"]})
    outcomes = Counter(t["outcome"] for t in tps)
    count = f"{len(tps)} touchpoint{'s' if len(tps) != 1 else ''}"
    text = (
        f"{count} from {when(tps[0]['started_at'])} to {when(tps[-1]['started_at'])} "
        f"on {_and(channels)}"
    )
    text += f"; stages {' → '.join(stages)}" if stages else "; no stage known"
    text += f"; departments {_and(departments)}" if departments else "; no department involved"
    text += "; " + ", ".join(
        f"{n} {OUTCOME_NAMES.get(o, o)}" for o, n in sorted(outcomes.items(), key=lambda x: -x[1])
    )
    return text + "."


def _and(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def lanes(found: Journey) -> list[str]:
    """The stage lanes, top to bottom: every stage of the journey, and "no stage" if needed."""
    return list(STAGES) + ([NO_STAGE] if any(t["stage"] is None for t in found.touchpoints) else [])


def timeline_svg(found: Journey) -> str:
    """The journey as an SVG timeline (see the module's docstring)."""
    tps = found.touchpoints
    stage_lanes = lanes(found)
    departments = list(DEPARTMENTS) + sorted(
        {d for t in tps for d in t["departments"]} - set(DEPARTMENTS)
    )
    first, last = tps[0]["started_at"], tps[-1]["started_at"]
    span = max(last - first, timedelta(hours=1))
    start, end = first - span * 0.04, last + span * 0.04
    plot = WIDTH - LEFT - RIGHT

    def x(moment: datetime) -> float:
        return LEFT + plot * (moment - start) / (end - start)

    stage_top = TOP
    department_top = stage_top + STAGE_LANE * len(stage_lanes) + GAP
    axis_top = department_top + DEPARTMENT_LANE * len(departments)
    height = axis_top + AXIS
    out = [
        f"<svg id='timeline' class='timeline' viewBox='0 0 {WIDTH} {height}' "
        f"width='{WIDTH}' height='{height}' aria-labelledby='timeline-title' "
        "aria-describedby='journey-summary' xmlns='http://www.w3.org/2000/svg'>",
        f"<title id='timeline-title'>Journey timeline of {escape(found.customer['name'] or 'an anonymous visitor')}</title>",
    ]
    for i, lane in enumerate(stage_lanes):
        top = stage_top + i * STAGE_LANE
        out.append(
            f"<rect x='{LEFT}' y='{top}' width='{plot}' height='{STAGE_LANE}' "
            f"fill='{'#f4f6f4' if i % 2 == 0 else '#ffffff'}'/>"
            f"<text x='{LEFT - 8}' y='{top + STAGE_LANE / 2 + 4:.1f}' text-anchor='end' "
            f"font-size='13' fill='#333' class='lane'>{escape(lane)}</text>"
        )
    out.append(
        f"<text x='{LEFT - 8}' y='{department_top - 3}' text-anchor='end' font-size='11' "
        "fill='#666'>departments</text>"
    )
    for i, department in enumerate(departments):
        top = department_top + i * DEPARTMENT_LANE
        out.append(
            f"<rect x='{LEFT}' y='{top}' width='{plot}' height='{DEPARTMENT_LANE}' "
            f"fill='{'#eef1f6' if i % 2 == 0 else '#f8f9fb'}'/>"
            f"<text x='{LEFT - 8}' y='{top + DEPARTMENT_LANE / 2 + 4:.1f}' text-anchor='end' "
            f"font-size='12' fill='#333' class='lane'>{escape(department)}</text>"
        )
    out += _axis(start, end, x, stage_top, axis_top)

    def y(t: dict[str, Any]) -> float:
        lane = stage_lanes.index(t["stage"] if t["stage"] in stage_lanes else NO_STAGE)
        return stage_top + lane * STAGE_LANE + STAGE_LANE / 2

    # The path from touchpoint to touchpoint: how the customer moved between stages.
    points = " ".join(f"{x(t['started_at']):.1f},{y(t):.1f}" for t in tps)
    out.append(f"<polyline points='{points}' fill='none' stroke='#9aa' stroke-width='1.2'/>")
    for t in tps:
        cx = x(t["started_at"])
        for d in t["departments"]:
            top = department_top + departments.index(d) * DEPARTMENT_LANE
            out.append(
                f"<rect class='department-tick' x='{cx - 2:.1f}' y='{top + 3}' width='4' "
                f"height='{DEPARTMENT_LANE - 6}' fill='#3b5b92'><title>{escape(d)}: "
                f"{escape(when(t['started_at']))}</title></rect>"
            )
    numbered = len(tps) <= MAX_NUMBERED
    last_number_at: dict[float, float] = {}  # per lane: where the last number was written
    for number, t in enumerate(tps, start=1):
        label = _mark_label(number, t)
        cx, cy = x(t["started_at"]), y(t)
        # The number ties a mark to its row in the table below, where it does not run into
        # the one before (the mark's tooltip and label always have it).
        fits = numbered and cx - last_number_at.get(cy, -WIDTH) >= 6 * len(str(number)) + 6
        number_text = ""
        if fits:
            last_number_at[cy] = cx
            number_text = (
                f"<text x='{cx:.1f}' y='{cy - MARK - 3:.1f}' text-anchor='middle' "
                f"font-size='10' fill='#333' aria-hidden='true'>{number}</text>"
            )
        out.append(
            f"<a href='{conversation_href(t['id'])}' class='mark' "
            f"data-touchpoint-id='{int(t['id'])}' aria-label='{escape(label, quote=True)}'>"
            f"<title>{escape(label)}</title>{_shape(t, cx, cy)}{number_text}</a>"
        )
    out.append("</svg>")
    return "".join(out)


def _mark_label(number: int, t: dict[str, Any]) -> str:
    needs = ", ".join(t["needs"]) or "no need"
    departments = ", ".join(t["departments"]) or "no department"
    text = (
        f"#{number} {when(t['started_at'])}, {channel_name(t['channel'])}, "
        f"stage {t['stage'] or 'unknown'}: {needs} → {departments}; "
        f"{OUTCOME_NAMES.get(t['outcome'], t['outcome'])}"
    )
    if t["rating"] is not None:
        text += f", rated {t['rating']}/5"
    if t["flag_tags"] is not None:
        text += ", flagged"
    return text


def _shape(t: dict[str, Any], cx: float, cy: float) -> str:
    """A touchpoint's mark: its channel's shape in its outcome's colour."""
    fill = OUTCOME_COLOURS.get(t["outcome"], "#444")
    # A flagged touchpoint gets a thick dark outline, so it stands out in any colour.
    stroke = (
        "stroke='#111' stroke-width='3'"
        if t["flag_tags"] is not None
        else ("stroke='#fff' stroke-width='1.5'")
    )
    shape = SHAPES.get(t["channel"], OTHER_SHAPE)
    return _draw(shape, cx, cy, MARK, f"fill='{fill}' {stroke}")


def _draw(shape: str, cx: float, cy: float, r: float, paint: str) -> str:
    if shape == "circle":
        return f"<circle cx='{cx:.1f}' cy='{cy:.1f}' r='{r}' {paint}/>"
    if shape == "square":
        return f"<rect x='{cx - r + 1:.1f}' y='{cy - r + 1:.1f}' width='{2 * r - 2}' height='{2 * r - 2}' {paint}/>"
    if shape == "diamond":
        d = r + 1
        return (
            f"<polygon points='{cx:.1f},{cy - d:.1f} {cx + d:.1f},{cy:.1f} {cx:.1f},{cy + d:.1f} "
            f"{cx - d:.1f},{cy:.1f}' {paint}/>"
        )
    return (
        f"<polygon points='{cx:.1f},{cy - r - 1:.1f} {cx + r + 1:.1f},{cy + r:.1f} "
        f"{cx - r - 1:.1f},{cy + r:.1f}' {paint}/>"
    )


def _axis(start: datetime, end: datetime, x, top: float, axis_top: float) -> list[str]:
    """Vertical grid lines and labels at round moments (hours, days, weeks, months, years)."""
    span = end - start
    step, label = next(
        ((s, f) for s, f in _TICKS if span / s <= MAX_TICKS), (timedelta(days=365), "%Y")
    )
    while span / step > MAX_TICKS:  # journeys of many years: every few years
        step *= 2
    out = []
    for tick in _ticks(start, end, step):
        tx = x(tick)
        out.append(
            f"<line x1='{tx:.1f}' y1='{top}' x2='{tx:.1f}' y2='{axis_top}' stroke='#ddd'/>"
            f"<text x='{tx:.1f}' y='{axis_top + 18}' text-anchor='middle' font-size='12' "
            f"fill='#555'>{escape(tick.strftime(label))}</text>"
        )
    return out


def _ticks(start: datetime, end: datetime, step: timedelta) -> list[datetime]:
    """Round moments between start and end, ``step`` apart (months and years on the 1st)."""
    if step >= timedelta(days=28):
        months = max(1, round(step.days / 30.4))
        moment = datetime(start.year, start.month, 1)
        out = []
        while moment <= end:
            if moment >= start:
                out.append(moment)
            month = moment.month - 1 + months
            moment = datetime(moment.year + month // 12, month % 12 + 1, 1)
        return out
    if step >= timedelta(days=7):  # weeks from a Monday
        moment = datetime.combine(
            (start - timedelta(days=start.weekday())).date(), datetime.min.time()
        )
    elif step >= timedelta(days=1):
        moment = datetime.combine(start.date(), datetime.min.time())
    else:
        moment = start.replace(minute=0, second=0, microsecond=0)
    out = []
    while moment <= end:
        if moment >= start:
            out.append(moment)
        moment += step
    return out


def legend() -> str:
    """What the colours and shapes mean (each swatch drawn as on the timeline)."""

    def swatch(shape: str, fill: str, stroke: str = "stroke='#fff' stroke-width='1.5'") -> str:
        paint = f"fill='{fill}' {stroke}"
        return (
            "<svg width='20' height='20' viewBox='0 0 20 20' aria-hidden='true'>"
            f"{_draw(shape, 10, 10, MARK, paint)}</svg>"
        )

    outcomes = "".join(
        f"<li>{swatch('circle', colour)} {escape(OUTCOME_NAMES.get(o, o))}</li>"
        for o, colour in OUTCOME_COLOURS.items()
    )
    channels = "".join(
        f"<li>{swatch(shape, '#777')} {escape(channel_name(c))}</li>" for c, shape in SHAPES.items()
    )
    channels += f"<li>{swatch(OTHER_SHAPE, '#777')} other channel</li>"
    flagged = swatch("circle", "#ccc", "stroke='#111' stroke-width='3'")
    return (
        "<div class='legend' id='timeline-legend'>"
        f"<p><strong>Outcome</strong></p><ul>{outcomes}</ul>"
        f"<p><strong>Channel</strong></p><ul>{channels}</ul>"
        f"<p><strong>Marked</strong></p><ul><li>{flagged} flagged for review</li>"
        "<li><svg width='20' height='20' viewBox='0 0 20 20' aria-hidden='true'>"
        "<rect x='8' y='3' width='4' height='14' fill='#3b5b92'/></svg> "
        "a department involved</li></ul></div>"
    )


def _table(found: Journey, frustrated_level: int) -> str:
    rows = []
    for number, t in enumerate(found.touchpoints, start=1):
        cells = [
            str(number),
            f"<a href='{conversation_href(t['id'])}'>{time_html(t['started_at'])}</a>",
            escape(channel_name(t["channel"])),
            escape(t["stage"] or "-"),
            escape(", ".join(t["needs"]) or "-"),
            escape(", ".join(t["departments"]) or "-"),
            outcome_html(t["outcome"]),
            escape(str(t["rating"])) if t["rating"] is not None else "",
            frustration_html(t["frustration"], frustrated_level),
            flag_html(t["flag_tags"]),
        ]
        rows.append(
            f"<tr data-touchpoint-id='{int(t['id'])}'>"
            + "".join(f"<td>{c}</td>" for c in cells)
            + "</tr>"
        )
    head = "".join(
        f"<th scope='col'>{h}</th>"
        for h in (
            "#", "When", "Channel", "Stage", "Needs", "Departments", "Outcome", "Rating",
            "Frustration", "Flag",
        )
    )  # fmt: skip
    return (
        "<div class='scroll'><table id='journey-touchpoints' aria-labelledby='touchpoints-heading'>"
        f"<thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table></div>"
    )


# -- OpenAPI -----------------------------------------------------------------------------------
_CUSTOMER_ID = {
    "name": "customer_id",
    "in": "path",
    "required": True,
    "description": "The journey's customer id (URL-encoded; anonymous visitors' start `anon-`).",
    "schema": {"type": "string", "maxLength": 64},
}
OPENAPI_PATHS = {
    f"{PREFIX}/customers/{{customer_id}}": {
        "parameters": [_CUSTOMER_ID],
        "get": {
            "tags": ["CX review"],
            "summary": "One customer's journey: timeline by stage, and every touchpoint",
            "description": "For a signed-in analyst or admin (session cookie).",
            "operationId": "reviewJourneyPage",
            "responses": {
                "200": html_spec("The journey page."),
                "303": TO_SIGN_IN,
                "403": html_spec("Signed in with a role other than analyst or admin."),
                "404": html_spec("No such customer in the journey."),
            },
        },
    },
    f"{API}/customers/{{customer_id}}": {
        "parameters": [_CUSTOMER_ID],
        "get": {
            "tags": ["CX review"],
            "summary": "One customer's journey as JSON",
            "description": (
                "For a signed-in analyst or admin (session cookie). At most "
                f"{MAX_TOUCHPOINTS} touchpoints, the most recent, oldest first; `total` counts "
                "them all."
            ),
            "operationId": "reviewJourney",
            "responses": {
                "200": json_spec("The journey.", schema_ref("Journey")),
                "401": error_spec("Not signed in."),
                "403": error_spec("Signed in with a role other than analyst or admin."),
                "404": error_spec("No such customer in the journey."),
            },
        },
    },
}
OPENAPI_SCHEMAS = {
    "Journey": {
        "type": "object",
        "properties": {
            "customer": {
                "type": "object",
                "properties": {
                    "id": {"type": "string"},
                    "name": {"type": "string", "nullable": True},
                    "tier": {"type": "string", "nullable": True},
                    "since": {"type": "string", **LOCAL_TIME, "nullable": True},
                },
            },
            "identities": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {"kind": {"type": "string"}, "value": {"type": "string"}},
                },
            },
            "touchpoints": {"type": "array", "items": {"type": "object"}},
            "total": {"type": "integer"},
            "truncated": {"type": "boolean"},
        },
        "required": ["customer", "identities", "touchpoints", "total", "truncated"],
    }
}
