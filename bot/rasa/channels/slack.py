"""Rasa's Slack channel, configured from the environment, one conversation per thread.

What it adds to stock ``SlackInput`` (rasa/core/channels/slack.py), keeping its URL
(/webhooks/slack/webhook), its name ("slack") and its signature check (HMAC-SHA256 of
``v0:{timestamp}:{body}``, compared in constant time, timestamps more than 5 minutes away
refused: bot/rasa/channels/slack_signing.py):

- Secrets come from environment variables that credentials.yml names; literal secrets in
  credentials.yml are refused (bot/rasa/channels/slack_credentials.py). Without a token and
  signing secret Rasa still starts: the channel logs one warning and answers every
  request with 503 and what to set.
- Every event Slack delivers is taken in once, by its ``event_id`` and by the message's
  channel and ts, recorded in the journey database (bot/rasa/channels/dedup.py): Slack's
  retries, whatever their reason, and a message that arrives both as ``message`` and
  ``app_mention`` never get a second reply, across processes and restarts.
- Conversations are per thread (``user_channel_thread``) and replies go into the thread,
  so an agent can take over one thread; the author's Slack user id is in the message
  metadata as ``slack_user`` (Rasa's own ``users`` are the app's bot user, not the author).
- The Web API base URL is configurable (Enterprise Grid, GovSlack, tests), and replies are
  posted without ``as_user``, which new Slack apps' bot tokens refuse
  (bot/rasa/channels/slack_output.py).
- Malformed requests get 400, never 500 (bot/rasa/channels/slack_payloads.py); a forged or
  stale request gets 401.
- Privacy in shared channels: in a channel others read (C.../G..., not a DM), every reply
  to a Slack user mapped to a customer (a verified customer, whose answers carry their
  account details), or whose conversation verified them in an earlier turn, is posted with
  ``chat.postEphemeral`` to that user, in the thread; once per thread a visible note tells
  them why. Replies to other users stay public: the trust rules give them no account
  details (bot/rasa/channels/slack_privacy.py decides).
- A thread's conversation that another channel opened first (a REST client naming the
  thread's ``user_channel_thread`` id, which anyone in the channel sees, before its
  customer wrote) is never continued: what was said there is not the author's to inherit.
  No turn starts, and the author is told in the thread to start a new one
  (bot/rasa/channels/owned.py; REST refuses such ids too: bot/rasa/channels/rest_owned.py).
- Rate limits (bot/ratelimit.py) per Slack user (``CX_RATE_SLACK_USER``) and per workspace
  (``CX_RATE_SLACK_TEAM``). Slack retries anything but a quick 2xx, so a message over a
  limit is still answered 200; it starts no turn, and the author is told in the thread,
  once per window, to slow down (bot/rasa/channels/slack_limits.py).
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable, Coroutine
from http import HTTPStatus
from typing import TYPE_CHECKING, Any

from rasa.core.channels.channel import InputChannel, OutputChannel, UserMessage
from rasa.core.channels.slack import SlackInput
from rasa.core.tracker_store import TrackerStore
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from bot import monitoring
from bot.rasa.channels import typed_choice
from bot.rasa.channels.dedup import SeenEvents
from bot.rasa.channels.owned import OwnConversations
from bot.rasa.channels.rest import clean_message
from bot.rasa.channels.slack_api import DEFAULT_API_URL, SIGNING_SECRET_ENV, TOKEN_ENV, api_url
from bot.rasa.channels.slack_credentials import (
    channel_arguments,
    previous_signing_secret,
    refuse_literal_secrets,
)
from bot.rasa.channels.slack_limits import over_limit, tell
from bot.rasa.channels.slack_output import SlackOutput
from bot.rasa.channels.slack_payloads import (
    FORM,
    JSON,
    USER_SUBTYPES,
    MalformedRequest,
    event_body,
    event_keys,
    event_metadata,
    interaction_body,
    interaction_metadata,
    media_type,
)
from bot.rasa.channels.slack_privacy import author_alone, tracker_store_of_request
from bot.rasa.channels.slack_signing import UNSIGNED, slack_signature_ok
from bot.ratelimit import Limiter, RateLimits
from bot.settings import Settings

if TYPE_CHECKING:
    from bot.backoffice import BackOffice

logger = logging.getLogger(__name__)

# Told in the thread when its conversation was opened on another channel (a REST client
# naming the thread's id first): what was said there is not this author's to inherit.
OPENED_ELSEWHERE = (
    "I can't continue this thread: its conversation was started outside Slack. "
    "Please start a new thread or message me directly, and I'll gladly help there."
)
NOT_CONFIGURED = (
    f"Slack is not configured: set {TOKEN_ENV} and {SIGNING_SECRET_ENV} "
    "(the Slack app's bot token and signing secret) in the environment and restart Rasa."
)


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
        refuse_literal_secrets(credentials)
        settings = Settings.from_env()  # Rasa builds its channels: this process's settings
        channel = cls(
            **channel_arguments(credentials, settings),
            limits=RateLimits.from_settings(settings),
            settings=settings,
        )
        channel.previous_signing_secret = previous_signing_secret(credentials, settings)
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
        self.conversations = OwnConversations(self.name())

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
        on_new_message = monitoring.timed_turns(on_new_message, self.name())  # bot/monitoring.py
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
            kind = media_type(request)
            if kind == JSON:
                return await self._handle_event(request, event_body(request), on_new_message)
            if kind == FORM:
                return await self._handle_interaction(
                    request, interaction_body(request), on_new_message
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
        metadata = event_metadata(payload)
        if not self._is_supported_channel(payload, metadata):
            logger.info(
                "Slack message in %s ignored: not a DM, a mention or SLACK_CHANNEL",
                metadata["out_channel"],
            )
            return response.text("channel not supported.")
        if not await self._first_time(event_keys(payload)):
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
        metadata = interaction_metadata(payload)
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
        refused, note = over_limit(self.limiter, self.limits, team, user)
        if note is not None:
            thread = metadata.get("thread_id") if self.use_threads else None
            output = self.get_output_channel(metadata.get("out_channel"), thread)
            task = asyncio.create_task(tell(output, user, note))
            self._background_tasks.add(task)
            task.add_done_callback(self._background_tasks.discard)
        return refused

    # -- metadata -------------------------------------------------------------------------

    def get_metadata(self, request: Request) -> dict[str, Any]:
        """Rasa's Slack metadata (``out_channel``, ``thread_id``, ``users``), plus the
        author as ``slack_user``; empty for a request that is not Slack's."""
        try:
            kind = media_type(request)
            if kind == JSON:
                return event_metadata(event_body(request))
            if kind == FORM:
                return interaction_metadata(interaction_body(request))
        except MalformedRequest:
            pass
        return {}

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
        trackers = self.trackers if self.trackers is not None else tracker_store_of_request(request)
        try:
            elsewhere = sender_id is not None and await self.conversations.opened_elsewhere(
                trackers, sender_id
            )
        except Exception:
            # The turn itself would need the tracker store: none is started without it.
            logger.exception("Could not read the tracker of %s: no turn", sender_id)
            return response.text("Conversations can't be read right now: no turn.")
        if elsewhere:
            # A REST client named this thread's id before its customer wrote (bot/rasa/
            # channels/owned.py): its state (an email typed, an option pending) is not this
            # author's. No turn, and the author is told, in the thread, to start a new one.
            logger.warning("Refused a Slack message to a conversation another channel opened")
            output = self.get_output_channel(channel, thread_id)
            await tell(output, metadata.get("slack_user") or "", OPENED_ELSEWHERE)
            return response.text("Conversation opened on another channel: no turn.")
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
        """The author, when the replies must reach them alone (bot/rasa/channels/slack_privacy.py):
        others read the channel and the author's answers may carry account details."""
        trackers = self.trackers
        if trackers is None and request is not None:
            trackers = tracker_store_of_request(request)  # the Rasa server's own
        return await author_alone(
            metadata.get("slack_user"),
            metadata.get("out_channel") or self.slack_channel,
            self._customers,
            trackers,
            sender_id,
        )

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
                from bot.db.engine import make_engine
                from bot.db.migrate import migrate

                engine = make_engine(self.journey_url or self._settings().journey_url)
                migrate(engine)
                self._seen = SeenEvents(engine, self.name())
            return self._seen
