"""Rasa's Slack channel, configured from the environment, one conversation per thread.

What it adds to stock ``SlackInput`` (rasa/core/channels/slack.py), keeping its URL
(/webhooks/slack/webhook), its name ("slack") and its signature check (HMAC-SHA256 of
``v0:{timestamp}:{body}``, compared in constant time, timestamps more than 5 minutes away
refused):

- Secrets come from environment variables that credentials.yml names; literal secrets in
  credentials.yml are refused. Without a token and signing secret Rasa still starts: the
  channel logs one warning and answers every request with 503 and what to set.
- Every event Slack delivers is taken in once, by its ``event_id`` and by the message's
  channel and ts, recorded in the journey database (bot/channels/dedup.py): Slack's
  retries, whatever their reason, and a message that arrives both as ``message`` and
  ``app_mention`` never get a second reply, across processes and restarts.
- Conversations are per thread (``user_channel_thread``) and replies go into the thread,
  so an agent can take over one thread; the author's Slack user id is in the message
  metadata as ``slack_user`` (Rasa's own ``users`` are the app's bot user, not the author).
- The Web API base URL is configurable (Enterprise Grid, GovSlack, tests), and replies are
  posted without ``as_user``, which new Slack apps' bot tokens refuse.
- Malformed requests get 400, never 500; a forged or stale request gets 401.
- Privacy in shared channels: in a channel others read (C.../G..., not a DM), every reply
  to a Slack user mapped to a customer (a verified customer, whose answers carry their
  account details), or whose conversation verified them in an earlier turn, is posted with
  ``chat.postEphemeral`` to that user, in the thread; once per thread a visible note tells
  them why. Replies to other users stay public: the trust rules give them no account
  details.
- Rate limits (bot/ratelimit.py) per Slack user (``CX_RATE_SLACK_USER``) and per workspace
  (``CX_RATE_SLACK_TEAM``). Slack retries anything but a quick 2xx, so a message over a
  limit is still answered 200; it starts no turn, and the author is told in the thread,
  once per window, to slow down.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import threading
import time
from collections.abc import Awaitable, Callable, Coroutine
from http import HTTPStatus
from typing import TYPE_CHECKING, Any

from rasa.core.channels.channel import InputChannel, OutputChannel, UserMessage
from rasa.core.channels.slack import SlackBot, SlackInput
from rasa.core.tracker_store import TrackerStore
from rasa.shared.exceptions import InvalidConfigException
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse
from slack_sdk.web.async_client import AsyncWebClient

from bot import metrics
from bot.channels import typed_choice
from bot.channels.dedup import SeenEvents
from bot.channels.rest import clean_message
from bot.channels.slack_api import (
    API_URL_ENV,
    CHANNEL_ENV,
    DEFAULT_API_URL,
    SIGNING_SECRET_ENV,
    TOKEN_ENV,
    api_url,
    is_shared_channel,
)
from bot.identity.disclosure import ACCOUNT_DETAILS
from bot.identity.trust import Identity
from bot.ratelimit import Limiter, Rate, RateLimits, first_refusal
from bot.settings import Settings

if TYPE_CHECKING:
    from bot.backoffice import BackOffice

logger = logging.getLogger(__name__)

NOT_CONFIGURED = (
    f"Slack is not configured: set {TOKEN_ENV} and {SIGNING_SECRET_ENV} "
    "(the Slack app's bot token and signing secret) in the environment and restart Rasa."
)
UNSIGNED = (
    "The request is not signed by Slack: X-Slack-Signature does not match the body, "
    "or X-Slack-Request-Timestamp is more than 5 minutes away."
)
JSON = "application/json"
FORM = "application/x-www-form-urlencoded"
SLOW_DOWN = (
    "You're sending messages faster than I can read them, so I skipped the last one. "
    "Please wait {wait} seconds, then send it again."
)
# Said once per thread, visibly, when a verified customer's answers go to them alone.
PRIVATE_NOTE = (
    "I'll answer you here where only you can see it, since this channel is shared. "
    "For a lasting copy, message me directly."
)
# Message subtypes that are still a person writing; others (edits, deletions, joins) are not.
USER_SUBTYPES = (None, "thread_broadcast", "file_share")


# Buttons per actions block (a row on narrow screens), and at most this many in all.
BUTTONS_PER_ROW = 5
MAX_BUTTONS = 25


class MalformedRequest(ValueError):
    """A signed request whose body is not what Slack sends; answered with 400."""


class SlackOutput(SlackBot):
    """Rasa's Slack output at a configurable Web API base URL, without ``as_user``; with
    ``private_to``, every message is ephemeral to that Slack user. In a shared channel, a
    reply marked as carrying account details (bot/identity/disclosure.py: the turn in which
    the ``author`` verified) makes it and the rest of the turn's replies private to them."""

    def __init__(
        self,
        token: str,
        slack_channel: str | None = None,
        thread_id: str | None = None,
        proxy: str | None = None,
        base_url: str = DEFAULT_API_URL,
        private_to: str | None = None,
        note_due: Callable[[], Awaitable[bool]] | None = None,
        author: str | None = None,
    ) -> None:
        """``note_due`` says (once per thread, across processes) whether the visible
        PRIVATE_NOTE is still to be posted before the first private message."""
        super().__init__(token, slack_channel, thread_id, proxy)
        self.base_url = api_url(base_url)
        # Stock SlackBot always talks to https://slack.com/api/.
        self.client = AsyncWebClient(token, base_url=self.base_url, proxy=proxy)
        self.private_to = private_to
        self._note_due = note_due
        self.author = author

    async def send_response(self, recipient_id: str, message: dict[str, Any]) -> None:
        if (
            message.pop(ACCOUNT_DETAILS, False)
            and not self.private_to
            and self.author
            and is_shared_channel(self.slack_channel)
        ):
            self.private_to = self.author
        await super().send_response(recipient_id, message)

    async def send_text_with_buttons(
        self, recipient_id: str, text: str, buttons: list[dict[str, Any]], **kwargs: Any
    ) -> None:
        """Text and buttons in rows of at most BUTTONS_PER_ROW. Stock Rasa sends no button
        at all past five (the feedback question has six: five ratings and "No thanks"),
        from a Slack limit long gone: an actions block takes up to 25 elements."""
        rows = [
            {
                "type": "actions",
                "elements": [
                    {
                        "type": "button",
                        "text": {"type": "plain_text", "text": b["title"]},
                        "value": b["payload"],
                    }
                    for b in buttons[i : i + BUTTONS_PER_ROW]
                ],
            }
            for i in range(0, min(len(buttons), MAX_BUTTONS), BUTTONS_PER_ROW)
        ]
        text_block = {"type": "section", "text": {"type": "plain_text", "text": text}}
        await self._post_message(
            channel=self.slack_channel or recipient_id, text=text, blocks=[text_block, *rows]
        )

    async def _post_message(self, channel: str, **kwargs: Any) -> None:
        # as_user is for classic apps only: bot tokens of new apps get invalid_arguments.
        kwargs.pop("as_user", None)
        if not self.private_to:
            await super()._post_message(channel, **kwargs)
            return
        note_due, self._note_due = self._note_due, None  # asked once per turn at most
        if note_due is not None and await note_due():
            # Visible, and first: Slack shows an ephemeral reply only in an active thread.
            await super()._post_message(channel, text=PRIVATE_NOTE)
        if self.thread_id:
            kwargs["thread_ts"] = self.thread_id
        await self.client.chat_postEphemeral(channel=channel, user=self.private_to, **kwargs)


