"""Conversation actions: greeting by name, asking for clarification, logging small talk."""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import ActionExecuted, ConversationPaused, SessionStarted, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions._adapter import desk, identify_from_channel, latest_entity, record_turn


class ActionGreet(Action):
    """Greet the customer, by name once we know it."""

    def name(self) -> str:
        return "action_greet"

    def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[dict[str, Any]]:
        # A signed-in website visitor or a known Slack user is greeted by name at once.
        events = identify_from_channel(tracker)
        name = tracker.get_slot("customer_name")
        if name:
            dispatcher.utter_message(response="utter_greet_by_name", name=name)
        else:
            dispatcher.utter_message(response="utter_greet")
        record_turn(tracker)
        return events


class ActionClarify(Action):
    """When unsure, ask what was meant and suggest the likeliest needs as buttons."""

    def name(self) -> str:
        return "action_clarify"

    def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[dict[str, Any]]:
        ranking = tracker.latest_message.get("intent_ranking") or []
        dispatcher.utter_message(response="utter_clarify", buttons=desk().suggestions(ranking))
        record_turn(tracker)
        return []


class ActionLogTurn(Action):
    """Log a turn answered by a response alone (thanks, goodbye, "are you a bot?", out of
    scope...) on the touchpoint, so every message counts and a goodbye ends the chat."""

    def name(self) -> str:
        return "action_log_turn"

    def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[dict[str, Any]]:
        record_turn(tracker)
        return []


class ActionRateConversation(Action):
    """Keep the customer's own rating (1-5) on the touchpoint; a low one is heard."""

    def name(self) -> str:
        return "action_rate_conversation"

    def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[dict[str, Any]]:
        raw = latest_entity(tracker, "rating") or ""
        if not raw.isdigit() or not 1 <= int(raw) <= 5:
            dispatcher.utter_message(response="utter_option_unknown")
            return []
        record_turn(tracker)  # make sure the touchpoint exists and counts this message
        desk().journey.rate(tracker.sender_id, int(raw))
        low = int(raw) <= 2
        dispatcher.utter_message(
            response="utter_sorry_low_rating" if low else "utter_thanks_for_rating"
        )
        return []


class ActionSessionStart(Action):
    """Start a new Rasa session, keeping who the customer is, and a person's takeover.

    Rasa starts a new session after an hour of silence (``session_config``), and a new
    session resets a paused conversation: without the pause carried over, an agent's long
    takeover would wake the assistant in the middle of the agent's chat.
    """

    def name(self) -> str:
        return "action_session_start"

    def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[dict[str, Any]]:
        events: list[dict[str, Any]] = [SessionStarted()]
        if tracker.is_paused():
            events.append(ConversationPaused())
        # domain.yml carries slots over (carry_over_slots_to_new_session), as stock Rasa does.
        events += [
            SlotSet(name, value)
            for name, value in tracker.current_slot_values().items()
            if value is not None and name != "requested_slot"
        ]
        events.append(ActionExecuted("action_listen"))
        return events
