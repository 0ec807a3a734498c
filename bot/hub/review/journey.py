"""One customer's journey (``/review/customers/<customer_id>``) and its JSON API.

The page draws the customer's touchpoints as a timeline in server-rendered SVG: time runs
left to right, a lane per journey stage from prospect to leaving, one mark per touchpoint
(its colour is the outcome, its shape the channel) linking to that conversation, and below
the stages a lane per department with a tick where a touchpoint involved it. A legend
explains colours and shapes; a sentence sums the journey up and the table below lists
every touchpoint, which is also the timeline's text alternative. Data from
``bot.analytics.journeys``; this module works out the geometry and review/journey.html draws
it; no script.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from sanic.request import Request
from sanic.response import HTTPResponse
from sanic.response import json as json_response

from bot.analytics.journeys import MAX_TOUCHPOINTS, Journey, journey
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
from bot.hub.review.log import (
    LOG_PATH,
    OUTCOME_NAMES,
    channel_name,
    conversation_href,
    frustrated_at,
    when,
)
from bot.hub.web import HubError, in_thread
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


# -- how the routes are described (bot/hub/registry.py) ----------------------------------------
_CUSTOMER_ID = {
    "name": "customer_id",
    "in": "path",
    "required": True,
    "description": "The journey's customer id (URL-encoded; anonymous visitors' start `anon-`).",
    "schema": {"type": "string", "maxLength": 64},
}

routes = RouteTable(
    tags=["CX review"],
    path_parameters={"customer_id": _CUSTOMER_ID},
    schemas=schemas.JOURNEY_SCHEMAS,
)


# Matched on the path as sent, then unquoted: an id may hold "/" (quoted as %2F).
@routes.route(
    f"{PREFIX}/customers/<customer_id>",
    name="review_journey",
    unquote=True,
    summary="One customer's journey: timeline by stage, and every touchpoint",
    description="For a signed-in analyst or admin (session cookie).",
    operation_id="reviewJourneyPage",
    responses={
        "200": html_spec("The journey page."),
        "303": TO_SIGN_IN,
        "403": html_spec("Signed in with a role other than analyst or admin."),
        "404": html_spec("No such customer in the journey."),
    },
)
async def journey_page(request: Request, customer_id: str) -> HTTPResponse:
    """The customer's journey: the timeline, a summary, and every touchpoint."""
    session = await require(request, "review")
    found = await _journey(request, customer_id)
    who = found.customer["name"] or "an anonymous visitor"
    return page(
        f"Journey of {who}",
        request=request,
        session=session,
        current=LOG_PATH,
        template="review/journey.html",
        **journey_context(found, frustrated_at(request)),
    )


@routes.route(
    f"{API}/customers/<customer_id>",
    name="review_journey_api",
    unquote=True,
    summary="One customer's journey as JSON",
    description=(
        "For a signed-in analyst or admin (session cookie). At most "
        f"{MAX_TOUCHPOINTS} touchpoints, the most recent, oldest first; `total` counts "
        "them all."
    ),
    operation_id="reviewJourney",
    responses={
        "200": json_spec("The journey.", schema_ref("Journey")),
        "401": error_spec("Not signed in."),
        "403": error_spec("Signed in with a role other than analyst or admin."),
        "404": error_spec("No such customer in the journey."),
    },
)
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
def journey_context(found: Journey, frustrated_level: int) -> dict[str, Any]:
    """What review/journey.html shows: the customer, the summary, the timeline's geometry
    and every touchpoint with its links and labels."""
    customer = found.customer
    context: dict[str, Any] = {
        "customer": customer,
        "name": customer["name"] or "Anonymous visitor",
        "known": ", ".join(f"{i['kind']} {i['value']}" for i in found.identities),
        "log_path": LOG_PATH,
        "log_link": LOG_PATH + "?" + urlencode({"customer": customer["id"]}),
        "touchpoints": [
            {
                **t,
                "href": conversation_href(t["id"]),
                "channel_name": channel_name(t["channel"]),
                "outcome_name": OUTCOME_NAMES.get(t["outcome"], t["outcome"]),
            }
            for t in found.touchpoints
        ],
        "truncated": found.truncated,
        "total": found.total,
        "frustrated_at": frustrated_level,
    }
    if found.touchpoints:
        context.update(summary=summary(found), t=timeline(found), legend=legend())
    return context


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


