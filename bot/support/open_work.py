"""Open work is known: what the customer hears when their need is already with a department.

A careful agent with the records in front of them says: who has it and since when, where it
is (sent, acknowledged by whom), by when they promised an answer and whether that is past,
that the new message was added to it, and what the customer can do now (add something for
the team, or a person at once when it is overdue). What they add is passed on to the team
as an update (``pass_on``); the matching and the delivery are bot/handoff/handoffs.py's.
"""

from __future__ import annotations

from datetime import datetime

from bot.handoff import Handoff, HandoffDesk
from bot.support.parsing import day_text
from bot.support.replies import Reply, button

# The button under open work, and the intent typed equivalents reach ("tell them ...").
ADD_BUTTON, ADD_INTENT = "Add something for them", "add_information"
DONE_BUTTON = "That's all, thanks"


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
    buttons = [button(ADD_BUTTON, ADD_INTENT)]
    if handoff.overdue:
        buttons.append(button("Talk to a person", "request_human"))
    # A way to say "that's all": with it, a plain "ok thanks" is read as thanks, not as a
    # yes to the only other option (bot/choices.py picks the only real option for a yes).
    buttons.append(button(DONE_BUTTON, "thank"))
    what_now = (
        "As it is overdue, I can bring a person in right now, or pass on anything you'd "
        "like to add."
        if handoff.overdue
        # What they add is passed on only when they ask to add it ("Add something for
        # them", "tell them ..."), never whatever they happen to write next.
        else "There's nothing more you need to do for now, but if there's a detail they "
        "should know, I can add it for them."
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


def reference(handoff: Handoff) -> str:
    """'H-12'."""
    return f"H-{handoff.id}"


def ask_for_addition(reply: Reply, handoff: Handoff | None) -> Reply:
    """Ask what to pass on to the team that has the customer's open handoff."""
    if handoff is None:
        return nothing_to_add_to(reply)
    return reply.say(
        "utter_ask_handoff_addition", team=handoff.department.title, reference=reference(handoff)
    )


def nothing_to_add_to(reply: Reply) -> Reply:
    """No open request of theirs in this chat: say so, and how we can still help."""
    return reply.say("utter_no_open_work_to_add_to")


def pass_on(
    reply: Reply,
    handoffs: HandoffDesk,
    conversation_id: str,
    customer_id: str | None,
    text: str,
    channel: str,
    now: datetime,
) -> Reply:
    """Pass ``text`` on to the team that has this customer's open handoff, and say so."""
    added = handoffs.add_information(conversation_id, customer_id, text, channel)
    if added is None:
        return nothing_to_add_to(reply)
    handoff = added.handoff
    buttons = [button("Talk to a person", "request_human")] if handoff.overdue else []
    return reply.say(
        "utter_addition_passed_on",
        buttons=buttons,
        team=handoff.department.title,
        reference=reference(handoff),
        promise=promise_words(handoff, now),
    )
