"""Codes in the words an agent reads (bot/agents/labels.py)."""

from __future__ import annotations

from datetime import timedelta

from bot.agents import labels


def test_channels_needs_and_payloads_read_as_words():
    assert labels.channel("socketio") == "Website chat"
    assert labels.channel("rest") == "REST API"
    assert labels.channel("whatsapp") == "Whatsapp"
    assert labels.need("charged_twice") == "I was charged twice"
    assert labels.need("transfer_to_billing") == "Transferred to Billing"
    assert labels.said('/choose_option{"option": "store_credit"}') == "Store credit instead"
    assert labels.said("/request_human") == "Talk to a person"
    assert labels.said("/choose_option{broken") == "/choose_option{broken"  # not a payload
    assert labels.said("I paid twice") == "I paid twice"


def test_signals_say_only_what_happened():
    assert labels.signals({"told_you": 0, "repeats": 0, "frustration": 3}) == []
    assert labels.signals({"told_you": 2, "repeats": 1, "negative_words": 3}) == [
        "said “I already told you” twice",
        "repeated themselves once",
        "3 angry or upset words",
    ]


def test_urgency_names_its_reasons_most_important_first():
    hour = timedelta(hours=1)
    assert labels.urgency(4, "gold", 2 * hour, hour, "high") == [
        "very frustrated",
        "high priority",
        "gold customer",
        "waiting past the 1 h promise",
    ]
    assert labels.urgency(0, "standard", timedelta(minutes=50), hour, "normal") == [
        "close to the 1 h promise"
    ]
    assert labels.urgency(0, None, timedelta(minutes=5), hour, "normal") == []


def test_durations_read_like_a_clock():
    assert [labels.duration(timedelta(seconds=s)) for s in (5, 600, 3900, 7200, 3 * 86400)] == [
        "5 s",
        "10 min",
        "1 h 5 min",
        "2 h",
        "3 days",
    ]


def test_the_headline_is_what_the_customer_needs_not_that_they_asked_for_a_person():
    said = ["customer: I was charged twice", "assistant: Sorry", "customer: a person please"]
    assert labels.headline("request_human", "", [], "a person please", said) == (
        "“I was charged twice” (asked for a person)"
    )
    assert labels.headline("request_human", "", ["charged_twice", "request_human"], None, []) == (
        "I was charged twice (asked for a person)"
    )
    assert labels.headline(
        "request_human", "", [], None, ['customer: /choose_option{"option": "x"}']
    ) == ("Asked for a person (hasn't said what about yet)")
    assert labels.headline("complain", "Complaint: rude courier", [], None, []) == (
        "Complaint: rude courier"
    )
    assert labels.headline("order_late", "", [], None, []) == "My order is late"
