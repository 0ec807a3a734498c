"""A customer's data: see all of it (access request), erase it (right to be forgotten),
and delete what is older than the retention period.

Whose rows these are, table by table, is bot/journey/data_subject.py; Rasa's tracker store,
which holds their conversations' events, is bot/journey/rasa_tracker.py. This module
carries the three requests out over both.
"""

from __future__ import annotations

import contextlib
import json
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import Table, and_, delete, exists, func, or_, select
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.sql import ColumnElement

from bot.db.schema import (
    customer_preferences,
    handoffs,
    identities,
    identity_checks,
    journey_customers,
    one_time_codes,
    outbox,
    touchpoints,
    users,
)
from bot.journey.data_subject import TABLES, find_subject, in_values, rows_where, subject_rows
from bot.journey.rasa_tracker import erase_tracker, tracker_events_of, tracker_retention

# Columns that hold JSON text: exported as JSON, not as a string of it.
_JSON_COLUMNS = {"needs", "departments", "order_ids", "signals", "context", "body", "offered"}
_JSON_COLUMNS_BY_TABLE = {"review_flags": {"tags"}, "proactive_events": {"details"}}


class PrivacyError(RuntimeError):
    """The request can't be carried out (the message says why and what to do)."""


def _rows(conn: Connection, table: Table, where: ColumnElement) -> list[dict[str, Any]]:
    query = select(table).where(where).order_by(*table.primary_key.columns)
    return [_plain(table.name, dict(r._mapping)) for r in conn.execute(query)]


def _plain(table: str, row: dict[str, Any]) -> dict[str, Any]:
    json_columns = _JSON_COLUMNS | _JSON_COLUMNS_BY_TABLE.get(table, set())
    out = {}
    for key, value in row.items():
        if isinstance(value, (datetime, date)):
            value = value.isoformat()
        elif key in json_columns and isinstance(value, str):
            with contextlib.suppress(ValueError):  # kept as text if it isn't JSON
                value = json.loads(value)
        out[key] = value
    return out


# -- access, erasure, retention -----------------------------------------------------------


def export_customer(engine: Engine, who: str, tracker: Engine | None) -> dict[str, Any] | None:
    """Everything held about ``who`` as one JSON-ready document; None if nothing is."""
    with engine.connect() as conn:
        subject = find_subject(conn, who)
        if not subject.found:
            return None
        where = subject_rows(conn, subject)
        held = {name: _rows(conn, TABLES[name], where[name]) for name in reversed(list(where))}
        # Who the agents were (their display name is what the customer saw).
        agents = {t["agent_id"] for t in held["takeovers"]} | {
            n["author_id"] for n in held["agent_notes"]
        }
        names = (
            dict(
                conn.execute(
                    select(users.c.id, users.c.display_name).where(in_values(users.c.id, agents))
                ).all()
            )
            if agents
            else {}
        )
    for row in held["identity_checks"]:
        if row["conversation_id"] not in subject.conversation_ids:
            # A check naming them from someone else's chat: where it came from is not theirs.
            row.update(conversation_id=None, address=None, address_key=None, channel=None)
    for row in held["one_time_codes"]:
        row.pop("code_hash", None)  # a secret's hash, of no use to them
        if row["conversation_id"] not in subject.conversation_ids:
            row["conversation_id"] = None
    for row in held["takeovers"]:
        row["agent_name"] = names.get(row["agent_id"])
    for row in held["agent_notes"]:
        row["author_name"] = names.get(row["author_id"])
    document: dict[str, Any] = {
        "asked_for": who,
        "exported_at": datetime.now().replace(microsecond=0).isoformat(),
        "customer_ids": sorted(subject.customer_ids),
        "conversation_ids": sorted(subject.conversation_ids),
        "customers": held.pop("journey_customers"),
        "identities": held.pop("customer_identities"),
        **held,
    }
    if tracker is not None:
        document["rasa_tracker_events"] = tracker_events_of(tracker, subject.conversation_ids)
    return document


@dataclass
class Erasure:
    """What ``forget_customer`` erased: rows per table, and handoffs worth telling about."""

    customer_ids: list[str]
    conversation_ids: list[str]  # those with a touchpoint or tracker events
    rows: dict[str, int]
    tracker_events: int
    cancelled_handoffs: list[str]  # open handoffs whose delivery was still pending: never sent
    delivered_handoffs: list[str]  # already sent to a department's webhook

    @property
    def total(self) -> int:
        return sum(self.rows.values()) + self.tracker_events


