"""Actions that note, complete and serve a customer's need."""

from __future__ import annotations

import re
from typing import Any

from rasa_sdk import Action, FormValidationAction, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions._adapter import (
    customer_slots,
    desk,
    identify_from_channel,
    latest_entity,
    need_context,
    record_handoff,
    record_turn,
    send,
    slack_user_of,
)
from actions.proactive import tell_waiting_news
from bot.journey.signals import Signals
from bot.support.parsing import parse_date

DETAIL_SLOTS = ("order_id", "customer_id", "email", "new_address", "new_date")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


class ActionNoteNeed(Action):
    """Remember which need the customer raised, and who they are when the channel says so."""

    def name(self) -> str:
        return "action_note_need"

    def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[dict[str, Any]]:
        intent = tracker.latest_message.get("intent", {}).get("name")
        events = [SlotSet("need", intent), SlotSet("new_address", None), SlotSet("new_date", None)]
        events += identify_from_channel(tracker)
        record_turn(tracker, need=intent)
        # News a department had for them while they were away comes first, at any contact.
        return events + tell_waiting_news(tracker, dispatcher, raised_a_need=True)


class ValidateNeedForm(FormValidationAction):
    """Ask only for what the current need still lacks, and check each answer."""

    def name(self) -> str:
        return "validate_need_form"

    async def required_slots(self, domain_slots, dispatcher, tracker, domain) -> list[str]:
        known = {slot: tracker.get_slot(slot) for slot in DETAIL_SLOTS}
        # All the need's details, filled or not: the SDK validates the filled ones and
        # asks for the first missing one.
        return desk().required_details(tracker.get_slot("need"), known)

    def extract_customer_id(self, dispatcher, tracker: Tracker, domain) -> dict[str, Any]:
        if tracker.get_slot("customer_id") or tracker.get_slot("requested_slot") != "customer_id":
            return {}
        email, order_id = latest_entity(tracker, "email"), latest_entity(tracker, "order_id")
        customer = desk().identify(
            email=email, order_id=order_id, slack_user=slack_user_of(tracker)
        )
        if customer is None and (email or order_id):
            dispatcher.utter_message(response="utter_customer_not_found", given=email or order_id)
        return customer_slots(customer)

    def validate_customer_id(self, value, dispatcher, tracker: Tracker, domain) -> dict[str, Any]:
        # Already checked against the back office when it was extracted.
        return {"customer_id": value}

    def validate_order_id(self, value, dispatcher, tracker: Tracker, domain) -> dict[str, Any]:
        check = desk().check_order(value, tracker.get_slot("customer_id"))
        if check.order is None:
            dispatcher.utter_message(response=check.problem, given=value)
            return {"order_id": None}
        return {"order_id": check.order.id, **customer_slots(check.customer)}

    def validate_email(self, value, dispatcher, tracker: Tracker, domain) -> dict[str, Any]:
        if not isinstance(value, str) or not _EMAIL.match(value.strip()):
            dispatcher.utter_message(response="utter_email_unreadable")
            return {"email": None}
        customer = desk().identify(email=value)
        return {"email": value.strip(), **customer_slots(customer)}

    def validate_new_address(self, value, dispatcher, tracker: Tracker, domain) -> dict[str, Any]:
        text = (value or "").strip()
        if not 8 <= len(text) <= 300 or not re.search(r"\d", text):
            dispatcher.utter_message(response="utter_address_unreadable")
            return {"new_address": None}
        return {"new_address": text}

    def validate_new_date(self, value, dispatcher, tracker: Tracker, domain) -> dict[str, Any]:
        today = desk().today()
        parsed = parse_date(value, today)
        if parsed is None or parsed <= today:
            dispatcher.utter_message(response="utter_date_not_understood")
            return {"new_date": None}
        return {"new_date": parsed.isoformat()}


class ActionServeNeed(Action):
    """Serve the noted need now that its details are known."""

    def name(self) -> str:
        return "action_serve_need"

    def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[dict[str, Any]]:
        need = tracker.get_slot("need")
        touchpoint = record_turn(tracker, need=need)
        signals = Signals.from_dict(touchpoint.signals)
        reply = desk().serve(need_context(tracker, need, signals))
        record_handoff(touchpoint, reply)
        return send(reply, dispatcher) + [SlotSet("need", None)]


class ActionCarryOutOption(Action):
    """Do what the customer picked from the options the assistant offered."""

    def name(self) -> str:
        return "action_carry_out_option"

    def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[dict[str, Any]]:
        reply = desk().carry_out(need_context(tracker, tracker.get_slot("need") or "choose_option"))
        record_turn(tracker, reply=reply)
        return send(reply, dispatcher)
