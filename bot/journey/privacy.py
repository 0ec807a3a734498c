"""A customer's data: see all of it (access request), erase it (right to be forgotten),
and delete what is older than the retention period.

What is held about a customer: their journey record, channel identities and preferences
(how they like to be contacted), the department events told to them first, and for each of
their conversations the touchpoints, handoffs (context packets, outbox and built-in inbox
rows), routing decisions, policy moments, guard rewrites, feedback, agents' takeovers and
notes, review flags and labelled examples, identity checks and one-time codes (hashes
only), and Rasa's tracker events.

Rasa's tracker is erased by deleting the conversation's rows from the SQL tracker store's
``events`` table, not through Rasa's HTTP API: ``PUT /conversations/{id}/tracker/events``
with ``[]`` saves an empty tracker, and ``SQLTrackerStore.save`` only *appends* the events
beyond those already stored, so it deletes nothing. The SQL store is also reachable when
Rasa is down. Rasa reads the store afresh on every message (no cache), so the next message
of an erased conversation starts an empty tracker.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any, TypeAlias

import yaml
from sqlalchemy import (
    Column,
    Float,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    and_,
    delete,
    exists,
    func,
    inspect,
    or_,
    select,
)
from sqlalchemy.engine import URL, Connection, Engine
from sqlalchemy.sql import ColumnElement, Select

from bot.journey.schema import (
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
    users,
)
from bot.settings import Settings

# Rasa's SQLTrackerStore table (rasa/core/tracker_store.py: SQLEvent), as far as we use it.
_tracker_metadata = MetaData()
tracker_events = Table(
    "events",
    _tracker_metadata,
    Column("id", Integer, primary_key=True),
    Column("sender_id", String(255), nullable=False),
    Column("type_name", String(255), nullable=False),
    Column("timestamp", Float),
    Column("intent_name", String(255)),
    Column("action_name", String(255)),
    Column("data", Text),
)

# Columns that hold JSON text: exported as JSON, not as a string of it.
_JSON_COLUMNS = {"needs", "departments", "order_ids", "signals", "context", "body", "offered"}
_JSON_COLUMNS_BY_TABLE = {"review_flags": {"tags"}, "proactive_events": {"details"}}

# Identity kinds that are conversation ids (Rasa sender ids) on that channel.
_NOT_CONVERSATIONS = {"email"}


class PrivacyError(RuntimeError):
    """The request can't be carried out (the message says why and what to do)."""


def tracker_store_url(settings: Settings) -> str | None:
    """The SQLAlchemy URL of Rasa's SQL tracker store: ``CX_TRACKER_URL``, else the one
    endpoints.yml configures (as ``make run`` points it at ``var/``); None when Rasa's
    tracker store is not SQL."""
    if settings.tracker_url:
        return settings.tracker_url
    config = yaml.safe_load((settings.root / "endpoints.yml").read_text(encoding="utf-8")) or {}
    store = config.get("tracker_store") or {}
    if str(store.get("type", "")).upper() != "SQL":
        return None
    dialect = store.get("dialect", "sqlite")
    if dialect == "sqlite":
        return f"sqlite:///{settings.var_dir / 'tracker.db'}"  # as bot/runner.py writes it
    url: str = URL.create(
        dialect,
        username=store.get("username"),
        password=store.get("password"),
        host=store.get("url"),
        port=store.get("port"),
        database=store.get("db"),
        query=store.get("query") or {},
    ).render_as_string(hide_password=False)
    return url


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


# Values to match: a few found first, or a subquery.
Values: TypeAlias = Iterable[object] | Select


def _in(column: ColumnElement, values: Values) -> ColumnElement:
    """``column IN values``: a few values found first, or a subquery (retention's many)."""
    if isinstance(values, Select):
        return column.in_(values)
    values = sorted(set(values), key=str)
    return column.in_(values) if values else column.in_([None])  # matches nothing


