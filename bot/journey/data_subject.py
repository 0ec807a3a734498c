"""Whose data, and where it lies: the customers and conversations a name leads to, and
the rows of every journey table that are theirs.

What is held about a customer: their journey record, channel identities and preferences
(how they like to be contacted), the department events told to them first, and for each of
their conversations the touchpoints, handoffs (context packets, outbox and built-in inbox
rows), routing decisions, policy moments, guard rewrites, feedback, agents' takeovers and
notes, review flags and labelled examples, identity checks and one-time codes (hashes
only). Apart from privacy.py because export, erasure and retention all select by these
rules: the one place to change when a table starts holding someone's data.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, TypeAlias

from sqlalchemy import and_, or_, select
from sqlalchemy.engine import Connection
from sqlalchemy.sql import ColumnElement, Select

from bot.db.schema import (
    agent_notes,
    customer_preferences,
    feedback,
    guard_rewrites,
    handoff_contacts,
    handoffs,
    identities,
    identity_checks,
    inbox,
    journey_customers,
    one_time_codes,
    outbox,
    policy_moments,
    proactive_events,
    review_examples,
    review_flags,
    routing_decisions,
    takeovers,
    touchpoints,
)

# Identity kinds that are conversation ids (Rasa sender ids) on that channel.
_NOT_CONVERSATIONS = {"email"}


@dataclass
class Subject:
    """Whose data: the journey customers and the conversations (Rasa sender ids) found."""

    asked: str
    customer_ids: set[str] = field(default_factory=set)
    conversation_ids: set[str] = field(default_factory=set)

    @property
    def found(self) -> bool:
        return bool(self.customer_ids or self.conversation_ids)


def find_subject(conn: Connection, who: str) -> Subject:
    """Everything ``who`` names: a journey customer id (``C001``, ``anon-...``), a channel
    identity (an email, a Slack user, a web visitor key) or a conversation id."""
    subject = Subject(who)
    if conn.execute(select(journey_customers.c.id).where(journey_customers.c.id == who)).first():
        subject.customer_ids.add(who)
    subject.customer_ids |= set(
        conn.execute(
            select(identities.c.customer_id).where(
                or_(
                    identities.c.value == who,
                    and_(identities.c.kind == "email", identities.c.value == who.lower()),
                )
            )
        ).scalars()
    )
    # Department events name the back office's customer, who may never have chatted.
    if conn.execute(
        select(proactive_events.c.id).where(proactive_events.c.customer_id == who).limit(1)
    ).first():
        subject.customer_ids.add(who)
    ids = subject.customer_ids
    if ids:
        # A visitor who identified mid-chat leaves their anonymous record behind (their
        # identities and touchpoints move): it may hold preferences they stated before.
        chats = conn.execute(
            select(identities.c.kind, identities.c.value).where(
                identities.c.customer_id.in_(ids), identities.c.kind.notin_(_NOT_CONVERSATIONS)
            )
        ).all()
        anonymous = {f"anon-{kind}-{value}"[:64] for kind, value in chats}
        if anonymous:
            subject.customer_ids |= set(
                conn.execute(
                    select(journey_customers.c.id).where(journey_customers.c.id.in_(anonymous))
                ).scalars()
            )
        for column_customer, column_conversation in (
            (touchpoints.c.customer_id, touchpoints.c.conversation_id),
            (handoffs.c.customer_id, handoffs.c.conversation_id),
            (policy_moments.c.customer_id, policy_moments.c.conversation_id),
        ):
            subject.conversation_ids |= set(
                conn.execute(
                    select(column_conversation).where(column_customer.in_(ids)).distinct()
                ).scalars()
            )
        subject.conversation_ids |= set(
            conn.execute(
                select(identities.c.value).where(
                    identities.c.customer_id.in_(ids), identities.c.kind.notin_(_NOT_CONVERSATIONS)
                )
            ).scalars()
        )
    # A conversation id with no customer record (an anonymous chat's rows, a bare sender id).
    for table in _CONVERSATION_TABLES:
        if conn.execute(
            select(table.c.conversation_id).where(table.c.conversation_id == who)
        ).first():
            subject.conversation_ids.add(who)
            break
    return subject


_CONVERSATION_TABLES = (
    touchpoints,
    handoffs,
    outbox,
    routing_decisions,
    policy_moments,
    guard_rewrites,
    feedback,
    takeovers,
    agent_notes,
    review_flags,
    identity_checks,
    one_time_codes,
)


# Values to match: a few found first, or a subquery.
Values: TypeAlias = Iterable[object] | Select


def in_values(column: ColumnElement, values: Values) -> ColumnElement:
    """``column IN values``: a few values found first, or a subquery (retention's many)."""
    if isinstance(values, Select):
        return column.in_(values)
    values = sorted(set(values), key=str)
    return column.in_(values) if values else column.in_([None])  # matches nothing


def subject_rows(conn: Connection, subject: Subject) -> dict[str, Any]:
    """The WHERE clause of every journey table for ``subject``'s rows (in delete order)."""
    ids, conversations = subject.customer_ids, subject.conversation_ids
    tp_ids = set(
        conn.execute(
            select(touchpoints.c.id).where(
                or_(
                    in_values(touchpoints.c.customer_id, ids),
                    in_values(touchpoints.c.conversation_id, conversations),
                )
            )
        ).scalars()
    )
    handoff_ids = set(
        conn.execute(
            select(handoffs.c.id).where(
                or_(
                    in_values(handoffs.c.customer_id, ids),
                    in_values(handoffs.c.conversation_id, conversations),
                    in_values(handoffs.c.touchpoint_id, tp_ids),
                )
            )
        ).scalars()
    )
    return rows_where(ids, conversations, tp_ids, handoff_ids)


def rows_where(
    ids: Values, conversations: Values, tp_ids: Values, handoff_ids: Values
) -> dict[str, ColumnElement]:
    """Rows of these customers, conversations, touchpoints and handoffs, table by table,
    children before parents (the order they can be deleted in)."""
    return {
        "review_examples": in_values(review_examples.c.touchpoint_id, tp_ids),
        "review_flags": or_(
            in_values(review_flags.c.touchpoint_id, tp_ids),
            in_values(review_flags.c.conversation_id, conversations),
        ),
        "feedback": or_(
            in_values(feedback.c.touchpoint_id, tp_ids),
            in_values(feedback.c.conversation_id, conversations),
        ),
        "routing_decisions": or_(
            in_values(routing_decisions.c.touchpoint_id, tp_ids),
            in_values(routing_decisions.c.conversation_id, conversations),
        ),
        "agent_notes": in_values(agent_notes.c.conversation_id, conversations),
        "takeovers": or_(
            in_values(takeovers.c.handoff_id, handoff_ids),
            in_values(takeovers.c.conversation_id, conversations),
        ),
        "inbox": in_values(inbox.c.handoff_id, handoff_ids),
        "handoff_contacts": or_(
            in_values(handoff_contacts.c.handoff_id, handoff_ids),
            in_values(handoff_contacts.c.conversation_id, conversations),
            in_values(handoff_contacts.c.touchpoint_id, tp_ids),
        ),
        "outbox": or_(
            in_values(outbox.c.handoff_id, handoff_ids),
            in_values(outbox.c.conversation_id, conversations),
        ),
        "handoffs": in_values(handoffs.c.id, handoff_ids),
        "policy_moments": or_(
            in_values(policy_moments.c.customer_id, ids),
            in_values(policy_moments.c.conversation_id, conversations),
        ),
        "guard_rewrites": in_values(guard_rewrites.c.conversation_id, conversations),
        # Checks and codes of their chats, and those naming them (a code sent to their email
        # from another chat, a check that verified them).
        "identity_checks": or_(
            in_values(identity_checks.c.conversation_id, conversations),
            in_values(identity_checks.c.customer_id, ids),
        ),
        "one_time_codes": or_(
            in_values(one_time_codes.c.conversation_id, conversations),
            in_values(one_time_codes.c.customer_id, ids),
        ),
        # Before touchpoints: an event told in a chat points at its touchpoint.
        "proactive_events": or_(
            in_values(proactive_events.c.customer_id, ids),
            in_values(proactive_events.c.touchpoint_id, tp_ids),
            in_values(proactive_events.c.conversation_id, conversations),
        ),
        "touchpoints": in_values(touchpoints.c.id, tp_ids),
        "customer_identities": in_values(identities.c.customer_id, ids),
        "customer_preferences": in_values(customer_preferences.c.customer_id, ids),
        "journey_customers": in_values(journey_customers.c.id, ids),
    }


# Every table holding someone's data, by name, children before parents (delete order).
TABLES = {
    t.name: t
    for t in (
        review_examples,
        review_flags,
        feedback,
        routing_decisions,
        agent_notes,
        takeovers,
        inbox,
        handoff_contacts,
        outbox,
        handoffs,
        policy_moments,
        guard_rewrites,
        identity_checks,
        one_time_codes,
        proactive_events,
        touchpoints,
        identities,
        customer_preferences,
        journey_customers,
    )
}
