"""A need whose details are all known is served by action_note_need at once (one remote call)
with the same result as the three steps it replaces: note, need_form, action_serve_need.

Each case runs twice on twin desks (two fresh databases seeded alike): the three steps as
Rasa drives them (the form's validation called with the pre-filled details, as Rasa's
FormAction does when it activates), and the one action. What the customer is told, the slots
after the turn, the touchpoints written and the handoffs opened must be the same."""

from __future__ import annotations

import asyncio
import copy
from dataclasses import asdict, dataclass, field
from typing import Any

import pytest
from rasa_sdk import Tracker
from rasa_sdk.events import FollowupAction
from rasa_sdk.executor import CollectingDispatcher

from actions import needs
from actions._adapter import served_a_need
from actions.needs import (
    DETAIL_SLOTS,
    ActionNoteNeed,
    ActionServeNeed,
    ValidateNeedForm,
)
from bot import services
from bot.backoffice.sql import SqlBackOffice
from bot.handoff import HandoffDesk
from bot.services import assemble_desk
from tests.actions.conftest import make_tracker
from tests.conftest import BOTH, NOW, TODAY
from tests.fakes.mailbox import Mailbox

DOMAIN = {"forms": {"need_form": {"required_slots": list(DETAIL_SLOTS)}}}
SESSION = [{"event": "session_started", "timestamp": 1741773600.0}]  # 2025-03-12 10:00 UTC
LISTEN = FollowupAction("action_listen")


@dataclass
class Case:
    intent: str
    text: str
    slots: dict[str, Any] = field(default_factory=dict)
    # Slots Rasa's action_extract_slots set from the message, before action_note_need.
    extracted: dict[str, Any] = field(default_factory=dict)
    order_ids: tuple[str, ...] = ()
    other_needs: tuple[str, ...] = ()

    def tracker(self, sender: str) -> Tracker:
        tracker = make_tracker(
            self.intent,
            self.text,
            slots=self.slots,
            fresh=self.extracted,
            entities=[{"entity": "order_id", "value": o} for o in self.order_ids],
            events=copy.deepcopy(SESSION),
            sender=sender,
        )
        if self.other_needs:
            tracker.latest_message["other_needs"] = list(self.other_needs)
        return tracker


JANE = {"customer_id": "C001", "customer_name": "Jane", "verified_by": "website"}
OMAR = {"customer_id": "C002", "customer_name": "Omar", "verified_by": "website"}

SERVED_AT_ONCE = {
    # The benchmark's order status turn: a verified customer names their own order.
    "own order's status": Case(
        "order_status",
        "where is my order ORD-10001?",
        JANE,
        {"order_id": "ORD-10001"},
        ("ORD-10001",),
    ),
    # The other orders named in the same message are answered too.
    "two orders at once": Case(
        "order_status",
        "can you check ORD-10001 and ORD-10002 for me?",
        JANE,
        {"order_id": "ORD-10001"},
        ("ORD-10001", "ORD-10002"),
    ),
    # Handed off to billing: a handoff opened, the touchpoint handed off.
    "charged twice, handed off": Case("charged_twice", "I was charged twice for my chair", OMAR),
    # No detail at all, from a visitor nobody knows.
    "pricing from a visitor": Case("ask_pricing", "pricing for the pro plan please"),
    # A person brought in: escalated to support.
    "a person, please": Case("request_human", "I want to talk to a real person"),
    # "You also asked about ...": the second need served after the first.
    "two needs in one message": Case(
        "order_status",
        "where is ORD-10001 and can I get the invoice for it",
        JANE,
        {"order_id": "ORD-10001"},
        ("ORD-10001",),
        ("request_invoice",),
    ),
    # A change whose details were all said before: the order said again keeps the address.
    "new delivery day said before": Case(
        "change_delivery_date",
        "could ORD-10004 come on the 20th instead",
        OMAR | {"need": "change_delivery_date", "new_date": "2025-03-20"},
        {"order_id": "ORD-10004"},
        ("ORD-10004",),
    ),
}

LEFT_TO_THE_FORM = {
    # Someone else's order: the form says so and asks again.
    "another customer's order": Case(
        "order_status",
        "where is ORD-10004?",
        JANE,
        {"order_id": "ORD-10004"},
        ("ORD-10004",),
    ),
    # A visitor's order is looked up within their limits, once: by the form.
    "a visitor's order": Case(
        "order_status", "where is ORD-10001?", {}, {"order_id": "ORD-10001"}, ("ORD-10001",)
    ),
    # The form asks which order.
    "no order yet": Case("order_status", "where is my order", JANE),
    # A billing need from a visitor: the form asks them to verify.
    "a visitor's bill": Case("charged_twice", "I was charged twice"),
    # A rule asked about: the answer to how it works is said first, then the form.
    "how returns work": Case(
        "return_item", "how long do I have to return something?", JANE, {}, ()
    ),
}


@pytest.fixture
def twin_desk(request, tmp_path, _parsed_config):
    """A second support desk on a database of its own, seeded like the test desk."""
    engine = request.getfixturevalue("sqlite_templates").fresh(BOTH, tmp_path / "twin.db")
    yield assemble_desk(
        SqlBackOffice(engine, today=lambda: TODAY),
        copy.deepcopy(_parsed_config[0]),
        HandoffDesk(engine, dict(_parsed_config[1]), now=lambda: NOW),
        today=lambda: TODAY,
        now=lambda: NOW,
        mailer=Mailbox(),
    )
    engine.dispose()


