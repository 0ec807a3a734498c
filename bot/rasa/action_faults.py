"""When the action server fails: a short timeout, a graceful reply, the failure on the journey.

Rasa 3.6 calls the action server with a 300-second timeout (``DEFAULT_REQUEST_TIMEOUT`` in
rasa/core/actions/action.py) and, when a custom action fails, logs the error and drops the
action's events (``MessageProcessor._run_action``): a killed action server means a customer
who gets no answer at all, and a hung one a customer left waiting for five minutes.

``install(app)`` (called by the REST channel as the Rasa server starts, like
bot/rasa/channels/api_guard.py) replaces the agent's action endpoint with
``GuardedActionEndpoint``. A call still unanswered after ``CX_ACTION_TIMEOUT_SECONDS``
(default 5) is given up unless the server's ``/health`` answers within 3 s (a busy server
on a loaded machine is waited for, up to 60 s; a hung one answers nothing), and when a call
fails (connection refused, hung, a 5xx or any answer but Rasa's own 400 "rejected"), it
answers RemoteAction as the action server would have: with a reply
that says sorry, what the customer can do now (try again, or a person), as buttons. Rasa
then utters that reply on the customer's own channel (REST, web chat, Slack alike), and
the failure is written on the conversation's touchpoint (``touchpoints.action_failures``)
for CX review. Within one message only the first call waits: later custom actions of the
same turn fail at once, so a turn answers within one timeout, and the customer is told
once. A failed ``action_session_start`` starts the session as Rasa's default action would,
so the conversation carries on when the server is back. Every call and every failure is
counted for Prometheus (bot/monitoring.py: ``cx_remote_actions_total``, ``cx_action_failures_total``).
"""

from __future__ import annotations

import asyncio
import contextvars
import json
import logging
import threading
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import aiohttp
from rasa.utils.endpoints import ClientResponseError, EndpointConfig
from sanic import Sanic
from sanic.request import Request
from sqlalchemy import select, update
from sqlalchemy.engine import Engine

from bot import monitoring
from bot.db.schema import touchpoints
from bot.identity.disclosure import mark_account_details
from bot.journey.signals import UserMessage
from bot.journey.store import JourneyStore, Turn
from bot.settings import ACTION_TIMEOUT_ENV, DEFAULT_ACTION_TIMEOUT_SECONDS, Settings

logger = logging.getLogger(__name__)

TIMEOUT_ENV = ACTION_TIMEOUT_ENV
DEFAULT_TIMEOUT_SECONDS = DEFAULT_ACTION_TIMEOUT_SECONDS
# Past the timeout, the action server's /health must answer within this, or it is hung.
HEALTH_TIMEOUT_SECONDS = 3.0
# However alive it looks, no call waits longer than this (Rasa's own limit is 300 s).
PATIENCE_SECONDS = 60.0
# Writing the failure must not hold the customer's reply up for long (a slow database).
RECORD_WAIT_SECONDS = 2.0
MAX_FAILURES_KEPT = 20  # per touchpoint: enough for CX to see what happened, bounded
SESSION_START = "action_session_start"
VALIDATION_PREFIX = "validate_"  # a form's validation action (Rasa's naming)

APOLOGY = (
    "Sorry, I'm having trouble looking that up right now. Please try again in a minute, "
    "or I can put you through to a person."
)
TRY_AGAIN_TITLE = "Try again"
PERSON_BUTTON = {"title": "Talk to a person", "payload": "/request_human"}
MAX_RETRY_PAYLOAD_CHARS = 500  # a button's payload; longer messages get no "Try again"
METADATA_KEY = "cx_action_failed"  # on the apology's bot event, for transcripts and tests


@dataclass(frozen=True)
class ActionFaultSettings:
    """How long Rasa waits for the action server before it answers the customer itself."""

    timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS

    @classmethod
    def from_settings(cls, settings: Settings) -> ActionFaultSettings:
        """``CX_ACTION_TIMEOUT_SECONDS`` as ``settings`` read it."""
        return cls(timeout_seconds=settings.action_timeout_seconds)

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> ActionFaultSettings:
        """``from_settings`` of the settings ``env`` (a mapping of variables) gives; a clear
        error names ``CX_ACTION_TIMEOUT_SECONDS`` when it is not a number."""
        return cls.from_settings(Settings.from_env(env))


