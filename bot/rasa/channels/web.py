"""The website chat: Rasa's socket.io channel, with every conversation bound to its browser.

Stock ``SocketIOInput`` trusts the ``session_id`` a client sends with each message, so anyone
who learns or guesses a session id can read and write that conversation. Here the server
decides the session: on connect the browser shows its signed session token (or gets a new
conversation), and every message goes to the conversation its socket was bound to. Whatever
session id or metadata a client sends is ignored; the only metadata passed to the assistant
is the customer id a valid customer token vouches for (bot/rasa/channels/tokens.py).
A conversation another channel spoke in (a REST client that learnt its id) is never carried
on: a browser resuming it, or sending its first message after another channel spoke there,
gets a new conversation, and ``session_confirm`` with its token (bot/rasa/channels/owned.py).

Protocol (socket.io, default namespace; bot/widget/widget.js is the client):

* connect with ``auth = {"session": <session token>?, "customer": <customer token>?}``;
  an invalid customer token refuses the connection ("customer token rejected");
* ``session_request`` -> ``session_confirm {session_id, token, customer_id, history,
  agent, seen, support}``: ``agent`` is ``{"name": ...}`` while a person holds the chat
  (else null), ``seen`` the newest customer message that person has seen, ``support``
  ``{"wait": "A person from our team replies within 1 hour."}`` from departments.yml's
  support team (null when there is none);
* ``user_uttered {message}`` -> the assistant's answers as ``bot_uttered``, and
  ``user_echo {text, id}`` to the conversation's other open tabs; a widget that asks for an
  acknowledgement gets ``{"id": <message id>}`` once the message is in the conversation
  (its "Delivered"), or ``{"error": ...}``;
* ``bot_uttered`` carries ``agent`` (a person's message, with their name) or ``system`` and
  ``by`` (a person ``joined`` the chat, or ``handed_back``, ``transferred``, ``resolved``,
  ``abandoned`` it: bot/agents/agent_desk.py);
* ``typing {typing}`` from the widget while the customer types (bot/rasa/channels/live.py);
  ``agent_typing {agent, typing}`` and ``seen {message_id}`` to the widget, from the agent
  console through the channel's HTTP route below;
* ``error_message {message}`` for a message that can't be taken (empty, not text), and
  ``error_message {message, retry_after}`` for one over the rate limits (bot/ratelimit.py:
  ``CX_RATE_CONVERSATION`` per session, ``CX_RATE_IP`` per client address); socket.io has
  no HTTP status, so the widget shows the message as a note and no turn starts;
* a connection over ``CX_RATE_CONNECT_IP`` per client address is refused with
  "too many connections".

The URL stays /socket.io on the Rasa server and the channel name stays ``socketio``, so
Rasa's events API reaches the widget with ``output_channel=socketio`` (or ``latest``).

The hub's agent console reaches what lasts only seconds (typing, seen) through
``/webhooks/socketio/live/<conversation id>`` with Rasa's API token as a Bearer token
(bot/rasa/channels/web_live_route.py). What the widget is sent: bot/rasa/channels/web_output.py; the
history a reconnecting widget is shown: bot/rasa/channels/web_history.py.
"""

from __future__ import annotations

import asyncio
import hmac
import inspect
import logging
import secrets
import uuid
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

from rasa.core.channels.channel import UserMessage
from rasa.core.channels.socketio import SocketBlueprint, SocketIOInput
from rasa.shared.core.events import UserUttered
from sanic import Blueprint, Sanic, response
from socketio import AsyncServer
from socketio.exceptions import ConnectionRefusedError

from bot import monitoring
from bot.config import ConfigError
from bot.db.engine import make_engine
from bot.departments import Department, load_departments
from bot.rasa.channels import typed_choice
from bot.rasa.channels.live import LiveState
from bot.rasa.channels.owned import OwnConversations, tracker_store_of
from bot.rasa.channels.presence import WebPresence
from bot.rasa.channels.rest import MAX_MESSAGE_CHARS, clean_message
from bot.rasa.channels.tokens import (
    InvalidToken,
    WebSession,
    mint_session_token,
    verify_customer_token,
    verify_session_token,
)
from bot.rasa.channels.web_history import holder_of, transcript_of
from bot.rasa.channels.web_live_route import live_route
from bot.rasa.channels.web_output import WebChatOutput
from bot.ratelimit import Limiter, RateLimits, first_refusal
from bot.settings import Settings

log = logging.getLogger(__name__)

