"""Action tests: hand-built trackers, a CollectingDispatcher, the real desk on SQLite."""

from __future__ import annotations

import pytest
from rasa_sdk import Tracker

from bot import services


@pytest.fixture(autouse=True)
def use_test_desk(desk, monkeypatch):
    """Point the actions' lazy desk at the seeded test desk."""
    monkeypatch.setattr(services, "desk", lambda: desk)
    return desk


def make_tracker(
    intent="greet",
    text="hi",
    slots=None,
    entities=None,
    channel="rest",
    events=None,
    requested_slot=None,
    metadata=None,
    ranking=None,
    sender="conv-1",
    fresh=None,
) -> Tracker:
    """A tracker whose last event is the customer's message; ``fresh`` slots were set by it."""
    latest = {
        "intent": {"name": intent, "confidence": 0.9},
        "text": text,
        "entities": entities or [],
        "intent_ranking": ranking or [{"name": intent, "confidence": 0.9}],
        "metadata": metadata or {},
    }
    all_slots = {
        "need": None,
        "customer_id": None,  # a verified customer only (bot/identity)
        "verified_by": None,
        "customer_name": None,
        "order_id": None,
        "invoice_id": None,
        "email": None,
        "new_address": None,
        "new_date": None,
        "requested_slot": requested_slot,
    }
    all_slots.update(slots or {})
    all_slots.update(fresh or {})
    slot_events = [{"event": "slot", "name": k, "value": v} for k, v in (fresh or {}).items()]
    user_event = {
        "event": "user",
        "text": text,
        "parse_data": latest,
        "input_channel": channel,
        "metadata": metadata or {},
    }
    return Tracker(
        sender,
        all_slots,
        latest,
        (events or []) + [user_event] + slot_events,
        False,
        None,
        {"name": "need_form"} if requested_slot else {},
        "action_listen",
    )