def _selection(conn: Connection, subject: Subject) -> dict[str, Any]:
    """The WHERE clause of every journey table for ``subject``'s rows (in delete order)."""
    ids, conversations = subject.customer_ids, subject.conversation_ids
    tp_ids = set(
        conn.execute(
            select(touchpoints.c.id).where(
                or_(
                    _in(touchpoints.c.customer_id, ids),
                    _in(touchpoints.c.conversation_id, conversations),
                )
            )
        ).scalars()
    )
    handoff_ids = set(
        conn.execute(
            select(handoffs.c.id).where(
                or_(
                    _in(handoffs.c.customer_id, ids),
                    _in(handoffs.c.conversation_id, conversations),
                    _in(handoffs.c.touchpoint_id, tp_ids),
                )
            )
        ).scalars()
    )
    return _where(ids, conversations, tp_ids, handoff_ids)


def _where(
    ids: Values, conversations: Values, tp_ids: Values, handoff_ids: Values
) -> dict[str, ColumnElement]:
    """Rows of these customers, conversations, touchpoints and handoffs, table by table,
    children before parents (the order they can be deleted in)."""
    return {
        "review_examples": _in(review_examples.c.touchpoint_id, tp_ids),
        "review_flags": or_(
            _in(review_flags.c.touchpoint_id, tp_ids),
            _in(review_flags.c.conversation_id, conversations),
        ),
        "feedback": or_(
            _in(feedback.c.touchpoint_id, tp_ids), _in(feedback.c.conversation_id, conversations)
        ),
        "routing_decisions": or_(
            _in(routing_decisions.c.touchpoint_id, tp_ids),
            _in(routing_decisions.c.conversation_id, conversations),
        ),
        "agent_notes": _in(agent_notes.c.conversation_id, conversations),
        "takeovers": or_(
            _in(takeovers.c.handoff_id, handoff_ids),
            _in(takeovers.c.conversation_id, conversations),
        ),
        "inbox": _in(inbox.c.handoff_id, handoff_ids),
        "handoff_contacts": or_(
            _in(handoff_contacts.c.handoff_id, handoff_ids),
            _in(handoff_contacts.c.conversation_id, conversations),
            _in(handoff_contacts.c.touchpoint_id, tp_ids),
        ),
        "outbox": or_(
            _in(outbox.c.handoff_id, handoff_ids), _in(outbox.c.conversation_id, conversations)
        ),
        "handoffs": _in(handoffs.c.id, handoff_ids),
        "policy_moments": or_(
            _in(policy_moments.c.customer_id, ids),
            _in(policy_moments.c.conversation_id, conversations),
        ),
        "guard_rewrites": _in(guard_rewrites.c.conversation_id, conversations),
        # Checks and codes of their chats, and those naming them (a code sent to their email
        # from another chat, a check that verified them).
        "identity_checks": or_(
            _in(identity_checks.c.conversation_id, conversations),
            _in(identity_checks.c.customer_id, ids),
        ),
        "one_time_codes": or_(
            _in(one_time_codes.c.conversation_id, conversations),
            _in(one_time_codes.c.customer_id, ids),
        ),
        # Before touchpoints: an event told in a chat points at its touchpoint.
        "proactive_events": or_(
            _in(proactive_events.c.customer_id, ids),
            _in(proactive_events.c.touchpoint_id, tp_ids),
            _in(proactive_events.c.conversation_id, conversations),
        ),
        "touchpoints": _in(touchpoints.c.id, tp_ids),
        "customer_identities": _in(identities.c.customer_id, ids),
        "customer_preferences": _in(customer_preferences.c.customer_id, ids),
        "journey_customers": _in(journey_customers.c.id, ids),
    }


