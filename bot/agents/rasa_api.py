"""A small client of Rasa's HTTP API: read a tracker, append events, pause and resume.

Only the documented endpoints (``GET /conversations/{id}/tracker``,
``POST /conversations/{id}/tracker/events`` and ``POST /conversations/{id}/trigger_intent``), with the API token, explicit timeouts and
one ``requests.Session``. Every failure becomes a ``RasaApiError`` that says what to do.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from urllib.parse import quote

import requests

# (connect, read) seconds: Rasa answers the events API from memory plus one tracker-store
# write; a slow database can take a few seconds, a dead server should fail fast.
TIMEOUT = (3.05, 15.0)
PAUSE = {"event": "pause"}
RESUME = {"event": "resume"}
LISTEN = {"event": "action", "name": "action_listen"}


class RasaApiError(RuntimeError):
    """Rasa's HTTP API did not do what was asked (the message says what went wrong)."""


class RasaApi:
    """Rasa's HTTP API at ``base_url``, authorised with ``token`` (``--auth-token``)."""

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

    def tracker(self, conversation_id: str) -> dict[str, Any]:
        """The conversation's tracker state, with every event (``include_events=ALL``)."""
        return self._call(
            "GET",
            conversation_id,
            "tracker",
            {"include_events": "ALL"},
            None,
            "read the conversation",
        )

    def last_change(self, conversation_id: str) -> Any:
        """When the conversation last changed (Rasa's ``latest_event_time``), read without its
        events: what the console's push compares to know a chat has news."""
        state = self._call(
            "GET",
            conversation_id,
            "tracker",
            {"include_events": "NONE"},
            None,
            "read the conversation",
        )
        return state.get("latest_event_time") or len(state.get("events") or [])

    def append(
        self,
        conversation_id: str,
        events: Sequence[dict[str, Any]],
        output_channel: str | None = None,
    ) -> dict[str, Any]:
        """Append ``events``; with ``output_channel``, bot messages among them are sent there.

        Rasa sends them itself (``execute_side_effects``) through that input channel's
        output; without it the events are only recorded.
        """
        params: dict[str, str] = {"include_events": "NONE"}
        if output_channel:
            params.update(execute_side_effects="true", output_channel=output_channel)
        return self._call(
            "POST", conversation_id, "tracker/events", params, list(events), "add events"
        )

    def trigger_intent(
        self,
        conversation_id: str,
        intent: str,
        entities: dict[str, str],
        output_channel: str,
    ) -> dict[str, Any]:
        """Run the assistant on ``intent`` as if the customer had sent it (Rasa's
        ``trigger_intent``); its messages go out on ``output_channel``, or come back in the
        answer's ``messages`` with ``collector``."""
        return self._call(
            "POST",
            conversation_id,
            "trigger_intent",
            {"output_channel": output_channel, "include_events": "NONE"},
            {"name": intent, "entities": entities},
            "run the assistant",
        )

    def pause(self, conversation_id: str) -> None:
        """Stop the assistant answering this conversation (its messages are still logged)."""
        self.append(conversation_id, [PAUSE])

    def resume(self, conversation_id: str) -> None:
        """Let the assistant answer this conversation again."""
        self.append(conversation_id, [RESUME, LISTEN])

    def _call(
        self,
        method: str,
        conversation_id: str,
        what: str,
        params: dict[str, str],
        body: list[dict[str, Any]] | dict[str, Any] | None,
        doing: str,
    ) -> dict[str, Any]:
        url = f"{self.base_url}/conversations/{quote(conversation_id, safe='')}/{what}"
        try:
            response = self.session.request(
                method,
                url,
                params={**params, "token": self.token},
                json=body,
                timeout=self.timeout,
            )
        except requests.RequestException as e:
            raise RasaApiError(
                f"Rasa at {self.base_url} did not answer ({type(e).__name__}): is the Rasa "
                "server running with --enable-api?"
            ) from e
        if response.status_code in (401, 403):
            raise RasaApiError(
                f"Rasa refused the API token ({response.status_code}): the hub's CX_RASA_TOKEN "
                "must be the token Rasa was started with (--auth-token)"
            )
        if response.status_code >= 400:
            raise RasaApiError(
                f"Rasa could not {doing} ({response.status_code}): {_reason(response)}"
            )
        try:
            answer: dict[str, Any] = response.json()
        except ValueError:
            raise RasaApiError(f"Rasa's answer to {method} {what} is not JSON") from None
        return answer


def _reason(response: requests.Response) -> str:
    try:
        data = response.json()
    except ValueError:
        return response.text[:200] or response.reason
    if isinstance(data, dict):
        return str(data.get("message") or data.get("reason") or data)[:200]
    return str(data)[:200]
