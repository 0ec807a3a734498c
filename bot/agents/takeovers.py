"""The takeovers table: an agent's hold on a conversation, claimed, renewed and ended.

``Takeover`` is the shape every reader gets (a row joined with its agent's names);
``Takeovers`` keeps the table's rules (one active takeover per conversation, the lease,
conditional moves so a double click or two hubs act once). Apart from ``AgentDesk``, which
decides when to claim or end and tells Rasa and the customer; nothing here talks to them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, insert, select, update
from sqlalchemy.engine import Engine, Row
from sqlalchemy.sql import Select

from bot.agents.queue import Holder
from bot.db.schema import takeovers, users


@dataclass(frozen=True)
class Takeover:
    """An agent's hold on a conversation."""

    id: int
    conversation_id: str
    channel: str
    handoff_id: int | None
    agent: Holder
    status: str  # active | handed_back | transferred | resolved | abandoned
    started_at: datetime
    lease_expires_at: datetime
    ended_at: datetime | None = None
    note: str | None = None

    def as_json(self, viewer_id: int | None = None) -> dict[str, Any]:
        return {
            "id": self.id,
            "conversation_id": self.conversation_id,
            "channel": self.channel,
            "handoff_id": self.handoff_id,
            "agent": {"username": self.agent.username, "display_name": self.agent.display_name},
            "mine": self.agent.id == viewer_id,
            "status": self.status,
            "started_at": iso(self.started_at),
            "lease_expires_at": iso(self.lease_expires_at),
            "ended_at": iso(self.ended_at),
            "note": self.note,
        }


class Takeovers:
    """The takeovers table on the journey database, with leases of ``lease``."""

    def __init__(self, engine: Engine, now: Callable[[], datetime], lease: timedelta):
        self.engine = engine  # migrated (bot.db.migrate)
        self.lease = lease
        self._now = now

    def claim(self, conversation_id: str, channel: str, handoff_id: int, agent_id: int) -> int:
        """Open an active takeover with a fresh lease; its id. ``IntegrityError`` when another
        active takeover holds the conversation (the partial unique index decides races)."""
        now = self._now()
        with self.engine.begin() as conn:
            takeover_id: int = conn.execute(
                insert(takeovers).values(
                    conversation_id=conversation_id,
                    channel=channel,
                    handoff_id=handoff_id,
                    agent_id=agent_id,
                    status="active",
                    started_at=now,
                    lease_expires_at=now + self.lease,
                )
            ).inserted_primary_key[0]
        return takeover_id

    def drop(self, takeover_id: int) -> None:
        """Forget a claim that never took effect (the customer could not be told)."""
        with self.engine.begin() as conn:
            conn.execute(delete(takeovers).where(takeovers.c.id == takeover_id))

    def renew(self, conversation_id: str, agent_id: int, now: datetime) -> tuple[bool, Row | None]:
        """Extend the agent's unexpired lease; whether it was, and the conversation's active
        takeover row (theirs or another's) as it stands."""
        with self.engine.begin() as conn:
            renewed = conn.execute(
                update(takeovers)
                .where(
                    takeovers.c.conversation_id == conversation_id,
                    takeovers.c.status == "active",
                    takeovers.c.agent_id == agent_id,
                    takeovers.c.lease_expires_at >= now,
                )
                .values(lease_expires_at=now + self.lease)
            ).rowcount
            row = conn.execute(
                takeover_query().where(
                    takeovers.c.conversation_id == conversation_id,
                    takeovers.c.status == "active",
                )
            ).first()
        return bool(renewed), row

    def last_status(self, conversation_id: str, agent_id: int) -> str | None:
        """The status of the agent's latest takeover of the conversation, if any."""
        with self.engine.connect() as conn:
            status: str | None = conn.execute(
                select(takeovers.c.status)
                .where(
                    takeovers.c.conversation_id == conversation_id,
                    takeovers.c.agent_id == agent_id,
                )
                .order_by(takeovers.c.id.desc())
                .limit(1)
            ).scalar_one_or_none()
        return status

    def lapse_expired(self) -> list[Takeover]:
        """Move active takeovers whose lease ran out to ``abandoned``; those this call moved."""
        now = self._now()
        ended = []
        with self.engine.begin() as conn:
            stale = conn.execute(
                takeover_query().where(
                    takeovers.c.status == "active", takeovers.c.lease_expires_at < now
                )
            ).all()
            for row in stale:
                # Conditional, so of two hubs sweeping at once only one tells the customer.
                moved = conn.execute(
                    update(takeovers)
                    .where(
                        takeovers.c.id == row.id,
                        takeovers.c.status == "active",
                        takeovers.c.lease_expires_at < now,
                    )
                    .values(status="abandoned", ended_at=now)
                ).rowcount
                if moved:
                    ended.append(takeover_of(row))
        return ended

    def end(self, takeover_id: int, status: str, note: str | None) -> bool:
        """Move an active takeover to ``status``; False if it had already ended."""
        with self.engine.begin() as conn:
            moved = conn.execute(
                update(takeovers)
                .where(takeovers.c.id == takeover_id, takeovers.c.status == "active")
                .values(status=status, ended_at=self._now(), note=note or None)
            ).rowcount
        return bool(moved)

    def reopen(self, takeover_id: int) -> None:
        """Undo ``end`` after a failure: active again, with a fresh lease."""
        with self.engine.begin() as conn:
            conn.execute(
                update(takeovers)
                .where(takeovers.c.id == takeover_id)
                .values(
                    status="active",
                    ended_at=None,
                    note=None,
                    lease_expires_at=self._now() + self.lease,
                )
            )

    def holder(self, conversation_id: str) -> Holder | None:
        """The agent whose takeover of the conversation is active, if any."""
        with self.engine.connect() as conn:
            row = conn.execute(
                takeover_query().where(
                    takeovers.c.conversation_id == conversation_id,
                    takeovers.c.status == "active",
                )
            ).first()
        return holder_of(row) if row is not None else None

    def get(self, takeover_id: int) -> Takeover:
        """The takeover with this id."""
        with self.engine.connect() as conn:
            return takeover_of(
                conn.execute(takeover_query().where(takeovers.c.id == takeover_id)).one()
            )


def takeover_query() -> Select:
    """Takeover rows with their agent's username and display name."""
    return select(takeovers, users.c.username, users.c.display_name).join(
        users, users.c.id == takeovers.c.agent_id
    )


def takeover_of(row: Row) -> Takeover:
    """A row of ``takeover_query`` as a ``Takeover``."""
    return Takeover(
        id=row.id,
        conversation_id=row.conversation_id,
        channel=row.channel,
        handoff_id=row.handoff_id,
        agent=holder_of(row),
        status=row.status,
        started_at=row.started_at,
        lease_expires_at=row.lease_expires_at,
        ended_at=row.ended_at,
        note=row.note,
    )


def holder_of(row: Row) -> Holder:
    """The agent of a row of ``takeover_query``."""
    return Holder(row.agent_id, row.username, row.display_name)


def iso(value: datetime | None) -> str | None:
    """A time as the console's JSON writes it (to the second), or None."""
    return value.isoformat(timespec="seconds") if value is not None else None
