"""A department's news, told first: live (triggered by the hub), or at the next contact."""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions._adapter import channel_of, desk, latest_entity, send
from bot.support import proactive

# At most this many waiting news items are told at one greeting (the rest at the next).
NEWS_PER_GREETING = 2


class ActionTellProactiveNews(Action):
    """Tell the news the hub triggered (intent ``proactive_news``, entity ``proactive_event``)."""

    def name(self) -> str:
        return "action_tell_proactive_news"

    def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[dict[str, Any]]:
        raw = latest_entity(tracker, "proactive_event")
        event = desk().proactive.get(int(raw)) if raw and str(raw).isdigit() else None
        if event is None:
            # Only the hub triggers this intent, with an event it has: nothing to say otherwise.
            return []
        return send(proactive.tell(desk(), event, tracker.sender_id), dispatcher)


def tell_waiting_news(tracker: Tracker, dispatcher: CollectingDispatcher) -> list[dict[str, Any]]:
    """At a contact: "Before anything else", the news that waited for this customer.

    Each item is claimed first, so a hub delivering it live at the same moment can't tell
    it twice.
    """
    d = desk()
    events: list[dict[str, Any]] = []
    told = 0
    for event in d.proactive.news_for(tracker.get_slot("customer_id")):
        if told == NEWS_PER_GREETING:
            break
        if d.proactive.claim_for_contact(event.id, tracker.sender_id, channel_of(tracker)):
            reply = proactive.tell(d, event, tracker.sender_id, at_next_contact=True)
            events += send(reply, dispatcher)
            told += 1
    return events