def timeline(found: Journey) -> dict[str, Any]:
    """The timeline's geometry (see the module's docstring); review/journey.html draws it."""
    tps = found.touchpoints
    stage_lanes = lanes(found)
    departments = list(DEPARTMENTS) + sorted(
        {d for t in tps for d in t["departments"]} - set(DEPARTMENTS)
    )
    first: datetime = tps[0]["started_at"]
    last: datetime = tps[-1]["started_at"]
    span = max(last - first, timedelta(hours=1))
    start, end = first - span * 0.04, last + span * 0.04
    plot = WIDTH - LEFT - RIGHT

    def x(moment: datetime) -> float:
        return LEFT + plot * (moment - start) / (end - start)

    stage_top = TOP
    department_top = stage_top + STAGE_LANE * len(stage_lanes) + GAP
    axis_top = department_top + DEPARTMENT_LANE * len(departments)

    def y(t: dict[str, Any]) -> float:
        lane = stage_lanes.index(t["stage"] if t["stage"] in stage_lanes else NO_STAGE)
        return stage_top + lane * STAGE_LANE + STAGE_LANE / 2

    marks = []
    numbered = len(tps) <= MAX_NUMBERED
    last_number_at: dict[float, float] = {}  # per lane: where the last number was written
    for number, t in enumerate(tps, start=1):
        cx, cy = x(t["started_at"]), y(t)
        # The number ties a mark to its row in the table below, where it does not run into
        # the one before (the mark's tooltip and label always have it).
        fits = numbered and cx - last_number_at.get(cy, -WIDTH) >= 6 * len(str(number)) + 6
        if fits:
            last_number_at[cy] = cx
        marks.append(
            {
                "href": conversation_href(t["id"]),
                "id": int(t["id"]),
                "label": _mark_label(number, t),
                "shape": SHAPES.get(t["channel"], OTHER_SHAPE),
                "cx": f"{cx:.1f}",
                "cy": f"{cy:.1f}",
                "fill": OUTCOME_COLOURS.get(t["outcome"], "#444"),
                "flagged": t["flag_tags"] is not None,
                "number": number if fits else None,
                "number_y": f"{cy - MARK - 3:.1f}",
            }
        )
    return {
        "width": WIDTH,
        "height": axis_top + AXIS,
        "left": LEFT,
        "plot": plot,
        "stage_top": stage_top,
        "stage_lane": STAGE_LANE,
        "department_top": department_top,
        "department_lane": DEPARTMENT_LANE,
        "axis_top": axis_top,
        "stage_lanes": [
            {
                "top": stage_top + i * STAGE_LANE,
                "text_y": f"{stage_top + i * STAGE_LANE + STAGE_LANE / 2 + 4:.1f}",
                "fill": "#f4f6f4" if i % 2 == 0 else "#ffffff",
                "label": lane,
            }
            for i, lane in enumerate(stage_lanes)
        ],
        "department_lanes": [
            {
                "top": department_top + i * DEPARTMENT_LANE,
                "text_y": f"{department_top + i * DEPARTMENT_LANE + DEPARTMENT_LANE / 2 + 4:.1f}",
                "fill": "#eef1f6" if i % 2 == 0 else "#f8f9fb",
                "label": department,
            }
            for i, department in enumerate(departments)
        ],
        "ticks": _axis(start, end, x),
        # The path from touchpoint to touchpoint: how the customer moved between stages.
        "points": " ".join(f"{x(t['started_at']):.1f},{y(t):.1f}" for t in tps),
        "department_ticks": [
            {
                "x": f"{x(t['started_at']) - 2:.1f}",
                "y": department_top + departments.index(d) * DEPARTMENT_LANE + 3,
                "title": f"{d}: {when(t['started_at'])}",
            }
            for t in tps
            for d in t["departments"]
        ],
        "marks": marks,
    }


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


def _axis(start: datetime, end: datetime, x: Callable[[datetime], float]) -> list[dict[str, str]]:
    """Grid lines at round moments (hours, days, weeks, months, years): x and label."""
    span = end - start
    step, label = next(
        ((s, f) for s, f in _TICKS if span / s <= MAX_TICKS), (timedelta(days=365), "%Y")
    )
    while span / step > MAX_TICKS:  # journeys of many years: every few years
        step *= 2
    return [
        {"x": f"{x(tick):.1f}", "label": tick.strftime(label)} for tick in _ticks(start, end, step)
    ]


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


def legend() -> dict[str, list[tuple[str, str]]]:
    """What the colours and shapes mean: (label, colour) of outcomes, (label, shape) of channels."""
    channels = [(channel_name(c), shape) for c, shape in SHAPES.items()]
    return {
        "outcomes": [(OUTCOME_NAMES.get(o, o), colour) for o, colour in OUTCOME_COLOURS.items()],
        "channels": [*channels, ("other channel", OTHER_SHAPE)],
    }