class ThreadedSlackInput(SlackInput):
    """The ``slack`` channel: secrets from the environment, retries deduplicated, a
    conversation per thread."""

    @classmethod
    def name(cls) -> str:
        return "slack"

    @classmethod
    def from_credentials(cls, credentials: dict[str, Any] | None) -> InputChannel:
        """Build the channel from credentials.yml, reading secrets from the env vars it names."""
        credentials = dict(credentials or {})
        for literal, env_key, default in (
            ("slack_token", "slack_token_env", TOKEN_ENV),
            ("slack_signing_secret", "slack_signing_secret_env", SIGNING_SECRET_ENV),
        ):
            if credentials.get(literal):
                raise InvalidConfigException(
                    f"credentials.yml holds a literal '{literal}': secrets never live in "
                    f"committed files. Remove it and set the environment variable named by "
                    f"'{env_key}' (default {default}) instead."
                )

        # Rasa builds its channels: this process's settings. credentials.yml may rename the
        # variables, so they are looked up by name in the environment as it was read.
        settings = Settings.from_env()

        def env(key: str, default: str) -> str:
            return settings.secrets.get(credentials.get(key) or default, "").strip()

        channel = cls(
            slack_token=env("slack_token_env", TOKEN_ENV),
            slack_channel=env("slack_channel_env", CHANNEL_ENV) or None,
            proxy=credentials.get("proxy"),
            slack_retry_reason_header=credentials.get(
                "slack_retry_reason_header", "x-slack-retry-reason"
            ),
            slack_retry_number_header=credentials.get(
                "slack_retry_number_header", "x-slack-retry-num"
            ),
            errors_ignore_retry=credentials.get("errors_ignore_retry"),
            use_threads=credentials.get("use_threads", True),
            slack_signing_secret=env("slack_signing_secret_env", SIGNING_SECRET_ENV),
            conversation_granularity=credentials.get("conversation_granularity", "thread"),
            slack_api_url=env("slack_api_url_env", API_URL_ENV),
            limits=RateLimits.from_settings(settings),
            settings=settings,
        )
        channel.previous_signing_secret = env(
            "slack_signing_secret_previous_env", SIGNING_SECRET_ENV + "_PREVIOUS"
        )
        if not channel.configured:
            logger.warning(NOT_CONFIGURED + " Until then /webhooks/slack/webhook answers 503.")
        return channel

    def __init__(
        self,
        slack_token: str,
        slack_channel: str | None = None,
        proxy: str | None = None,
        slack_retry_reason_header: str | None = None,
        slack_retry_number_header: str | None = None,
        errors_ignore_retry: list[str] | None = None,
        use_threads: bool | None = True,
        slack_signing_secret: str = "",
        conversation_granularity: str | None = "thread",
        slack_api_url: str | None = DEFAULT_API_URL,
        journey_url: str | None = None,
        limits: RateLimits | None = None,
        limiter: Limiter | None = None,
        backoffice: BackOffice | None = None,
        trackers: TrackerStore | None = None,
        settings: Settings | None = None,
    ) -> None:
        """Like ``SlackInput``, plus the Web API base URL, the journey database URL
        (default: ``CX_JOURNEY_URL``, read on the first event), the back office that
        maps Slack users to customers (default: as configured, built on first use),
        Rasa's tracker store (default: the Rasa server's own) and the Rasa server's
        ``settings`` those defaults come from (default: read from the environment when
        first needed)."""
        super().__init__(
            slack_token,
            slack_channel,
            proxy,
            slack_retry_reason_header or "x-slack-retry-reason",
            slack_retry_number_header or "x-slack-retry-num",
            errors_ignore_retry,
            use_threads,
            slack_signing_secret,
            conversation_granularity,
        )
        # Stock drops every retry whose reason is http_timeout, even one whose first
        # delivery never reached us; the event-id record makes that unnecessary.
        self.errors_ignore_retry = tuple(errors_ignore_retry or ())
        self.slack_api_url = api_url(slack_api_url)
        self.journey_url = journey_url
        self.settings = settings
        self._seen: SeenEvents | None = None
        self._seen_lock = threading.Lock()
        self.limits = limits or RateLimits()
        self.limiter = self.limits.limiter() if limiter is None else limiter
        self._backoffice = backoffice
        self._backoffice_lock = threading.Lock()
        # Rasa's tracker store; default: the one of the Rasa server this channel runs in.
        self.trackers: TrackerStore | None = trackers

    @property
    def configured(self) -> bool:
        """Whether the bot token and the signing secret are both set."""
        return bool(self.slack_token and self.slack_signing_secret)

    def _validate_credentials(self) -> None:
        # Stock raises without a signing secret, which would stop Rasa for everyone;
        # unconfigured, this channel refuses every request instead (see handle()).
        pass

    # -- requests -------------------------------------------------------------------------

    # The signing secret before a rotation (SLACK_SIGNING_SECRET_PREVIOUS), accepted while set,
    # and the unix-seconds clock timestamps are checked against (tests move it).
    previous_signing_secret: str = ""
    clock: Callable[[], float] = staticmethod(time.time)

    def is_request_from_slack_authentic(self, request: Request) -> bool:
        """Whether Slack signed this body (v0) with the current or previous secret, recently.

        Replaces stock's check, which knows one secret only and logs an error for a
        non-ASCII signature header; this one compares bytes in constant time.
        """
        secrets = [s for s in (self.slack_signing_secret, self.previous_signing_secret) if s]
        return slack_signature_ok(
            secrets,
            request.headers.get("X-Slack-Request-Timestamp"),
            request.body or b"",
            request.headers.get("X-Slack-Signature"),
            now=self.clock(),
        )

    def blueprint(
        self, on_new_message: Callable[[UserMessage], Coroutine[Any, Any, Any]]
    ) -> Blueprint:
        typed_choice.install()  # "the store credit is fine" taken as that button (idempotent)
        on_new_message = metrics.timed_turns(on_new_message, self.name())  # bot/metrics.py
        slack_webhook = Blueprint("slack_webhook", __name__)

        @slack_webhook.route("/", methods=["GET"])
        async def health(_: Request) -> HTTPResponse:
            if not self.configured:
                return response.json(
                    {"status": "not configured", "detail": NOT_CONFIGURED},
                    status=HTTPStatus.SERVICE_UNAVAILABLE,
                )
            return response.json({"status": "ok"})

        @slack_webhook.route("/webhook", methods=["POST"])
        async def webhook(request: Request) -> HTTPResponse:
            return await self.handle(request, on_new_message)

        return slack_webhook

    async def handle(
        self, request: Request, on_new_message: Callable[[UserMessage], Coroutine[Any, Any, Any]]
    ) -> HTTPResponse:
        """Answer one request from Slack: check it, take each event in once, start the turn."""
        if not self.configured:
            return response.text(NOT_CONFIGURED, status=HTTPStatus.SERVICE_UNAVAILABLE)
        if not self.is_request_from_slack_authentic(request):
            return response.text(UNSIGNED, status=HTTPStatus.UNAUTHORIZED)
        try:
            kind = _media_type(request)
            if kind == JSON:
                return await self._handle_event(request, _event_body(request), on_new_message)
            if kind == FORM:
                return await self._handle_interaction(
                    request, _interaction_body(request), on_new_message
                )
        except MalformedRequest as e:
            return response.text(str(e), status=HTTPStatus.BAD_REQUEST)
        return response.text(
            f"Expected {JSON} (Events API) or {FORM} (interactivity).",
            status=HTTPStatus.UNSUPPORTED_MEDIA_TYPE,
        )

    async def _handle_event(
        self,
        request: Request,
        payload: dict[str, Any],
        on_new_message: Callable[[UserMessage], Coroutine[Any, Any, Any]],
    ) -> HTTPResponse:
        if "challenge" in payload:  # url_verification, when the app's Request URL is saved
            return response.json({"challenge": payload["challenge"]})
        event = payload.get("event") or {}
        if (
            not self._is_user_message(payload)
            or event.get("subtype") not in USER_SUBTYPES
            or not event.get("user")
        ):
            return response.text("Not a message from a person: nothing to do.")
        metadata = self._event_metadata(payload)
        if not self._is_supported_channel(payload, metadata):
            logger.info(
                "Slack message in %s ignored: not a DM, a mention or SLACK_CHANNEL",
                metadata["out_channel"],
            )
            return response.text("channel not supported.")
        if not await self._first_time(_event_keys(payload)):
            logger.info(
                "Slack event %s (retry %s, %s) was already taken in: not answered again",
                payload.get("event_id"),
                request.headers.get(self.retry_num_header),
                request.headers.get(self.retry_reason_header),
            )
            return response.text("Already taken in.", headers={"X-Slack-No-Retry": "1"})
        if self._over_limit(payload.get("team_id"), event["user"], metadata):
            return response.text("Over the rate limit: no turn.")
        return await self.process_message(
            request,
            on_new_message,
            text=clean_message(self._sanitize_user_message(event["text"], metadata["users"])),
            sender_id=self._get_conversation_id(
                event["user"], metadata["out_channel"], metadata["thread_id"]
            ),
            metadata=metadata,
        )

    async def _handle_interaction(
        self,
        request: Request,
        payload: dict[str, Any],
        on_new_message: Callable[[UserMessage], Coroutine[Any, Any, Any]],
    ) -> HTTPResponse:
        # A button or menu in one of the bot's messages (Slack does not retry these).
        if not self._is_interactive_message(payload):
            return response.text("Not an interaction the assistant takes: nothing to do.")
        user = payload["user"].get("id")
        try:
            text = self._get_interactive_response(payload["actions"][0])
        except (LookupError, AttributeError, TypeError):
            raise MalformedRequest(
                "The action's selected value is not where Slack puts it."
            ) from None
        if not isinstance(user, str) or not user or not isinstance(text, str):
            return response.text("Nothing to say (a link button?): nothing to do.")
        metadata = self._interaction_metadata(payload)
        team = payload.get("team")
        if self._over_limit(team.get("id") if isinstance(team, dict) else None, user, metadata):
            return response.text("Over the rate limit: no turn.")
        return await self.process_message(
            request,
            on_new_message,
            text=clean_message(text),
            sender_id=self._get_conversation_id(
                user, metadata["out_channel"], metadata["thread_id"]
            ),
            metadata=metadata,
        )

    def _over_limit(self, team: Any, user: str, metadata: dict[str, Any]) -> bool:
        """Whether this message is over its author's or workspace's limit; if so, tell the
        author in the thread (once per window) without waiting for Slack's answer."""
        team = team if isinstance(team, str) and team else "-"
        verdict = first_refusal(
            self.limiter,
            [
                (f"slack:user:{team}/{user}", self.limits.slack_user),
                (f"slack:team:{team}", self.limits.slack_team),
            ],
        )
        if verdict.allowed:
            return False
        logger.info("Slack message from %s/%s over the rate limit: no turn", team, user)
        window = Rate(1, max(self.limits.slack_user.window, verdict.retry_after))
        if self.limiter.hit(f"slack:told:{team}/{user}", window).allowed:
            thread = metadata.get("thread_id") if self.use_threads else None
            output = self.get_output_channel(metadata.get("out_channel"), thread)
            text = SLOW_DOWN.format(wait=verdict.retry_after_seconds)
            task = asyncio.create_task(self._tell(output, user, text))
            self._background_tasks.add(task)
            task.add_done_callback(self._background_tasks.discard)
        return True

    @staticmethod
    async def _tell(output: OutputChannel, user: str, text: str) -> None:
        try:
            await output.send_text_message(user, text)
        except Exception:
            logger.exception("Could not tell Slack user %s to slow down", user)

    # -- metadata -------------------------------------------------------------------------

    def get_metadata(self, request: Request) -> dict[str, Any]:
        """Rasa's Slack metadata (``out_channel``, ``thread_id``, ``users``), plus the
        author as ``slack_user``; empty for a request that is not Slack's."""
        try:
            kind = _media_type(request)
            if kind == JSON:
                return self._event_metadata(_event_body(request))
            if kind == FORM:
                return self._interaction_metadata(_interaction_body(request))
        except MalformedRequest:
            pass
        return {}

    @staticmethod
    def _event_metadata(payload: dict[str, Any]) -> dict[str, Any]:
        event = payload.get("event") or {}
        # As stock: the users who installed the app, or the app's bot user (mentions of
        # them are taken out of the text). Never the author: that is slack_user.
        users = payload.get("authed_users")
        if not isinstance(users, list):
            authorizations = payload.get("authorizations")
            first = authorizations[0] if isinstance(authorizations, list) and authorizations else {}
            users = [first["user_id"]] if isinstance(first, dict) and first.get("user_id") else []
        return {
            "out_channel": event.get("channel"),
            "thread_id": event.get("thread_ts") or event.get("ts"),
            "users": [u for u in users if isinstance(u, str)],
            "slack_user": event.get("user"),
            "event_id": payload.get("event_id"),
        }

    @staticmethod
    def _interaction_metadata(payload: dict[str, Any]) -> dict[str, Any]:
        message = payload.get("message") or {}
        # A click in an ephemeral message comes without "message": its container says where.
        container = payload.get("container")
        container = container if isinstance(container, dict) else {}
        user = (payload.get("user") or {}).get("id")
        return {
            "out_channel": (payload.get("channel") or {}).get("id"),
            "thread_id": message.get("thread_ts")
            or message.get("ts")
            or container.get("thread_ts")
            or container.get("message_ts"),
            "users": [user] if user else [],
            "slack_user": user,
        }

    # -- output and the record of events ----------------------------------------------------

    def get_output_channel(
        self,
        channel: str | None = None,
        thread_id: str | None = None,
        private_to: str | None = None,
        author: str | None = None,
    ) -> OutputChannel:
        channel = channel or self.slack_channel
        note_due = None
        if channel and thread_id:  # asked only if replies turn private (SlackOutput)
            note_key = f"private-note/{channel}/{thread_id}"
            note_due = lambda: self._first_time([note_key])  # noqa: E731
        return SlackOutput(
            self.slack_token,
            channel,
            thread_id,
            self.proxy,
            self.slack_api_url,
            private_to=private_to,
            note_due=note_due,
            author=author,
        )

    async def process_message(
        self,
        request: Request,
        on_new_message: Callable[[UserMessage], Coroutine[Any, Any, Any]],
        text: str,
        sender_id: str | None,
        metadata: dict[str, Any] | None,
    ) -> Any:
        """Start the turn as stock does, its replies private when they must be
        (``private_recipient``)."""
        retry_reason = request.headers.get(self.retry_reason_header)
        retry_count = request.headers.get(self.retry_num_header)
        if retry_count and retry_reason in self.errors_ignore_retry:
            logger.warning("Slack retry #%s (%s) ignored as configured", retry_count, retry_reason)
            return response.text("", status=HTTPStatus.CREATED, headers={"X-Slack-No-Retry": "1"})
        metadata = metadata or {}
        channel = metadata.get("out_channel")
        thread_id = metadata.get("thread_id") if self.use_threads else None
        private_to = await self.private_recipient(metadata, sender_id, request)
        message = UserMessage(
            text,
            self.get_output_channel(channel, thread_id, private_to, metadata.get("slack_user")),
            sender_id,
            input_channel=self.name(),
            metadata=metadata,
        )
        task = asyncio.create_task(on_new_message(message))
        self._background_tasks.add(task)  # a reference, so the task is not collected
        task.add_done_callback(self._background_tasks.discard)
        return response.text("")

    async def private_recipient(
        self, metadata: dict[str, Any], sender_id: str | None = None, request: Request | None = None
    ) -> str | None:
        """The author, when the replies must reach them alone: others read the channel (not
        a DM) and the author's answers may carry account details, because they are mapped to
        a customer or because the conversation already verified them (a check passed in an
        earlier turn; its slots, in Rasa's tracker store).

        If the back office cannot be asked, the replies are private all the same: a public
        reply to an unmapped user is only ever a courtesy, a public account detail a leak.
        """
        user = metadata.get("slack_user")
        channel = metadata.get("out_channel") or self.slack_channel
        if not user or not is_shared_channel(channel):
            return None
        try:
            customer = await asyncio.to_thread(self._customers().customer_by_slack_user, user)
        except Exception:
            logger.exception("Could not look up Slack user %s: answering them privately", user)
            return user
        if customer is not None or await self._verified_before(sender_id, request):
            return user
        return None

    async def _verified_before(self, sender_id: str | None, request: Request | None) -> bool:
        """Whether the conversation's saved tracker has a verified customer."""
        store = self.trackers
        if store is None and request is not None:
            agent = getattr(getattr(_app_of(request), "ctx", None), "agent", None)
            store = getattr(agent, "tracker_store", None)
        if store is None or not sender_id:
            return False
        try:
            tracker = await store.retrieve(sender_id)
        except Exception:
            logger.exception("Could not read the tracker of %s: answering privately", sender_id)
            return True
        if tracker is None:
            return False
        slots = {name: tracker.get_slot(name) for name in ("customer_id", "verified_by")}
        return Identity.from_slots(slots["customer_id"], slots["verified_by"]).verified

    def _settings(self) -> Settings:
        """The settings given, else this process's (a channel built without them)."""
        if self.settings is None:
            self.settings = Settings.from_env()
        return self.settings

    def _customers(self) -> BackOffice:
        with self._backoffice_lock:
            if self._backoffice is None:
                # Imported here: the back office is only opened once Slack needs it.
                from bot.services import build_backoffice

                self._backoffice = build_backoffice(self._settings())
            return self._backoffice

    async def _first_time(self, keys: list[str]) -> bool:
        try:
            return await asyncio.to_thread(self._seen_events().first_time, keys)
        except Exception:
            # Better a rare double answer than a customer left without one.
            logger.exception("Could not record Slack event %s; answering it anyway", keys)
            return True

    def _seen_events(self) -> SeenEvents:
        with self._seen_lock:
            if self._seen is None:
                # Imported here: the journey database is only opened once Slack writes.
                from bot.db import make_engine
                from bot.journey.migrate import migrate

                engine = make_engine(self.journey_url or self._settings().journey_url)
                migrate(engine)
                self._seen = SeenEvents(engine, self.name())
            return self._seen


