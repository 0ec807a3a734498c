"""What each CX metric means: its key, its column heading, its kind and its one-sentence
definition (the README quotes them).

Apart from the queries (bot/analytics/metric_aggregates.py) and the table
(bot/analytics/metrics.py) because it is wording, not computation: the review page, the CSV
export and the CLI all read their headings and definitions from here.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Metric:
    """One column of the metrics table: its key, how it is shown, and what it means."""

    key: str
    title: str  # the column heading on the page and in the terminal
    kind: str  # count | rate | score | minutes
    definition: str  # one sentence, quoted in the README


METRICS = (
    Metric(
        "conversations",
        "conversations",
        "count",
        "Conversations: the touchpoints (one per conversation session) that started in the "
        "window and match the filters.",
    ),
    Metric(
        "self_service_rate",
        "self-served",
        "rate",
        "Self-service rate: of the conversations that have ended, the share the assistant "
        "resolved alone (outcome self_served: it answered at least one need, with no "
        "handoff and no person; a chat of only small talk, out-of-scope questions, "
        "fallbacks or unanswered turns solved nothing and is abandoned).",
    ),
    Metric(
        "escalation_rate",
        "escalated",
        "rate",
        "Escalation rate: of the conversations that have ended, the share brought to a "
        "support agent (outcome escalated, or a need handed to support and since resolved).",
    ),
    Metric(
        "abandonment_rate",
        "abandoned",
        "rate",
        "Abandonment: of the conversations that have ended, the share the customer left "
        "before anything was resolved (outcome abandoned: set when the session expires "
        "without a goodbye, or at the goodbye of a chat that raised no need).",
    ),
    Metric(
        "handoffs",
        "handoffs",
        "count",
        "Handoffs per department: the handoffs made in those conversations, in total and "
        "for each department they went to.",
    ),
    Metric(
        "rating_assistant",
        "rating bot",
        "score",
        "Rating from the assistant: the mean of customers' own ratings (1-5) of "
        "conversations no agent took over.",
    ),
    Metric(
        "rating_agents",
        "rating agent",
        "score",
        "Rating from agents: the mean of customers' own ratings (1-5) of conversations a "
        "support agent took over.",
    ),
    Metric(
        "effort_score",
        "effort",
        "score",
        "Effort score: the mean answer (1-5, 5 = very easy) to the customer-effort "
        'question "how easy was it to get this sorted?", over the conversations that '
        "answered it.",
    ),
    Metric(
        "repeat_contact_rate",
        "repeat 7d",
        "rate",
        "Repeat contact within 7 days: of the conversations that raised a need or named an "
        "order, the share the same customer followed with another conversation about one of "
        "the same needs or orders within 7 days of its start (first-contact resolution is "
        "one minus this).",
    ),
    Metric(
        "median_pickup_minutes",
        "pickup min",
        "minutes",
        "Median time to agent pickup: the median, in minutes, from a handoff to support to "
        "the first time an agent took that conversation over, over the handoffs picked up.",
    ),
    Metric(
        "sla_met_rate",
        "in SLA",
        "rate",
        "Handoffs acknowledged within their service level: of the handoffs whose deadline "
        "has passed or that were answered, the share acknowledged (or resolved) by the "
        "deadline promised to the customer, the department's sla_hours from the handoff, or "
        "from the team's next opening when it came in outside working hours.",
    ),
    Metric(
        "policy_moments",
        "policy",
        "count",
        "Policy moments: the requests in those conversations that ran into a policy limit "
        "and were offered alternatives instead.",
    ),
    Metric(
        "alternative_taken_rate",
        "alt taken",
        "rate",
        "Alternative taken: of those policy moments, the share where the customer took one "
        "of the alternatives offered.",
    ),
)
DEFINITIONS = {m.key: m.definition for m in METRICS}
