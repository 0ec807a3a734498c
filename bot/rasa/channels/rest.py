"""Rasa's REST channel, with the request checked before Rasa reads it.

Stock ``RestInput`` calls ``request.json.get(...)``, so a body that is valid JSON but not
an object (``[]``, ``"x"``, ``null``) ends in a 500. Here every malformed request gets a
400 with a message that says what is expected, and a body that is not declared
``application/json`` gets 415: that also keeps web pages from posting to it with a "simple"
cross-site request (text/plain, forms), which needs no CORS. The URL stays
/webhooks/rest/webhook.

The channel also installs bot/rasa/channels/api_guard.py on the Rasa server, so malformed
bodies to Rasa's own HTTP API get a 400 too.

Rate limits (bot/ratelimit.py): messages per ``sender`` and per client address, each
``CX_RATE_CONVERSATION`` / ``CX_RATE_IP``; over either, a 429 with ``Retry-After`` and a
JSON ``{"error": ..., "retry_after": seconds}``, and no turn is started. Only well-formed
messages count (a malformed one is answered 400/415 first).

A REST message never takes a turn in a conversation another channel started (403;
bot/rasa/channels/rest_owned.py).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from rasa.core.channels.channel import UserMessage
from rasa.core.channels.rest import RestInput
from sanic import Blueprint, Sanic, response
from sanic.exceptions import InvalidUsage, SanicException
from sanic.request import Request
from sanic.response import HTTPResponse

from bot import monitoring
from bot.rasa import action_faults, speedups
from bot.rasa.channels import api_guard, erasure, typed_choice
from bot.rasa.channels.once import AnswerOnce, message_id_of
from bot.rasa.channels.rest_owned import RestConversations
from bot.ratelimit import Limiter, RateLimits, Verdict, first_refusal
from bot.redaction import install_log_redaction
from bot.settings import Settings

MAX_MESSAGE_CHARS = 20_000
MAX_SENDER_CHARS = 255  # the journey store's conversation_id is String(255)
EXPECTED = 'expected a JSON object like {"sender": "someone", "message": "hello"}'


def clean_message(text: str) -> str:
    """A customer's message as the assistant takes it in, on every channel: NUL characters
    removed (PostgreSQL refuses them in text, and the journey store removes them too) and
    cut at ``MAX_MESSAGE_CHARS``, so a huge paste is still answered in bounded time."""
    return text.replace("\x00", "")[:MAX_MESSAGE_CHARS]


class CheckedRestInput(RestInput):
    """``rest`` channel that answers malformed requests with 400, never 500."""

    @classmethod
    def name(cls) -> str:
        return "rest"

    @classmethod
    def from_credentials(cls, credentials: dict[str, Any] | None) -> CheckedRestInput:
        settings = Settings.from_env()  # Rasa builds its channels: this process's settings
        return cls(RateLimits.from_settings(settings), settings=settings)

    def __init__(
        self,
        limits: RateLimits | None = None,
        limiter: Limiter | None = None,
        settings: Settings | None = None,
    ):
        """``settings``: the Rasa server's (its API token, the action timeout, the journey
        database, metrics); built from the environment when not given, as Rasa's own
        channel loading builds a channel with no arguments of ours."""
        self.settings = settings if settings is not None else Settings.from_env()
        self.limits = limits or RateLimits()
        self.limiter = self.limits.limiter() if limiter is None else limiter
        self.conversations = RestConversations()

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        # A retried message (same ``message_id``) is answered from the first answer
        # (bot/rasa/channels/once.py).
        once = AnswerOnce(monitoring.timed_turns(on_new_message, self.name()))  # a repeat: no turn
        webhook = super().blueprint(once)
        install_log_redaction()  # the Rasa server's log: no email, phone or card number
        # `python -m bot forget`, under Rasa's conversation lock, with Rasa's API token.
        erasure.add_route(webhook, self.settings.rasa_token)

        @webhook.listener("before_server_start")
        async def guard_rasa_api(app: Sanic, _loop: Any) -> None:
            api_guard.install(app)  # the Rasa server's own app, which serves this channel
            once.bind(app)
            speedups.install()  # action answers checked without re-checking the schema
            # A typed reply to buttons parsed as the button it names, on every channel.
            typed_choice.install()
            # Its calls to the action server: a short timeout and a graceful reply on failure.
            action_faults.install(app, self.settings)
            # The Rasa server's Prometheus metrics, on loopback (bot/monitoring.py).
            monitoring.serve_rasa(self.settings)

        @webhook.middleware("request")
        async def check_message(req: Request) -> HTTPResponse | None:
            if req.method != "POST" or not req.path.rstrip("/").endswith("/webhook"):
                return None
            verdict = self.check_rate(req)
            if not verdict.allowed:
                return too_many_requests(verdict)
            # Never a turn in a Slack or website conversation (bot/rasa/channels/rest_owned.py).
            return await self.conversations.refusal(req.app, self._sender_of(req) or "default")

        return webhook

    def check_rate(self, req: Request) -> Verdict:
        """Count one message against its sender's and its client address's limits."""
        sender = self._sender_of(req) or "default"  # Rasa's sender when none is given
        self._extract_message(req)  # a malformed message gets its 400 and is not counted
        message_id_of(self._body(req))
        ip = self.limits.client_ip(req.ip, req.headers.get("x-forwarded-for"))
        return first_refusal(
            self.limiter,
            [
                (f"rest:sender:{sender}", self.limits.conversation),
                (f"rest:ip:{ip}", self.limits.ip),
            ],
        )

    @staticmethod
    def _body(req: Request) -> dict[str, Any]:
        kind = (req.headers.get("content-type") or "").split(";")[0].strip().lower()
        if kind != "application/json" and not kind.endswith("+json"):
            raise SanicException(
                f"Content-Type must be application/json, not {kind or 'missing'}: {EXPECTED}",
                status_code=415,
            )
        try:
            body = req.json
        except Exception:  # Sanic raises on unparsable JSON
            raise InvalidUsage(f"The body is not valid JSON: {EXPECTED}") from None
        if not isinstance(body, dict):
            raise InvalidUsage(f"The body is JSON but not an object: {EXPECTED}")
        return body

    async def _extract_sender(self, req: Request) -> str | None:
        return self._sender_of(req)

    def _sender_of(self, req: Request) -> str | None:
        sender = self._body(req).get("sender")
        if sender is None:
            return None
        if isinstance(sender, bool) or not isinstance(sender, (str, int)):
            raise InvalidUsage("'sender' must be a string")
        sender = str(sender)
        if not sender:
            raise InvalidUsage("'sender' must not be empty")
        if len(sender) > MAX_SENDER_CHARS:
            raise InvalidUsage(f"'sender' is longer than {MAX_SENDER_CHARS} characters")
        if not sender.isprintable():
            raise InvalidUsage("'sender' must not contain control or invisible characters")
        return sender

    def _extract_message(self, req: Request) -> str | None:
        message = self._body(req).get("message")
        if message is None:
            raise InvalidUsage(f"'message' is missing: {EXPECTED}")
        if not isinstance(message, str):
            raise InvalidUsage("'message' must be a string")
        # Longer messages are cut, not refused: the customer still gets an answer in bounded time.
        return clean_message(message)

    def _extract_input_channel(self, req: Request) -> str:
        """Always "rest": Rasa's REST channel takes ``input_channel`` from the body, but a
        client naming "socketio" or "slack" would borrow what those channels vouch for (a
        signed-in customer id, a Slack user) with metadata of its own making."""
        return self.name()

    def get_metadata(self, request: Request) -> dict[str, Any] | None:
        """The client's metadata, with the address this server saw in ``client_ip`` (any
        value the client sent there is replaced): identity checks are limited per address."""
        metadata = self._body(request).get("metadata")
        metadata = dict(metadata) if isinstance(metadata, dict) else {}
        metadata["client_ip"] = self.limits.client_ip(
            request.ip, request.headers.get("x-forwarded-for")
        )
        metadata.pop("message_id", None)  # only the checked top-level field sets it
        message_id = message_id_of(self._body(request))
        if message_id is not None:
            metadata["message_id"] = message_id
        return metadata


def too_many_requests(verdict: Verdict) -> HTTPResponse:
    """429 with ``Retry-After`` (whole seconds) and the same figure in the JSON body."""
    wait = verdict.retry_after_seconds
    return response.json(
        {
            "error": f"Too many messages: please wait {wait} seconds before sending another.",
            "retry_after": wait,
        },
        status=429,
        headers={"Retry-After": str(wait)},
    )
