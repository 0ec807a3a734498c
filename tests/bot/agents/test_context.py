"""The console's context panel as data (bot/agents/context.py): codes in words."""

from __future__ import annotations

from datetime import date

from bot.agents import context
from bot.backoffice.model import Order


def test_how_the_customer_shows_up_never_lists_session_ids():
    found = [
        {"kind": "email", "value": "li.wei@example.com"},
        {"kind": "socketio", "value": "5f0e9a"},
        {"kind": "socketio", "value": "77aa01"},
        {"kind": "slack", "value": "U123"},
    ]
    assert context.known_as(found) == (
        "li.wei@example.com, Slack user U123, 2 Website chat sessions"
    )


def test_packet_rows_say_codes_in_words_and_leave_machinery_out():
    rows = dict(
        context.packet_rows(
            {
                "need": "charged_twice",
                "preferred_channel": "slack",
                "customer_said": '/choose_option{"option": "store_credit"}',
                "signals": {"frustration": 2, "told_you": 0, "repeats": 2},
                "preferences": {"channel": "slack"},
                "identity": {"trust": "verified"},
                "invoice_id": None,
            }
        )
    )
    assert rows == {
        "Need": "I was charged twice",
        "Customer said": "Store credit instead",
        "Channel": "Slack",
        "Signals": "frustration 2 of 5; repeated themselves twice",
    }


def test_an_order_shows_its_status_items_value_and_dates():
    order = Order(
        id="ORD-1",
        customer_id="C1",
        items=("Desk lamp", "Bulb"),
        total=49.5,
        placed_at=date(2026, 10, 1),
        status="shipped",
        address="1 Road",
        carrier="DHL",
        expected_delivery=date(2026, 10, 5),
    )
    row = context.order_row(order, current="ORD-1")
    assert (row["status"], row["items"], row["value"], row["current"]) == (
        "On its way",
        "Desk lamp, Bulb",
        "$49.50",
        True,
    )
    assert row["when"] == "expected 05 Oct, with DHL"
