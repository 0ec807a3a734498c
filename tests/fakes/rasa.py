"""A fake Rasa HTTP API on 127.0.0.1: trackers and the events API, as the hub uses them.

``GET /conversations/{id}/tracker``, ``POST /conversations/{id}/trigger_intent`` and
``POST /conversations/{id}/tracker/events`` with
the ``token`` query parameter, ``execute_side_effects`` and ``output_channel``: events are
recorded per conversation (``pause``/``resume`` set ``paused`` as Rasa does), and bot
messages sent as side effects are recorded in ``sent`` with the channel they went to.
``customer_says`` plays a customer's message reaching Rasa: it is logged, and answered
only while the conversation is not paused, as Rasa's processor does. ``fail`` makes the
next requests answer an error, to test what the hub does when Rasa fails.

The website channel's live route (bot/rasa/channels/web.py) too: ``POST
/webhooks/socketio/live/{id}`` with the token as a Bearer token records the signal in
``live``; ``GET`` answers whether the customer is typing (``customer_typing`` names them).
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from tests.fakes.server import LocalServer

TOKEN = "fake-rasa-token"
LIVE = "/webhooks/socketio/live/"
KNOWN_EVENTS = {"user", "bot", "action", "pause", "resume", "slot", "session_started"}


@dataclass(frozen=True)
class Sent:
    """A bot message Rasa sent through an output channel (a side effect)."""

    conversation_id: str
    channel: str
    event: dict[str, Any]

    @property
    def text(self) -> str:
        return self.event.get("text") or ""

    @property
    def custom(self) -> dict[str, Any] | None:
        return (self.event.get("data") or {}).get("custom")


@dataclass
class FakeRasa(LocalServer):
    """Rasa's HTTP API on a free local port."""

    token: str = TOKEN
    clock: Callable[[], float] = time.time
    trackers: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    sent: list[Sent] = field(default_factory=list)
    requests: list[tuple[str, str, dict[str, list[str]]]] = field(default_factory=list)
    # trigger_intent calls: (conversation id, request body, output_channel)
    triggered: list[tuple[str, dict[str, Any], str | None]] = field(default_factory=list)
    # Live signals the hub sent to the website channel: (conversation id, body)
    live: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    customer_typing: set[str] = field(default_factory=set)

    def __post_init__(self):
        self._lock = threading.Lock()
        self._failures: list[tuple[str | None, int]] = []

    @property
    def url(self) -> str:
        return self.base_url

    # -- the test's side --------------------------------------------------------------------
    def fail(self, status: int = 500, method: str | None = None, times: int = 1) -> None:
        """The next ``times`` requests (of ``method``, if given) answer ``status``."""
        with self._lock:
            self._failures.extend([(method, status)] * times)

    def customer_says(
        self, conversation_id: str, text: str, channel: str = "socketio", metadata=None
    ) -> None:
        """A customer's message reaches Rasa: logged; answered unless paused."""
        with self._lock:
            events = self.trackers.setdefault(conversation_id, [])
            events.append(
                {
                    "event": "user",
                    "text": text,
                    "timestamp": self.clock(),
                    "input_channel": channel,
                    "metadata": metadata or {},
                    "parse_data": {"intent": {"name": "greet"}},
                }
            )
            if not _paused(events):
                reply = {"event": "bot", "text": f"The assistant answers: {text}"}
                reply["timestamp"] = self.clock()
                events.extend([reply, {"event": "action", "name": "action_listen"}])
                self.sent.append(Sent(conversation_id, channel, reply))

    def events(self, conversation_id: str) -> list[dict[str, Any]]:
        with self._lock:
            return list(self.trackers.get(conversation_id, []))

    def paused(self, conversation_id: str) -> bool:
        with self._lock:
            return _paused(self.trackers.get(conversation_id, []))

    def sent_to(self, conversation_id: str) -> list[Sent]:
        with self._lock:
            return [s for s in self.sent if s.conversation_id == conversation_id]

    # -- the server -------------------------------------------------------------------------
    def _answer(
        self, method: str, path: str, query: dict, body: bytes, authorization: str = ""
    ) -> tuple[int, Any]:
        with self._lock:
            self.requests.append((method, path, query))
            for i, (only, status) in enumerate(self._failures):
                if only in (None, method):
                    del self._failures[i]
                    return status, {"status": "failure", "message": "injected failure"}
        if path.startswith(LIVE):
            return self._live(method, unquote(path[len(LIVE) :]), body, authorization)
        if query.get("token", [None])[0] != self.token:
            return 401, {"status": "failure", "reason": "NotAuthenticated"}
        parts = path.strip("/").split("/")
        if len(parts) < 3 or parts[0] != "conversations":
            return 404, {"status": "failure", "reason": "NotFound"}
        conversation_id = unquote(parts[1])
        rest = "/".join(parts[2:])
        if method == "GET" and rest == "tracker":
            return 200, self._state(conversation_id)
        if method == "POST" and rest == "tracker/events":
            try:
                events = json.loads(body or b"null")
            except ValueError:
                return 400, {"status": "failure", "message": "bad JSON"}
            events = events if isinstance(events, list) else [events]
            if not events or any(
                not isinstance(e, dict) or e.get("event") not in KNOWN_EVENTS for e in events
            ):
                return 400, {"status": "failure", "message": "Couldn't extract a proper event"}
            side_effects = query.get("execute_side_effects", ["false"])[0] == "true"
            channel = query.get("output_channel", [None])[0]
            with self._lock:
                stored = self.trackers.setdefault(conversation_id, [])
                for event in events:
                    event = {**event, "timestamp": event.get("timestamp") or self.clock()}
                    stored.append(event)
                    if side_effects and event["event"] == "bot" and channel:
                        self.sent.append(Sent(conversation_id, channel, event))
            return 200, self._state(conversation_id)
        if method == "POST" and rest == "trigger_intent":
            return self._trigger(conversation_id, query, body)
        return 404, {"status": "failure", "reason": "NotFound"}

    def _live(
        self, method: str, conversation_id: str, body: bytes, authorization: str
    ) -> tuple[int, Any]:
        """The website channel's live route: a signal in, or whether the customer types."""
        if authorization != f"Bearer {self.token}":
            return 403, {"error": "a Bearer token (Rasa's API token) is needed"}
        if method == "GET":
            with self._lock:
                return 200, {"customer_typing": conversation_id in self.customer_typing}
        with self._lock:
            self.live.append((conversation_id, json.loads(body or b"null")))
        return 204, None

    def _trigger(self, conversation_id: str, query: dict, body: bytes) -> tuple[int, Any]:
        """The assistant answers a triggered intent with one message and a button (not when
        paused, as Rasa's processor does); ``collector`` returns it instead of sending it."""
        request = json.loads(body or b"{}")
        channel = query.get("output_channel", [None])[0]
        with self._lock:
            self.triggered.append((conversation_id, request, channel))
            events = self.trackers.setdefault(conversation_id, [])
            events.append({"event": "user", "text": f"EXTERNAL: {request.get('name')}"})
            messages = []
            if not _paused(events):
                text = f"News for you: {json.dumps(request.get('entities'), sort_keys=True)}"
                reply = {"event": "bot", "text": text, "timestamp": self.clock()}
                events.append(reply)
                messages.append(
                    {
                        "recipient_id": conversation_id,
                        "text": text,
                        "buttons": [{"title": "All good", "payload": "/choose_option"}],
                    }
                )
                if channel != "collector":
                    self.sent.append(Sent(conversation_id, channel, reply))
        answer: dict[str, Any] = {"tracker": {"sender_id": conversation_id}}
        if channel == "collector":
            answer["messages"] = messages
        return 200, answer

    def _state(self, conversation_id: str) -> dict[str, Any]:
        with self._lock:
            events = list(self.trackers.get(conversation_id, []))
        users = [e for e in events if e["event"] == "user"]
        latest = users[-1] if users else {}
        slots = {e["name"]: e.get("value") for e in events if e["event"] == "slot"}
        return {
            "sender_id": conversation_id,
            "slots": slots,
            "paused": _paused(events),
            "events": events,
            "latest_input_channel": latest.get("input_channel"),
            "latest_message": {"text": latest.get("text"), "metadata": latest.get("metadata")},
        }

    def _handler(self):
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def _serve(self, method: str) -> None:
                parts = urlsplit(self.path)
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                status, data = fake._answer(
                    method,
                    parts.path,
                    parse_qs(parts.query),
                    body,
                    self.headers.get("Authorization", ""),
                )
                answer = json.dumps(data).encode() if status != 204 else b""
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def do_GET(self):
                self._serve("GET")

            def do_POST(self):
                self._serve("POST")

            def log_message(self, *_):
                pass

        return Handler


def _paused(events: list[dict[str, Any]]) -> bool:
    paused = False
    for event in events:
        if event["event"] == "pause":
            paused = True
        elif event["event"] in ("resume", "session_started"):
            paused = False
    return paused