@dataclass(frozen=True)
class ActionFailure:
    """One failed call to the action server, as the journey store keeps it."""

    conversation_id: str
    channel: str
    session_started_at: datetime
    messages: tuple[UserMessage, ...]
    action: str
    reason: str  # unreachable | timeout | http_<status> | error
    at: datetime

    def as_mark(self) -> dict[str, str]:
        """The entry added to ``touchpoints.action_failures``."""
        return {
            "action": self.action,
            "reason": self.reason,
            "at": self.at.isoformat(timespec="seconds"),
        }


# -- what RemoteAction gets back instead of the action server's answer ---------------------


def fallback_response(call: Mapping[str, Any], *, apologise: bool, at: datetime) -> dict[str, Any]:
    """The action server's answer (``{"events", "responses"}``) for a call that failed.

    A failed ``action_session_start`` still starts the session (as Rasa's default action
    does), at ``at``; any other action gets the apology with what the customer can do next,
    unless the customer was already told during this message (``apologise`` False). A
    form's failed validation (``validate_<form>``) ends the form, as Rasa lets a validation
    action do: otherwise the form would go on to ask for its next slot right after the
    apology, with nothing validated.
    """
    action = str(call.get("next_action") or "")
    if action == SESSION_START:
        return {
            "events": [
                {"event": "session_started", "timestamp": at.timestamp()},
                {"event": "action", "name": "action_listen", "timestamp": at.timestamp()},
            ],
            "responses": [],
        }
    events: list[dict[str, Any]] = []
    if action.startswith(VALIDATION_PREFIX):
        events = [
            {"event": "active_loop", "name": None, "timestamp": at.timestamp()},
            {"event": "slot", "name": "requested_slot", "value": None, "timestamp": at.timestamp()},
        ]
    if not apologise:
        return {"events": events, "responses": []}
    buttons = []
    retry = _last_customer_text(call)
    if retry and len(retry) <= MAX_RETRY_PAYLOAD_CHARS and not retry.startswith("/"):
        buttons.append({"title": TRY_AGAIN_TITLE, "payload": retry})
    buttons.append(dict(PERSON_BUTTON))
    return {
        "events": events,
        "responses": [{"text": APOLOGY, "buttons": buttons, METADATA_KEY: action}],
    }


def _last_customer_text(call: Mapping[str, Any]) -> str | None:
    tracker = call.get("tracker") or {}
    latest = tracker.get("latest_message") or {}
    text = latest.get("text")
    return text.strip() if isinstance(text, str) and text.strip() else None


def failure_of(call: Mapping[str, Any], reason: str, at: datetime) -> ActionFailure:
    """The failure of ``call`` (the JSON RemoteAction sent), on its conversation session.

    The session is the newest ``session_started`` in the tracker, as the actions log it
    (actions/_adapter.py, ``turn_of``); a failed session start opens one at ``at``.
    """
    tracker = call.get("tracker") or {}
    action = str(call.get("next_action") or "")
    events = [e for e in tracker.get("events") or [] if isinstance(e, dict)]
    start = max((i for i, e in enumerate(events) if e.get("event") == "session_started"), default=0)
    session = events[start:]
    if action == SESSION_START or not session:
        started, session = at, []
    elif session[0].get("timestamp"):
        started = datetime.fromtimestamp(session[0]["timestamp"])
    else:
        started = datetime.combine(at.date(), datetime.min.time())
    messages = tuple(
        UserMessage(
            text=e.get("text") or "",
            intent=((e.get("parse_data") or {}).get("intent") or {}).get("name"),
            at=datetime.fromtimestamp(e["timestamp"]) if e.get("timestamp") else at,
        )
        for e in session
        if e.get("event") == "user"
    )
    return ActionFailure(
        conversation_id=str(tracker.get("sender_id") or call.get("sender_id") or ""),
        channel=tracker.get("latest_input_channel") or "rest",
        session_started_at=started,
        messages=messages,
        action=action,
        reason=reason,
        at=at,
    )


# -- the journey store ----------------------------------------------------------------------