_TABLES = {
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


# -- Rasa's tracker store --------------------------------------------------------------------


def _tracker_table_exists(conn: Connection) -> bool:
    exists: bool = inspect(conn).has_table("events")
    return exists


def tracker_events_of(
    tracker: Engine, conversations: Iterable[str]
) -> dict[str, list[dict[str, Any]]]:
    """Every event Rasa keeps for these conversations, oldest first, by conversation."""
    conversations = sorted(set(conversations))
    out: dict[str, list[dict[str, Any]]] = {}
    if not conversations:
        return out
    with tracker.connect() as conn:
        if not _tracker_table_exists(conn):
            return out
        query = (
            select(tracker_events.c.sender_id, tracker_events.c.data)
            .where(tracker_events.c.sender_id.in_(conversations))
            .order_by(tracker_events.c.id)
        )
        for sender, data in conn.execute(query):
            try:
                event = json.loads(data) if data else {}
            except ValueError:
                event = {"data": data}
            out.setdefault(sender, []).append(event)
    return out


def _erase_tracker(tracker: Engine, conversations: Iterable[str]) -> dict[str, int]:
    """Delete these conversations' events; how many each had (those that had any)."""
    conversations = sorted(set(conversations))
    if not conversations:
        return {}
    with tracker.begin() as conn:
        if not _tracker_table_exists(conn):
            return {}
        of_them = tracker_events.c.sender_id.in_(conversations)
        had = dict(
            conn.execute(
                select(tracker_events.c.sender_id, func.count())
                .where(of_them)
                .group_by(tracker_events.c.sender_id)
            ).all()
        )
        conn.execute(delete(tracker_events).where(of_them))
    return had


# -- access, erasure, retention -----------------------------------------------------------


def export_customer(engine: Engine, who: str, tracker: Engine | None) -> dict[str, Any] | None:
    """Everything held about ``who`` as one JSON-ready document; None if nothing is."""
    with engine.connect() as conn:
        subject = find_subject(conn, who)
        if not subject.found:
            return None
        where = _selection(conn, subject)
        held = {name: _rows(conn, _TABLES[name], where[name]) for name in reversed(list(where))}
        # Who the agents were (their display name is what the customer saw).
        agents = {t["agent_id"] for t in held["takeovers"]} | {
            n["author_id"] for n in held["agent_notes"]
        }
        names = (
            dict(
                conn.execute(
                    select(users.c.id, users.c.display_name).where(_in(users.c.id, agents))
                ).all()
            )
            if agents
            else {}
        )
    for row in held["identity_checks"]:
        if row["conversation_id"] not in subject.conversation_ids:
            # A check naming them from someone else's chat: where it came from is not theirs.
            row.update(conversation_id=None, address=None, channel=None)
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
    tracker_had = _erase_tracker(tracker, subject.conversation_ids) if tracker else {}
    rows: dict[str, int] = {}
    cancelled: list[str] = []
    delivered: list[str] = []
    with engine.begin() as conn:
        subject = find_subject(conn, who)  # again, inside the transaction
        where = _selection(conn, subject)
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
            rows[name] = conn.execute(delete(_TABLES[name]).where(clause)).rowcount
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
    where = _where(set(), old_conversations, old_touchpoints, old_handoffs)
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
            table = _TABLES[name]
            if dry_run:
                count = select(func.count()).select_from(table).where(clause)
                rows[name] = conn.execute(count).scalar_one()
            else:
                rows[name] = conn.execute(delete(table).where(clause)).rowcount
    tracker_count = _tracker_retention(tracker, cutoff, dry_run) if tracker is not None else 0
    return Retention(cutoff, rows, tracker_count)


def _tracker_retention(tracker: Engine, cutoff: datetime, dry_run: bool) -> int:
    older = tracker_events.c.timestamp < cutoff.timestamp()  # Rasa's timestamps: epoch seconds
    with tracker.begin() as conn:
        if not _tracker_table_exists(conn):
            return 0
        if dry_run:
            count: int = conn.execute(
                select(func.count()).select_from(tracker_events).where(older)
            ).scalar_one()
            return count
        deleted: int = conn.execute(delete(tracker_events).where(older)).rowcount
        return deleted
