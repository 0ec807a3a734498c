"""A department's news, told first: live (triggered by the hub), or at the next contact."""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions._adapter import channel_of, desk, identity_of, latest_entity, send
from bot.proactive import triggered_by_api
from bot.support import proactive

# At most this many waiting news items are told at one contact (the rest at the next).
NEWS_PER_CONTACT = 2


class ActionTellProactiveNews(Action):
    """Tell the news the hub triggered (intent ``proactive_news``, entity ``proactive_event``)."""

    def name(self) -> str:
        return "action_tell_proactive_news"

    def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[dict[str, Any]]:
        if not triggered_by_api(latest_user_event(tracker)):
            # Typed as "/proactive_news{...}" (Rasa parses that literally): anyone could name
            # another customer's event, hear it and have it count as told. Only the hub may.
            return []
        raw = latest_entity(tracker, "proactive_event")
        event = desk().proactive.get(int(raw)) if raw and str(raw).isdigit() else None
        if event is None:
            # Only the hub triggers this intent, with an event it has: nothing to say otherwise.
            return []
        return send(proactive.tell(desk(), event, tracker.sender_id), dispatcher)


def latest_user_event(tracker: Tracker) -> dict[str, Any]:
    """The conversation's newest user event (the message or the trigger being answered)."""
    return next((e for e in reversed(tracker.events) if e.get("event") == "user"), {})


def tell_waiting_news(
    tracker: Tracker, dispatcher: CollectingDispatcher, raised_a_need: bool = False
) -> list[dict[str, Any]]:
    """At a contact: "Before anything else", the news that waited for this customer.

    Each item is claimed first, so a hub delivering it live at the same moment can't tell
    it twice. When the customer came with a need (``raised_a_need``), the news comes first
    but leaves the conversation's order alone: the need may be about another one.
    """
    d = desk()
    events: list[dict[str, Any]] = []
    told = 0
    for event in d.proactive.news_for(identity_of(tracker).customer_id):
        if told == NEWS_PER_CONTACT:
            break
        if d.proactive.claim_for_contact(event.id, tracker.sender_id, channel_of(tracker)):
            reply = proactive.tell(
                d, event, tracker.sender_id, at_next_contact=True, remember_order=not raised_a_need
            )
            events += send(reply, dispatcher)
            told += 1
    return events