SLACK_TOLERANCE = 300  # seconds: Slack's advice, a request older than 5 minutes is a replay


def slack_signature_ok(
    secrets: list[str],
    timestamp: str | None,
    body: bytes,
    signature: str | None,
    now: float,
    tolerance: int = SLACK_TOLERANCE,
) -> bool:
    """Whether ``signature`` is ``v0=`` HMAC-SHA256 of ``v0:{timestamp}:{body}`` under any of
    ``secrets``, with ``timestamp`` (unix seconds) within ``tolerance`` of ``now``.

    Every secret is tried and compared in constant time, as bytes: ``compare_digest`` on
    ``str`` raises for non-ASCII, and a header may hold anything.
    """
    if not secrets or not timestamp or not signature:
        return False
    if not (timestamp.isascii() and timestamp.isdigit()):
        return False
    if abs(now - int(timestamp)) > tolerance:
        return False
    message = b"v0:" + timestamp.encode("ascii") + b":" + body
    given = signature.encode("utf-8", "surrogateescape")
    matches = [
        hmac.compare_digest(
            b"v0=" + hmac.new(secret.encode("utf-8"), message, hashlib.sha256).hexdigest().encode(),
            given,
        )
        for secret in secrets
    ]
    return any(matches)


def _app_of(request: Request) -> Any:
    """The Sanic app (Rasa's server) the request came to; None for a bare request."""
    try:
        return request.app
    except Exception:
        return None


