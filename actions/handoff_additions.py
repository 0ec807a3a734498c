"""Actions that let a customer add information to their open handoff (issue 21).

"Add something for them" (or "tell them the box was wet") starts add_information_form: the
information said with it is passed on at once, else the form asks what to pass on and takes
the next message whole. A "never mind" at the question sends nothing (data/rules/
add_information.yml); a request for a person goes to one instead.
"""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action, FormValidationAction, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions._adapter import channel_of, desk, identity_of, record_turn, send
from bot.nlp.additions import carried_information
from bot.support import open_work
from bot.support.replies import Reply

SLOT = "handoff_addition"
# Said at the question, these are not something to pass on: a no, or a person instead.
NOT_AN_ADDITION = ("deny", "request_human")


def customer_id_of(tracker: Tracker) -> str | None:
    """The verified customer of this conversation, if any (never a claimed one)."""
    return identity_of(tracker).customer_id


def open_work_of(tracker: Tracker):
    """The open handoff this conversation may add to (bot/handoff/handoffs.py decides)."""
    return desk().handoffs.open_work_of(tracker.sender_id, customer_id_of(tracker))


class ValidateAddInformationForm(FormValidationAction):
    """Take what to pass on from the message that asked to add it, or from the answer."""

    def name(self) -> str:
        return "validate_add_information_form"

    async def required_slots(self, domain_slots, dispatcher, tracker, domain) -> list[str]:
        # Nothing open to add to: no question; action_pass_on_addition says so.
        return list(domain_slots) if open_work_of(tracker) is not None else []

    def extract_handoff_addition(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        text = (tracker.latest_message.get("text") or "").strip()
        intent = (tracker.latest_message.get("intent") or {}).get("name")
        if tracker.get_slot("requested_slot") != SLOT:
            # "tell them the parcel was left at number 12": passed on without asking.
            carried = carried_information(text)
            return {SLOT: carried} if carried else {}
        if not text or text.startswith("/") or intent in NOT_AN_ADDITION:
            return {}
        return {SLOT: carried_information(text) or text}


class ActionAskHandoffAddition(Action):
    """Ask what to pass on, naming the team and the reference."""

    def name(self) -> str:
        return "action_ask_handoff_addition"

    def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[dict[str, Any]]:
        record_turn(tracker)
        return send(open_work.ask_for_addition(Reply(), open_work_of(tracker)), dispatcher)


class ActionPassOnAddition(Action):
    """Send what the customer added to the team as an update, and tell them it went."""

    def name(self) -> str:
        return "action_pass_on_addition"

    def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[dict[str, Any]]:
        record_turn(tracker)
        text = tracker.get_slot(SLOT)
        d = desk()
        if not text:
            reply = open_work.nothing_to_add_to(Reply())
        else:
            reply = open_work.pass_on(
                Reply(),
                d.handoffs,
                tracker.sender_id,
                customer_id_of(tracker),
                text,
                channel_of(tracker),
                d.now(),
            )
        return [*send(reply, dispatcher), SlotSet(SLOT, None)]
