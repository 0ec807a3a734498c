"""Rasa's REST channel, with the request checked before Rasa reads it.

Stock ``RestInput`` calls ``request.json.get(...)``, so a body that is valid JSON but not
an object (``[]``, ``"x"``, ``null``) ends in a 500. Here every malformed request gets a
400 with a message that says what is expected. The URL stays /webhooks/rest/webhook.
"""

from __future__ import annotations

from typing import Any

from rasa.core.channels.rest import RestInput
from sanic.exceptions import InvalidUsage
from sanic.request import Request

MAX_MESSAGE_CHARS = 20_000
EXPECTED = 'expected a JSON object like {"sender": "someone", "message": "hello"}'


class CheckedRestInput(RestInput):
    """``rest`` channel that answers malformed requests with 400, never 500."""

    @classmethod
    def name(cls) -> str:
        return "rest"

    @staticmethod
    def _body(req: Request) -> dict[str, Any]:
        try:
            body = req.json
        except Exception:  # Sanic raises on unparsable JSON
            raise InvalidUsage(f"The body is not valid JSON: {EXPECTED}") from None
        if not isinstance(body, dict):
            raise InvalidUsage(f"The body is JSON but not an object: {EXPECTED}")
        return body

    async def _extract_sender(self, req: Request) -> str | None:
        sender = self._body(req).get("sender")
        if sender is not None and not isinstance(sender, (str, int)):
            raise InvalidUsage("'sender' must be a string")
        return str(sender) if sender is not None else None

    def _extract_message(self, req: Request) -> str | None:
        message = self._body(req).get("message")
        if message is None:
            raise InvalidUsage(f"'message' is missing: {EXPECTED}")
        if not isinstance(message, str):
            raise InvalidUsage("'message' must be a string")
        # Longer messages are cut, not refused: the customer still gets an answer in bounded time.
        return message[:MAX_MESSAGE_CHARS]

    def _extract_input_channel(self, req: Request) -> str:
        channel = self._body(req).get("input_channel")
        return channel if isinstance(channel, str) and channel else self.name()

    def get_metadata(self, request: Request) -> dict[str, Any] | None:
        metadata = self._body(request).get("metadata")
        return metadata if isinstance(metadata, dict) else None
