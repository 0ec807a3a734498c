"""Conversation actions: greeting by name, asking for clarification, logging small talk,
goodbye and the feedback asked after it, and the start of a session."""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import ActionExecuted, ConversationPaused, SessionStarted, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions._adapter import (
    chat_verified,
    desk,
    feedback,
    identify_from_channel,
    identity_of,
    latest_entity,
    record_turn,
    send,
    served_a_need,
)
from actions.identity import email_in_message, identify_by_detail
from actions.proactive import tell_waiting_news
from bot.support.feedback import SLOT as FEEDBACK_SLOT

# Slots a new session starts without: a half-filled form, and the feedback already asked
# (each session, which is one touchpoint, asks for its own rating once).
SESSION_ONLY_SLOTS = ("requested_slot", FEEDBACK_SLOT)
# Who the customer is, when a check in the chat said so: bound to that session only.
VERIFIED_SLOTS = ("customer_id", "customer_name", "verified_by")


class ActionGreet(Action):
    """Greet the customer, by name once we know it."""

    def name(self) -> str:
        return "action_greet"

    def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[dict[str, Any]]:
        # A signed-in website visitor or a known Slack user is greeted by name at once.
        events = identify_from_channel(tracker)
        # Logged first: its journey id holds the preferences, an anonymous visitor's too.
        touchpoint = record_turn(tracker)
        d = desk()
        customer = d.customer(identity_of(tracker).customer_id)
        # The name they asked for ("call me Sam"), else first name (full name when formal).
        preferred = d.preferences.get(touchpoint.customer_id).address(
            customer.name if customer else None
        )
        name = preferred or tracker.get_slot("customer_name")
        if name:
            dispatcher.utter_message(response="utter_greet_by_name", name=name)
        else:
            dispatcher.utter_message(response="utter_greet")
        if name != tracker.get_slot("customer_name"):
            events.append(SlotSet("customer_name", name))
        if not identity_of(tracker).verified and email_in_message(tracker):
            # "hi, this is omar@example.com": a one-time code to verify them (bot/identity).
            return events + (identify_by_detail(tracker, dispatcher) or [])
        # News a department had for them while they were away: told now, before anything else.
        return events + tell_waiting_news(tracker, dispatcher)


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


class ActionWhatHappensNext(Action):
    """ "OK so what happens now, when will I hear back?": the promise made in this chat,
    said again (who, how, by when, the reference), or that nothing is waiting on anyone.
    Logs the turn itself: one remote call for the message."""

    def name(self) -> str:
        return "action_what_happens_next"

    def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[dict[str, Any]]:
        record_turn(tracker)
        promised = latest_promise(tracker.events)
        if promised is None:
            dispatcher.utter_message(response="utter_nothing_handed_on")
        else:
            dispatcher.utter_message(response="utter_as_promised", promise=promised)
        return []


def latest_promise(events: list[dict]) -> str | None:
    """The latest "What happens next: ..." the assistant said in this session, without its
    lead-in, or None."""
    for event in reversed(events):
        if event.get("event") == "session_started":
            return None
        text = (event.get("text") or "") if event.get("event") == "bot" else ""
        if text.startswith(PROMISE_LEAD):
            return text[len(PROMISE_LEAD) :].strip()
    return None


# How utter_handed_off (domain.yml) starts: who will handle a need, how and by when.
PROMISE_LEAD = "What happens next:"


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


class ActionSayGoodbye(Action):
    """Say goodbye and end the chat; ask for a rating once per session."""

    def name(self) -> str:
        return "action_say_goodbye"

    def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[dict[str, Any]]:
        record_turn(tracker)  # a goodbye ends the touchpoint
        return send(feedback().goodbye(tracker.get_slot(FEEDBACK_SLOT)), dispatcher)


class ActionRateConversation(Action):
    """Keep the customer's own rating (1-5) on the touchpoint; a low one is heard; after a
    solved problem, ask once how easy it was."""

    def name(self) -> str:
        return "action_rate_conversation"

    def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[dict[str, Any]]:
        touchpoint = record_turn(tracker)  # it exists and counts this message
        reply = feedback().rated(
            tracker.sender_id,
            latest_entity(tracker, "rating"),
            tracker.get_slot(FEEDBACK_SLOT),
            touchpoint,
            served_a_need(tracker),
        )
        return send(reply, dispatcher)


class ActionRateEffort(Action):
    """Keep the answer to "how easy was it to get this sorted?" (1-5) on the touchpoint."""

    def name(self) -> str:
        return "action_rate_effort"

    def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[dict[str, Any]]:
        record_turn(tracker)
        reply = feedback().effort_given(
            tracker.sender_id, latest_entity(tracker, "effort"), tracker.get_slot(FEEDBACK_SLOT)
        )
        return send(reply, dispatcher)


class ActionSessionStart(Action):
    """Start a new Rasa session, keeping who the customer is, and a person's takeover.

    Rasa starts a new session after an hour of silence (``session_config``), and a new
    session resets a paused conversation: without the pause carried over, an agent's long
    takeover would wake the assistant in the middle of the agent's chat. The feedback asked
    is not carried over: a new session is a new touchpoint, rated on its own.
    """

    def name(self) -> str:
        return "action_session_start"

    def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[dict[str, Any]]:
        events: list[dict[str, Any]] = [SessionStarted()]
        if tracker.is_paused():
            events.append(ConversationPaused())
        # domain.yml carries slots over (carry_over_slots_to_new_session), as stock Rasa does,
        # but a check passed in the chat is asked for again in a new session, as a bank's
        # chat would (the website's sign-in and Slack vouch again at the next message).
        dropped = SESSION_ONLY_SLOTS + (VERIFIED_SLOTS if chat_verified(tracker) else ())
        events += [
            SlotSet(name, value)
            for name, value in tracker.current_slot_values().items()
            if value is not None and name not in dropped
        ]
        events.append(ActionExecuted("action_listen"))
        return events
