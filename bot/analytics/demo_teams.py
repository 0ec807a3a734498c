"""Pass 2 of the demo data, the teams' side: what departments, agents and policies do with a
contact the assistant could not finish alone.

Apart from the customers' side (demo_journeys.py) because it is a sub-feature of its own:
handoffs acknowledged around each department's service level (late more often at weekends
and at night, as in life), escalations taken over by agents after a wait, policy moments
whose alternatives are often taken, and the ratings and effort answers customers give.
Every draw comes from the journeys' random source, in the same order, so a seed still
makes the same journeys.
"""

from __future__ import annotations

import json
import math
import random
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from bot.analytics.demo_rows import DemoRows
from bot.departments import Department
from bot.policies.engine import PolicyEngine

SUPPORT = "support"
# Acknowledgement time as a share of the service level: median, spread (log-normal).
ACK_SPEED = {"delivery": (0.40, 0.55), "billing": (0.45, 0.60), "sales": (0.35, 0.65)}


class DemoTeams:
    """Makes the rows of handoffs, takeovers, policy moments and ratings for the journeys."""

    def __init__(
        self,
        rng: random.Random,
        end: datetime,
        departments: Mapping[str, Department],
        policies: PolicyEngine,
        agents: list[int],
        rows: DemoRows,
    ):
        self.rng = rng
        self.end = end
        self.departments = departments
        self.policy_of = {need: name for name, p in policies.policies.items() for need in p.needs}
        self.policies = policies
        self.agents = agents
        self.rows = rows

    def handoff(
        self,
        customer_id: str | None,
        tier: str | None,
        department: str,
        need: str,
        conversation: str,
        channel: str,
        touchpoint_id: int,
        started: datetime,
        frustrated: bool,
    ) -> tuple[bool, datetime | None]:
        """One handoff (and, to support, an agent's takeover); (resolved?, agent's end)."""
        rng = self.rng
        team = self.departments[department]
        created = started + timedelta(seconds=rng.randint(60, 420))
        handoff_id = self.rows.new_id("handoffs")
        opening = team.next_opening(created)
        agent_until = None
        acknowledged: datetime | None
        if department == SUPPORT:
            # An agent picks the chat up: minutes while the team works, else after opening.
            wait = rng.lognormvariate(math.log(7 if opening == created else 25), 0.8)
            acknowledged = opening + timedelta(minutes=wait)
            took = timedelta(minutes=rng.lognormvariate(math.log(12), 0.6))
            resolved = acknowledged + took if rng.random() < 0.7 else None
            if acknowledged <= self.end and self.agents:
                agent_until = min(acknowledged + took, self.end)
                self._takeover(conversation, channel, handoff_id, acknowledged, agent_until)
        else:
            median, spread = ACK_SPEED.get(department, (0.45, 0.6))
            share = rng.lognormvariate(math.log(median), spread)
            acknowledged = opening + timedelta(hours=team.sla_hours * share)
            resolved = acknowledged + timedelta(hours=rng.lognormvariate(math.log(6), 0.9))
        if acknowledged > self.end:
            acknowledged = resolved = None
        elif resolved is not None and resolved > self.end:
            resolved = None
        priority = "urgent" if frustrated and tier == "gold" else "high" if frustrated else "normal"
        rule = "frustrated_customer" if frustrated and department == SUPPORT else "intent_map"
        self.rows.add(
            "handoffs",
            {
                "id": handoff_id,
                "created_at": created,
                "department": department,
                "need": need,
                "conversation_id": conversation,
                "touchpoint_id": touchpoint_id,
                "customer_id": customer_id,
                "channel": channel,
                "priority": priority,
                "summary": f"{need.replace('_', ' ')} (demo)",
                "context": json.dumps({"demo": True, "need": need, "tier": tier}),
                "status": "resolved" if resolved else "acknowledged" if acknowledged else "open",
                "acknowledged_at": acknowledged,
                "resolved_at": resolved,
                "resolution": "done (demo)" if resolved else None,
            },
        )
        self.rows.add(
            "routing_decisions",
            {
                "id": self.rows.new_id("routing_decisions"),
                "created_at": created,
                "touchpoint_id": touchpoint_id,
                "conversation_id": conversation,
                "need": need,
                "department": department,
                "priority": priority,
                "rule": rule,
                "reason": f"{need} belongs to {department}"
                if rule == "intent_map"
                else "the customer is frustrated: a person takes over",
            },
        )
        self.rows.counts["handoffs"] += 1
        return resolved is not None, agent_until

    def _takeover(
        self,
        conversation: str,
        channel: str,
        handoff_id: int,
        started: datetime,
        ended: datetime,
    ) -> None:
        """An agent's takeover of an escalated chat, ended as most are."""
        status = self.rng.choices(
            ("resolved", "handed_back", "transferred", "abandoned"), weights=(65, 25, 5, 5)
        )[0]
        self.rows.add(
            "takeovers",
            {
                "id": self.rows.new_id("takeovers"),
                "conversation_id": conversation,
                "channel": channel,
                "handoff_id": handoff_id,
                "agent_id": self.rng.choice(self.agents),
                "status": status,
                "started_at": started,
                "lease_expires_at": ended,
                "ended_at": ended,
                "note": f"{status.replace('_', ' ')} (demo)",
            },
        )
        self.rows.counts["takeovers"] += 1

    def policy_moment(
        self,
        customer_id: str | None,
        tier: str | None,
        needs: list[str],
        conversation: str,
        started: datetime,
        repeat: bool,
    ) -> dict[str, Any] | None:
        """Sometimes, when a need meets a policy limit: the moment, its alternatives, the choice."""
        rng = self.rng
        policy = next((self.policy_of[n] for n in needs if n in self.policy_of), None)
        if policy is None or rng.random() > 0.35:
            return None
        offered = list(self.policies.alternatives(policy, tier, 2 if repeat else 1))
        roll = rng.random()
        chosen = rng.choices(offered, weights=[3, 2, 1][: len(offered)])[0] if roll < 0.55 else None
        asked = 0.55 <= roll < 0.72
        created = started + timedelta(seconds=rng.randint(30, 200))
        moment = {
            "id": self.rows.new_id("policy_moments"),
            "created_at": created,
            "conversation_id": conversation,
            "customer_id": customer_id,
            "need": next(n for n in needs if n in self.policy_of),
            "policy": policy,
            "reason": self.policies.policies[policy].reason,
            "offered": json.dumps(offered),
            "chosen": chosen,
            "asked_for_person": asked,
            "closed_at": created + timedelta(seconds=rng.randint(20, 120))
            if chosen or asked
            else None,
        }
        self.rows.add("policy_moments", moment)
        self.rows.counts["policy_moments"] += 1
        return moment

    def rating(self, outcome: str, agent: bool, frustrated: bool, repeat: bool) -> int:
        """A rating (1-5) for a touchpoint that ended so, drawn around a mean that fits it."""
        mean = {"self_served": 4.3, "resolved": 4.0, "handed_off": 3.6, "escalated": 3.4}.get(
            outcome, 2.2
        )
        mean += 0.4 * agent - 1.2 * frustrated - 0.5 * repeat
        return max(1, min(5, round(self.rng.gauss(mean, 0.8))))

    def effort(self, messages: int, handed: list[str], frustrated: bool, repeat: bool) -> int:
        """An effort answer (1-5, 5 = very easy): lower for long, handed or repeated chats."""
        mean = 4.5 - 0.08 * messages - 0.6 * bool(handed) - 1.0 * frustrated - 0.7 * repeat
        return max(1, min(5, round(self.rng.gauss(mean, 0.7))))

    def feedback(self, touchpoint_id: int, conversation: str, rating: int, at: datetime) -> None:
        """The customer's rating in the feedback log."""
        self.rows.add(
            "feedback",
            {
                "id": self.rows.new_id("feedback"),
                "created_at": at,
                "touchpoint_id": touchpoint_id,
                "conversation_id": conversation,
                "rating": rating,
                "comment": None,
            },
        )
        self.rows.counts["ratings"] += 1
