"""The agent console's route into website chats, for what lasts only seconds (typing, seen).

``/webhooks/socketio/live/<conversation id>``, with Rasa's API token as a Bearer token:
``POST {"type": "agent_typing", "agent": name, "typing": bool}`` or ``POST {"type": "seen",
"message_id": id}`` (204), passed on to the conversation's widgets as ``agent_typing`` or
``seen``; ``GET`` -> ``{"customer_typing": bool}``. bot/agents/live_chat.py is its client. Apart
from the channel (bot/rasa/channels/web.py), which speaks socket.io to browsers, because this is
plain HTTP from another process, with its own authorisation and request shapes; the state
it reads and writes is bot/rasa/channels/live.py's.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from sanic import response
from sanic.request import Request
from sanic.response import HTTPResponse
from socketio import AsyncServer

from bot.rasa.channels.live import LiveState

MAX_NAME_CHARS = 100  # an agent's name, as the hub's accounts keep it


def live_route(
    state: LiveState, sio: AsyncServer, authorised: Callable[[str], bool]
) -> Callable[[Request, str], Awaitable[HTTPResponse]]:
    """The handler of the live route: ``authorised`` checks the Authorization header,
    ``state`` keeps typing and seen marks, ``sio`` passes signals on to the widgets."""

    async def live(request: Request, conversation_id: str) -> HTTPResponse:
        # The agent console (through the hub), never a browser: Rasa's API token.
        if not authorised(request.headers.get("Authorization", "")):
            return response.json({"error": "a Bearer token (Rasa's API token) is needed"}, 403)
        if request.method == "GET":
            return response.json({"customer_typing": state.is_customer_typing(conversation_id)})
        try:
            body = request.json
        except Exception:  # noqa: BLE001 - Sanic raises its own for a malformed body
            body = None
        signal = live_signal(body)
        if signal is None:
            return response.json(
                {
                    "error": 'expected {"type": "agent_typing", "agent", "typing"} or '
                    '{"type": "seen", "message_id"}'
                },
                400,
            )
        name, data = signal
        if name == "seen":
            state.seen(conversation_id, data["message_id"])
        await sio.emit(name, data, room=conversation_id)
        return response.empty()

    return live


def live_signal(body: Any) -> tuple[str, dict[str, Any]] | None:
    """The socket.io event and data for a live signal from the console, or None if malformed."""
    if not isinstance(body, dict):
        return None
    if body.get("type") == "agent_typing":
        agent = body.get("agent")
        if not isinstance(agent, str) or not agent.strip():
            return None
        typing = body.get("typing", True)
        return "agent_typing", {"agent": agent.strip()[:MAX_NAME_CHARS], "typing": bool(typing)}
    if body.get("type") == "seen":
        message_id = body.get("message_id")
        if not isinstance(message_id, str) or not 0 < len(message_id) <= 64:
            return None
        return "seen", {"message_id": message_id}
    return None
