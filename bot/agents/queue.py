"""The escalation queue: conversations waiting for a person, the most pressing first.

The order is the one support agents are asked to work in, each step breaking the ties of
the one before: the customer's frustration (the journey's signals: repeats, "I already
told you", negative words), then their value tier (gold, silver, standard), then how much
of the support team's service level their wait has used up, then who came first.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from bot.agents import labels

TIER_RANK = {"gold": 3, "silver": 2, "standard": 1}  # unknown (anonymous): 0


# A role written into a display name ("Alex (admin)"): staff see it, customers never do.
_ROLE_IN_NAME = re.compile(
    r"\s*[(\[]\s*(?:admin|administrator|agent|support agent|department|analyst|supervisor"
    r"|manager|staff|team lead)\s*[)\]]\s*$",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Holder:
    """The agent holding a conversation."""

    id: int
    username: str
    display_name: str

    @property
    def public_name(self) -> str:
        """The name customers see: the display name without a role in brackets."""
        return public_name(self.display_name)


def public_name(display_name: str) -> str:
    """``display_name`` as customers see it: "Alex (admin)" is "Alex"; never empty."""
    name = _ROLE_IN_NAME.sub("", display_name).strip()
    return name or display_name.strip()


@dataclass(frozen=True)
class Escalation:
    """One conversation in the queue: its unresolved support handoffs and what ranks it."""

    conversation_id: str
    channel: str
    handoff_ids: tuple[int, ...]
    need: str
    summary: str
    priority: str
    customer_id: str | None
    customer_name: str | None
    tier: str | None
    frustration: int
    created_at: datetime  # the oldest unresolved support handoff: when the wait began
    waited: timedelta
    sla: timedelta
    taken_by: Holder | None = None
    lease_expires_at: datetime | None = None
    # How sure we are who the customer is (bot/agents/trust_labels.py); None: an older handoff
    # whose customer the channel named, shown without a level.
    identity: dict[str, Any] | None = None
    # What the card says in plain words (bot/agents/labels.py): the needs the conversation
    # raised, in order, and the lead packet's words of the customer and transcript.
    needs: tuple[str, ...] = ()
    customer_said: str | None = None
    packet_transcript: tuple[str, ...] = ()
    signals: dict[str, Any] | None = None

    @property
    def sla_used(self) -> float:
        """The share of the service level the wait has used (1.0 = the promise is due)."""
        return self.waited / self.sla if self.sla else 0.0

    @property
    def overdue(self) -> bool:
        return self.waited > self.sla

    def sort_key(self) -> tuple[int, int, float, datetime, str]:
        return (
            -self.frustration,
            -TIER_RANK.get(self.tier or "", 0),
            -self.sla_used,
            self.created_at,
            self.conversation_id,
        )

    def why(self) -> str:
        """Why it sits where it does, in the words of the order."""
        parts = [f"frustration {self.frustration}", f"{self.tier or 'unknown'} tier"]
        minutes = int(self.waited.total_seconds() // 60)
        promise = _duration(self.sla)
        parts.append(
            f"waiting {minutes} min, past the {promise} promise"
            if self.overdue
            else f"waiting {minutes} min of the {promise} promise"
        )
        return " · ".join(parts)

    def as_json(self, viewer_id: int | None = None) -> dict[str, Any]:
        holder = self.taken_by
        return {
            "conversation_id": self.conversation_id,
            "channel": self.channel,
            "handoff_ids": list(self.handoff_ids),
            "need": self.need,
            "summary": self.summary,
            "priority": self.priority,
            "customer": {"id": self.customer_id, "name": self.customer_name, "tier": self.tier},
            "identity": self.identity,
            "frustration": self.frustration,
            "created_at": self.created_at.isoformat(timespec="seconds"),
            "waiting_seconds": int(self.waited.total_seconds()),
            "sla_seconds": int(self.sla.total_seconds()),
            "sla_used": round(self.sla_used, 3),
            "overdue": self.overdue,
            "why": self.why(),
            # The same, in the words of the console's cards (codes stay above for the API).
            "headline": labels.headline(
                self.need, self.summary, self.needs, self.customer_said, self.packet_transcript
            ),
            "channel_label": labels.channel(self.channel),
            "waited": labels.duration(self.waited),
            "promise": labels.duration(self.sla),
            "urgent_because": labels.urgency(
                self.frustration, self.tier, self.waited, self.sla, self.priority
            ),
            "signal_words": labels.signals(self.signals),
            "taken_by": (
                {"username": holder.username, "display_name": holder.display_name}
                if holder
                else None
            ),
            "mine": holder is not None and holder.id == viewer_id,
            "lease_expires_at": (
                self.lease_expires_at.isoformat(timespec="seconds")
                if self.lease_expires_at
                else None
            ),
        }


def ordered(escalations: Iterable[Escalation]) -> list[Escalation]:
    """Waiting conversations, most pressing first; then the taken ones, in the same order."""
    return sorted(escalations, key=lambda e: (e.taken_by is not None, e.sort_key()))


def _duration(value: timedelta) -> str:
    hours = value.total_seconds() / 3600
    if hours >= 1 and hours == int(hours):
        return f"{int(hours)} h"
    return f"{int(value.total_seconds() // 60)} min"