def _media_type(request: Request) -> str:
    return (request.headers.get("content-type") or "").split(";")[0].strip().lower()


def _event_body(request: Request) -> dict[str, Any]:
    """The Events API body, checked for the shapes this channel reads."""
    try:
        payload = json.loads(request.body or b"")
    except ValueError:
        raise MalformedRequest("The body is not valid JSON.") from None
    if not isinstance(payload, dict):
        raise MalformedRequest("The body is JSON but not an object.")
    if not isinstance(payload.get("type"), str):  # every Events API body names its type
        raise MalformedRequest("'type' is missing: expected a Slack Events API payload.")
    event = payload.get("event", {})
    if not isinstance(event, dict):
        raise MalformedRequest("'event' must be an object.")
    for key in ("type", "subtype", "text", "user", "channel", "channel_type", "ts", "thread_ts"):
        if event.get(key) is not None and not isinstance(event[key], str):
            raise MalformedRequest(f"'event.{key}' must be a string.")
    if payload.get("event_id") is not None and not isinstance(payload["event_id"], str):
        raise MalformedRequest("'event_id' must be a string.")
    return payload


def _interaction_body(request: Request) -> dict[str, Any]:
    """The interactivity payload (a form field holding JSON), checked for what is read."""
    raw = request.form.get("payload")
    try:
        payload = json.loads(raw) if raw else None
    except ValueError:
        raise MalformedRequest("The 'payload' form field is not valid JSON.") from None
    if not isinstance(payload, dict):
        raise MalformedRequest("Expected a 'payload' form field holding a JSON object.")
    for key in ("user", "channel", "message"):
        if payload.get(key) is not None and not isinstance(payload[key], dict):
            raise MalformedRequest(f"'{key}' must be an object.")
    actions = payload.get("actions")
    if actions is not None and not (
        isinstance(actions, list) and all(isinstance(a, dict) for a in actions)
    ):
        raise MalformedRequest("'actions' must be a list of objects.")
    if actions and not isinstance(payload.get("user"), dict):
        raise MalformedRequest("'user' is missing.")
    return payload


def _event_keys(payload: dict[str, Any]) -> list[str]:
    """What identifies an event: Slack's event id, and the message's place (channel/ts),
    which a retry shares and so does the same message delivered as an app_mention."""
    event = payload["event"]
    keys = [payload.get("event_id") or ""]
    if event.get("channel") and event.get("ts"):
        keys.append(f"{event['channel']}/{event['ts']}")
    return [k for k in keys if k]
