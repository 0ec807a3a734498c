"""A fake Slack on 127.0.0.1: its Web API records what the bot posts, and it signs events.

Both halves of Slack as an app sees it: ``FakeSlack`` serves the Web API at ``url``
(``chat.postMessage`` and ``chat.postEphemeral`` recorded, with the bot token from the
Authorization header, in JSON or form bodies, answered ``{"ok": true, "ts": ...}`` and
``{"ok": true, "message_ts": ...}``; a wrong token gets ``invalid_auth`` as from Slack, an
ephemeral message without ``user`` gets ``user_not_found``), and it delivers Events API payloads signed the way Slack
signs them (``v0=`` HMAC-SHA256 of ``v0:{timestamp}:{body}`` with the signing secret).
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qsl

import requests

from tests.fakes.server import LocalServer

TOKEN = "xoxb-fake-bot-token"
SIGNING_SECRET = "fake-signing-secret"
BOT_USER = "U0BOT"  # the app's bot user, as Slack names it in "authorizations"
POST, EPHEMERAL = "chat.postMessage", "chat.postEphemeral"


@dataclass(frozen=True)
class Post:
    """One Web API call the bot made."""

    method: str  # chat.postMessage or chat.postEphemeral
    token: str | None
    fields: dict[str, Any]
    ts: str | None = None  # the ts Slack gave the new message

    @property
    def channel(self) -> str | None:
        return self.fields.get("channel")

    @property
    def thread_ts(self) -> str | None:
        return self.fields.get("thread_ts")

    @property
    def text(self) -> str:
        return self.fields.get("text") or ""

    @property
    def user(self) -> str | None:
        """Who alone sees an ephemeral message."""
        return self.fields.get("user")


@dataclass
class FakeSlack(LocalServer):
    """Slack's Web API on a free local port, recording every call."""

    token: str = TOKEN
    signing_secret: str = SIGNING_SECRET
    calls: list[Post] = field(default_factory=list)

    def __post_init__(self):
        self._lock = threading.Lock()
        self._ts = itertools.count(1)

    @property
    def url(self) -> str:
        """The Web API base URL, as SLACK_API_URL takes it."""
        return self.base_url + "/api/"

    # -- what the bot posted --------------------------------------------------------------

    def posts(self, **where: Any) -> list[Post]:
        """The accepted chat.postMessage calls (messages everyone in the channel reads)
        whose fields match ``where`` (e.g. channel=)."""
        return self._accepted(POST, where)

    def ephemerals(self, **where: Any) -> list[Post]:
        """The accepted chat.postEphemeral calls (seen by ``user`` alone) whose fields match
        ``where`` (e.g. user=, thread_ts=)."""
        return self._accepted(EPHEMERAL, where)

    def _accepted(self, method: str, where: dict[str, Any]) -> list[Post]:
        with self._lock:
            return [
                c
                for c in self.calls
                if c.method == method
                and c.ts
                and all(c.fields.get(k) == v for k, v in where.items())
            ]

    def wait_for_posts(self, count: int = 1, timeout: float = 30, **where: Any) -> list[Post]:
        """Poll until at least ``count`` posts match ``where``; fail after ``timeout`` s."""
        deadline = time.monotonic() + timeout
        while True:
            found = self.posts(**where)
            if len(found) >= count or time.monotonic() > deadline:
                assert len(found) >= count, f"expected {count} posts with {where}: {self.calls}"
                return found
            time.sleep(0.1)

    # -- Slack's side of the Events API -------------------------------------------------------

    def signed_headers(self, body: bytes, timestamp: int | None = None) -> dict[str, str]:
        """The headers Slack sends with ``body``: content type, timestamp and signature."""
        return {"Content-Type": "application/json", **sign(self.signing_secret, body, timestamp)}

    def deliver(
        self, webhook: str, payload: dict, headers: dict[str, str] | None = None, **kw: Any
    ) -> requests.Response:
        """POST ``payload`` to ``webhook`` as Slack does, signed unless ``headers`` override."""
        body = json.dumps(payload).encode()
        return requests.post(
            webhook, data=body, headers={**self.signed_headers(body), **(headers or {})}, **kw
        )

    # -- the server -------------------------------------------------------------------------

    def _record(self, method: str, token: str | None, fields: dict[str, Any]) -> dict:
        if method not in (POST, EPHEMERAL):
            with self._lock:
                self.calls.append(Post(method, token, fields))
            return {"ok": False, "error": "unknown_method"}
        if token != self.token:
            with self._lock:
                self.calls.append(Post(method, token, fields))
            return {"ok": False, "error": "invalid_auth"}
        if not fields.get("channel"):
            return {"ok": False, "error": "channel_not_found"}
        if method == EPHEMERAL and not fields.get("user"):
            return {"ok": False, "error": "user_not_found"}
        with self._lock:
            ts = f"{int(time.time())}.{next(self._ts):06d}"
            self.calls.append(Post(method, token, fields, ts))
        if method == EPHEMERAL:
            return {"ok": True, "message_ts": ts}
        message = {"type": "message", "user": BOT_USER, "text": fields.get("text", ""), "ts": ts}
        if fields.get("thread_ts"):
            message["thread_ts"] = fields["thread_ts"]
        return {"ok": True, "channel": fields["channel"], "ts": ts, "message": message}

    def _handler(self):
        slack = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                kind = (self.headers.get("Content-Type") or "").split(";")[0].strip()
                if kind == "application/json":
                    fields = json.loads(body or b"{}")
                else:  # application/x-www-form-urlencoded, as Slack also takes
                    fields = dict(parse_qsl(body.decode()))
                    for key in ("blocks", "attachments"):  # JSON-encoded fields in a form
                        if isinstance(fields.get(key), str):
                            fields[key] = json.loads(fields[key])
                auth = self.headers.get("Authorization") or ""
                token = auth.removeprefix("Bearer ") if auth else fields.pop("token", None)
                method = self.path.rstrip("/").rsplit("/", 1)[-1]
                answer = json.dumps(slack._record(method, token, fields)).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json; charset=utf-8")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, *_):
                pass  # keep test output quiet

        return Handler


