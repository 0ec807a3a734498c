"""One conversation session for CX review (``/review/conversations/<touchpoint_id>``).

What the journey recorded about the session (customer, channel, stage, needs, outcome,
rating, effort, signals, times), the transcript of that session from Rasa's tracker store
(read over Rasa's HTTP API; when Rasa can't be reached, the page says so plainly and
shows everything else), every routing decision with its rules and reason, handoffs with
their deliveries and the department's answer, agents' takeovers and internal notes,
policy moments (what was offered, what was chosen), the session's identity checks (a
security signal: order numbers, emails and codes tried) and the review flag panel
(bot/hub/review/flags.py). The data is assembled by ``bot.analytics.conversation``; this
module renders it, every value through ``html.escape``. The same view is JSON at
``/api/review/conversations/<touchpoint_id>``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sanic.request import Request
from sanic.response import HTTPResponse
from sanic.response import json as json_response

from bot.agents.rasa_api import RasaApi
from bot.agents.transcript import Line
from bot.analytics.conversation import Conversation, conversation
from bot.analytics.flags import flag_of
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
from bot.hub.review.flags import flag_panel
from bot.hub.review.layout import API, PREFIX, page
from bot.hub.review.log import (
    LOG_PATH,
    OUTCOME_NAMES,
    channel_name,
    frustrated_at,
    journey_href,
)
from bot.hub.web import HubError, in_thread

TAKEOVER_ENDINGS = {
    "active": "has it now",
    "handed_back": "handed back to the assistant",
    "transferred": "transferred to a department",
    "resolved": "resolved it",
    "abandoned": "let it lapse (back to the queue)",
}
SENDERS = {"customer": "Customer", "assistant": "Assistant", "system": ""}
# Identity checks (bot/identity/checks.py) in words.
CHECK_KINDS = {
    "lookup": "Order looked up without verification",
    "order_email": "Order number and the email on it",
    "code_sent": "One-time code emailed",
    "code": "One-time code typed in",
}
CHECK_OUTCOMES = {"ok": "passed", "failed": "failed", "limited": "refused: over the limit"}
# (connect, read) seconds for the transcript: a tracker is one read from Rasa's store.
TRANSCRIPT_TIMEOUT = (2.0, 5.0)


# -- how the routes are described (bot/hub/registry.py) ----------------------------------------
_TOUCHPOINT_ID = {
    "name": "touchpoint_id",
    "in": "path",
    "required": True,
    "description": "The touchpoint (one session of a conversation).",
    "schema": {"type": "integer", "minimum": 1},
}

routes = RouteTable(
    tags=["CX review"],
    path_parameters={"touchpoint_id": _TOUCHPOINT_ID},
    schemas=schemas.CONVERSATION_SCHEMAS,
)


@routes.route(
    f"{PREFIX}/conversations/<touchpoint_id:int>",
    name="review_conversation",
    summary=(
        "One conversation session: facts, transcript, routing, handoffs, agents, identity checks"
    ),
    description=(
        "For a signed-in analyst or admin (session cookie). The transcript is read from "
        "Rasa's HTTP API; when Rasa can't be reached the page says so and shows the rest."
    ),
    operation_id="reviewConversationPage",
    responses={
        "200": html_spec("The conversation page."),
        "303": TO_SIGN_IN,
        "403": html_spec("Signed in with a role other than analyst or admin."),
        "404": html_spec("No such touchpoint."),
    },
)
async def conversation_page(request: Request, touchpoint_id: int) -> HTTPResponse:
    """The conversation session: facts, transcript, routing, handoffs, agents, the flag."""
    session = await require(request, "review")
    view = await _conversation(request, touchpoint_id)
    flag = await in_thread(flag_of, request.app.ctx.engine, touchpoint_id)
    now = datetime.fromtimestamp(request.app.ctx.settings.clock())
    who = (view.customer or {}).get("name") or "an anonymous visitor"
    return page(
        f"Conversation with {who}",
        request=request,
        session=session,
        current=LOG_PATH,
        template="review/conversation.html",
        flag_panel=flag_panel(touchpoint_id, flag, session.csrf_token, now),
        **conversation_context(view, frustrated_at(request)),
    )


@routes.route(
    f"{API}/conversations/<touchpoint_id:int>",
    name="review_conversation_api",
    summary="One conversation session as JSON",
    description=(
        "For a signed-in analyst or admin (session cookie). `transcript` is null and "
        "`transcript_error` says why when Rasa can't be read."
    ),
    operation_id="reviewConversation",
    responses={
        "200": json_spec("The conversation session.", schema_ref("ReviewConversation")),
        "401": error_spec("Not signed in."),
        "403": error_spec("Signed in with a role other than analyst or admin."),
        "404": error_spec("No such touchpoint."),
    },
)
async def conversation_api(request: Request, touchpoint_id: int) -> HTTPResponse:
    """The conversation session as JSON (the transcript null, and why, when Rasa is down)."""
    await require(request, "review")
    view = await _conversation(request, touchpoint_id)
    flag = await in_thread(flag_of, request.app.ctx.engine, touchpoint_id)
    data = view.as_json() | {"flag": flag.as_json() if flag else None}
    return json_response(data, headers={"Cache-Control": "no-store"})


async def _conversation(request: Request, touchpoint_id: int) -> Conversation:
    view = await in_thread(
        conversation, request.app.ctx.engine, touchpoint_id, _rasa(request).tracker
    )
    if view is None:
        raise HubError(404, f"no touchpoint {touchpoint_id} in the journey")
    return view


def _rasa(request: Request) -> RasaApi:
    """Rasa's HTTP API with the hub's URL and token (made once per app), quick to give up:
    without Rasa the page still has everything else to show."""
    ctx = request.app.ctx
    if getattr(ctx, "review_rasa", None) is None:
        settings = ctx.settings
        ctx.review_rasa = RasaApi(
            settings.rasa_api_url, settings.rasa_token, timeout=TRANSCRIPT_TIMEOUT
        )
    rasa: RasaApi = ctx.review_rasa
    return rasa


# -- the page ----------------------------------------------------------------------------------
SIGNALS = (
    ("repeats", "repeats"),
    ("told_you", "“I already told you”"),
    ("negative_words", "negative words"),
    ("contacts_about_order", "other contacts about the order this week"),
)


def conversation_context(view: Conversation, frustrated_level: int) -> dict[str, Any]:
    """What review/conversation.html shows (the flag panel aside)."""
    tp, customer = view.touchpoint, view.customer or {}
    signals = tp["signals"]
    return {
        "view": view,
        "log_path": LOG_PATH,
        "prefix": PREFIX,
        "customer_id": customer.get("id"),
        "customer_name": customer.get("name"),
        "tier": customer.get("tier"),
        "journey_href": journey_href(customer["id"]) if customer.get("id") else None,
        "channel": channel_name(tp["channel"]),
        "outcome_name": OUTCOME_NAMES.get(tp["outcome"], tp["outcome"]),
        "comments": [f["comment"] for f in view.feedback if f.get("comment")],
        "frustration": int(signals.get("frustration") or 0),
        "frustrated_at": frustrated_level,
        "signals": ", ".join(f"{label} {int(signals.get(key) or 0)}" for key, label in SIGNALS),
        "lines": [_line(line) for line in view.transcript or []],
        "endings": TAKEOVER_ENDINGS,
        "check_kinds": CHECK_KINDS,
        "check_outcomes": CHECK_OUTCOMES,
        "failed_checks": sum(c["outcome"] in ("failed", "limited") for c in view.identity_checks),
    }


def _line(line: Line) -> dict[str, Any]:
    """A transcript line with who said it in words (an agent by name)."""
    who = f"{line.agent} (agent)" if line.sender == "agent" else SENDERS.get(line.sender, "")
    return {"sender": line.sender, "who": who, "text": line.text, "at": line.at}
