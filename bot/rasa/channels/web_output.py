"""How messages reach the website widget: Rasa's socket.io output, with people's messages.

Apart from the input channel (bot/rasa/channels/web.py), which binds browsers to conversations,
because this is the other direction: what the widget is sent. A human agent's message
arrives as a bot event whose ``custom`` data names the agent, a person joining or leaving
as one whose ``custom`` data names the ``system`` event (bot/agents/agent_desk.py).
"""

from __future__ import annotations

from typing import Any

from rasa.core.channels.socketio import SocketIOOutput


class WebChatOutput(SocketIOOutput):
    """Rasa's socket.io output, plus a human agent's messages shown with the agent's name.

    An agent's message arrives as a bot event whose ``custom`` data names the agent
    (``{"text": ..., "agent": "Ana"}``); stock Rasa would send its text twice (as text and
    as custom JSON) and drop the name.
    """

    async def send_response(self, recipient_id: str, message: dict[str, Any]) -> None:
        custom = message.get("custom")
        if isinstance(custom, dict) and custom.get("agent"):
            text = custom.get("text") or message.get("text") or ""
            await self._send_message(
                recipient_id, {"text": str(text), "agent": str(custom["agent"])}
            )
            return
        if isinstance(custom, dict) and custom.get("system"):
            # A person joined or left: the widget shows it as an event and changes its header.
            text = custom.get("text") or message.get("text") or ""
            await self._send_message(
                recipient_id,
                {
                    "text": str(text),
                    "system": str(custom["system"]),
                    "by": str(custom.get("by") or ""),
                },
            )
            return
        await super().send_response(recipient_id, message)

    async def send_custom_json(
        self, recipient_id: str, json_message: dict[str, Any], **kwargs: Any
    ) -> None:
        # Stock Rasa spreads the JSON into emit()'s keyword arguments; the widget wants it whole.
        await self._send_message(recipient_id, json_message)
