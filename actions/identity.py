"""Verifying the visitor in the chat: the check itself, and asking for it in fitting words.

The checks, their limits and their wording are in bot/identity/verify.py; here they meet
the tracker. Only a passed check sets ``customer_id`` (with ``verified_by``).
"""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions._adapter import (
    customer_slots,
    desk,
    identity_of,
    latest_entity,
    record_turn,
    where_of,
)
from actions.proactive import tell_waiting_news
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
    return _verified(result, tracker, dispatcher)


def _verified(result, tracker: Tracker, dispatcher: CollectingDispatcher) -> dict[str, Any]:
    """Say how a check went; the verified customer's slots (and their waiting news told)."""
    if result.said is not None:
        dispatcher.utter_message(response=result.said.response, **result.said.params)
    if result.customer is None:
        # Failed, refused (over a limit: the form stops asking) or a code on its way.
        return {"verified_by": None}
    slots = customer_slots(result.customer, result.method)
    dispatcher.utter_message(response="utter_verified", name=slots["customer_name"])
    # News told the moment we know who it is: what a department had for them comes first,
    # once, before the answer (leaving the conversation's order alone).
    tracker.slots.update(slots)
    for event in tell_waiting_news(tracker, dispatcher, raised_a_need=True):
        slots.setdefault(event["name"], event["value"])
    return slots


def identify_by_detail(
    tracker: Tracker, dispatcher: CollectingDispatcher
) -> list[dict[str, Any]] | None:
    """An email typed on its own ("hi, this is omar@example.com"), or the one-time code it
    brought: verification, as when a need asks for it (an email alone is no identity: it
    gets a code). Once verified: "Thanks, Omar", their waiting news, else what we can do.
    None when the message is neither (the caller reads it as an order number or so on).
    """
    if identity_of(tracker).verified or tracker.get_slot("email_wanted_for"):
        return None
    verifier, where = desk().verifier, where_of(tracker)
    email = email_in_message(tracker)
    text = tracker.latest_message.get("text") or ""
    said_before = len(dispatcher.messages)
    if email is None and verifier.code_requested(tracker.sender_id):
        code = code_in(text, verifier.codes.digits)
        if code is None or checked_this_turn(tracker):
            return None
        slots = _verified(verifier.with_code(where, code), tracker, dispatcher)
    elif email is not None and not latest_entity(tracker, "order_id"):
        if tracker.get_slot("order_id"):
            return None  # the email on the order just tracked: checked against that order
        slots = verify_from_message(tracker, dispatcher, codes=False, send_code=True)
        slots = {"email": email, **slots}
    else:
        return None
    # Verified and nothing but "Thanks, Omar" said (no news waited): what we can do.
    if slots.get("customer_id") and len(dispatcher.messages) - said_before == 1:
        dispatcher.utter_message(response="utter_what_can_i_do")
    record_turn(tracker)
    return [SlotSet(name, value) for name, value in slots.items()]


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
