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

import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import select, update
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError

from bot.agents import worklist
from bot.agents.announcements import ABANDONED, HANDED_BACK, JOINED, RESOLVED, TRANSFERRED
from bot.agents.conversation_view import conversation_view
from bot.agents.errors import AlreadyTaken, Invalid, NotFound, NotHolding
from bot.agents.escalations import SUPPORT, UNRESOLVED, escalations, packet_of, priority_rank
from bot.agents.notes import add_note
from bot.agents.queue import Escalation, Holder, ordered
from bot.agents.rasa_api import LISTEN, PAUSE, RESUME
from bot.agents.relay import CannotReach, Relay, RelayFailed, check_reachable
from bot.agents.takeovers import Takeover, Takeovers, takeover_of
from bot.agents.transcript import as_text, transcript
from bot.db.schema import handoffs
from bot.departments import Department
from bot.handoff import HandoffDesk, HandoffRequest
from bot.journey.store import JourneyStore

if TYPE_CHECKING:  # a runtime import would load the hub's web app (bot/hub/__init__.py)
    from bot.hub.store import HubStore

log = logging.getLogger(__name__)

DEFAULT_LEASE = timedelta(seconds=90)
MAX_TEXT = 5000  # characters in a message, note or summary (the widget's own limit)
# The need of a handoff an agent makes: per department, because HandoffDesk gives back the
# conversation's open handoff of the same need, and a transfer elsewhere must be its own.
TRANSFER_NEED = "transfer_to_{department}"


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
        self.engine = engine  # migrated (bot.db.migrate)
        self.relay = relay
        self.departments = departments
        # The hub's acknowledge/resolve moves (bot/hub/store.py): resolving a conversation's
        # last handoff resolves its touchpoint, the same rule for departments and agents.
        self.transitions = transitions
        self.lease = lease
        self._now = now
        self.takeovers = Takeovers(engine, now, lease)
        self.handoffs = HandoffDesk(engine, departments, now)
        self.journey = JourneyStore(engine, now)

    # -- the queue ---------------------------------------------------------------------------
    def queue(self) -> list[Escalation]:
        """Every escalation, waiting ones first in the queue's order, then those being handled."""
        self.expire_stale()
        with self.engine.connect() as conn:
            return ordered(escalations(conn, self.departments, self._now()))

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
        ended = self.takeovers.lapse_expired()
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
            view = conversation_view(
                conn,
                conversation_id,
                viewer_id,
                self.departments,
                self._now(),
                self.journey if journey else None,
            )
        view["lease_seconds"] = int(self.lease.total_seconds())
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
            escalation = next(
                iter(escalations(conn, self.departments, self._now(), conversation_id)), None
            )
        if escalation is None:
            raise NotFound(f"no escalation is waiting in conversation {conversation_id!r}")
        check_reachable(escalation.channel)
        if escalation.taken_by is not None:
            if escalation.taken_by.id == agent.id:
                return self.heartbeat(conversation_id, agent)
            raise AlreadyTaken(escalation.taken_by)
        try:
            takeover_id = self.takeovers.claim(
                conversation_id, escalation.channel, escalation.handoff_ids[0], agent.id
            )
        except IntegrityError:
            # Another agent's claim won the race for the one active takeover.
            holder = self.takeovers.holder(conversation_id)
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
            self.takeovers.drop(takeover_id)
            raise RelayFailed(f"could not take over; the assistant goes on answering: {e}") from e
        for handoff_id in escalation.handoff_ids:
            self._move(handoff_id, "acknowledge")
        return self.takeovers.get(takeover_id)

    def heartbeat(self, conversation_id: str, agent: Holder) -> Takeover:
        """Renew the agent's lease on the conversation; ``NotHolding`` if it is not theirs."""
        now = self._now()
        renewed, row = self.takeovers.renew(conversation_id, agent.id, now)
        if renewed:
            return takeover_of(row)
        self.expire_stale()
        if row is not None and row.agent_id != agent.id and row.lease_expires_at >= now:
            raise NotHolding(f"{row.display_name} has this conversation, not you")
        latest = self.takeovers.last_status(conversation_id, agent.id)
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
            return add_note(conn, conversation_id, author, text, now)

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
        return self.takeovers.get(held.id)

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
            packet = packet_of(origin.context) if origin is not None else {}
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
                        (h.priority for h in support), key=priority_rank, default="normal"
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
            self.takeovers.reopen(held.id)
            raise RelayFailed(
                f"the handoff to {dept.name} is recorded, but the customer was not told and "
                f"the assistant is still paused: {e}. Try the transfer again."
            ) from e
        except Exception:
            self.takeovers.reopen(held.id)
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
        return self.takeovers.get(held.id)

    # -- internals ---------------------------------------------------------------------------
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
            self.takeovers.reopen(held.id)
            raise
        return held

    def _claim_end(
        self, conversation_id: str, agent: Holder, status: str, note: str | None
    ) -> Takeover:
        """Move the agent's live takeover to ``status`` (so a double click acts once)."""
        held = self.heartbeat(conversation_id, agent)
        if not self.takeovers.end(held.id, status, note):
            raise NotHolding("this takeover has just ended (another click or tab)")
        return held

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