def after(tracker: Tracker, action: str, events: list[dict[str, Any]]) -> Tracker:
    """The tracker Rasa sends the next action: ``action`` logged, then its events."""
    slots = dict(tracker.slots)
    active_loop = tracker.active_loop
    for event in events:
        if event.get("event") == "slot":
            slots[event["name"]] = event["value"]
        elif event.get("event") == "active_loop":
            active_loop = {"name": event["name"]} if event["name"] else {}
    return Tracker(
        tracker.sender_id,
        slots,
        tracker.latest_message,
        [*tracker.events, {"event": "action", "name": action}, *events],
        False,
        None,
        active_loop,
        action,
    )


def three_steps(case: Case, monkeypatch) -> tuple[CollectingDispatcher, Tracker]:
    """The turn as it ran before: note, need_form (Rasa's form, validated by the action
    server), action_serve_need once the form has nothing to ask."""
    dispatcher = CollectingDispatcher()
    tracker = case.tracker("conv-steps")
    with monkeypatch.context() as patched:
        patched.setattr(needs, "details_validated_up_front", lambda tracker: None)
        noted = ActionNoteNeed().run(dispatcher, tracker, {})
    assert LISTEN not in noted
    tracker = after(tracker, "action_note_need", noted)
    # Rasa's FormAction activates, then hands the validation action the details already
    # known (in the form's required_slots order), after a requested_slot and itself.
    prefilled = [
        {"event": "slot", "name": slot, "value": tracker.slots[slot]}
        for slot in DETAIL_SLOTS
        if tracker.slots.get(slot) is not None
    ]
    activated = after(
        tracker,
        "need_form",
        [
            {"event": "active_loop", "name": "need_form"},
            {"event": "slot", "name": "requested_slot", "value": None},
            *prefilled,
        ],
    )
    validated = asyncio.run(ValidateNeedForm().run(dispatcher, activated, DOMAIN))
    tracker = after(
        tracker,
        "need_form",
        [
            {"event": "active_loop", "name": "need_form"},
            *validated,
            {"event": "active_loop", "name": None},
        ],
    )
    if tracker.slots.get("requested_slot") is not None:
        return dispatcher, tracker  # the form asks: no serving this turn
    served = ActionServeNeed().run(dispatcher, tracker, {})
    return dispatcher, after(tracker, "action_serve_need", served)


def at_once(case: Case) -> tuple[CollectingDispatcher, Tracker, list[dict[str, Any]]]:
    dispatcher = CollectingDispatcher()
    tracker = case.tracker("conv-steps")  # the same conversation, on the twin desk
    events = ActionNoteNeed().run(dispatcher, tracker, {})
    return dispatcher, after(tracker, "action_note_need", events), events


def outcome(desk, dispatcher: CollectingDispatcher, tracker: Tracker) -> dict[str, Any]:
    """Everything the turn left behind that anyone can see."""
    return {
        "said": dispatcher.messages,
        "slots": {k: v for k, v in tracker.slots.items() if k != "requested_slot"},
        "served_a_need": served_a_need(tracker),
        # Written as the chat goes: last_activity_at is the clock's (the messages of these
        # hand-built trackers carry no time).
        "touchpoints": [
            asdict(t) | {"last_activity_at": None}
            for t in desk.journey.touchpoints_of("conv-steps")
        ],
        "handoffs": desk.handoffs.open_handoffs("conv-steps"),
    }


@pytest.mark.parametrize("name", SERVED_AT_ONCE)
def test_served_at_once_as_the_three_steps_would(name, desk, twin_desk, monkeypatch):
    case = SERVED_AT_ONCE[name]
    steps_dispatcher, steps_tracker = three_steps(case, monkeypatch)
    assert steps_tracker.slots.get("need") is None, "the three steps served it"
    expected = outcome(desk, steps_dispatcher, steps_tracker)

    monkeypatch.setattr(services, "desk", lambda: twin_desk)
    dispatcher, tracker, events = at_once(case)
    assert events[-1] == LISTEN  # Rasa runs action_listen next, no policy asked
    assert outcome(twin_desk, dispatcher, tracker) == expected
    assert expected["said"], "the customer was answered"


@pytest.mark.parametrize("name", LEFT_TO_THE_FORM)
def test_left_to_the_form_when_it_has_something_to_ask_or_say(name, desk, twin_desk, monkeypatch):
    case = LEFT_TO_THE_FORM[name]
    with monkeypatch.context() as patched:
        patched.setattr(needs, "details_validated_up_front", lambda tracker: None)
        before = ActionNoteNeed().run(CollectingDispatcher(), case.tracker("conv-a"), {})
    monkeypatch.setattr(services, "desk", lambda: twin_desk)
    now = ActionNoteNeed().run(CollectingDispatcher(), case.tracker("conv-a"), {})
    assert now == before and LISTEN not in now


def test_a_need_served_at_once_counts_as_served():
    noted_and_served = [
        {"event": "session_started"},
        {"event": "action", "name": "action_note_need"},
        {"event": "slot", "name": "need", "value": "ask_pricing"},
        {"event": "slot", "name": "need", "value": None},
        {"event": "action", "name": "action_listen"},
    ]
    only_noted = noted_and_served[:3] + noted_and_served[4:]
    assert served_a_need(make_tracker(events=noted_and_served))
    assert not served_a_need(make_tracker(events=only_noted))