class FailureLog:
    """Writes action-server failures on the conversation's touchpoint (the journey store)."""

    def __init__(self, engine: Engine):
        self._engine = engine  # migrated (bot.db.migrate)
        self._store = JourneyStore(engine)

    def record(self, failure: ActionFailure) -> int:
        """Add ``failure`` to its session's touchpoint, creating the touchpoint if the
        failure came before anything was logged; returns the touchpoint's id."""
        touchpoint_id = self._session_touchpoint(failure)
        if touchpoint_id is None:
            turn = Turn(
                conversation_id=failure.conversation_id,
                channel=failure.channel,
                session_started_at=failure.session_started_at,
                messages=failure.messages,
            )
            touchpoint_id = self._store.record(turn).id
        with self._engine.begin() as conn:
            current = conn.execute(
                select(touchpoints.c.action_failures).where(touchpoints.c.id == touchpoint_id)
            ).scalar_one()
            marks = [*json.loads(current or "[]"), failure.as_mark()][-MAX_FAILURES_KEPT:]
            conn.execute(
                update(touchpoints)
                .where(touchpoints.c.id == touchpoint_id)
                .values(action_failures=json.dumps(marks))
            )
        return touchpoint_id

    def _session_touchpoint(self, failure: ActionFailure) -> int | None:
        with self._engine.connect() as conn:
            touchpoint_id: int | None = conn.execute(
                select(touchpoints.c.id).where(
                    touchpoints.c.conversation_id == failure.conversation_id,
                    touchpoints.c.session_started_at == failure.session_started_at,
                )
            ).scalar()
            return touchpoint_id


# -- the guarded endpoint -------------------------------------------------------------------


class _TurnState:
    """What went wrong with the action server during the message being handled."""

    def __init__(self, sender: str) -> None:
        self.sender = sender
        self.failed_at: float | None = None  # time.monotonic() of the first failure
        self.reason = ""  # why it failed
        self.apologised = False


# One per message: the Rasa server clears it as each HTTP request starts (``install``), and
# a socket.io message is handled in a task of its own, which starts from a clean copy.
_turn: contextvars.ContextVar[_TurnState | None] = contextvars.ContextVar(
    "cx_action_turn", default=None
)


def start_turn() -> None:
    """Forget earlier failures: a new message tries the action server again."""
    _turn.set(None)


def _turn_state(sender: str, window: float) -> _TurnState:
    """This message's state; a fresh one for another sender, or once ``window`` seconds
    have passed since the failure (a message's remaining actions follow within moments,
    so a state that outlived it never stops a later message from trying again)."""
    state = _turn.get()
    if (
        state is None
        or state.sender != sender
        or (state.failed_at is not None and time.monotonic() - state.failed_at > window)
    ):
        state = _TurnState(sender)
        _turn.set(state)
    return state


