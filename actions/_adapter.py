"""Translation between Rasa trackers/dispatchers and the plain types of ``bot.support``."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from rasa_sdk import Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

from bot import services
from bot.identity.checks import Where
from bot.identity.trust import BY_SLACK, BY_WEBSITE, CHANNEL_METHODS, Identity
from bot.journey.signals import Signals, UserMessage
from bot.journey.store import Touchpoint, Turn
from bot.proactive import triggered_by_api
from bot.support import NeedContext, Reply, SupportDesk
from bot.support.feedback import Feedback
from bot.support.parsing import parse_amount

# Intents that end a chat: its touchpoint gets an end time (and is never swept as abandoned).
# The feedback asked after a goodbye (a rating, effort, "No thanks") keeps it ended.
ENDINGS = ("goodbye", "rate_conversation", "rate_effort", "skip_feedback")
# Actions that answer a need (bot.support.feedback: a problem served in this session).
SERVING_ACTIONS = ("action_serve_need", "action_carry_out_option")
# Notes a need, and serves it at once when its details are known (actions/needs.py).
NOTING_ACTION = "action_note_need"


def is_customer_message(event: dict[str, Any]) -> bool:
    """A user event the customer sent, not an intent the hub triggered."""
    return event.get("event") == "user" and not triggered_by_api(event)


def desk() -> SupportDesk:
    return services.desk()


def feedback() -> Feedback:
    d = desk()
    return Feedback(d.journey, d.policy_log)


def channel_of(tracker: Tracker) -> str:
    return tracker.get_latest_input_channel() or "rest"


def slack_user_of(tracker: Tracker) -> str | None:
    """The Slack user id behind this conversation, if it happens on Slack.

    Rasa's Slack sender ids start with the author's id (``user``, ``user_channel`` or
    ``user_channel_thread``) and bot/rasa/channels/slack.py also puts it in the metadata as
    ``slack_user``. Rasa's own ``users`` metadata is the app's bot user, never the author.
    """
    if channel_of(tracker) != "slack":
        return None
    metadata = tracker.latest_message.get("metadata") or {}
    return metadata.get("slack_user") or tracker.sender_id.split("_")[0]


def channel_customer(tracker: Tracker):
    """The customer the channel vouches for, and how: a signed-in website visitor or a Slack
    user mapped to a customer.

    Only the website channel's own metadata is trusted for a customer id: the channel puts
    it there after checking the website's signed customer token (bot/rasa/channels/web.py).
    """
    d = desk()
    if channel_of(tracker) == "socketio":
        customer_id = (tracker.latest_message.get("metadata") or {}).get("customer_id")
        return (d.customer(customer_id), BY_WEBSITE) if customer_id else (None, None)
    return d.slack_customer(slack_user_of(tracker)), BY_SLACK


def identity_of(tracker: Tracker) -> Identity:
    """Who the conversation's customer is and how sure we are, from its slots."""
    return Identity.from_slots(
        tracker.get_slot("customer_id"),
        tracker.get_slot("verified_by"),
        email=tracker.get_slot("email"),
        order_id=tracker.get_slot("order_id"),
    )


def where_of(tracker: Tracker) -> Where:
    """Where identity checks come from: this conversation, its channel, the client address
    the channel saw (bot/rasa/channels/rest.py and web.py put it in the metadata)."""
    metadata = tracker.latest_message.get("metadata") or {}
    address = metadata.get("client_ip")
    return Where(
        tracker.sender_id, channel_of(tracker), address if isinstance(address, str) else None
    )


def identify_from_channel(tracker: Tracker) -> list[dict[str, Any]]:
    """Slot events naming the customer the channel vouches for, when not verified yet.

    A customer id without a known way of verification (a conversation from before
    verification existed) is dropped: it was only ever a claim. The slots are set on
    ``tracker`` too, so the turn logged in this same action already belongs to the customer.
    """
    if identity_of(tracker).verified:
        return []
    customer, method = channel_customer(tracker)
    slots = customer_slots(customer, method)
    if not slots and tracker.get_slot("customer_id"):
        slots = {"customer_id": None, "customer_name": None, "verified_by": None}
    tracker.slots.update(slots)
    return [SlotSet(name, value) for name, value in slots.items()]


def latest_entity(tracker: Tracker, name: str) -> str | None:
    return next(tracker.get_latest_entity_values(name), None)


def need_text(tracker: Tracker, need: str | None) -> str:
    """What the customer wrote when they raised ``need`` (the newest such message)."""
    for event in reversed(tracker.events):
        if (
            event.get("event") == "user"
            and (event.get("parse_data") or {}).get("intent", {}).get("name") == need
        ):
            return event.get("text") or ""
    return tracker.latest_message.get("text") or ""


def transcript(tracker: Tracker, limit: int = 20) -> tuple[str, ...]:
    lines = []
    for event in tracker.events:
        if is_customer_message(event) and event.get("text"):
            lines.append(f"customer: {event['text']}")
        elif event.get("event") == "bot" and event.get("text"):
            lines.append(f"assistant: {event['text']}")
    return tuple(lines[-limit:])


