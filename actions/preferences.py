"""Preference actions: keep what the customer told us about how to contact them, and show it.

Preferences are kept on the customer's journey id (``record_turn``): the back office id once
they are identified, their anonymous journey id before that.
"""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions._adapter import channel_of, desk, identity_of, latest_entity, record_turn, send
from actions.needs import serve_waiting_needs
from bot.journey.signals import Signals
from bot.support import preferences
from bot.support.replies import Reply


class ActionSetPreference(Action):
    """Keep a preference the customer stated ("call me Sam", "no messages after 9pm")."""

    def name(self) -> str:
        return "action_set_preference"

    def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[dict[str, Any]]:
        touchpoint = record_turn(tracker)
        journey_id = touchpoint.customer_id
        d = desk()
        customer = d.customer(identity_of(tracker).customer_id)
        reply = preferences.change(
            d.preferences,
            journey_id,
            tracker.latest_message.get("text") or "",
            full_name=customer.name if customer else None,
            button_value=latest_entity(tracker, "preference"),
            channel=channel_of(tracker),
        )
        events = send(reply, dispatcher)
        others = tracker.latest_message.get("other_needs") or []
        if others:
            # "call me Ozzy. also where is ORD-10004?": the preference kept, then the order.
            # The preference's own buttons are not a choice waiting, so the needs go on.
            tracker.slots["waiting_needs"] = list(others)
            signals = Signals.from_dict(touchpoint.signals)
            events += serve_waiting_needs(dispatcher, tracker, signals, Reply())
        return events


class ActionShowPreferences(Action):
    """Show the customer every preference we keep, and how to change them."""

    def name(self) -> str:
        return "action_show_preferences"

    def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[dict[str, Any]]:
        journey_id = record_turn(tracker).customer_id
        return send(preferences.show(desk().preferences, journey_id), dispatcher)
