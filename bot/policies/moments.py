"""Record every policy moment and every message the guard rewrote, for CX review.

A policy moment is a request that ran into a limit: which policy, why, the alternatives
offered, and what the customer did next (took one, or still asked for a person). Counting
a customer's earlier moments about the same policy tells the engine how many times they
have had to come back about it.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, insert, select, update
from sqlalchemy.engine import Engine

from bot.db.schema import guard_rewrites, policy_moments
from bot.policies.engine import Decision

# Moments whose policy starts so are the yes/no question before an irreversible change
# (bot/support/confirm.py), kept beside the others so the same machinery guards their
# buttons; they are no limit a request met, and the CX figures leave them out.
CONFIRMATION = "confirm:"


def met_a_limit(table=policy_moments):
    """The SQL condition for moments where a request met a policy limit (not a question
    before a change)."""
    return ~table.c.policy.like(f"{CONFIRMATION}%")


@dataclass(frozen=True)
class PolicyMoment:
    """One request that met a policy limit, and how it ended."""

    id: int
    conversation_id: str
    customer_id: str | None
    need: str
    policy: str
    reason: str
    offered: tuple[str, ...]
    chosen: str | None
    asked_for_person: bool


@dataclass(frozen=True)
class GuardRewrite:
    """A message the guard stopped because it refused without an alternative."""

    conversation_id: str
    need: str
    response: str
    text: str
    policy: str | None
    offered: tuple[str, ...]


class PolicyLog:
    """Policy moments and guard rewrites, in the journey database."""

    def __init__(self, engine: Engine, now: Callable[[], datetime] = datetime.now):
        self._engine = engine  # a journey database, migrated (bot.db.migrate)
        self._now = now

    def offered(
        self, conversation_id: str, customer_id: str | None, need: str, decision: Decision
    ) -> int:
        """Record that ``decision``'s alternatives were offered; returns the moment's id."""
        with self._engine.begin() as conn:
            result = conn.execute(
                insert(policy_moments).values(
                    created_at=self._now(),
                    conversation_id=conversation_id,
                    customer_id=customer_id,
                    need=need,
                    policy=decision.policy,
                    reason=decision.reason,
                    offered=json.dumps(list(decision.alternatives)),
                    asked_for_person=False,
                )
            )
            return result.inserted_primary_key[0]

    def contacts(self, customer_id: str | None, policy: str, conversation_id: str) -> int:
        """Which contact about ``policy`` this is for the customer (1 = the first).

        Earlier conversations count once each; an unidentified customer is always on 1.
        """
        if not customer_id:
            return 1
        query = select(func.count(func.distinct(policy_moments.c.conversation_id))).where(
            policy_moments.c.customer_id == customer_id,
            policy_moments.c.policy == policy,
            policy_moments.c.conversation_id != conversation_id,
        )
        with self._engine.connect() as conn:
            return 1 + conn.execute(query).scalar_one()

    def open_offer(self, conversation_id: str, option: str) -> PolicyMoment | None:
        """The newest moment of this conversation that offered ``option`` and is still open."""
        return next(
            (m for m in self.moments(conversation_id, open_only=True) if option in m.offered),
            None,
        )

    def chose(self, moment_id: int, option: str) -> None:
        """Record that the customer took ``option`` from this moment."""
        self._close(moment_id, chosen=option)

    def asked_for_person(self, conversation_id: str) -> bool:
        """Record that the customer still wanted a person after the newest open moment."""
        open_moments = self.moments(conversation_id, open_only=True)
        if not open_moments:
            return False
        self._close(open_moments[0].id, asked_for_person=True)
        return True

    def _close(self, moment_id: int, **values) -> None:
        with self._engine.begin() as conn:
            conn.execute(
                update(policy_moments)
                .where(policy_moments.c.id == moment_id)
                .values(closed_at=self._now(), **values)
            )

    def moments(self, conversation_id: str | None = None, open_only: bool = False):
        """Policy moments, newest first."""
        query = select(policy_moments).order_by(policy_moments.c.id.desc())
        if conversation_id is not None:
            query = query.where(policy_moments.c.conversation_id == conversation_id)
        if open_only:
            query = query.where(policy_moments.c.closed_at.is_(None))
        with self._engine.connect() as conn:
            return [
                PolicyMoment(
                    id=r.id,
                    conversation_id=r.conversation_id,
                    customer_id=r.customer_id,
                    need=r.need,
                    policy=r.policy,
                    reason=r.reason,
                    offered=tuple(json.loads(r.offered)),
                    chosen=r.chosen,
                    asked_for_person=bool(r.asked_for_person),
                )
                for r in conn.execute(query)
            ]

    def rewritten(self, rewrite: GuardRewrite) -> None:
        """Record a message the guard rewrote before it reached the customer."""
        with self._engine.begin() as conn:
            conn.execute(
                insert(guard_rewrites).values(
                    created_at=self._now(),
                    conversation_id=rewrite.conversation_id,
                    need=rewrite.need,
                    response=rewrite.response,
                    text=rewrite.text,
                    policy=rewrite.policy,
                    offered=json.dumps(list(rewrite.offered)),
                )
            )

    def rewrites(self, conversation_id: str | None = None) -> list[GuardRewrite]:
        """Guard rewrites, oldest first."""
        query = select(guard_rewrites).order_by(guard_rewrites.c.id)
        if conversation_id is not None:
            query = query.where(guard_rewrites.c.conversation_id == conversation_id)
        with self._engine.connect() as conn:
            return [
                GuardRewrite(
                    conversation_id=r.conversation_id,
                    need=r.need,
                    response=r.response,
                    text=r.text,
                    policy=r.policy,
                    offered=tuple(json.loads(r.offered)),
                )
                for r in conn.execute(query)
            ]
