"""Which inbound events a channel has already taken in, so a redelivery is answered once.

Slack delivers an event again when it thinks the first delivery failed (no 200 within 3 s,
a network error), up to three times over several minutes, possibly to another Rasa
instance. The ids live in the journey database, so every process and every restart sees
the same record. Rows older than ``keep`` are pruned now and then, by whoever is inserting.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime, timedelta

from sqlalchemy import delete, insert
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError

from bot.db.schema import channel_events

KEEP = timedelta(days=1)  # Slack stops retrying after about 5 minutes; a day is plenty
PRUNE_EVERY = timedelta(hours=1)  # one DELETE an hour per process, not one per message


class SeenEvents:
    """The events one channel has taken in, kept in the journey database."""

    def __init__(
        self,
        engine: Engine,
        channel: str,
        keep: timedelta = KEEP,
        now: Callable[[], datetime] = datetime.now,
    ):
        self.engine = engine
        self.channel = channel
        self.keep = keep
        self._now = now
        self._pruned_at: datetime | None = None

    def first_time(self, keys: Iterable[str]) -> bool:
        """Record ``keys`` (ids of one event); False if any of them was taken in before.

        All keys are written in one transaction: when two deliveries race, the unique
        constraint lets exactly one of them through, on SQLite and PostgreSQL alike.
        """
        keys = list(dict.fromkeys(k for k in keys if k))
        if not keys:
            return True  # nothing to recognise it by: take it in
        now = self._now()
        if self._pruned_at is None or now - self._pruned_at >= PRUNE_EVERY:
            self.prune()
        try:
            with self.engine.begin() as conn:
                conn.execute(
                    insert(channel_events),
                    [{"channel": self.channel, "event_id": k, "received_at": now} for k in keys],
                )
        except IntegrityError:
            return False
        return True

    def prune(self) -> int:
        """Forget events older than ``keep``; returns how many were forgotten."""
        now = self._now()
        with self.engine.begin() as conn:
            gone = conn.execute(
                delete(channel_events).where(
                    channel_events.c.channel == self.channel,
                    channel_events.c.received_at < now - self.keep,
                )
            ).rowcount
        self._pruned_at = now
        return gone
