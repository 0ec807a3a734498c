"""A message sent twice is answered once: client retries never run a turn again.

A REST client that lost its answer (a timeout, a Rasa server that died behind the load
balancer) sends the same message again. Without an id, Rasa cannot tell a retry from a new
message, and the turn runs twice: a second handoff, a second cancellation request. A client
that sends a ``message_id`` with each message gets exactly one turn per id and conversation:

- the id becomes the ``message_id`` of Rasa's ``UserUttered`` event, so it is kept in the
  tracker store that every Rasa server shares (SQLite, PostgreSQL);
- before a turn runs, the conversation's tracker is read: when a user message with this id
  is already there, the bot messages that followed it are sent again, as they were, and no
  turn runs;
- a retry that arrives while the first copy is still being answered by this server waits
  for it and gets the same answer.

What it cannot do: a copy sent to a second Rasa server while the first one is still
answering it (both before either has saved the turn) runs twice; a client retries after a
timeout, by which time the first turn has been saved or lost with its server.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from rasa.core.channels.channel import UserMessage
from rasa.shared.core.events import BotUttered, UserUttered
from sanic import Sanic
from sanic.exceptions import InvalidUsage

MAX_MESSAGE_ID_CHARS = 255  # as long as a sender id

Handler = Callable[[UserMessage], Awaitable[Any]]


def message_id_of(body: dict[str, Any]) -> str | None:
    """The client's optional ``message_id`` (a string or a number), checked."""
    given = body.get("message_id")
    if given is None:
        return None
    if isinstance(given, bool) or not isinstance(given, (str, int)):
        raise InvalidUsage("'message_id' must be a string")
    given = str(given)
    if not given or len(given) > MAX_MESSAGE_ID_CHARS or not given.isprintable():
        raise InvalidUsage(f"'message_id' must be 1 to {MAX_MESSAGE_ID_CHARS} printable characters")
    return given


def answer_to(events: list[Any], message_id: str) -> list[dict[str, Any]] | None:
    """The bot messages that answered the user message ``message_id`` (those between it and
    the next user message), or None when no user message has that id."""
    answer: list[dict[str, Any]] | None = None
    for event in events:
        if isinstance(event, UserUttered):
            if answer is not None:
                break
            if event.message_id == message_id:
                answer = []
        elif answer is not None and isinstance(event, BotUttered):
            answer.append(event.message())
    return answer


class AnswerOnce:
    """Wraps Rasa's message handler so that each (conversation, message id) runs one turn.

    ``app`` is the Rasa server's Sanic app (its ``ctx.agent`` holds the tracker store); it is
    known only once the server starts, hence ``bind``."""

    def __init__(self, handle: Handler) -> None:
        self.handle = handle
        self.app: Sanic | None = None
        self.in_flight: dict[tuple[str, str], asyncio.Future] = {}

    def bind(self, app: Sanic) -> None:
        self.app = app

    async def __call__(self, message: UserMessage) -> Any:
        message_id = (message.metadata or {}).get("message_id")
        app = self.app
        if not message_id or app is None:
            return await self.handle(message)
        message.message_id = message_id
        key = (message.sender_id, message_id)
        # A copy this server is answering now: wait for it, then answer from what it said.
        while (running := self.in_flight.get(key)) is not None:
            await asyncio.shield(running)
        # Claimed with no await since the check, so two copies never both run the turn.
        done = asyncio.get_running_loop().create_future()
        self.in_flight[key] = done
        try:
            if await self._replay(app, message, message_id):
                return None
            return await self.handle(message)
        finally:
            del self.in_flight[key]
            done.set_result(None)

    async def _replay(self, app: Sanic, message: UserMessage, message_id: str) -> bool:
        """Send the answer already given to ``message_id`` again; False when there is none."""
        tracker = await app.ctx.agent.tracker_store.retrieve(message.sender_id)
        answer = answer_to(list(tracker.events), message_id) if tracker else None
        if answer is None:
            return False
        for bot_message in answer:
            await message.output_channel.send_response(message.sender_id, bot_message)
        return True
