"""The journey store: one customer across channels, one touchpoint per conversation.

Actions record each turn as it happens (so nothing is lost when a chat simply stops): who
the customer is, on which channel, the journey stage, the needs raised and the departments
they went to, the orders discussed, the outcome so far and the signals of effort. A chat
left idle past the session expiry is closed as ``abandoned`` unless it was resolved.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, bindparam, func, insert, or_, select, update
from sqlalchemy.engine import Connection, Engine, Row

from bot.db.schema import feedback, journey_customers, touchpoints
from bot.journey.customers import CustomerLink, identity_owner, insert_if_absent, link_customer
from bot.journey.repeats import REPEAT_CONTACT_DAYS, RepeatContacts
from bot.journey.signals import Signals, UserMessage, read_signals
from bot.redaction import redact

# How outcomes overrule each other while a chat goes on ("resolved" and "abandoned" are set
# when it ends: by a department or agent, or by the idle sweep).
OUTCOME_RANK = {"self_served": 0, "handed_off": 1, "escalated": 2}
OUTCOMES = ("self_served", "handed_off", "escalated", "abandoned", "resolved")
CUSTOMER_TEXT_LIMIT = 8000  # characters of the customer's words kept for the CX log's search


def outcome_at_end(outcome: str, needs: str, message_count: int, served: bool = False) -> str:
    """The outcome of a chat as it ends: ``self_served`` only if it answered a need.

    A chat whose customer wrote but raised no need (only small talk, out-of-scope
    questions, fallbacks or turns nobody answered), in which the assistant served none
    (``served``: its serving actions ran in the session) and that no department or person
    was handed, solved nothing: it ends ``abandoned``. ``needs`` is the touchpoint's JSON
    list. Migration 0011_self_served applies the same rule to the history (by the needs).
    """
    if outcome == "self_served" and message_count > 0 and not served and not json.loads(needs):
        return "abandoned"
    return outcome


@dataclass(frozen=True)
class Turn:
    """What one action knows about the conversation when it runs."""

    conversation_id: str
    channel: str
    session_started_at: datetime
    messages: tuple[UserMessage, ...] = ()
    customer_id: str | None = None  # the back office's id, once identified
    customer_name: str | None = None
    tier: str | None = None
    email: str | None = None
    slack_user: str | None = None
    need: str | None = None  # a need raised or served in this turn
    department: str | None = None
    stage: str | None = None
    order_id: str | None = None
    outcome: str | None = None  # handed_off / escalated when this turn did that
    served: bool = False  # the assistant answered a need in this session (so far)
    ended: bool = False  # the customer said goodbye


@dataclass(frozen=True)
class Touchpoint:
    """One conversation as a step of the customer's journey."""

    id: int
    conversation_id: str
    customer_id: str
    channel: str
    stage: str | None
    needs: tuple[str, ...]
    departments: tuple[str, ...]
    order_ids: tuple[str, ...]
    outcome: str
    signals: dict[str, int] = field(default_factory=dict)
    rating: int | None = None
    effort: int | None = None  # "how easy was it to get this sorted?" 1-5, 5 = very easy
    message_count: int = 0
    started_at: datetime | None = None
    last_activity_at: datetime | None = None
    ended_at: datetime | None = None


