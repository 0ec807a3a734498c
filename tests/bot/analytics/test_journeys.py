"""One customer's journey for CX review (tests/bot/analytics/review_journey.py)."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import insert

from bot.analytics.journeys import journey
from bot.db.schema import identities
from tests.bot.analytics.review_journey import ANONYMOUS, XSS, at, load_journey


@pytest.fixture
def store(journey_engine):
    ids = load_journey(journey_engine)
    with journey_engine.begin() as conn:
        conn.execute(
            insert(identities),
            [
                {"customer_id": "C2", "kind": "slack", "value": "U0OMAR", "created_at": at(9, 16)},
                {"customer_id": "C2", "kind": "email", "value": "omar@example.com",
                 "created_at": at(11, 9)},
            ],
        )  # fmt: skip
    return journey_engine, ids


def test_a_customers_touchpoints_oldest_first_across_channels(store):
    engine, ids = store
    omar = journey(engine, "C2")
    assert omar.customer == {"id": "C2", "name": "Omar", "tier": "standard", "since": at(1, 9)}
    assert omar.identities == [
        {"kind": "slack", "value": "U0OMAR"},
        {"kind": "email", "value": "omar@example.com"},
    ]
    assert [t["id"] for t in omar.touchpoints] == [ids["omar_slack"], ids["omar_web"]]
    assert [(t["channel"], t["stage"], t["outcome"]) for t in omar.touchpoints] == [
        ("slack", "purchase", "resolved"),
        ("socketio", "renewal", "escalated"),
    ]
    assert omar.touchpoints[1]["departments"] == ["billing"]
    assert omar.touchpoints[1]["frustration"] == 3 and omar.touchpoints[1]["flag_tags"] is None
    assert omar.stages() == ["purchase", "renewal"]  # in the journey's order
    assert (omar.total, omar.truncated) == (2, False)
    assert "customer_text" not in omar.touchpoints[0] and "signals" not in omar.touchpoints[0]


def test_flags_and_the_most_recent_when_there_are_many(store):
    engine, ids = store
    jane = journey(engine, "C-XSS")
    assert jane.customer["name"] == XSS
    assert [t["flag_tags"] for t in jane.touchpoints] == [[f"tag {XSS}"], None]
    latest = journey(engine, "C-XSS", most=1)
    assert [t["id"] for t in latest.touchpoints] == [ids["xss_second"]]
    assert (latest.total, latest.truncated) == (2, True)


def test_an_anonymous_visitor_and_an_unknown_customer(store):
    engine, ids = store
    visitor = journey(engine, ANONYMOUS)
    assert visitor.customer["name"] is None and visitor.stages() == []
    assert [t["id"] for t in visitor.touchpoints] == [ids["anonymous"]]
    assert journey(engine, "C404") is None


def test_the_journey_as_json(store):
    engine, _ = store
    data = json.loads(json.dumps(journey(engine, "C2").as_json()))
    assert data["customer"]["since"] == "2025-03-01T09:00:00"
    assert data["touchpoints"][0]["started_at"] == "2025-03-09T16:00:00"
    assert (data["total"], data["truncated"]) == (2, False)