HISTORY_MESSAGES = 100  # the newest messages a reconnecting widget is shown again
TOO_MANY_CONNECTIONS = "too many connections"
# A socket.io packet carries one message: 20,000 characters of UTF-8 plus the envelope.
MAX_PACKET_BYTES = 4 * MAX_MESSAGE_CHARS + 4096
SUPPORT = "support"  # the department of human agents (departments.yml)


def signed_in(events: list[Any]) -> set[str]:
    """The signed-in customers who have spoken among ``events`` (an anonymous chat carries
    on when its visitor signs in; its anonymous token must not open it then)."""
    return {
        str((event.metadata or {})["customer_id"])
        for event in events
        if isinstance(event, UserUttered) and (event.metadata or {}).get("customer_id")
    }


class WebChatInput(SocketIOInput):
    """The ``socketio`` channel with server-side, token-bound sessions (see the module doc)."""

    @classmethod
    def name(cls) -> str:
        return "socketio"

    @classmethod
    def from_credentials(cls, credentials: dict[str, Any] | None) -> WebChatInput:
        credentials = credentials or {}
        settings = Settings.from_env()  # Rasa builds its channels: this process's settings
        return cls(
            settings,
            limits=RateLimits.from_settings(settings),
            user_message_evt=credentials.get("user_message_evt", "user_uttered"),
            bot_message_evt=credentials.get("bot_message_evt", "bot_uttered"),
            socketio_path=credentials.get("socketio_path", "/socket.io"),
        )

    def __init__(
        self,
        settings: Settings,
        user_message_evt: str = "user_uttered",
        bot_message_evt: str = "bot_uttered",
        socketio_path: str = "/socket.io",
        limits: RateLimits | None = None,
        limiter: Limiter | None = None,
    ):
        super().__init__(
            user_message_evt=user_message_evt,
            bot_message_evt=bot_message_evt,
            session_persistence=True,
            socketio_path=socketio_path,
        )
        self.origins = list(settings.allowed_widget_origins)
        self.secrets = settings.widget_secrets
        if not self.secrets:
            # `rasa run` started by hand, without `make run`'s generated secrets: chats work
            # until a restart, and signed-in customers can't be recognised.
            log.warning(
                "CX_WIDGET_SECRET is not set: website chat sessions end when Rasa restarts,"
                " and customer tokens from the website are refused."
            )
            self.secrets = (secrets.token_urlsafe(32),)
        self.app: Sanic | None = None
        # The hub's console reaches the live route with Rasa's API token.
        self.api_token = settings.rasa_token
        self.live = LiveState()
        self._departments: dict[str, Department] | None = None
        # Who has the chat open now (bot/rasa/channels/presence.py), for news told first.
        self.journey_url = settings.journey_url
        self._presence: WebPresence | None = None
        self.limits = limits or RateLimits()
        self.limiter = self.limits.limiter() if limiter is None else limiter
        self.conversations = OwnConversations(self.name())

    def get_output_channel(self) -> WebChatOutput | None:
        """The widget output for Rasa's events API (``output_channel=socketio`` or ``latest``)."""
        return WebChatOutput(self.sio, self.bot_message_evt) if self.sio else None

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        typed_choice.install()  # "the store credit is fine" taken as that button (idempotent)
        on_new_message = monitoring.timed_turns(on_new_message, self.name())  # bot/monitoring.py
        sio = AsyncServer(
            async_mode="sanic",
            cors_allowed_origins=self.origins,
            max_http_buffer_size=MAX_PACKET_BYTES,
        )
        self.sio = sio
        channel = self

        class _Blueprint(SocketBlueprint):
            def register(self, app: Sanic, options: dict[str, Any]) -> None:
                channel.app = app  # to read a conversation's history from the tracker store
                super().register(app, options)

        webhook = _Blueprint(sio, self.socketio_path, "socketio_webhook", __name__)

        @webhook.route("/", methods=["GET"])
        async def health(_):
            return response.json({"status": "ok"})

        webhook.add_route(
            live_route(self.live, sio, self.authorised),
            "/live/<conversation_id>",
            methods=["GET", "POST"],
        )

        @sio.on("connect")
        async def connect(sid: str, environ: dict, auth: Any) -> bool:
            ip = self.client_ip(environ)
            verdict = self.limiter.hit(f"web:connect:{ip}", self.limits.connect_ip)
            if not verdict.allowed:
                log.info("website chat connection from %s refused: over the rate limit", ip)
                raise ConnectionRefusedError(
                    TOO_MANY_CONNECTIONS, {"retry_after": verdict.retry_after_seconds}
                )
            try:
                session = self.open_session(auth if isinstance(auth, dict) else {})
            except InvalidToken as e:
                log.info("website chat connection refused: %s", e)
                raise ConnectionRefusedError("customer token rejected") from None
            events = await self.all_events(session.session_id)  # read once for both checks
            if signed_in(events) - {session.customer_id} or self.conversations.opened_elsewhere_in(
                session.session_id, events
            ):
                # A token from before the visitor signed in (copied on a shared computer),
                # used anonymously or signed in as someone else: the chat is that customer's
                # now, with their answers and identity. Or another channel spoke in it (a
                # REST client that learnt the id): what it left there is not this visitor's.
                # A new chat instead.
                session = WebSession(uuid.uuid4().hex, session.customer_id)
            await sio.save_session(sid, {"session": session, "ip": ip})
            await _maybe_await(sio.enter_room(sid, session.session_id))
            await self._note_presence(WebPresence.connected, sid, session.session_id)
            return True

        @sio.on("disconnect")
        async def disconnect(sid: str) -> None:
            await self._note_presence(WebPresence.disconnected, sid)

        async def confirm(sid: str, session: WebSession) -> None:
            history, agent = await self.history_and_agent(session.session_id)
            await sio.emit(
                "session_confirm",
                {
                    "session_id": session.session_id,
                    "token": mint_session_token(self.secrets[0], session),
                    "customer_id": session.customer_id,
                    "history": history,
                    "agent": agent,
                    "seen": self.live.seen_up_to(session.session_id),
                    "support": self.support_wait(),
                },
                room=sid,
            )

        @sio.on("session_request")
        async def session_request(sid: str, _data: Any = None) -> None:
            await confirm(sid, await self._session_of(sid))

        @sio.on("typing")
        async def typing(sid: str, data: Any = None) -> None:
            session = await self._session_of(sid)
            on = bool(data.get("typing")) if isinstance(data, dict) else False
            self.live.customer_typing(session.session_id, on)

        @sio.on(self.user_message_evt)
        async def handle_message(sid: str, data: Any = None) -> dict[str, str]:
            # What it returns is the acknowledgement a widget asked for (socket.io's ack).
            stored = await sio.get_session(sid)
            session: WebSession = stored["session"]
            text = data.get("message") if isinstance(data, dict) else None
            if not isinstance(text, str) or not text.strip():
                await sio.emit(
                    "error_message", {"message": "Please type a message first."}, room=sid
                )
                return {"error": "empty"}
            verdict = first_refusal(
                self.limiter,
                [
                    (f"web:session:{session.session_id}", self.limits.conversation),
                    (f"web:ip:{stored.get('ip')}", self.limits.ip),
                ],
            )
            if not verdict.allowed:
                wait = verdict.retry_after_seconds
                await sio.emit(
                    "error_message",
                    {
                        "message": "You're sending messages faster than we can read them. "
                        f"Please wait {wait} seconds, then send that again.",
                        "retry_after": wait,
                    },
                    room=sid,
                )
                return {"error": "rate limited"}
            afresh = False
            if not stored.get("spoken"):
                if await self.opened_elsewhere(session.session_id):
                    # Another channel spoke in this chat after the widget connected: this
                    # message starts a new one; the widget is told which once it's answered.
                    session = WebSession(uuid.uuid4().hex, session.customer_id)
                    await _maybe_await(sio.leave_room(sid, stored["session"].session_id))
                    await _maybe_await(sio.enter_room(sid, session.session_id))
                    await self._note_presence(WebPresence.disconnected, sid)
                    await self._note_presence(WebPresence.connected, sid, session.session_id)
                    stored["session"], afresh = session, True
                # From this socket's first message on, the chat holds one of the widget's
                # own messages: no other channel may speak in it (bot/rasa/channels/owned.py).
                stored["spoken"] = True
                await sio.save_session(sid, stored)
            # Longer messages are cut, not refused, and NUL removed, as on the REST channel.
            text = clean_message(text)
            # The id Rasa records with the message: an agent's "seen" names it.
            message_id = uuid.uuid4().hex
            self.live.customer_typing(session.session_id, False)  # a sent message ends typing
            await sio.emit(
                "user_echo",
                {"text": text, "id": message_id},
                room=session.session_id,
                skip_sid=sid,
            )
            metadata = {"customer_id": session.customer_id} if session.customer_id else {}
            if stored.get("ip"):
                metadata["client_ip"] = stored["ip"]  # identity checks are limited per address
            await on_new_message(
                UserMessage(
                    text,
                    WebChatOutput(sio, self.bot_message_evt),
                    session.session_id,
                    input_channel=self.name(),
                    metadata=metadata,
                    message_id=message_id,
                )
            )
            if afresh:  # the new chat's token and history, its first message and answers
                await confirm(sid, session)
            return {"id": message_id}

        return webhook

    def authorised(self, header: str) -> bool:
        """Whether ``header`` (Authorization) carries Rasa's API token."""
        if not self.api_token:
            return False  # no token configured: nobody may
        scheme, _, token = header.partition(" ")
        return scheme.lower() == "bearer" and hmac.compare_digest(
            token.strip().encode(), self.api_token.encode()
        )

    def support_wait(self, at: datetime | None = None) -> dict[str, str] | None:
        """When a person replies, as the handoff promises it (departments.yml's support team).

        None when there is no support team (or its file can't be read): nothing is promised.
        """
        if self._departments is None:
            try:
                self._departments = load_departments()
            except (ConfigError, OSError) as e:
                log.error("the widget's first screen says no wait: %s", e)
                self._departments = {}
        support = self._departments.get(SUPPORT)
        if support is None:
            return None
        return {"wait": f"A person from our team replies {support.promise(at or datetime.now())}."}

    def open_session(self, auth: dict[str, Any]) -> WebSession:
        """The conversation a connecting browser is bound to.

        A valid session token resumes its conversation, unless the visitor is now signed in
        as someone else (a shared computer must not show the previous customer's chat). An
        anonymous conversation carries on when the visitor signs in. Anything else starts
        a new conversation. An invalid customer token raises ``InvalidToken``.
        """
        try:
            resumed = verify_session_token(self.secrets, auth.get("session") or "")
        except InvalidToken:
            resumed = None
        customer_token = auth.get("customer")
        customer_id = None
        if customer_token:
            try:
                customer_id = verify_customer_token(self.secrets, customer_token)
            except InvalidToken:
                # A page left open past its customer token's hour reconnects (after sleep, a
                # network drop) with the same, now expired token: fine for that customer's
                # own session, which the session token proves.
                if resumed is None or resumed.customer_id is None:
                    raise
                expired = verify_customer_token(self.secrets, customer_token, expired_ok=True)
                if expired != resumed.customer_id:
                    raise
                customer_id = expired
        if resumed is not None and resumed.customer_id in (None, customer_id):
            return WebSession(resumed.session_id, customer_id)
        return WebSession(uuid.uuid4().hex, customer_id)

    async def all_events(self, session_id: str) -> list[Any]:
        """Every session's events of this conversation; none without a tracker store."""
        store = tracker_store_of(self.app)
        tracker = await store.retrieve_full_tracker(session_id) if store is not None else None
        return list(tracker.events) if tracker is not None else []

    async def opened_elsewhere(self, session_id: str) -> bool:
        """Whether a customer message of this chat came in on another channel."""
        return await self.conversations.opened_elsewhere(tracker_store_of(self.app), session_id)

    async def history(self, session_id: str) -> list[dict[str, Any]]:
        """The conversation so far, as the widget shows it (the newest messages)."""
        return (await self.history_and_agent(session_id))[0]

    async def history_and_agent(
        self, session_id: str
    ) -> tuple[list[dict[str, Any]], dict[str, str] | None]:
        """The conversation so far (the newest messages), and who holds it (``holder_of``)."""
        store = tracker_store_of(self.app)
        if store is None:
            return [], None
        # The whole conversation, not only its latest Rasa session (which is all that
        # retrieve() returns): a returning customer sees what was said before too.
        tracker = await store.retrieve_full_tracker(session_id)
        if tracker is None:
            return [], None
        events = [event.as_dict() for event in tracker.events]
        return transcript_of(events)[-HISTORY_MESSAGES:], holder_of(events)

    async def _note_presence(self, change: Callable[..., None], *args: str) -> None:
        """Record a browser connecting or leaving; the chat goes on if the database can't."""
        try:
            if self._presence is None:
                self._presence = WebPresence(make_engine(self.journey_url))
            await asyncio.to_thread(change, self._presence, *args)
        except Exception:  # noqa: BLE001 - presence only steers news told first
            log.exception("website chat presence not recorded")

    def client_ip(self, environ: dict[str, Any]) -> str:
        """The connecting browser's address (engine.io's REMOTE_ADDR is always 127.0.0.1)."""
        request = environ.get("sanic.request")
        peer = getattr(request, "ip", "") or environ.get("REMOTE_ADDR", "")
        return self.limits.client_ip(peer, environ.get("HTTP_X_FORWARDED_FOR"))

    async def _session_of(self, sid: str) -> WebSession:
        return (await self.sio.get_session(sid))["session"]


async def _maybe_await(result: Any) -> None:
    # python-socketio 5.10+ made enter_room a coroutine; 5.9 (pinned) returns None. Awaiting
    # when needed keeps the channel right on both (the trap that silenced Rasa's own widget).
    if inspect.isawaitable(result):
        await result