class JourneyStore:
    """Customers, their channel identities and touchpoints, in the journey database."""

    def __init__(self, engine: Engine, now: Callable[[], datetime] = datetime.now):
        self._engine = engine  # migrated (bot.db.migrate)
        self._now = now
        # Identity links already written by this process: most turns add none, and skipping
        # the three lookups keeps logging cheap on every turn. Only an optimisation; the
        # writes it skips are idempotent.
        self._linked: dict[CustomerLink, str] = {}
        # The statements every turn runs, built once: building and keying an expression
        # costs more than running it on SQLite (parameters are bound at execution).
        self._session_row = select(touchpoints).where(
            touchpoints.c.conversation_id == bindparam("conversation"),
            touchpoints.c.session_started_at == bindparam("started"),
        )
        self._insert = insert(touchpoints)
        self._update = update(touchpoints).where(touchpoints.c.id == bindparam("touchpoint"))
        self._contacts_one_order = select(func.count()).where(
            touchpoints.c.customer_id == bindparam("customer"),
            touchpoints.c.started_at >= bindparam("since"),
            touchpoints.c.conversation_id != bindparam("conversation"),
            touchpoints.c.order_ids.contains(bindparam("order")),
        )
        self._repeats = RepeatContacts()

    # -- recording ------------------------------------------------------------------------
    def record(self, turn: Turn) -> Touchpoint:
        """Create or update the touchpoint of ``turn``'s conversation session."""
        now = self._now()
        with self._engine.begin() as conn:
            _without_flush_wait(conn)
            link = CustomerLink(
                turn.channel,
                turn.conversation_id,
                turn.customer_id,
                turn.customer_name,
                turn.tier,
                turn.email,
                turn.slack_user,
            )
            customer_id = self._linked.get(link)
            newly_linked = customer_id is None
            if customer_id is None:
                customer_id = link_customer(conn, link, now, self._repeats)
            row = conn.execute(
                self._session_row,
                {"conversation": turn.conversation_id, "started": turn.session_started_at},
            ).first()
            contacts = self._contacts_about(conn, customer_id, turn, row)
            signals = read_signals(turn.messages, contacts)
            last_message = max((m.at for m in turn.messages), default=now)
            values: dict[str, Any] = {
                "customer_id": customer_id,
                "channel": turn.channel,
                "signals": json.dumps(signals.as_dict()),
                "message_count": len(turn.messages),
                "customer_text": customer_text(turn.messages),
                "last_activity_at": max(last_message, now) if turn.messages else now,
            }
            if turn.stage:
                values["stage"] = turn.stage
            if turn.ended:
                values["ended_at"] = now
            if row is None:
                values.update(
                    conversation_id=turn.conversation_id,
                    session_started_at=turn.session_started_at,
                    needs=json.dumps(_added([], turn.need)),
                    departments=json.dumps(_added([], turn.department)),
                    order_ids=json.dumps(_added([], turn.order_id)),
                    outcome=turn.outcome or "self_served",
                    started_at=min(turn.session_started_at, now),
                    came_back=False,
                )
                if turn.ended:
                    values["outcome"] = outcome_at_end(
                        values["outcome"], values["needs"], len(turn.messages), turn.served
                    )
                if turn.need or turn.order_id:  # about something: maybe a repeat contact
                    values["came_back"] = self._repeats.mark(conn, customer_id, None, values)
                result = conn.execute(self._insert, values)
                values["id"] = result.inserted_primary_key[0]
            else:
                values["needs"] = json.dumps(_added(json.loads(row.needs), turn.need))
                values["departments"] = json.dumps(
                    _added(json.loads(row.departments), turn.department)
                )
                values["order_ids"] = json.dumps(_added(json.loads(row.order_ids), turn.order_id))
                moved = row.customer_id != customer_id
                if moved or (values["needs"], values["order_ids"]) != (row.needs, row.order_ids):
                    # About something new (or someone else's now): repeat contacts change.
                    pending = {**row._mapping, **values}
                    values["came_back"] = self._repeats.mark(conn, customer_id, row.id, pending)
                    if moved and row.customer_id is not None:
                        self._repeats.recount(conn, row.customer_id, row.started_at, row.id)
                if turn.outcome and OUTCOME_RANK.get(turn.outcome, 0) > OUTCOME_RANK.get(
                    row.outcome, 0
                ):
                    values["outcome"] = turn.outcome
                if not turn.ended and row.ended_at is not None:
                    values["ended_at"] = None  # they came back before the session expired
                    if row.outcome == "abandoned":  # decided again when it ends
                        values["outcome"] = turn.outcome or "self_served"
                if turn.ended:
                    values["outcome"] = outcome_at_end(
                        values.get("outcome", row.outcome),
                        values["needs"],
                        len(turn.messages),
                        turn.served,
                    )
                conn.execute(self._update, {**values, "touchpoint": row.id})
                values = {**row._mapping, **values}
        if newly_linked:
            # Only once committed: the action server's threads record turns at once, and
            # another turn must never skip writing a link that was rolled back.
            if len(self._linked) > 10_000:
                self._linked.clear()
            self._linked[link] = customer_id
        # Built from what was written: no read back (logging sits on every turn's path).
        return _as_touchpoint(values)

    def record_proactive(
        self,
        event_id: str,
        customer_id: str,
        need: str,
        department: str,
        stage: str | None,
        order_id: str | None = None,
        customer_name: str | None = None,
        tier: str | None = None,
    ) -> int:
        """A ``proactive`` touchpoint: a department's news told to the customer first.

        Its channel is ``proactive`` and its conversation ``proactive:<event id>`` (the chat it
        was told in keeps its own touchpoint); it starts ended, since no chat waits on it, and
        its outcome follows the customer's choice (``note_outcome``). Once per event.
        """
        now = self._now()
        key = f"proactive:{event_id}"[:255]
        with self._engine.begin() as conn:
            insert_if_absent(
                conn,
                journey_customers,
                id=customer_id,
                created_at=now,
                name=customer_name,
                tier=tier,
            )
            existing: int | None = conn.execute(
                select(touchpoints.c.id).where(touchpoints.c.conversation_id == key)
            ).scalar()
            if existing is not None:
                return existing
            result = conn.execute(
                insert(touchpoints).values(
                    conversation_id=key,
                    session_started_at=now,
                    customer_id=customer_id,
                    channel="proactive",
                    stage=stage,
                    needs=json.dumps([need]),
                    departments=json.dumps([department]),
                    order_ids=json.dumps(_added([], order_id)),
                    outcome="self_served",
                    signals="{}",
                    message_count=0,
                    started_at=now,
                    last_activity_at=now,
                    ended_at=now,
                    came_back=False,
                )
            )
            touchpoint_id: int = result.inserted_primary_key[0]
            return touchpoint_id

    def note_outcome(self, touchpoint_id: int, outcome: str, department: str | None) -> None:
        """Raise a touchpoint's outcome (and add the department) after the desk handed off."""
        with self._engine.begin() as conn:
            row = conn.execute(
                select(touchpoints.c.outcome, touchpoints.c.departments).where(
                    touchpoints.c.id == touchpoint_id
                )
            ).one()
            values = {"departments": json.dumps(_added(json.loads(row.departments), department))}
            if OUTCOME_RANK.get(outcome, 0) > OUTCOME_RANK.get(row.outcome, 0):
                values["outcome"] = outcome
            conn.execute(
                update(touchpoints).where(touchpoints.c.id == touchpoint_id).values(**values)
            )

    def signals(self, turn: Turn) -> Signals:
        """The signals of ``turn``'s conversation, counting other chats about its orders."""
        with self._engine.connect() as conn:
            customer_id = turn.customer_id
            row = conn.execute(
                select(touchpoints).where(
                    touchpoints.c.conversation_id == turn.conversation_id,
                    touchpoints.c.session_started_at == turn.session_started_at,
                )
            ).first()
            contacts = self._contacts_about(conn, customer_id, turn, row) if customer_id else 0
        return read_signals(turn.messages, contacts)

    def close_idle(self, idle: timedelta) -> int:
        """Close chats with no activity for ``idle`` (the session expiry): ``abandoned``
        unless already resolved; a chat that ended with a goodbye keeps its outcome."""
        now = self._now()
        with self._engine.begin() as conn:
            stale = and_(
                touchpoints.c.ended_at.is_(None), touchpoints.c.last_activity_at < now - idle
            )
            ended: int = conn.execute(
                update(touchpoints)
                .where(stale, touchpoints.c.outcome != "resolved")
                .values(outcome="abandoned", ended_at=now)
            ).rowcount
            ended += conn.execute(update(touchpoints).where(stale).values(ended_at=now)).rowcount
        return ended

    def rate(self, conversation_id: str, rating: int, comment: str | None = None) -> None:
        """The customer's own rating (1-5) of their newest touchpoint in this conversation,
        kept on the touchpoint and in the feedback log."""
        if not 1 <= rating <= 5:
            raise ValueError(f"a rating is 1 to 5, got {rating}")
        with self._engine.begin() as conn:
            newest = _newest_touchpoint(conn, conversation_id)
            conn.execute(
                update(touchpoints).where(touchpoints.c.id == newest).values(rating=rating)
            )
            conn.execute(
                insert(feedback).values(
                    created_at=self._now(),
                    touchpoint_id=newest,
                    conversation_id=conversation_id,
                    rating=rating,
                    comment=redact(comment) if comment else comment,  # CX reads it
                )
            )

    def rate_effort(self, conversation_id: str, effort: int) -> None:
        """The customer's answer to "how easy was it to get this sorted?" (1-5, 5 = very
        easy), kept on their newest touchpoint in this conversation."""
        if isinstance(effort, bool) or not isinstance(effort, int) or not 1 <= effort <= 5:
            raise ValueError(f"an effort answer is 1 to 5, got {effort!r}")
        with self._engine.begin() as conn:
            newest = _newest_touchpoint(conn, conversation_id)
            conn.execute(
                update(touchpoints).where(touchpoints.c.id == newest).values(effort=effort)
            )

    # -- reading ---------------------------------------------------------------------------
    def journey(self, customer_id: str) -> list[Touchpoint]:
        """Every touchpoint of one customer, across channels, oldest first."""
        with self._engine.connect() as conn:
            rows = conn.execute(
                select(touchpoints.c.id)
                .where(touchpoints.c.customer_id == customer_id)
                .order_by(touchpoints.c.started_at, touchpoints.c.id)
            ).all()
            return [self._touchpoint(conn, r.id) for r in rows]

    def touchpoints_of(self, conversation_id: str) -> list[Touchpoint]:
        with self._engine.connect() as conn:
            rows = conn.execute(
                select(touchpoints.c.id)
                .where(touchpoints.c.conversation_id == conversation_id)
                .order_by(touchpoints.c.id)
            ).all()
            return [self._touchpoint(conn, r.id) for r in rows]

    def customer_of(self, kind: str, value: str) -> str | None:
        """The journey customer behind a channel identity, if known."""
        with self._engine.connect() as conn:
            return identity_owner(conn, kind, value)

    # -- internals -------------------------------------------------------------------------
    def _contacts_about(
        self, conn: Connection, customer_id: str | None, turn: Turn, row: Row | None
    ) -> int:
        """Other conversations of this customer about the same orders in the last 7 days."""
        orders = set(json.loads(row.order_ids)) if row is not None else set()
        if turn.order_id:
            orders.add(turn.order_id)
        if not orders or customer_id is None:
            return 0
        since = self._now() - timedelta(days=REPEAT_CONTACT_DAYS)
        count: int
        if len(orders) == 1:  # the usual case: the pre-built statement
            count = conn.execute(
                self._contacts_one_order,
                {
                    "customer": customer_id,
                    "since": since,
                    "conversation": turn.conversation_id,
                    "order": json.dumps(next(iter(orders))),
                },
            ).scalar_one()
            return count
        # order_ids is a JSON list of strings: '"ORD-1"' matches one element exactly.
        mentions = or_(*(touchpoints.c.order_ids.contains(json.dumps(o)) for o in sorted(orders)))
        query = select(func.count()).where(
            touchpoints.c.customer_id == customer_id,
            touchpoints.c.started_at >= since,
            touchpoints.c.conversation_id != turn.conversation_id,
            mentions,
        )
        count = conn.execute(query).scalar_one()
        return count

    def _touchpoint(self, conn: Connection, touchpoint_id: int) -> Touchpoint:
        row = conn.execute(select(touchpoints).where(touchpoints.c.id == touchpoint_id)).one()
        return _as_touchpoint(row._mapping)


