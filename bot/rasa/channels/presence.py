"""Which website chats have a browser connected right now.

The website channel (bot/rasa/channels/web.py) writes a row per socket when it connects and
deletes it when it disconnects, in the journey database, so every process (the hub telling
a customer the news first, several Rasa servers behind a load balancer) sees the same
answer. A Rasa server killed outright leaves its rows behind: rows older than ``STALE_AFTER``
are not trusted, and a message sent to a widget that has gone still reaches the customer
when it reconnects (the widget shows the conversation's history).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.engine import Engine

from bot.db.schema import web_presence
from bot.journey.customers import insert_if_absent

STALE_AFTER = timedelta(hours=12)


class WebPresence:
    """Connected website chats, in the journey database."""

    def __init__(self, engine: Engine, now: Callable[[], datetime] = datetime.now):
        self._engine = engine
        self._now = now

    def connected(self, sid: str, conversation_id: str) -> None:
        with self._engine.begin() as conn:
            insert_if_absent(
                conn,
                web_presence,
                sid=sid[:64],
                conversation_id=conversation_id,
                connected_at=self._now(),
            )

    def disconnected(self, sid: str) -> None:
        with self._engine.begin() as conn:
            conn.execute(delete(web_presence).where(web_presence.c.sid == sid[:64]))

    def online(self, conversation_id: str) -> bool:
        """Whether a browser shows this conversation now."""
        with self._engine.connect() as conn:
            return (
                conn.execute(
                    select(web_presence.c.sid).where(
                        web_presence.c.conversation_id == conversation_id,
                        web_presence.c.connected_at > self._now() - STALE_AFTER,
                    )
                ).first()
                is not None
            )