class GuardedActionEndpoint(EndpointConfig):  # type: ignore[misc]  # Rasa ships no types
    """Rasa's action endpoint with a short timeout and a graceful answer when a call fails."""

    def __init__(
        self,
        endpoint: EndpointConfig,
        settings: ActionFaultSettings,
        record: Callable[[ActionFailure], Any] | None = None,
        now: Callable[[], datetime] = datetime.now,
    ):
        super().__init__(
            endpoint.url,
            endpoint.params,
            endpoint.headers,
            endpoint.basic_auth,
            endpoint.token,
            endpoint.token_name,
            endpoint.cafile,
            **endpoint.kwargs,
        )
        self.type = endpoint.type
        self.settings = settings
        self._record = record
        self._now = now

    async def request(
        self,
        method: str = "post",
        subpath: str | None = None,
        content_type: str | None = "application/json",
        compress: bool = False,
        **kwargs: Any,
    ) -> Any:
        """Call the action server; on failure, answer for it (see the module docstring)."""
        call = kwargs.get("json")
        if method.lower() != "post" or not isinstance(call, dict) or "next_action" not in call:
            kwargs["timeout"] = aiohttp.ClientTimeout(total=self.settings.timeout_seconds)
            return await super().request(method, subpath, content_type, compress, **kwargs)
        monitoring.action_called(str(call["next_action"]))
        # Rasa passes its 300 s default; ours replaces it (see _call_while_alive).
        kwargs["timeout"] = aiohttp.ClientTimeout(total=PATIENCE_SECONDS)
        sender = str((call.get("tracker") or {}).get("sender_id") or call.get("sender_id"))
        state = _turn_state(sender, self.settings.timeout_seconds)
        if state.failed_at is not None:  # it failed moments ago, in this message: don't wait
            return await self._failed(call, state, state.reason)
        try:
            result = await self._call_while_alive(
                super().request(method, subpath, content_type, compress, **kwargs)
            )
            # Replies that may carry a verified customer's details say so to the channel.
            return mark_account_details(call, result)
        except ClientResponseError as e:
            if e.status == 400:
                raise  # the action rejected itself: Rasa's protocol, Rasa handles it
            reason = f"http_{e.status}"
        except asyncio.TimeoutError:
            reason = "timeout"
        except aiohttp.ClientConnectionError:
            reason = "unreachable"
        except aiohttp.ClientError:
            reason = "error"
        state.failed_at, state.reason = time.monotonic(), reason
        logger.error(
            "The action server failed (%s) running %s for %s: answering gracefully",
            reason,
            call.get("next_action"),
            sender,
        )
        return await self._failed(call, state, reason)

    async def _call_while_alive(self, call: Awaitable[Any]) -> Any:
        """Await ``call``; past each timeout, go on waiting only if ``/health`` answers.

        A hung server (stopped, deadlocked) answers nothing, /health included: the customer
        hears from us after the timeout plus the health check. A busy one (many customers at
        once on a small machine) still answers /health between calls, so its customers get
        their real answer late rather than an apology for a server that works.
        """
        task = asyncio.ensure_future(call)
        try:
            while True:
                done, _ = await asyncio.wait({task}, timeout=self.settings.timeout_seconds)
                if done:
                    return task.result()
                if not await self._answers_health_check():
                    raise asyncio.TimeoutError
        finally:
            if not task.done():
                task.cancel()

    async def _answers_health_check(self) -> bool:
        """Whether the action server's ``/health`` answers 200 within the health timeout."""
        health = self.url.rsplit("/", 1)[0] + "/health"
        try:
            timeout = aiohttp.ClientTimeout(total=HEALTH_TIMEOUT_SECONDS)
            async with (
                aiohttp.ClientSession() as session,
                session.get(health, timeout=timeout) as answer,
            ):
                healthy: bool = answer.status == 200
                return healthy
        except (aiohttp.ClientError, asyncio.TimeoutError):
            return False

    async def _failed(self, call: dict[str, Any], state: _TurnState, reason: str) -> dict[str, Any]:
        """Record the failed call on the journey and answer for the action server."""
        monitoring.action_failed(str(call.get("next_action") or ""), reason)
        now = self._now()
        # Whole milliseconds: a session started now keeps the same time through the event's
        # float timestamp, so the actions later find the touchpoint written here.
        now = now.replace(microsecond=now.microsecond // 1000 * 1000)
        await self._write(failure_of(call, reason, now))
        apologise = not state.apologised and call.get("next_action") != SESSION_START
        state.apologised = state.apologised or apologise
        return fallback_response(call, apologise=apologise, at=now)

    async def _write(self, failure: ActionFailure) -> None:
        """Record ``failure`` off the event loop, waiting at most ``RECORD_WAIT_SECONDS``."""
        if self._record is None:
            return
        try:
            await asyncio.wait_for(
                asyncio.to_thread(self._record, failure), timeout=RECORD_WAIT_SECONDS
            )
        except Exception:  # the customer's reply matters more than the log
            logger.exception("Could not record the action failure of %s", failure.conversation_id)


# -- installing it on the Rasa server -------------------------------------------------------


def install(app: Sanic, settings: Settings) -> None:
    """Guard the action endpoint of the agent ``app`` serves (idempotent).

    The agent is loaded after the channels' start-up listeners run, and replaced when a
    model is loaded through the API: each request (a socket.io connection starts with one)
    checks, with two attribute lookups, that the current agent's endpoint is the guarded
    one, and clears the previous message's failures.
    """
    if getattr(app.ctx, "cx_action_faults", False):  # one guard, however many ask
        return
    app.ctx.cx_action_faults = True
    faults = ActionFaultSettings.from_settings(settings)
    log = _LazyFailureLog(settings.journey_url)

    async def guard_agent(request: Request) -> None:
        start_turn()
        guard(getattr(request.app.ctx, "agent", None), faults, log)

    app.register_middleware(guard_agent, "request")


def guard(
    agent: Any,
    settings: ActionFaultSettings,
    record: Callable[[ActionFailure], Any] | None = None,
) -> None:
    """Give ``agent`` (and its processor) the guarded endpoint, if it has an action server."""
    endpoint = getattr(agent, "action_endpoint", None)  # None: no agent yet, or no server
    if endpoint is None:
        return
    if not isinstance(endpoint, GuardedActionEndpoint):
        endpoint = GuardedActionEndpoint(endpoint, settings, record)
        agent.action_endpoint = endpoint
    processor = getattr(agent, "processor", None)
    if processor is not None and processor.action_endpoint is not endpoint:
        processor.action_endpoint = endpoint


class _LazyFailureLog:
    """A ``FailureLog`` on the journey database, connected on the first failure."""

    def __init__(self, journey_url: str) -> None:
        self._journey_url = journey_url
        self._log: FailureLog | None = None
        self._lock = threading.Lock()  # failures are written from worker threads

    def __call__(self, failure: ActionFailure) -> int:
        with self._lock:
            if self._log is None:
                from bot.db.engine import make_engine

                self._log = FailureLog(make_engine(self._journey_url))
        return self._log.record(failure)
