"""The agent console's live signals: typing both ways, and "seen", for website chats.

- ``POST /api/console/conversations/<id>/typing`` ``{"typing": true|false}``: the holding
  agent is typing (the console sends it at most every 2 s while they type, and ``false``
  when they empty the box); the customer's widget shows "<name> is typing" until the
  message arrives or a few seconds pass without news.
- ``POST /api/console/conversations/<id>/seen`` ``{"message_id": ...}``: the holding agent's
  console displayed the customer's messages up to that one (the page was visible); the
  widget shows "Seen" under them.
- ``GET /api/console/conversations/<id>/live`` -> ``{"customer_typing": bool}``: whether the
  customer is typing in the widget now. The console hears it pushed on its event stream
  (bot/hub/console_push.py, ``typing``) and asks here every 1.5 s only while that is down.

They reach the widget through the Rasa server's website channel (bot/agents/live_chat.py), not
Rasa's events API: none of this belongs in the conversation's record. Slack has no such
thing for a bot to show, so on other channels the POSTs answer ``{"relayed": false}``.
The routes are declared here with their OpenAPI description (bot/hub/registry.py); the
page's side is bot/hub/static/console.js.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from sanic.request import Request
from sanic.response import HTTPResponse
from sanic.response import json as json_response

from bot.agents import AgentDeskError, NotFound, NotHolding, Takeover
from bot.agents.live_chat import LiveChat, LiveUnavailable
from bot.agents.queue import Holder
from bot.agents.relay import WEB_CHANNEL
from bot.hub import console_push
from bot.hub.accounts import Session
from bot.hub.auth import check_csrf, require
from bot.hub.openapi_parts import CONVERSATION_ID, Spec, error_spec, json_body, json_spec
from bot.hub.registry import RouteTable
from bot.hub.web import HubError, in_thread, json_object

T = TypeVar("T")

BASE = "/api/console/conversations/<conversation_id>"  # beside bot/hub/console.py's routes
TYPING_PING_MS = 2000  # the console repeats "typing" this often while the agent types
CUSTOMER_POLL_MS = 1500  # and asks whether the customer is typing this often
MAX_MESSAGE_ID = 64


# -- how the routes are described (bot/hub/registry.py) -------------------------------------
_SIGNED_IN = (
    "Session cookie of an agent or admin, and the session's CSRF token in the `X-CSRF-Token` "
    "header (from GET /api/session)."
)
_RELAYED = {
    "type": "object",
    "properties": {"relayed": {"type": "boolean"}},
    "required": ["relayed"],
}
# What a POST here answers.
_POSTED = {
    "200": json_spec(
        "Passed on to the customer's widget (`relayed: false`: not a website chat).",
        _RELAYED,
    ),
    "400": error_spec("Not a JSON object of the described shape."),
    "401": error_spec("Not signed in."),
    "403": error_spec(
        "Another role than agent or admin, or no valid CSRF token, or another site's Origin."
    ),
    "404": error_spec("No such conversation, or no escalation waiting in it."),
    "409": error_spec("Not held by this agent, or the lease lapsed."),
    "502": error_spec("Rasa's website channel did not take it."),
}


def _body(properties: Spec, required: list[str]) -> Spec:
    """A required JSON object body with ``properties``."""
    schema = {"type": "object", "properties": properties, "required": required}
    return json_body(schema)


routes = RouteTable(tags=["agent console"], path_parameters={"conversation_id": CONVERSATION_ID})


def live_chat(request: Request) -> LiveChat:
    """The hub's client of the website channel's live route (made on first use)."""
    return console_push.live_chat_of(request.app)


async def changing(request: Request) -> Session:
    """The session of a POST here: a console user with the session's CSRF token."""
    session = await require(request, "console")
    check_csrf(request, session)
    return session


async def holding(request: Request, session: Session, conversation_id: str) -> Takeover:
    """The signed-in agent's takeover of the conversation (renewed: they are at work);
    409 when they don't hold it, 404 for no such chat."""
    user = session.user
    holder = Holder(user.id, user.username, user.display_name)
    try:
        return await in_thread(request.app.ctx.agents.heartbeat, conversation_id, holder)
    except NotHolding as e:
        raise HubError(409, str(e)) from None
    except NotFound as e:
        raise HubError(404, str(e)) from None
    except AgentDeskError as e:
        raise HubError(400, str(e)) from None


@routes.route(
    f"{BASE}/typing",
    "POST",
    name="console_typing",
    summary="The holding agent is typing (or stopped): shown in the customer's website chat",
    description=_SIGNED_IN,
    operation_id="consoleAgentTyping",
    request=_body({"typing": {"type": "boolean"}}, []),
    responses=_POSTED,
)
async def agent_typing(request: Request, conversation_id: str) -> HTTPResponse:
    """The holding agent is typing (or stopped): shown in the customer's widget."""
    session = await changing(request)
    typing = json_object(request).get("typing", True)
    if not isinstance(typing, bool):
        raise HubError(400, "typing is true or false")
    held = await holding(request, session, conversation_id)
    if held.channel != WEB_CHANNEL:
        return _json({"relayed": False})
    await _relay(live_chat(request).agent_typing, conversation_id, held.agent.public_name, typing)
    return _json({"relayed": True})


@routes.route(
    f"{BASE}/seen",
    "POST",
    name="console_seen",
    summary="The holding agent's console displayed the customer's messages up to this one",
    description=_SIGNED_IN,
    operation_id="consoleSeen",
    request=_body(
        {"message_id": {"type": "string", "minLength": 1, "maxLength": MAX_MESSAGE_ID}},
        ["message_id"],
    ),
    responses=_POSTED,
)
async def seen(request: Request, conversation_id: str) -> HTTPResponse:
    """The holding agent's console displayed the customer's messages up to ``message_id``."""
    session = await changing(request)
    message_id = json_object(request).get("message_id")
    if not isinstance(message_id, str) or not 0 < len(message_id) <= MAX_MESSAGE_ID:
        raise HubError(
            400, f"message_id is the id of a customer message (1-{MAX_MESSAGE_ID} characters)"
        )
    held = await holding(request, session, conversation_id)
    if held.channel != WEB_CHANNEL:
        return _json({"relayed": False})
    await _relay(live_chat(request).seen, conversation_id, message_id)
    return _json({"relayed": True})


@routes.route(
    f"{BASE}/live",
    name="console_live",
    summary="Whether the customer is typing in the website chat now",
    operation_id="consoleLive",
    responses={
        "200": json_spec(
            "The customer's typing (false on other channels).",
            {
                "type": "object",
                "properties": {"customer_typing": {"type": "boolean"}},
                "required": ["customer_typing"],
            },
        ),
        "401": error_spec("Not signed in."),
        "403": error_spec("Signed in with a role other than agent or admin."),
        "502": error_spec("Rasa's website channel did not answer."),
    },
)
async def live_state(request: Request, conversation_id: str) -> HTTPResponse:
    """Whether the customer is typing in the website chat now."""
    await require(request, "console")
    typing = await _relay(live_chat(request).customer_typing, conversation_id)
    return _json({"customer_typing": typing})


async def _relay(fn: Callable[..., T], *args: Any) -> T:
    try:
        return await in_thread(fn, *args)
    except LiveUnavailable as e:
        raise HubError(502, str(e)) from None


def _json(data: dict[str, Any], status: int = 200) -> HTTPResponse:
    return json_response(data, status=status, headers={"Cache-Control": "no-store"})
