"""Open work is known: what the customer hears when their need is already with a department.

A careful agent with the records in front of them says: who has it and since when, where it
is (sent, acknowledged by whom), by when they promised an answer and whether that is past,
that the new message was added to it, and what the customer can do now (nothing more, or a
person at once when it is overdue). The matching itself is bot/handoff/desk.py's.
"""

from __future__ import annotations

from datetime import datetime

from bot.handoff import Handoff
from bot.support.parsing import day_text
from bot.support.replies import Reply, button


def capitalised(text: str) -> str:
    """'our delivery team' -> 'Our delivery team'."""
    return text[:1].upper() + text[1:]


def when(moment: datetime | None, now: datetime) -> str:
    """'today at 10:12', 'yesterday at 16:40', 'Friday 14 March at 09:00'."""
    if moment is None:
        return "earlier"
    return f"{day_text(moment.date(), now.date())} at {moment:%H:%M}"


def state_words(handoff: Handoff, now: datetime) -> str:
    """Where the handoff is, in a sentence: acknowledged by whom, or sent and waiting."""
    if handoff.status == "acknowledged":
        who = f" by {handoff.acknowledged_by}" if handoff.acknowledged_by else ""
        return f"They acknowledged it{who} {when(handoff.acknowledged_at, now)}."
    return "It has been sent to them and is waiting to be picked up."


def promise_words(handoff: Handoff, now: datetime) -> str:
    """By when they promised an answer, and whether that moment has passed."""
    if handoff.promised_by is None:
        return f"They promised an answer {handoff.promise}."
    due = when(handoff.promised_by, now)
    if handoff.overdue:
        return f"They promised an answer by {due}, so it is overdue, and I'm sorry about that."
    return f"They promised an answer by {due}."


def already_open(reply: Reply, handoff: Handoff, now: datetime) -> Reply:
    """Tell the customer their need is already with a department, and what they can do."""
    reply.handoff = handoff
    buttons = [button("Talk to a person", "request_human")] if handoff.overdue else []
    what_now = (
        "As it is overdue, I can bring a person in right now."
        if handoff.overdue
        # Only the message that joined the handoff is forwarded (once per chat), so we don't
        # promise that whatever they write next reaches the team too.
        else "There's nothing more you need to do for now."
    )
    return reply.say(
        "utter_handoff_already_open",
        buttons=buttons,
        team=capitalised(handoff.department.title),
        reference=f"H-{handoff.id}",
        since=when(handoff.created_at, now),
        state=state_words(handoff, now),
        promise=promise_words(handoff, now),
        what_now=what_now,
    )