def _without_flush_wait(conn: Connection) -> None:
    """Let this transaction commit without waiting for PostgreSQL's disk flush.

    Safe for touchpoint writes: each one rewrites the touchpoint from the whole tracker, so
    one lost in a database crash is restored by the next turn. (SQLite already runs with
    synchronous=NORMAL, bot/db/engine/engine.py.) Handoffs are written elsewhere, fully durable.
    """
    if conn.dialect.name == "postgresql":
        conn.exec_driver_sql("SET LOCAL synchronous_commit TO OFF")


def _as_touchpoint(values: Mapping[str, Any]) -> Touchpoint:
    """A Touchpoint from a row's mapping (or the values just written for it)."""
    v = dict(values)
    return Touchpoint(
        id=v["id"],
        conversation_id=v["conversation_id"],
        customer_id=v["customer_id"],
        channel=v["channel"],
        stage=v.get("stage"),
        needs=tuple(json.loads(v["needs"])),
        departments=tuple(json.loads(v["departments"])),
        order_ids=tuple(json.loads(v["order_ids"])),
        outcome=v["outcome"],
        signals=json.loads(v["signals"]),
        rating=v.get("rating"),
        effort=v.get("effort"),
        message_count=v["message_count"],
        started_at=v.get("started_at"),
        last_activity_at=v.get("last_activity_at"),
        ended_at=v.get("ended_at"),
    )


def _newest_touchpoint(conn: Connection, conversation_id: str) -> int:
    """The id of the conversation's newest touchpoint (the session the customer is in);
    ``LookupError`` when it has none."""
    newest: int | None = conn.execute(
        select(touchpoints.c.id)
        .where(touchpoints.c.conversation_id == conversation_id)
        .order_by(touchpoints.c.id.desc())
    ).scalar()
    if newest is None:
        raise LookupError(f"no touchpoint for conversation {conversation_id!r}")
    return newest


def _added(items: Sequence[str], item: str | None) -> list[str]:
    return [*items, item] if item and item not in items else list(items)


def customer_text(messages: Sequence[UserMessage]) -> str:
    """The customer's messages one per line, redacted, cut at ``CUSTOMER_TEXT_LIMIT`` characters.

    Emails, phone and card numbers become ``[email]``, ``[phone]``, ``[card]``
    (bot/redaction.py): CX analysts search and read these lines, and have no need of them.
    Each message is redacted on its own (and cached), so a turn only pays for its new one.
    """
    text = "\n".join(redact(m.text) for m in messages)[:CUSTOMER_TEXT_LIMIT]
    return text.replace("\x00", "")  # PostgreSQL refuses NUL in text
