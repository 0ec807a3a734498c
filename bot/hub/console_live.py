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

They reach the widget through the Rasa server's website channel (bot/agents/live.py), not
Rasa's events API: none of this belongs in the conversation's record. Slack has no such
thing for a bot to show, so on other channels the POSTs answer ``{"relayed": false}``.
The routes are declared here, OpenAPI included (``OPENAPI_PATHS``, which also carries
bot/hub/console_push.py's); the page's side is bot/hub/static/console.js.
"""

from __future__ import annotations

from sanic import Sanic
from sanic.request import Request
from sanic.response import HTTPResponse
from sanic.response import json as json_response

from bot.agents import AgentDeskError, NotFound, NotHolding, Takeover
from bot.agents.live import LiveChat, LiveUnavailable
from bot.agents.queue import Holder
from bot.agents.relay import WEB_CHANNEL
from bot.hub import console_push
from bot.hub.accounts import Session
from bot.hub.auth import check_csrf, require
from bot.hub.openapi_parts import error_spec, json_spec
from bot.hub.web import HubError, in_thread, json_object

BASE = "/api/console/conversations/<conversation_id>"  # beside bot/hub/console.py's routes
TYPING_PING_MS = 2000  # the console repeats "typing" this often while the agent types
CUSTOMER_POLL_MS = 1500  # and asks whether the customer is typing this often
MAX_MESSAGE_ID = 64


def add_routes(app: Sanic) -> None:
    """Register the live routes on ``app`` (beside bot/hub/console.py's)."""
    app.add_route(agent_typing, f"{BASE}/typing", methods=["POST"], name="console_typing")
    app.add_route(seen, f"{BASE}/seen", methods=["POST"], name="console_seen")
    app.add_route(live_state, f"{BASE}/live", methods=["GET"], name="console_live")


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


async def live_state(request: Request, conversation_id: str) -> HTTPResponse:
    """Whether the customer is typing in the website chat now."""
    await require(request, "console")
    typing = await _relay(live_chat(request).customer_typing, conversation_id)
    return _json({"customer_typing": typing})


async def _relay(fn, *args):
    try:
        return await in_thread(fn, *args)
    except LiveUnavailable as e:
        raise HubError(502, str(e)) from None


def _json(data: dict, status: int = 200) -> HTTPResponse:
    return json_response(data, status=status, headers={"Cache-Control": "no-store"})


# -- OpenAPI ---------------------------------------------------------------------------------
_CONVERSATION = {
    "name": "conversation_id",
    "in": "path",
    "required": True,
    "description": "Rasa's conversation (sender) id.",
    "schema": {"type": "string"},
}
_SIGNED_IN = (
    "Session cookie of an agent or admin, and the session's CSRF token in the `X-CSRF-Token` "
    "header (from GET /api/session)."
)


_RELAYED = {
    "type": "object",
    "properties": {"relayed": {"type": "boolean"}},
    "required": ["relayed"],
}


def _post(operation: str, summary: str, body: dict, required: list[str]) -> dict:
    return {
        "parameters": [_CONVERSATION],
        "post": {
            "tags": ["agent console"],
            "summary": summary,
            "description": _SIGNED_IN,
            "operationId": operation,
            "requestBody": {
                "required": True,
                "content": {
                    "application/json": {
                        "schema": {"type": "object", "properties": body, "required": required}
                    }
                },
            },
            "responses": {
                "200": json_spec(
                    "Passed on to the customer's widget (`relayed: false`: not a website chat).",
                    _RELAYED,
                ),
                "400": error_spec("Not a JSON object of the described shape."),
                "401": error_spec("Not signed in."),
                "403": error_spec(
                    "Another role than agent or admin, or no valid CSRF token, or another "
                    "site's Origin."
                ),
                "404": error_spec("No such conversation, or no escalation waiting in it."),
                "409": error_spec("Not held by this agent, or the lease lapsed."),
                "502": error_spec("Rasa's website channel did not take it."),
            },
        },
    }


_PAGE = {
    "parameters": [_CONVERSATION],
    "get": {
        "tags": ["agent console"],
        "summary": "The workspace with one conversation open beside the list",
        "description": (
            "For a signed-in agent or admin. Without a session: a redirect to /login. "
            "`?part=context` answers the context panel alone (an HTML fragment)."
        ),
        "operationId": "consoleConversationPage",
        "parameters": [
            {
                "name": "part",
                "in": "query",
                "required": False,
                "description": "`context`: only the context panel (packet, orders, journey).",
                "schema": {"type": "string", "enum": ["context"]},
            }
        ],
        "responses": {
            "200": {
                "description": "The page (or the context panel).",
                "content": {"text/html": {"schema": {"type": "string"}}},
            },
            "303": {"description": "Not signed in: to /login?next=<this page>."},
            "403": {
                "description": "Signed in with a role other than agent or admin.",
                "content": {"text/html": {"schema": {"type": "string"}}},
            },
            "404": {
                "description": "No such conversation in the journey.",
                "content": {"text/html": {"schema": {"type": "string"}}},
            },
        },
    },
}

OPENAPI_PATHS = {
    **console_push.OPENAPI_PATHS,
    "/console/conversations/{conversation_id}": _PAGE,
    "/api/console/conversations/{conversation_id}/typing": _post(
        "consoleAgentTyping",
        "The holding agent is typing (or stopped): shown in the customer's website chat",
        {"typing": {"type": "boolean"}},
        [],
    ),
    "/api/console/conversations/{conversation_id}/seen": _post(
        "consoleSeen",
        "The holding agent's console displayed the customer's messages up to this one",
        {"message_id": {"type": "string", "minLength": 1, "maxLength": MAX_MESSAGE_ID}},
        ["message_id"],
    ),
    "/api/console/conversations/{conversation_id}/live": {
        "parameters": [_CONVERSATION],
        "get": {
            "tags": ["agent console"],
            "summary": "Whether the customer is typing in the website chat now",
            "operationId": "consoleLive",
            "responses": {
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
        },
    },
}
