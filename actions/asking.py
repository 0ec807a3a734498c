"""How the need form asks for a detail: never the same question a third time.

Rasa's form asks for a missing slot with ``action_ask_<slot>`` when the domain has one. The
first time, the plain question; when the customer's answer did not give it and we must ask
again, the question comes with a way out ("Talk to a person", "Never mind"); after that, no
third asking of the same question: we say we still don't have it and offer only the ways
out. A question answered on the way (a digression) does not count as a failed answer.

A verified customer asked which order it is about gets their latest orders as buttons (the
number and what is in it): one tap, or a typed "the chair one", answers (bot/rasa/channels/
typed_choice.py). Nobody else sees anyone's orders.
"""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions._adapter import desk, identity_of

# The details the need form asks for with a question of its own (customer_id has
# action_ask_customer_id, in actions/identity.py, with limits of its own).
ASKED_DETAILS = ("order_id", "email", "new_address", "new_date")
WAYS_OUT = [
    {"title": "Talk to a person", "payload": "/request_human"},
    {"title": "Never mind", "payload": "/deny"},
]


def failed_asks(events: list[dict], ask_action: str) -> int:
    """How many times ``ask_action``'s question was already asked in this session since the
    customer last raised a need or a question (each runs action_note_need): the answers that
    failed. Counted from the bot's messages (their ``utter_action``): Rasa runs a form's ask
    action inside the form and records no ``action`` event for it."""
    # Only the question itself: after it was asked twice, "still missing" is said instead and
    # the count stays where it is.
    asked_with = "utter_" + ask_action.removeprefix("action_")
    asked = 0
    for event in events:
        kind = event.get("event")
        if kind == "session_started":
            asked = 0
        elif kind == "bot" and (event.get("metadata") or {}).get("utter_action") == asked_with:
            asked += 1
        elif kind == "action" and event.get("name") == "action_note_need":
            asked = 0  # a new need, or a question answered on the way: asking starts afresh
    return asked


STILL_MISSING = "utter_detail_still_missing"
ORDERS_SHOWN = 5  # the latest ones: Slack shows five buttons to a row
TITLE_CHARS = 60


def order_buttons(tracker: Tracker) -> list[dict[str, str]]:
    """The verified customer's latest orders as answers to "which order?"; none for anyone
    who is not verified (an order number is not an identity: bot/config/access.yml)."""
    identity = identity_of(tracker)
    if not identity.verified or not identity.customer_id:
        return []
    orders = sorted(
        desk().backoffice.orders_of(identity.customer_id),
        key=lambda o: (o.placed_at, o.id),
        reverse=True,
    )[:ORDERS_SHOWN]
    buttons = []
    for order in orders:
        title = f"{order.id}: {order.items_text}"
        if len(title) > TITLE_CHARS:
            title = title[: TITLE_CHARS - 1].rstrip(" ,") + "…"
        payload = f'/inform{{"order_id": "{order.id}"}}'
        buttons.append({"title": title, "payload": payload})
    return buttons


class _AskForDetail:
    """``action_ask_<slot>``: the question, then the question with ways out, then only the
    ways out. (Not an Action itself, so the SDK registers only the concrete ones below.)"""

    slot = ""

    def name(self) -> str:
        return f"action_ask_{self.slot}"

    def choices(self, tracker: Tracker) -> list[dict[str, str]]:
        """Buttons that answer the question itself (none by default)."""
        return []

    def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[dict[str, Any]]:
        asked = failed_asks(tracker.events, self.name())
        choices = self.choices(tracker)
        if asked == 0:
            dispatcher.utter_message(response=f"utter_ask_{self.slot}", buttons=choices)
        elif asked == 1:
            dispatcher.utter_message(response=f"utter_ask_{self.slot}", buttons=choices + WAYS_OUT)
        else:
            dispatcher.utter_message(response=STILL_MISSING, buttons=choices + WAYS_OUT)
        return []


class AskForOrderId(_AskForDetail, Action):
    slot = "order_id"

    def choices(self, tracker: Tracker) -> list[dict[str, str]]:
        return order_buttons(tracker)


class AskForEmail(_AskForDetail, Action):
    slot = "email"


class AskForNewAddress(_AskForDetail, Action):
    slot = "new_address"


class AskForNewDate(_AskForDetail, Action):
    slot = "new_date"
