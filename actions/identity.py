"""Verifying the visitor in the chat: the check itself, and asking for it in fitting words.

The checks, their limits and their wording are in bot/identity/verify.py; here they meet
the tracker. Only a passed check sets ``customer_id`` (with ``verified_by``).
"""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions._adapter import customer_slots, desk, latest_entity, where_of
from bot.identity.verify import code_in, email_in
from bot.support.parsing import normalize_order_id


def verify_from_message(
    tracker: Tracker, dispatcher: CollectingDispatcher, codes: bool, send_code: bool = True
) -> dict[str, Any]:
    """Slots after trying to verify the visitor from their latest message.

    An order number (in the message or the conversation) with an email checks that email
    against the order; an email alone asks for a one-time code by email (``send_code``); a
    code is tried when ``codes`` (a code was asked for). Returns the verified customer's
    slots, or ``{"verified_by": None}`` when a check was made and failed or was refused
    (so the form knows the message was taken), or ``{}`` when there was nothing to check.
    """
    if checked_this_turn(tracker):
        return {}  # one check per message, however many actions look at it
    text = tracker.latest_message.get("text") or ""
    order_given = normalize_order_id(latest_entity(tracker, "order_id"))
    order_id = order_given or tracker.get_slot("order_id")
    email = email_in_message(tracker)
    if order_given and not email:
        # "my email's above, the order is ORD-10004": the email said earlier counts too.
        email = tracker.get_slot("email")
    verifier, where = desk().verifier, where_of(tracker)
    if email and order_id:
        result = verifier.with_order_email(where, order_id, email)
    elif email and send_code:
        result = verifier.send_code(where, email)
    elif codes and (code := code_in(text, verifier.codes.digits)):
        result = verifier.with_code(where, code)
    else:
        return {}
    if result.said is not None:
        dispatcher.utter_message(response=result.said.response, **result.said.params)
    if result.customer is None:
        # Failed, refused (over a limit: the form stops asking) or a code on its way.
        return {"verified_by": None}
    slots = customer_slots(result.customer, result.method)
    dispatcher.utter_message(response="utter_verified", name=slots["customer_name"])
    return slots


def email_in_message(tracker: Tracker) -> str | None:
    """The email address in the customer's latest message, if any."""
    return latest_entity(tracker, "email") or email_in(tracker.latest_message.get("text"))


def checked_this_turn(tracker: Tracker) -> bool:
    """Whether an action already checked the latest message (it set ``verified_by``)."""
    for event in reversed(tracker.events):
        if event.get("event") == "user":
            return False
        if event.get("event") == "slot" and event.get("name") == "verified_by":
            return True
    return False


class ActionAskCustomerId(Action):
    """Ask the visitor to verify, in the words that fit where they are: the code we
    emailed, the email on the order they gave, or either way to start."""

    def name(self) -> str:
        return "action_ask_customer_id"

    def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[dict[str, Any]]:
        verifier = desk().verifier
        if verifier.code_requested(tracker.sender_id):
            dispatcher.utter_message(response="utter_ask_code", digits=verifier.codes.digits)
        elif tracker.get_slot("order_id"):
            dispatcher.utter_message(
                response="utter_ask_email_on_order", order_id=tracker.get_slot("order_id")
            )
        else:
            dispatcher.utter_message(response="utter_ask_to_verify")
        return []