def sign(secret: str, body: bytes, timestamp: int | None = None) -> dict[str, str]:
    """X-Slack-Request-Timestamp and X-Slack-Signature for ``body``, as Slack computes them."""
    timestamp = int(time.time()) if timestamp is None else timestamp
    base = f"v0:{timestamp}:".encode() + body
    digest = hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()
    return {"X-Slack-Request-Timestamp": str(timestamp), "X-Slack-Signature": f"v0={digest}"}


def message_event(
    text: str,
    user: str = "U0JANE",
    channel: str = "D0JANE",
    ts: str | None = None,
    thread_ts: str | None = None,
    event_id: str | None = None,
) -> dict[str, Any]:
    """An Events API ``event_callback`` for a message in a DM with the bot, as Slack sends it."""
    ts = ts or f"{time.time():.6f}"
    event = {
        "type": "message",
        "channel": channel,
        "user": user,
        "text": text,
        "ts": ts,
        "event_ts": ts,
        "channel_type": "im" if channel.startswith("D") else "channel",
    }
    if thread_ts:
        event["thread_ts"] = thread_ts
    return {
        "token": "legacy-verification-token",
        "team_id": "T0FAKE",
        "api_app_id": "A0FAKE",
        "event": event,
        "type": "event_callback",
        "event_id": event_id or f"Ev{ts.replace('.', '')}",
        "event_time": int(float(ts)),
        "authorizations": [
            {
                "enterprise_id": None,
                "team_id": "T0FAKE",
                "user_id": BOT_USER,
                "is_bot": True,
                "is_enterprise_install": False,
            }
        ],
    }


def mention_event(
    text: str,
    user: str = "U0JANE",
    channel: str = "C0SUPPORT",
    ts: str | None = None,
    thread_ts: str | None = None,
    event_id: str | None = None,
) -> dict[str, Any]:
    """An ``app_mention`` of the bot in a channel others read, as Slack sends it: how a
    message outside a DM reaches the bot (unless the channel is SLACK_CHANNEL)."""
    payload = message_event(f"<@{BOT_USER}> {text}", user, channel, ts, thread_ts, event_id)
    payload["event"]["type"] = "app_mention"
    del payload["event"]["channel_type"]  # app_mention events carry none
    return payload
