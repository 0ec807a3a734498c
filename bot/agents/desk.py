"""The agent desk: support agents take escalated conversations over from the assistant.

An escalation is a conversation with unresolved handoffs to ``support`` (the customer asked
for a person, complained, or a CX rule brought one in). An agent takes it over: a
takeover row is claimed first (the partial unique index lets one agent hold a
conversation at a time), then the assistant is paused through Rasa's HTTP API and the
customer is told a person has joined. If Rasa or Slack fails, the claim is undone, so
the record never says an agent holds a chat the assistant still answers.

A takeover is a lease: the console renews it while the agent's page is open (and every
message renews it). A lease that runs out is ``abandoned``: the conversation goes back to
the queue, the assistant answers again meanwhile, and the customer is told why.

The agent ends a takeover by handing back to the assistant (with an internal note), by
transferring to a department (a new handoff with the original context packet and the
agent's note; the customer is told who, how and by when), or by resolving it with a
summary (the support handoffs resolve, and with the last one the touchpoint). Internal
notes are for colleagues and never reach the customer.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import delete, insert, or_, select, update
from sqlalchemy.engine import Connection, Engine, Row
from sqlalchemy.exc import IntegrityError
from sqlalchemy.sql import Select

from bot.agents import worklist
from bot.agents.queue import Escalation, Holder, ordered
from bot.agents.rasa_api import LISTEN, PAUSE, RESUME
from bot.agents.relay import CannotReach, Relay, RelayFailed, check_reachable
from bot.agents.transcript import as_text, transcript
from bot.agents.trust import trust_of
from bot.departments import Department
from bot.handoff import HandoffDesk, HandoffRequest
from bot.journey.schema import (
    agent_notes,
    handoffs,
    identities,
    journey_customers,
    takeovers,
    touchpoints,
    users,
)
from bot.journey.store import JourneyStore

if TYPE_CHECKING:  # a runtime import would load the hub's web app (bot/hub/__init__.py)
    from bot.hub.store import HubStore

log = logging.getLogger(__name__)

SUPPORT = "support"  # the department of human agents (departments.yml)
UNRESOLVED = ("open", "acknowledged")
DEFAULT_LEASE = timedelta(seconds=90)
MAX_TEXT = 5000  # characters in a message, note or summary (the widget's own limit)
# The need of a handoff an agent makes: per department, because HandoffDesk gives back the
# conversation's open handoff of the same need, and a transfer elsewhere must be its own.
TRANSFER_NEED = "transfer_to_{department}"

# What the customer is told, in the assistant's voice (the agent's own words carry their name).
JOINED = (
    "{agent} from our support team has joined the chat. They can see our conversation so "
    "far, so there's no need to repeat anything."
)
HANDED_BACK = "{agent} has handed you back to me, the assistant. What else can I do for you?"
TRANSFERRED = (
    "{agent} has passed this to {team}, with everything you've told us. They will get back "
    "to you {channel} {promise}. Your reference is {reference}. I'm here if you need "
    "anything else meanwhile."
)
RESOLVED = (
    "{agent} has marked this as resolved. Thank you for your patience! I'm here if you need "
    "anything else."
)
ABANDONED = (
    "Sorry, {agent} has been disconnected. I'm back with you for now, and the next free "
    "person from our support team will pick up your conversation here."
)


class AgentDeskError(Exception):
    """A takeover action that can't be done as asked (the message says why)."""


class NotFound(AgentDeskError, LookupError):
    """No such conversation, or no escalation waiting in it."""


class Invalid(AgentDeskError, ValueError):
    """A message, note, summary or department that can't be taken."""


class AlreadyTaken(AgentDeskError):
    """Another agent holds the conversation."""

    def __init__(self, holder: Holder):
        super().__init__(f"{holder.display_name} has already taken this conversation over")
        self.holder = holder


class NotHolding(AgentDeskError):
    """The agent does not (or no longer) hold the conversation."""


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
            "started_at": _iso(self.started_at),
            "lease_expires_at": _iso(self.lease_expires_at),
            "ended_at": _iso(self.ended_at),
            "note": self.note,
        }


