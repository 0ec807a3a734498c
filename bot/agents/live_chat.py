"""What lasts seconds in a website chat, between the agent console and the customer's widget.

The agent typing, the customer typing and "seen" are not part of the conversation's
record, so they don't go through Rasa's events API: the website channel keeps them in
memory and has a small HTTP route for the hub, ``/webhooks/socketio/live/<conversation>``
on the Rasa server, authorised with Rasa's API token (bot/rasa/channels/web.py). This is its
client, with short timeouts: a typing dot that arrives late is worth nothing.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import requests

TIMEOUT = (2.0, 3.0)  # (connect, read) seconds
PATH = "/webhooks/socketio/live/"


class LiveUnavailable(RuntimeError):
    """The Rasa server's website channel did not take or answer a live signal."""


class LiveChat:
    """The website channel's live route on the Rasa server at ``base_url``."""

    def __init__(
        self,
        base_url: str,
        token: str,
        session: requests.Session | None = None,
        timeout: float | tuple[float, float] = TIMEOUT,
    ):
        self.base_url = base_url.rstrip("/")
        self.token = token
        self.session = session or requests.Session()
        self.timeout = timeout

    def agent_typing(self, conversation_id: str, agent: str, typing: bool = True) -> None:
        """Show (or stop showing) "``agent`` is typing" in the customer's widget."""
        self._call(
            "POST",
            conversation_id,
            {"type": "agent_typing", "agent": agent, "typing": typing},
        )

    def seen(self, conversation_id: str, message_id: str) -> None:
        """Mark the customer's messages up to ``message_id`` as seen in their widget."""
        self._call("POST", conversation_id, {"type": "seen", "message_id": message_id})

    def customer_typing(self, conversation_id: str) -> bool:
        """Whether the customer is typing in the widget now."""
        answer = self._call("GET", conversation_id)
        return bool(answer.get("customer_typing"))

    def _call(
        self, method: str, conversation_id: str, body: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        url = f"{self.base_url}{PATH}{quote(conversation_id, safe='')}"
        try:
            response = self.session.request(
                method,
                url,
                json=body,
                headers={"Authorization": f"Bearer {self.token}"},
                timeout=self.timeout,
            )
        except requests.RequestException as e:
            raise LiveUnavailable(
                f"Rasa at {self.base_url} did not answer ({type(e).__name__})"
            ) from e
        if response.status_code == 403:
            raise LiveUnavailable(
                "Rasa's website channel refused the token: the hub's CX_RASA_TOKEN must be "
                "the Rasa server's"
            )
        if response.status_code >= 400:
            raise LiveUnavailable(f"Rasa's website channel answered {response.status_code}")
        if response.status_code == 204 or not response.content:
            return {}
        try:
            data = response.json()
        except ValueError:
            raise LiveUnavailable("Rasa's website channel answered something not JSON") from None
        return data if isinstance(data, dict) else {}
