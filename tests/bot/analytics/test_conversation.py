"""One conversation session as CX review reads it (tests/bot/analytics/review_journey.py)."""

from __future__ import annotations

import json
from datetime import datetime

import pytest
from sqlalchemy import insert

from bot.agents.rasa_api import RasaApiError
from bot.agents.relay import RelayFailed
from bot.analytics.conversation import conversation, session_events
from bot.db.schema import handoffs, routing_decisions
from tests.bot.analytics.review_journey import XSS, at, load_journey, tracker_events


@pytest.fixture
def journey(journey_engine):
    return journey_engine, load_journey(journey_engine)


def read(conversation_id: str) -> dict:
    assert conversation_id == "web-xss"
    return {"events": tracker_events()}


def texts(view) -> list[tuple[str, str]]:
    return [(line.sender, line.text) for line in view.transcript]


def test_the_first_session_with_everything_that_happened_in_it(journey):
    engine, ids = journey
    view = conversation(engine, ids["xss_first"], read)

    assert view.touchpoint["id"] == ids["xss_first"]
    assert (
        view.touchpoint["needs"] == ["order_late"]
        and view.touchpoint["signals"]["frustration"] == 4
    )
    assert "customer_text" not in view.touchpoint
    assert view.customer == {"id": "C-XSS", "name": XSS, "tier": "gold"}
    assert [(s["touchpoint_id"], s["this"]) for s in view.sessions] == [
        (ids["xss_first"], True),
        (ids["xss_second"], False),
    ]
    # Only this session's messages: the second session's "refund_now" is not here.
    assert texts(view) == [
        ("customer", "where is my parcel"),
        ("assistant", f"It is on its way {XSS}"),
        ("customer", f"I already told you: it is late {XSS}"),
        ("system", "The assistant paused: a person has the conversation."),
        ("agent", "Ana here"),
    ]
    assert view.transcript_error is None
    (decision,) = view.routing
    assert decision["rules"] == ["frustrated_customer", "valued_customer"]
    assert decision["reason"] == f"the customer is frustrated {XSS}"
    delivery, support = view.handoffs
    assert (delivery["department"], delivery["status"]) == ("delivery", "acknowledged")
    assert [(d["state"], d["attempts"], d["last_status"]) for d in delivery["deliveries"]] == [
        ("sent", 2, 200)
    ]
    (dead,) = support["deliveries"]
    assert (dead["state"], dead["attempts"], dead["last_status"]) == ("dead", 5, 500)
    assert dead["last_error"] == f"refused {XSS}" and dead["next_attempt_at"] is None
    (takeover,) = view.takeovers
    assert (takeover["agent"], takeover["status"]) == (f"Ana {XSS}", "handed_back")
    assert (
        takeover["handoff_id"] == support["id"] and takeover["note"] == f"sorted the parcel {XSS}"
    )
    assert [n["text"] for n in view.notes] == [f"first session note {XSS}"]
    assert [(m["offered"], m["chosen"]) for m in view.policy_moments] == [
        (["store_credit"], "store_credit")
    ]
    assert [(f["rating"], f["comment"]) for f in view.feedback] == [(2, f"slow {XSS}")]


def test_the_second_session_has_only_its_own(journey):
    engine, ids = journey
    view = conversation(engine, ids["xss_second"], read)
    assert texts(view) == [
        ("customer", "can I get a refund_now?"),
        ("assistant", "Here's what we can do"),
    ]
    assert view.handoffs == [] and view.routing == [] and view.takeovers == []
    assert [n["text"] for n in view.notes] == ["second session note"]
    assert [(m["chosen"], m["offered"]) for m in view.policy_moments] == [
        (None, ["repair_service"])
    ]
    assert view.feedback == []


def test_rows_written_before_the_touchpoint_join_the_session_they_came_in(journey):
    engine, ids = journey
    common = {"conversation_id": "web-xss", "need": "request_refund", "department": "billing",
              "priority": "normal"}  # fmt: skip
    with engine.begin() as conn:
        for created, reason in ((at(11, 14, 3), "in session 2"), (at(10, 9, 4), "in session 1")):
            conn.execute(
                insert(routing_decisions).values(
                    **common, created_at=created, touchpoint_id=None, rule="intent_map",
                    reason=reason,
                )
            )  # fmt: skip
        conn.execute(
            insert(handoffs).values(
                **common, created_at=at(11, 14, 3), touchpoint_id=None, customer_id="C-XSS",
                channel="socketio", summary="s", context="{}", status="open",
            )
        )  # fmt: skip
    second = conversation(engine, ids["xss_second"])
    assert [d["reason"] for d in second.routing] == ["in session 2"]
    assert [h["department"] for h in second.handoffs] == ["billing"]
    first = conversation(engine, ids["xss_first"])
    assert [d["reason"] for d in first.routing] == [
        f"the customer is frustrated {XSS}",  # 09:02
        "in session 1",  # 09:04
    ]
    assert len(first.handoffs) == 2


@pytest.mark.parametrize(
    "error", [RasaApiError("Rasa did not answer"), RelayFailed("Rasa did not answer")]
)
def test_when_rasa_cant_be_read_the_rest_is_still_there(journey, error):
    engine, ids = journey

    def down(_conversation_id):
        raise error

    view = conversation(engine, ids["xss_first"], down)
    assert view.transcript is None and view.transcript_error == "Rasa did not answer"
    assert len(view.handoffs) == 2 and view.notes
    no_reader = conversation(engine, ids["xss_first"])
    assert (no_reader.transcript, no_reader.transcript_error) == (None, None)


def test_an_unknown_touchpoint_is_none(journey):
    engine, _ = journey
    assert conversation(engine, 999_999, read) is None


def test_the_view_as_json(journey):
    engine, ids = journey
    data = json.loads(json.dumps(conversation(engine, ids["xss_first"], read).as_json()))
    assert data["touchpoint"]["started_at"] == "2025-03-10T09:00:00"
    # ``id``: the message id Rasa keeps a customer line under (none in this made-up history).
    assert data["transcript"][0] == {
        "sender": "customer", "text": "where is my parcel", "at": "2025-03-10T09:01:00", "agent": None,
        "id": None,
    }  # fmt: skip
    assert data["handoffs"][0]["deliveries"][0]["sent_at"] == "2025-03-10T09:03:00"


def test_a_sessions_events_are_picked_by_its_start():
    events = tracker_events()
    first = session_events(events, at(10, 9))
    second = session_events(events, at(11, 14))
    assert [e.get("text") for e in first if e["event"] == "user"] == [
        "where is my parcel",
        f"I already told you: it is late {XSS}",
    ]
    assert [e.get("text") for e in second if e["event"] == "user"] == ["can I get a refund_now?"]
    # A stored start a little after Rasa's own (float seconds) still finds its session.
    assert session_events(events, datetime.fromtimestamp(at(11, 14).timestamp() - 0.5)) == second
    # A tracker without session_started events is one session; before any start, the first.
    plain = [{"event": "user", "text": "hi", "timestamp": at(10, 9).timestamp()}]
    assert session_events(plain, at(11, 9)) == plain
    assert session_events(events, at(1, 9)) == events[:1]