class AgentDesk:
    """Takeovers, notes and the escalation queue on the journey database."""

    def __init__(
        self,
        engine: Engine,
        relay: Relay,
        departments: dict[str, Department],
        transitions: HubStore,
        now: Callable[[], datetime] = datetime.now,
        lease: timedelta = DEFAULT_LEASE,
    ):
        self.engine = engine  # migrated (bot.journey.migrate)
        self.relay = relay
        self.departments = departments
        # The hub's acknowledge/resolve moves (bot/hub/store.py): resolving a conversation's
        # last handoff resolves its touchpoint, the same rule for departments and agents.
        self.transitions = transitions
        self.lease = lease
        self._now = now
        self.handoffs = HandoffDesk(engine, departments, now)
        self.journey = JourneyStore(engine, now)

    # -- the queue ---------------------------------------------------------------------------
    def queue(self) -> list[Escalation]:
        """Every escalation, waiting ones first in the queue's order, then those being handled."""
        self.expire_stale()
        with self.engine.connect() as conn:
            return ordered(self._escalations(conn))

    def worklist(
        self, view: str, viewer_id: int | None, query: str | None = None
    ) -> list[dict[str, Any]]:
        """The console's list beside the chat: ``queue``, ``mine``, ``recent`` or ``search``
        (bot/agents/worklist.py); ``Invalid`` for another view or an empty search."""
        if view not in worklist.VIEWS:
            raise Invalid(f"the list is one of: {', '.join(worklist.VIEWS)} (not {view!r})")
        if view == "queue":
            return [worklist.item_of_escalation(e, viewer_id) for e in self.queue()]
        try:
            with self.engine.connect() as conn:
                if view == "mine":
                    return worklist.mine(conn, viewer_id or 0, self._now())
                return worklist.recent(conn, query or "" if view == "search" else None)
        except worklist.BadQuery as e:
            raise Invalid(str(e)) from None

    def expire_stale(self) -> list[Takeover]:
        """End takeovers whose lease ran out as ``abandoned``: back to the queue, and the
        assistant answers the customer again meanwhile (told so). Returns those ended."""
        now = self._now()
        ended = []
        with self.engine.begin() as conn:
            stale = conn.execute(
                _takeover_query().where(
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
                    ended.append(_takeover(row))
        for lapsed in ended:
            log.warning(
                "%s's takeover of %s lapsed (no heartbeat): back to the queue",
                lapsed.agent.username,
                lapsed.conversation_id,
            )
            try:
                self.relay.send(
                    lapsed.conversation_id,
                    lapsed.channel,
                    ABANDONED.format(agent=lapsed.agent.public_name),
                    after=[RESUME, LISTEN],
                    system=("abandoned", lapsed.agent.public_name),
                )
            except (RelayFailed, CannotReach) as e:
                log.error(
                    "could not give %s back to the assistant after a lapsed takeover: %s",
                    lapsed.conversation_id,
                    e,
                )
        return ended

    # -- one conversation --------------------------------------------------------------------
    def conversation(
        self, conversation_id: str, viewer_id: int | None = None, journey: bool = True
    ) -> dict[str, Any]:
        """Everything the console shows about a conversation, JSON-ready.

        The escalation (if any), who holds it, the takeovers so far, internal notes, the
        context packet, the customer's journey across channels and departments (unless
        ``journey`` is false: the console's polls leave it out), and the transcript from
        Rasa (``transcript_error`` says why when Rasa can't be read).
        """
        self.expire_stale()
        with self.engine.connect() as conn:
            all_handoffs = conn.execute(
                select(handoffs)
                .where(handoffs.c.conversation_id == conversation_id)
                .order_by(handoffs.c.created_at, handoffs.c.id)
            ).all()
            touchpoint_rows = conn.execute(
                select(touchpoints.c.channel, touchpoints.c.customer_id)
                .where(touchpoints.c.conversation_id == conversation_id)
                .order_by(touchpoints.c.id)
            ).all()
            if not all_handoffs and not touchpoint_rows:
                raise NotFound(f"no conversation {conversation_id!r} in the journey")
            escalation = next(iter(self._escalations(conn, conversation_id)), None)
            history = [
                _takeover(r)
                for r in conn.execute(
                    _takeover_query()
                    .where(takeovers.c.conversation_id == conversation_id)
                    .order_by(takeovers.c.started_at, takeovers.c.id)
                )
            ]
            notes = conn.execute(
                select(agent_notes, users.c.display_name)
                .join(users, users.c.id == agent_notes.c.author_id)
                .where(agent_notes.c.conversation_id == conversation_id)
                .order_by(agent_notes.c.created_at, agent_notes.c.id)
            ).all()
            customer_id = next(
                (r.customer_id for r in reversed(touchpoint_rows) if r.customer_id), None
            ) or next((h.customer_id for h in reversed(all_handoffs) if h.customer_id), None)
            steps = self._journey(conn, customer_id, conversation_id) if journey else None
        support = [h for h in all_handoffs if h.department == SUPPORT]
        packet_row = (support or all_handoffs or [None])[-1]
        channel = (
            escalation.channel
            if escalation
            else (packet_row.channel if packet_row is not None else touchpoint_rows[-1].channel)
        )
        active = next((t for t in history if t.status == "active"), None)
        view: dict[str, Any] = {
            "conversation_id": conversation_id,
            "channel": channel,
            "reachable": _reachable(channel),
            "escalation": escalation.as_json(viewer_id) if escalation else None,
            "takeover": active.as_json(viewer_id) if active else None,
            "takeovers": [t.as_json(viewer_id) for t in history],
            "notes": [
                {
                    "author": n.display_name,
                    "text": n.text,
                    "at": _iso(n.created_at),
                }
                for n in notes
            ],
            "packet": _packet(packet_row.context) if packet_row is not None else {},
            # How sure we are who the customer is, from the packet (None: no handoff, or an
            # older one whose customer the channel named).
            "identity": (
                trust_of(_packet(packet_row.context), packet_row.customer_id, packet_row.channel)
                if packet_row is not None
                else None
            ),
            "handoffs": [_handoff_json(h) for h in all_handoffs],
            "journey": steps,
            "departments": [
                {"name": d.name, "title": d.title}
                for d in self.departments.values()
                if d.name != SUPPORT
            ],
            "lease_seconds": int(self.lease.total_seconds()),
        }
        try:
            tracker = self.relay.tracker(conversation_id)
        except RelayFailed as e:
            view.update(paused=None, transcript=None, transcript_error=str(e))
        else:
            view.update(
                paused=bool(tracker.get("paused")),
                transcript=[line.as_json() for line in transcript(tracker.get("events") or [])],
                transcript_error=None,
            )
        return view

    # -- taking over -------------------------------------------------------------------------
    def take(self, conversation_id: str, agent: Holder) -> Takeover:
        """Take the conversation over: claim it, pause the assistant, tell the customer.

        Raises ``NotFound`` (nothing waiting), ``CannotReach`` (a channel without push),
        ``AlreadyTaken`` (naming who), or ``RelayFailed`` (nothing recorded then).
        Taking a conversation one already holds renews the lease.
        """
        self.expire_stale()
        with self.engine.connect() as conn:
            escalation = next(iter(self._escalations(conn, conversation_id)), None)
        if escalation is None:
            raise NotFound(f"no escalation is waiting in conversation {conversation_id!r}")
        check_reachable(escalation.channel)
        if escalation.taken_by is not None:
            if escalation.taken_by.id == agent.id:
                return self.heartbeat(conversation_id, agent)
            raise AlreadyTaken(escalation.taken_by)
        now = self._now()
        try:
            with self.engine.begin() as conn:
                takeover_id = conn.execute(
                    insert(takeovers).values(
                        conversation_id=conversation_id,
                        channel=escalation.channel,
                        handoff_id=escalation.handoff_ids[0],
                        agent_id=agent.id,
                        status="active",
                        started_at=now,
                        lease_expires_at=now + self.lease,
                    )
                ).inserted_primary_key[0]
        except IntegrityError:
            # Another agent's claim won the race for the one active takeover.
            holder = self._holder(conversation_id)
            if holder is None:
                raise
            if holder.id == agent.id:
                return self.heartbeat(conversation_id, agent)
            raise AlreadyTaken(holder) from None
        try:
            self.relay.send(
                conversation_id,
                escalation.channel,
                JOINED.format(agent=agent.public_name),
                before=[PAUSE],
                system=("joined", agent.public_name),
            )
        except RelayFailed as e:
            self._undo_pause(conversation_id)
            with self.engine.begin() as conn:
                conn.execute(delete(takeovers).where(takeovers.c.id == takeover_id))
            raise RelayFailed(f"could not take over; the assistant goes on answering: {e}") from e
        for handoff_id in escalation.handoff_ids:
            self._move(handoff_id, "acknowledge")
        return self._takeover_by_id(takeover_id)

    def heartbeat(self, conversation_id: str, agent: Holder) -> Takeover:
        """Renew the agent's lease on the conversation; ``NotHolding`` if it is not theirs."""
        now = self._now()
        with self.engine.begin() as conn:
            renewed = conn.execute(
                update(takeovers)
                .where(
                    takeovers.c.conversation_id == conversation_id,
                    takeovers.c.status == "active",
                    takeovers.c.agent_id == agent.id,
                    takeovers.c.lease_expires_at >= now,
                )
                .values(lease_expires_at=now + self.lease)
            ).rowcount
            row = conn.execute(
                _takeover_query().where(
                    takeovers.c.conversation_id == conversation_id,
                    takeovers.c.status == "active",
                )
            ).first()
        if renewed:
            return _takeover(row)
        self.expire_stale()
        if row is not None and row.agent_id != agent.id and row.lease_expires_at >= now:
            raise NotHolding(f"{row.display_name} has this conversation, not you")
        with self.engine.connect() as conn:
            latest = conn.execute(
                select(takeovers.c.status)
                .where(
                    takeovers.c.conversation_id == conversation_id,
                    takeovers.c.agent_id == agent.id,
                )
                .order_by(takeovers.c.id.desc())
                .limit(1)
            ).scalar_one_or_none()
        if latest in ("active", "abandoned"):
            raise NotHolding(
                "your takeover lapsed (the console stopped renewing it) and the conversation "
                "went back to the queue: take it over again"
            )
        raise NotHolding("you have not taken this conversation over")

    def say(self, conversation_id: str, agent: Holder, text: str) -> None:
        """Send the agent's message to the customer, on the customer's channel, with their name."""
        text = _text(text, "message")
        held = self.heartbeat(conversation_id, agent)
        self.relay.send(conversation_id, held.channel, text, agent=agent.public_name)

    def note(self, conversation_id: str, author: Holder, text: str) -> dict[str, Any]:
        """Add an internal note for colleagues (never sent to the customer)."""
        text = _text(text, "note")
        now = self._now()
        with self.engine.begin() as conn:
            known = conn.execute(
                select(handoffs.c.id)
                .where(handoffs.c.conversation_id == conversation_id)
                .union_all(
                    select(touchpoints.c.id).where(touchpoints.c.conversation_id == conversation_id)
                )
                .limit(1)
            ).first()
            if known is None:
                raise NotFound(f"no conversation {conversation_id!r} in the journey")
            conn.execute(
                insert(agent_notes).values(
                    conversation_id=conversation_id,
                    author_id=author.id,
                    text=text,
                    created_at=now,
                )
            )
        return {"author": author.display_name, "text": text, "at": _iso(now)}

    # -- ending a takeover -------------------------------------------------------------------
    def hand_back(self, conversation_id: str, agent: Holder, note: str = "") -> Takeover:
        """Give the conversation back to the assistant; ``note`` stays internal.

        The escalation is answered (its support handoffs resolve, saying so), but the
        touchpoint keeps its outcome: the customer goes on with the assistant.
        """
        note = _text(note, "note", required=False)
        held = self._end_and_resume(
            conversation_id,
            agent,
            "handed_back",
            note,
            HANDED_BACK.format(agent=agent.public_name),
        )
        resolution = f"Handed back to the assistant by {agent.display_name}" + (
            f": {note}" if note else ""
        )
        now = self._now()
        with self.engine.begin() as conn:
            # Not HubStore.transition: resolving the last handoff there closes the touchpoint
            # as resolved, and a chat handed back to the assistant is not closed.
            conn.execute(
                update(handoffs)
                .where(
                    handoffs.c.conversation_id == conversation_id,
                    handoffs.c.department == SUPPORT,
                    handoffs.c.status.in_(UNRESOLVED),
                )
                .values(status="resolved", resolved_at=now, resolution=resolution)
            )
        return self._takeover_by_id(held.id)

    def transfer(
        self, conversation_id: str, agent: Holder, department: str, note: str
    ) -> dict[str, Any]:
        """Hand the conversation to ``department`` with its context packet and the agent's
        note; tell the customer who, how and by when; the assistant answers again.

        Returns the new handoff (JSON-ready, with the promise made).
        """
        dept = self.departments.get(department)
        if dept is None or dept.name == SUPPORT:
            known = ", ".join(sorted(d for d in self.departments if d != SUPPORT))
            raise Invalid(f"transfer to one of: {known} (not {department!r})")
        note = _text(note, "note for the department")
        with self.engine.connect() as conn:
            support = conn.execute(
                select(handoffs)
                .where(
                    handoffs.c.conversation_id == conversation_id,
                    handoffs.c.department == SUPPORT,
                    handoffs.c.status.in_(UNRESOLVED),
                )
                .order_by(handoffs.c.created_at, handoffs.c.id)
            ).all()
        held = self._claim_end(conversation_id, agent, "transferred", note)
        try:
            origin = support[0] if support else None
            packet = _packet(origin.context) if origin is not None else {}
            packet.update(
                transferred_by=agent.display_name,
                from_department=SUPPORT,
                agent_note=note,
                agent_chat=self._chat_since(conversation_id, held.started_at),
            )
            handoff = self.handoffs.hand_off(
                HandoffRequest(
                    department=dept.name,
                    need=TRANSFER_NEED.format(department=dept.name),
                    conversation_id=conversation_id,
                    summary=f"Transferred by {agent.display_name} (support): {note}",
                    channel=held.channel,
                    customer_id=origin.customer_id if origin is not None else None,
                    priority=max(
                        (h.priority for h in support), key=_priority_rank, default="normal"
                    ),
                    context=packet,
                    rules=("agent_transfer",),
                    reason=f"{agent.display_name} transferred it from the agent console",
                )
            )
            self.relay.send(
                conversation_id,
                held.channel,
                TRANSFERRED.format(
                    agent=agent.public_name,
                    team=dept.title,
                    channel=dept.channel,
                    promise=handoff.promise,
                    reference=f"H-{handoff.id}",
                ),
                after=[RESUME, LISTEN],
                system=("transferred", agent.public_name),
            )
        except RelayFailed as e:
            self._reopen(held)
            raise RelayFailed(
                f"the handoff to {dept.name} is recorded, but the customer was not told and "
                f"the assistant is still paused: {e}. Try the transfer again."
            ) from e
        except Exception:
            self._reopen(held)
            raise
        # The new handoff is open, so resolving support's never closes the touchpoint.
        for row in support:
            self._move(row.id, "resolve", f"Transferred to {dept.name} by {agent.display_name}")
        touchpoint_id = _touchpoint_of(self.engine, handoff.id)
        if touchpoint_id is not None:
            self.journey.note_outcome(touchpoint_id, "handed_off", dept.name)
        return {
            "id": handoff.id,
            "department": dept.name,
            "title": dept.title,
            "channel": dept.channel,
            "promise": handoff.promise,
            "reference": f"H-{handoff.id}",
        }

    def resolve(self, conversation_id: str, agent: Holder, summary: str) -> Takeover:
        """Close the escalation with the agent's summary; the touchpoint resolves with the
        last of the conversation's handoffs, and the assistant answers again."""
        summary = _text(summary, "summary")
        with self.engine.connect() as conn:
            support = conn.execute(
                select(handoffs.c.id).where(
                    handoffs.c.conversation_id == conversation_id,
                    handoffs.c.department == SUPPORT,
                    handoffs.c.status.in_(UNRESOLVED),
                )
            ).all()
        held = self._end_and_resume(
            conversation_id, agent, "resolved", summary, RESOLVED.format(agent=agent.public_name)
        )
        for row in support:
            self._move(row.id, "resolve", f"Resolved by {agent.display_name}: {summary}")
        return self._takeover_by_id(held.id)

    # -- internals ---------------------------------------------------------------------------
    def _escalations(
        self, conn: Connection, conversation_id: str | None = None
    ) -> list[Escalation]:
        """Conversations with unresolved support handoffs, with their live takeover if any."""
        query = select(handoffs).where(
            handoffs.c.department == SUPPORT, handoffs.c.status.in_(UNRESOLVED)
        )
        if conversation_id is not None:
            query = query.where(handoffs.c.conversation_id == conversation_id)
        rows = conn.execute(query.order_by(handoffs.c.created_at, handoffs.c.id)).all()
        if not rows:
            return []
        conversations = sorted({r.conversation_id for r in rows})
        holders = {
            r.conversation_id: r
            for r in conn.execute(
                _takeover_query().where(
                    takeovers.c.status == "active",
                    takeovers.c.conversation_id.in_(conversations),
                )
            )
        }
        newest: dict[str, Any] = {}
        for tp in conn.execute(
            select(
                touchpoints.c.conversation_id,
                touchpoints.c.customer_id,
                touchpoints.c.signals,
                touchpoints.c.needs,
            )
            .where(touchpoints.c.conversation_id.in_(conversations))
            .order_by(touchpoints.c.id)
        ):
            newest[tp.conversation_id] = tp
        customer_ids = {tp.customer_id for tp in newest.values() if tp.customer_id}
        customers = {
            c.id: c
            for c in conn.execute(
                select(journey_customers).where(journey_customers.c.id.in_(sorted(customer_ids)))
            )
        }
        sla = timedelta(hours=self.departments[SUPPORT].sla_hours)
        now = self._now()
        grouped: dict[str, list[Row]] = {}
        for row in rows:
            grouped.setdefault(row.conversation_id, []).append(row)
        found = []
        for conversation, group in grouped.items():
            packets = [_packet(r.context) for r in group]
            tp = newest.get(conversation)
            journey_customer = customers.get(tp.customer_id) if tp is not None else None
            shown = [p["customer"] for p in packets if isinstance(p.get("customer"), dict)]
            first = min(r.created_at for r in group)
            lead = max(group, key=lambda r: (_priority_rank(r.priority), -r.id))
            holder = holders.get(conversation)
            newest_row = max(group, key=lambda r: (r.created_at, r.id))  # what is known now
            found.append(
                Escalation(
                    conversation_id=conversation,
                    channel=group[-1].channel,
                    handoff_ids=tuple(r.id for r in group),
                    need=lead.need,
                    summary=lead.summary,
                    priority=lead.priority,
                    customer_id=next((c.get("id") for c in shown if c.get("id")), None)
                    or next((r.customer_id for r in group if r.customer_id), None),
                    customer_name=next((c.get("name") for c in shown if c.get("name")), None)
                    or (journey_customer.name if journey_customer is not None else None),
                    tier=next((c.get("tier") for c in shown if c.get("tier")), None)
                    or (journey_customer.tier if journey_customer is not None else None),
                    frustration=max(
                        [_frustration(p.get("signals")) for p in packets]
                        + [_frustration(_packet(tp.signals)) if tp is not None else 0]
                    ),
                    created_at=first,
                    waited=max(now - first, timedelta(0)),
                    sla=sla,
                    taken_by=_holder_of(holder) if holder is not None else None,
                    lease_expires_at=holder.lease_expires_at if holder is not None else None,
                    identity=trust_of(
                        _packet(newest_row.context), newest_row.customer_id, newest_row.channel
                    ),
                    needs=tuple(_json_list(tp.needs)) if tp is not None else (),
                    customer_said=_packet(lead.context).get("customer_said"),
                    packet_transcript=tuple(
                        str(line) for line in _packet(lead.context).get("transcript") or []
                    ),
                    signals={
                        **(_packet(tp.signals) if tp is not None else {}),
                        **next(
                            (p["signals"] for p in packets if isinstance(p.get("signals"), dict)),
                            {},
                        ),
                    },
                )
            )
        return found

    def _journey(
        self, conn: Connection, customer_id: str | None, conversation_id: str
    ) -> dict[str, Any]:
        """The customer's touchpoints across channels and their open handoffs anywhere."""
        if customer_id is None:
            return {"customer": None, "identities": [], "touchpoints": [], "open_handoffs": []}
        customer = conn.execute(
            select(journey_customers).where(journey_customers.c.id == customer_id)
        ).first()
        known_as = conn.execute(
            select(identities.c.kind, identities.c.value)
            .where(identities.c.customer_id == customer_id)
            .order_by(identities.c.id)
        ).all()
        steps = self.journey.journey(customer_id)
        conversations = sorted({t.conversation_id for t in steps} | {conversation_id})
        waiting = conn.execute(
            select(handoffs)
            .where(
                or_(
                    handoffs.c.conversation_id.in_(conversations),
                    handoffs.c.customer_id == customer_id,
                ),
                handoffs.c.status.in_(UNRESOLVED),
            )
            .order_by(handoffs.c.created_at, handoffs.c.id)
        ).all()
        return {
            "customer": {
                "id": customer_id,
                "name": customer.name if customer is not None else None,
                "tier": customer.tier if customer is not None else None,
            },
            "identities": [{"kind": i.kind, "value": i.value} for i in known_as],
            "touchpoints": [
                {
                    "conversation_id": t.conversation_id,
                    "this_conversation": t.conversation_id == conversation_id,
                    "channel": t.channel,
                    "stage": t.stage,
                    "needs": list(t.needs),
                    "departments": list(t.departments),
                    "outcome": t.outcome,
                    "rating": t.rating,
                    "started_at": _iso(t.started_at),
                    "last_activity_at": _iso(t.last_activity_at),
                    "ended_at": _iso(t.ended_at),
                }
                for t in steps
            ],
            "open_handoffs": [
                {
                    "id": h.id,
                    "department": h.department,
                    "need": h.need,
                    "status": h.status,
                    "priority": h.priority,
                    "summary": h.summary,
                    "conversation_id": h.conversation_id,
                    "created_at": _iso(h.created_at),
                }
                for h in waiting
            ],
        }

    def _end_and_resume(
        self, conversation_id: str, agent: Holder, status: str, note: str, message: str
    ) -> Takeover:
        """End the agent's takeover, tell the customer (an event named ``status``) and resume
        the assistant; if the customer can't be reached, the takeover is reopened and the
        error raised."""
        held = self._claim_end(conversation_id, agent, status, note)
        try:
            self.relay.send(
                conversation_id,
                held.channel,
                message,
                after=[RESUME, LISTEN],
                system=(status, agent.public_name),
            )
        except RelayFailed:
            self._reopen(held)
            raise
        return held

    def _claim_end(
        self, conversation_id: str, agent: Holder, status: str, note: str | None
    ) -> Takeover:
        """Move the agent's live takeover to ``status`` (so a double click acts once)."""
        held = self.heartbeat(conversation_id, agent)
        with self.engine.begin() as conn:
            moved = conn.execute(
                update(takeovers)
                .where(takeovers.c.id == held.id, takeovers.c.status == "active")
                .values(status=status, ended_at=self._now(), note=note or None)
            ).rowcount
        if not moved:
            raise NotHolding("this takeover has just ended (another click or tab)")
        return held

    def _reopen(self, held: Takeover) -> None:
        """Undo ``_claim_end`` after a failure: the agent still holds the conversation."""
        with self.engine.begin() as conn:
            conn.execute(
                update(takeovers)
                .where(takeovers.c.id == held.id)
                .values(
                    status="active",
                    ended_at=None,
                    note=None,
                    lease_expires_at=self._now() + self.lease,
                )
            )

    def _undo_pause(self, conversation_id: str) -> None:
        """After a failed take: resume the assistant if the pause got through."""
        try:
            if self.relay.tracker(conversation_id).get("paused"):
                self.relay.record(conversation_id, [RESUME, LISTEN])
        except RelayFailed as e:
            log.error("could not check or undo the pause of %s: %s", conversation_id, e)

    def _move(self, handoff_id: int, action: str, resolution: str | None = None) -> None:
        """Acknowledge or resolve a handoff through the hub's transitions; one already
        there (a department acted meanwhile) is left as it is."""
        try:
            self.transitions.transition(handoff_id, action, resolution)
        # HubStore's TransitionNotAllowed (a ValueError) and HandoffNotFound (a LookupError).
        except (ValueError, LookupError) as e:
            log.info("handoff %s not moved to %s: %s", handoff_id, action, e)

    def _chat_since(self, conversation_id: str, since: datetime) -> list[str]:
        """What was said since ``since``, for a transfer's packet (empty if Rasa can't say)."""
        try:
            events = self.relay.tracker(conversation_id).get("events") or []
        except RelayFailed:
            return []
        return as_text(line for line in transcript(events) if line.at and line.at >= since)

    def _holder(self, conversation_id: str) -> Holder | None:
        with self.engine.connect() as conn:
            row = conn.execute(
                _takeover_query().where(
                    takeovers.c.conversation_id == conversation_id,
                    takeovers.c.status == "active",
                )
            ).first()
        return _holder_of(row) if row is not None else None

    def _takeover_by_id(self, takeover_id: int) -> Takeover:
        with self.engine.connect() as conn:
            return _takeover(
                conn.execute(_takeover_query().where(takeovers.c.id == takeover_id)).one()
            )


def _takeover_query() -> Select:
    return select(takeovers, users.c.username, users.c.display_name).join(
        users, users.c.id == takeovers.c.agent_id
    )


def _takeover(row: Row) -> Takeover:
    return Takeover(
        id=row.id,
        conversation_id=row.conversation_id,
        channel=row.channel,
        handoff_id=row.handoff_id,
        agent=_holder_of(row),
        status=row.status,
        started_at=row.started_at,
        lease_expires_at=row.lease_expires_at,
        ended_at=row.ended_at,
        note=row.note,
    )


def _holder_of(row: Row) -> Holder:
    return Holder(row.agent_id, row.username, row.display_name)


def _handoff_json(row: Row) -> dict[str, Any]:
    return {
        "id": row.id,
        "department": row.department,
        "need": row.need,
        "status": row.status,
        "priority": row.priority,
        "summary": row.summary,
        "created_at": _iso(row.created_at),
        "resolved_at": _iso(row.resolved_at),
        "resolution": row.resolution,
    }


def _touchpoint_of(engine: Engine, handoff_id: int) -> int | None:
    with engine.connect() as conn:
        touchpoint_id: int | None = conn.execute(
            select(handoffs.c.touchpoint_id).where(handoffs.c.id == handoff_id)
        ).scalar_one_or_none()
        return touchpoint_id


def _text(value: Any, what: str, required: bool = True) -> str:
    text = value.strip() if isinstance(value, str) else ""
    if required and not text:
        raise Invalid(f"the {what} is empty")
    if len(text) > MAX_TEXT:
        raise Invalid(f"the {what} is longer than {MAX_TEXT} characters")
    return text


def _packet(raw: str | None) -> dict[str, Any]:
    try:
        value = json.loads(raw) if raw else {}
    except ValueError:
        return {"raw": raw}
    return value if isinstance(value, dict) else {"raw": value}


def _json_list(raw: str | None) -> list[str]:
    try:
        value = json.loads(raw) if raw else []
    except ValueError:
        return []
    return [str(v) for v in value] if isinstance(value, list) else []


def _frustration(signals: Any) -> int:
    if not isinstance(signals, dict):
        return 0
    try:
        return int(signals.get("frustration", 0))
    except (TypeError, ValueError):
        return 0


def _priority_rank(priority: str) -> int:
    return {"normal": 0, "high": 1, "urgent": 2}.get(priority, 0)


def _reachable(channel: str) -> bool:
    try:
        check_reachable(channel)
    except CannotReach:
        return False
    return True


def _iso(value: datetime | None) -> str | None:
    return value.isoformat(timespec="seconds") if value is not None else None
