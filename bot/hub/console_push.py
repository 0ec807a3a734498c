"""Push to the agent console: server-sent events, so nobody's page asks every few seconds.

``GET /api/console/stream[?conversation=<id>]`` (``Accept: text/event-stream``) is an
event stream for a signed-in agent's console:

- ``queue``: an escalation arrived, was taken, handed back, transferred or resolved (any
  list beside the chat may have changed): the console reads its list again.
- ``conversation``: the open conversation has news (a message either way, a takeover
  begun or ended, a note): the console reads it again, context panel included.
- ``typing``: the customer of the open website chat started or stopped typing
  (``{"conversation_id", "customer_typing"}``), read from the website channel with the
  conversation's news; the console shows it without asking.
- a comment line every 15 s keeps proxies and Sanic's response timeout from closing it.

One watcher per hub finds the news, whoever caused it (the assistant's action server
writes handoffs straight into the journey database; customers write through Rasa): while
any console listens, it reads the journey's fingerprint (bot/agents/worklist.py) every
``QUEUE_EVERY`` seconds, and Rasa's ``latest_event_time`` of each open conversation every
``CONVERSATION_EVERY`` seconds (one read per conversation, however many consoles show it).
A change this hub makes itself is told at once (``tell``). When nobody listens, nothing
runs. The console's script falls back to polling when the stream fails (an old proxy).

A plain GET (no ``text/event-stream`` in Accept) is answered 406, so a client that would
read the body to its end is told rather than kept waiting forever.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from typing import Any, TypeAlias

from sanic import Sanic
from sanic.request import Request
from sanic.response import HTTPResponse

from bot.agents import AgentDesk, worklist
from bot.agents.live_chat import LiveChat, LiveUnavailable
from bot.agents.rasa_api import RasaApiError
from bot.hub.auth import require
from bot.hub.openapi_parts import error_spec
from bot.hub.registry import RouteTable
from bot.hub.web import HubError, in_thread

log = logging.getLogger(__name__)

STREAM = "/api/console/stream"
QUEUE_EVERY = 0.25  # seconds between reads of the journey's fingerprint
CONVERSATION_EVERY = 0.5  # seconds between reads of an open conversation's last change
KEEP_ALIVE = 15.0
RETRY_MS = 2000  # how soon a browser reconnects after the stream broke
MAX_ID = 255
# What a console is told: (event kind, its data); None ends the stream (the hub stops).
News: TypeAlias = tuple[str, dict[str, Any]] | None


class Watcher:
    """The hub's one watcher: who listens, and what changed since it last looked."""

    def __init__(self, app: Sanic):
        self.app = app
        self.listeners: dict[asyncio.Queue[News], str | None] = {}
        self.task: asyncio.Task[None] | None = None
        self.closing = False
        self._version: tuple[str, ...] | None = None
        self._last: dict[str, Any] = {}
        self._typing: dict[str, bool] = {}

    def listen(self, conversation_id: str | None) -> asyncio.Queue[News]:
        inbox: asyncio.Queue[News] = asyncio.Queue(maxsize=100)
        self.listeners[inbox] = conversation_id
        if self.task is None or self.task.done():
            self.task = asyncio.get_running_loop().create_task(self._watch())
        return inbox

    async def baseline(self, conversation_id: str | None) -> None:
        """Read where things stand before a new console hears "ready" (and reads everything
        itself), so nothing that happens after can fall between its read and the watch."""
        desk = self.app.ctx.agents
        try:
            if self._version is None:
                self._version = await in_thread(worklist.version, desk.engine)
            if conversation_id and conversation_id not in self._last:
                self._last[conversation_id] = await in_thread(
                    desk.relay.rasa.last_change, conversation_id
                )
        except RasaApiError as e:  # the watch reads it again; the console polls meanwhile
            log.info("no news of %s from Rasa: %s", conversation_id, e)

    def leave(self, inbox: asyncio.Queue[News]) -> None:
        self.listeners.pop(inbox, None)

    def tell(self, kind: str, conversation_id: str | None = None) -> None:
        """Tell the consoles now (a change this hub made): all of them for ``queue``, those
        showing ``conversation_id`` for ``conversation``."""
        for inbox, watching in list(self.listeners.items()):
            if kind == "queue" or watching == conversation_id:
                _offer(inbox, (kind, {"conversation_id": conversation_id}))

    def close(self) -> None:
        """End every stream (the hub stops)."""
        self.closing = True
        for inbox in list(self.listeners):
            _offer(inbox, None)
        if self.task is not None:
            self.task.cancel()

    async def _watch(self) -> None:
        desk = self.app.ctx.agents
        since_conversations = 0.0
        while self.listeners and not self.closing:
            try:
                version = await in_thread(worklist.version, desk.engine)
                if self._version is not None and version != self._version:
                    self.tell("queue")
                self._version = version
                since_conversations += QUEUE_EVERY
                if since_conversations >= CONVERSATION_EVERY:
                    since_conversations = 0.0
                    await self._look_at_conversations(desk)
            except asyncio.CancelledError:
                raise
            except Exception:  # the next round tries again; the log says why
                log.exception("watching for the console's news failed")
            await asyncio.sleep(QUEUE_EVERY)
        # What it saw stays: a console that comes next is told of any change since (at worst
        # one extra read), never left without news of one.

    async def _look_at_conversations(self, desk: AgentDesk) -> None:
        open_now = {c for c in self.listeners.values() if c}
        for gone in set(self._last) - open_now:
            del self._last[gone]
        for gone in set(self._typing) - open_now:
            del self._typing[gone]
        for conversation_id in open_now:
            await self._look_at_typing(conversation_id)
            try:
                change = await in_thread(desk.relay.rasa.last_change, conversation_id)
            except RasaApiError as e:
                log.info("no news of %s from Rasa: %s", conversation_id, e)
                continue
            before = self._last.get(conversation_id)
            self._last[conversation_id] = change
            if before is not None and change != before:
                self.tell("conversation", conversation_id)

    async def _look_at_typing(self, conversation_id: str) -> None:
        """Tell the consoles showing ``conversation_id`` when its customer starts or stops
        typing in the website chat (a chat on another channel is never typing)."""
        try:
            typing = await in_thread(live_chat_of(self.app).customer_typing, conversation_id)
        except LiveUnavailable as e:
            log.info("no typing news of %s: %s", conversation_id, e)
            return
        if self._typing.get(conversation_id, False) == typing:
            self._typing[conversation_id] = typing
            return
        self._typing[conversation_id] = typing
        news = ("typing", {"conversation_id": conversation_id, "customer_typing": typing})
        for inbox, watching in list(self.listeners.items()):
            if watching == conversation_id:
                _offer(inbox, news)


