"""Rasa's Redis lock store with short, renewed tickets: a dead server frees its
conversations in seconds, a live one keeps them however long its turn takes.

Several Rasa servers share a conversation's lock through Redis (Rasa's ticket lock: each
turn takes a ticket, waits until it is first in line, and gives it back at the end). A
ticket lives ``TICKET_LOCK_LIFETIME`` (60 s by default), so when a server dies mid-turn its
ticket blocks that conversation for up to a minute: the slowest turns of the scale test
were exactly that wait. A short lifetime alone would be wrong: a live turn slower than it
(a slow department, a loaded machine) would lose its ticket and a second server could
serve the same conversation at once.

So here a ticket lives ``lifetime`` seconds (``CX_LOCK_LIFETIME``, 8 by default) and a
thread of the server that holds it extends it every quarter of that, from the moment it is
issued (while it waits in line too) until it is given back. The thread, not the event
loop, renews, so a server busy with CPU work still keeps its tickets; a server that died
or hangs in its whole process stops renewing, and its tickets expire within ``lifetime``.

Renewal changes the stored lock with Redis' optimistic transaction (WATCH/MULTI): a ticket
that another server issues at the same moment is never lost to it.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from rasa.core.lock import TicketLock
from rasa.core.lock_store import RedisLockStore
from rasa.utils.endpoints import EndpointConfig

logger = logging.getLogger(__name__)

DEFAULT_LIFETIME = 8.0  # bot/settings.py: CX_LOCK_LIFETIME


class RenewingRedisLockStore(RedisLockStore):  # type: ignore[misc]  # Rasa ships no types
    """``RedisLockStore`` whose tickets are short and renewed while their server lives.

    Configured in endpoints.yml as ``lock_store: {type: bot.rasa.lock_store.RenewingRedisLockStore,
    url: ..., port: ..., db: ..., lifetime: 8}`` (``make run`` writes it from ``CX_LOCK_URL``)."""

    def __init__(
        self,
        endpoint_config: EndpointConfig | None = None,
        lifetime: float | None = None,
        **redis_args: Any,
    ) -> None:
        if endpoint_config is not None:  # as Rasa creates a lock store of a module path
            redis_args = {**endpoint_config.kwargs, **redis_args}
            redis_args.setdefault("host", endpoint_config.url or "localhost")
            lifetime = redis_args.pop("lifetime", lifetime)
        self.lifetime = float(lifetime) if lifetime else DEFAULT_LIFETIME
        super().__init__(**redis_args)
        self._held: set[tuple[str, int]] = set()
        self._guard = threading.Lock()
        self._wake = threading.Event()
        self._renewer: threading.Thread | None = None

    @asynccontextmanager
    async def lock(
        self,
        conversation_id: str,
        lock_lifetime: float | None = None,
        wait_time_in_seconds: float = 1,
    ) -> AsyncIterator[TicketLock]:
        # Rasa passes its own 60 s default; the lifetime here is this store's.
        ticket = self.issue_ticket(conversation_id, self.lifetime)
        self._hold(conversation_id, ticket)
        try:
            yield await self._acquire_lock(conversation_id, ticket, wait_time_in_seconds)
        finally:
            self._release(conversation_id, ticket)
            self.cleanup(conversation_id, ticket)

    def _hold(self, conversation_id: str, ticket: int) -> None:
        with self._guard:
            self._held.add((conversation_id, ticket))
            if self._renewer is None or not self._renewer.is_alive():
                self._renewer = threading.Thread(
                    target=self._renew_forever, name="lock-renewer", daemon=True
                )
                self._renewer.start()

    def _release(self, conversation_id: str, ticket: int) -> None:
        with self._guard:
            self._held.discard((conversation_id, ticket))

    def _renew_forever(self) -> None:
        while True:
            self._wake.wait(self.lifetime / 4)
            with self._guard:
                held = list(self._held)
            for conversation_id, ticket in held:
                try:
                    self.renew(conversation_id, ticket)
                except Exception:  # Redis away for a moment: the next round tries again
                    logger.warning("Could not renew the lock of a conversation", exc_info=True)

    def renew(self, conversation_id: str, ticket: int) -> bool:
        """Extend ``ticket`` to live ``lifetime`` from now; False when it is gone already."""
        import redis

        key = self.key_prefix + conversation_id
        with self.red.pipeline() as pipe:
            while True:
                try:
                    pipe.watch(key)
                    stored = pipe.get(key)
                    if not stored:
                        return False
                    data = json.loads(stored)
                    tickets = [json.loads(t) for t in data.get("tickets", [])]
                    mine = [t for t in tickets if t["number"] == ticket]
                    if not mine:
                        return False
                    mine[0]["expires"] = time.time() + self.lifetime
                    data["tickets"] = [json.dumps(t) for t in tickets]
                    pipe.multi()
                    pipe.set(key, json.dumps(data))
                    pipe.execute()
                    return True
                except redis.WatchError:  # another server changed the lock: read it again
                    continue