def need_context(tracker: Tracker, need: str | None, signals: Signals | None = None) -> NeedContext:
    """Everything the conversation knows, as the support desk expects it.

    ``signals`` come from the touchpoint just recorded, when there is one (saves a read).
    """
    d = desk()
    identity = identity_of(tracker)
    # Only a verified customer is a customer; anyone else gets what access.yml allows.
    customer = d.customer(identity.customer_id)
    order_check = d.check_order(tracker.get_slot("order_id"), customer.id if customer else None)
    raw_date = tracker.get_slot("new_date")
    return NeedContext(
        need=need or "",
        conversation_id=tracker.sender_id,
        channel=channel_of(tracker),
        text=need_text(tracker, need),
        customer=customer,
        order=order_check.order,
        order_facts=order_check.facts,
        invoice_id=tracker.get_slot("invoice_id"),
        email=tracker.get_slot("email"),
        new_address=tracker.get_slot("new_address"),
        new_date=date.fromisoformat(raw_date) if raw_date else None,
        amount=parse_amount(latest_entity(tracker, "amount")),
        option=latest_entity(tracker, "option"),
        transcript=transcript(tracker),
        signals=signals if signals is not None else d.journey.signals(turn_of(tracker)),
        identity=identity,
    )


def session_events(tracker: Tracker) -> list[dict[str, Any]]:
    """The events of the current session (from the newest ``session_started``)."""
    events = tracker.events
    start = max((i for i, e in enumerate(events) if e.get("event") == "session_started"), default=0)
    return events[start:]


def served_a_need(tracker: Tracker) -> bool:
    """Whether the assistant answered a need in this session: a serving action ran, or
    action_note_need served the need at once (its own events clear the need it noted)."""
    action = None
    for event in session_events(tracker):
        if event.get("event") == "action":
            action = event.get("name")
            if action in SERVING_ACTIONS:
                return True
        elif (
            action == NOTING_ACTION
            and event.get("event") == "slot"
            and event.get("name") == "need"
            and event.get("value") is None
        ):
            return True
    return False


def turn_of(tracker: Tracker, need: str | None = None, reply: Reply | None = None) -> Turn:
    """What this conversation session looks like to the journey store right now."""
    events = tracker.events
    # The session starts at the newest session_started event (Rasa's session_config).
    start = max((i for i, e in enumerate(events) if e.get("event") == "session_started"), default=0)
    session = events[start:]
    messages = tuple(
        UserMessage(
            text=e.get("text") or "",
            intent=((e.get("parse_data") or {}).get("intent") or {}).get("name"),
            at=datetime.fromtimestamp(e["timestamp"]) if e.get("timestamp") else datetime.now(),
        )
        for e in session
        if is_customer_message(e)
    )
    started = session[0].get("timestamp") if session else None
    d = desk()
    customer = d.customer(identity_of(tracker).customer_id)
    handoff = reply.handoff if reply else None
    department = handoff.department.name if handoff else d.routing.department_of(need)
    return Turn(
        conversation_id=tracker.sender_id,
        channel=channel_of(tracker),
        # Rasa always starts a session with a timestamped event; without one (a tracker built
        # by hand), the day keeps the conversation on one touchpoint.
        session_started_at=(
            datetime.fromtimestamp(started)
            if started
            else datetime.combine(date.today(), datetime.min.time())
        ),
        messages=messages,
        customer_id=customer.id if customer else None,
        customer_name=customer.name if customer else None,
        tier=customer.tier if customer else None,
        email=customer.email if customer else tracker.get_slot("email"),
        slack_user=slack_user_of(tracker),
        need=need,
        department=department,
        stage=d.stage_of(need, customer) if need or customer else None,
        order_id=tracker.get_slot("order_id"),
        outcome=(
            ("escalated" if handoff.department.name == "support" else "handed_off")
            if handoff
            else None
        ),
        # A goodbye ends the chat; so does rating it (which comes after the goodbye).
        ended=(tracker.latest_message.get("intent") or {}).get("name") in ENDINGS,
        served=served_a_need(tracker),
    )


def record_turn(
    tracker: Tracker, need: str | None = None, reply: Reply | None = None
) -> Touchpoint:
    """Log this turn on the conversation's touchpoint (written as the chat goes)."""
    return desk().journey.record(turn_of(tracker, need, reply))


def record_handoff(touchpoint: Touchpoint, reply: Reply) -> None:
    """After serving: if the desk handed the need over, the touchpoint says so."""
    if reply.handoff is not None:
        department = reply.handoff.department.name
        outcome = "escalated" if department == "support" else "handed_off"
        desk().journey.note_outcome(touchpoint.id, outcome, department)


def send(reply: Reply, dispatcher: CollectingDispatcher) -> list[dict[str, Any]]:
    """Utter every message of ``reply`` and return the slot events it asks for."""
    for message in reply.messages:
        dispatcher.utter_message(
            response=message.response, buttons=message.buttons or None, **message.params
        )
    return [SlotSet(name, value) for name, value in reply.slots.items()]


def customer_slots(customer, verified_by: str | None) -> dict[str, Any]:
    """The slots of a verified customer (and how they were verified), named as they asked
    to be addressed ("call me Sam"; their full name when formal), else by their first name."""
    if not customer or not verified_by:
        return {}
    preferred = desk().preferences.get(customer.id).address(customer.name)
    return {
        "customer_id": customer.id,
        "customer_name": preferred or customer.first_name,
        "verified_by": verified_by,
    }


def chat_verified(tracker: Tracker) -> bool:
    """Whether this conversation's customer was verified by a check in the chat (which a
    new session asks for again), rather than by the channel itself."""
    identity = identity_of(tracker)
    return identity.verified and identity.verified_by not in CHANNEL_METHODS