def forget_customer(engine: Engine, who: str, tracker: Engine | None) -> Erasure:
    """Erase everything held about ``who`` (idempotent): the tracker's events first, then
    the journey store in one transaction, so a failure half-way can be run again and still
    finds every conversation."""
    with engine.connect() as conn:
        subject = find_subject(conn, who)
    tracker_had = erase_tracker(tracker, subject.conversation_ids) if tracker else {}
    rows: dict[str, int] = {}
    cancelled: list[str] = []
    delivered: list[str] = []
    with engine.begin() as conn:
        subject = find_subject(conn, who)  # again, inside the transaction
        where = subject_rows(conn, subject)
        conversations = set(tracker_had) | set(
            conn.execute(
                select(touchpoints.c.conversation_id).where(where["touchpoints"])
            ).scalars()
        )
        for row in conn.execute(
            select(outbox.c.handoff_id, outbox.c.department, outbox.c.state).where(where["outbox"])
        ):
            label = f"H-{row.handoff_id} ({row.department})"
            (delivered if row.state == "sent" else cancelled).append(label)
        for name, clause in where.items():
            rows[name] = conn.execute(delete(TABLES[name]).where(clause)).rowcount
    return Erasure(
        sorted(subject.customer_ids),
        sorted(conversations),
        rows,
        sum(tracker_had.values()),
        cancelled,
        delivered,
    )


@dataclass
class Retention:
    """What a retention sweep deleted (or would delete, on a dry run)."""

    cutoff: datetime
    rows: dict[str, int]
    tracker_events: int

    @property
    def total(self) -> int:
        return sum(self.rows.values()) + self.tracker_events


def apply_retention(
    engine: Engine,
    days: int,
    tracker: Engine | None,
    now: datetime | None = None,
    dry_run: bool = False,
) -> Retention:
    """Delete conversations that ended more than ``days`` ago and everything attached,
    customers left with no conversation, and Rasa's events older than that.

    Everything is selected by subqueries, not id lists, so a first sweep over years of
    data is one statement per table on any database."""
    if days < 1:
        raise PrivacyError("retention needs at least 1 day")
    cutoff = (now or datetime.now()) - timedelta(days=days)
    newer = touchpoints.alias("newer")
    is_old = and_(touchpoints.c.ended_at.isnot(None), touchpoints.c.ended_at < cutoff)
    old_touchpoints = select(touchpoints.c.id).where(is_old)
    # A conversation's own rows (notes, takeovers...) go when no session of it is kept.
    old_conversations = select(touchpoints.c.conversation_id).where(
        is_old,
        ~exists().where(
            newer.c.conversation_id == touchpoints.c.conversation_id,
            or_(newer.c.ended_at.is_(None), newer.c.ended_at >= cutoff),
        ),
    )
    old_handoffs = select(handoffs.c.id).where(
        or_(
            handoffs.c.touchpoint_id.in_(old_touchpoints),
            handoffs.c.conversation_id.in_(old_conversations),
        ),
        handoffs.c.created_at < cutoff,
    )
    where = rows_where(set(), old_conversations, old_touchpoints, old_handoffs)
    # Identity checks and codes go with their conversation, and when older than the cutoff
    # in a chat that never became a touchpoint (a visitor who only tried order numbers).
    chats = select(touchpoints.c.conversation_id)
    where["identity_checks"] = or_(
        identity_checks.c.conversation_id.in_(old_conversations),
        and_(identity_checks.c.at < cutoff, identity_checks.c.conversation_id.notin_(chats)),
    )
    where["one_time_codes"] = or_(
        one_time_codes.c.conversation_id.in_(old_conversations),
        and_(one_time_codes.c.created_at < cutoff, one_time_codes.c.conversation_id.notin_(chats)),
    )
    # Customers left with no conversation, known since before the cutoff.
    with_conversations = select(touchpoints.c.customer_id).where(
        touchpoints.c.customer_id.isnot(None), ~is_old
    )
    gone = select(journey_customers.c.id).where(
        journey_customers.c.created_at < cutoff,
        journey_customers.c.id.notin_(with_conversations),
    )
    where["customer_identities"] = identities.c.customer_id.in_(gone)
    where["customer_preferences"] = customer_preferences.c.customer_id.in_(gone)
    where["journey_customers"] = journey_customers.c.id.in_(gone)
    rows: dict[str, int] = {}
    with engine.begin() as conn:
        # Children first: each subquery reads tables not yet deleted from.
        for name, clause in where.items():
            table = TABLES[name]
            if dry_run:
                count = select(func.count()).select_from(table).where(clause)
                rows[name] = conn.execute(count).scalar_one()
            else:
                rows[name] = conn.execute(delete(table).where(clause)).rowcount
    tracker_count = tracker_retention(tracker, cutoff, dry_run) if tracker is not None else 0
    return Retention(cutoff, rows, tracker_count)