def live_chat_of(app: Sanic) -> LiveChat:
    """The hub's client of the website channel's live route (made on first use)."""
    ctx = app.ctx
    if getattr(ctx, "live_chat", None) is None:
        settings = ctx.settings
        ctx.live_chat = LiveChat(settings.rasa_api_url, settings.rasa_token)
    chat: LiveChat = ctx.live_chat
    return chat


def watcher(app: Sanic) -> Watcher:
    """The app's watcher (made on first use)."""
    if getattr(app.ctx, "console_watcher", None) is None:
        app.ctx.console_watcher = Watcher(app)
    found: Watcher = app.ctx.console_watcher
    return found


def tell(request: Request, kind: str, conversation_id: str | None = None) -> None:
    """Push ``kind`` now to the consoles listening (after a change made through this hub)."""
    watcher(request.app).tell(kind, conversation_id)


async def stop(app: Sanic, wait: float = 2.0) -> None:
    """End every open stream and wait (up to ``wait`` s) until each has said its last
    chunk, so consoles see the stream end (and reconnect to the next hub) instead of a
    connection left hanging."""
    found = getattr(app.ctx, "console_watcher", None)
    if found is None:
        return
    found.close()
    deadline = asyncio.get_running_loop().time() + wait
    while found.listeners and asyncio.get_running_loop().time() < deadline:
        await asyncio.sleep(0.02)


routes = RouteTable(tags=["agent console"])


@routes.route(
    STREAM,
    name="console_stream",
    summary="Server-sent events for the agent console: the queue or the open chat changed",
    description=(
        "Session cookie of an agent or admin, and `Accept: text/event-stream`. Events: "
        "`ready` once, then `queue` (a list beside the chat may have changed), "
        "`conversation` (the conversation named in `?conversation=` has news), each "
        'with `data: {"conversation_id": ...}`, and `typing` (its customer started or '
        'stopped typing in the website chat: `{"conversation_id", "customer_typing"}`); '
        "a comment line every 15 s."
    ),
    operation_id="consoleStream",
    parameters=[
        {
            "name": "conversation",
            "in": "query",
            "required": False,
            "description": "The conversation open in this console, for its news.",
            "schema": {"type": "string", "maxLength": MAX_ID},
        }
    ],
    responses={
        "200": {
            "description": "The event stream (it stays open).",
            "content": {"text/event-stream": {"schema": {"type": "string"}}},
        },
        "400": error_spec("A conversation id over 255 characters."),
        "401": error_spec("Not signed in."),
        "403": error_spec("Signed in with a role other than agent or admin."),
        "406": error_spec("Asked without `Accept: text/event-stream`."),
        "503": error_spec("The hub is stopping."),
    },
)
async def stream(request: Request) -> HTTPResponse | None:
    """The console's event stream (see the module's docstring)."""
    await require(request, "console")
    if "text/event-stream" not in (request.headers.get("accept") or ""):
        raise HubError(
            406, "this is a server-sent event stream: ask for it with Accept: text/event-stream"
        )
    conversation_id = request.args.get("conversation") or None
    if conversation_id is not None and len(conversation_id) > MAX_ID:
        raise HubError(400, f"conversation is an id of at most {MAX_ID} characters")
    hub = watcher(request.app)
    if hub.closing:
        raise HubError(503, "the hub is stopping: try again in a moment")
    await hub.baseline(conversation_id)
    inbox = hub.listen(conversation_id)
    # The connection ends with the stream (the browser reconnects by itself): none is left
    # open behind a stream that ended, as a keep-alive one would be.
    if request.stream is not None:
        request.stream.keep_alive = False
    response = await request.respond(
        content_type="text/event-stream; charset=utf-8",
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )
    try:
        await response.send(f"retry: {RETRY_MS}\nevent: ready\ndata: {{}}\n\n")
        while True:
            try:
                news = await asyncio.wait_for(inbox.get(), timeout=KEEP_ALIVE)
            except asyncio.TimeoutError:
                await response.send(": still here\n\n")
                continue
            if news is None:
                break
            kind, data = news
            await response.send(f"event: {kind}\ndata: {json.dumps(data)}\n\n")
        with contextlib.suppress(Exception):
            await response.eof()
    except asyncio.CancelledError:  # the console went away (Sanic cancels the handler)
        pass
    finally:
        hub.leave(inbox)
    return None


def _offer(inbox: asyncio.Queue[News], item: News) -> None:
    # A console that stopped reading loses old news, not the newest: it re-reads anyway.
    if inbox.full():
        with contextlib.suppress(asyncio.QueueEmpty):
            inbox.get_nowait()
    inbox.put_nowait(item)
