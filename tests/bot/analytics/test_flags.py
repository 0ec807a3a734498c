"""Flags on conversations, and their messages kept as NLU examples, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import datetime

import pytest
from rasa.shared.nlu.training_data.formats.rasa_yaml import RasaYAMLReader
from sqlalchemy import insert

from bot.analytics import flags
from bot.db.schema import touchpoints, users
from bot.settings import ROOT

NOW = datetime(2025, 3, 12, 10, 0)
INTENTS = ["order_status", "request_refund", "greet"]


@pytest.fixture
def db(journey_engine):
    """Two touchpoints (the first with customer messages and a button click) and an analyst."""
    base = {
        "session_started_at": NOW, "channel": "socketio", "needs": "[]", "departments": "[]",
        "order_ids": "[]", "outcome": "self_served", "signals": "{}", "message_count": 3,
        "started_at": NOW, "last_activity_at": NOW,
    }  # fmt: skip
    with journey_engine.begin() as conn:
        conn.execute(
            insert(users).values(
                id=1, username="ana", display_name="Ana <b>", role="analyst",
                password_hash="x", created_at=NOW,
            )
        )  # fmt: skip
        conn.execute(
            insert(touchpoints),
            [
                {**base, "id": 1, "conversation_id": "c1",
                 "customer_text": "where's my parcel??\n/choose_option{\"option\":\"x\"}\n"
                                  "where's my parcel??\nI ordered [2] chairs: #7"},
                {**base, "id": 2, "conversation_id": "c2", "customer_text": None},
            ],
        )  # fmt: skip
    return journey_engine


def test_a_flag_keeps_clean_tags_and_a_note_and_can_be_changed_and_removed(db):
    assert flags.flag_of(db, 1) is None
    flag = flags.set_flag(
        db, 1, [" Misunderstood ", "misunderstood", "", "slow  handoff"], " why? ", 1, NOW
    )
    assert flag.tags == ("misunderstood", "slow handoff")
    assert (flag.note, flag.flagged_by, flag.flagged_at) == ("why?", "Ana <b>", NOW)
    assert flags.flag_of(db, 1) == flag

    changed = flags.set_flag(db, 1, ["rude reply"], None, 1, datetime(2025, 3, 13))
    assert changed.tags == ("rude reply",) and changed.note is None
    assert changed.flagged_at == NOW  # changing the tags is not flagging again

    assert flags.clear_flag(db, 1) is True
    assert flags.flag_of(db, 1) is None
    assert flags.clear_flag(db, 1) is False


def test_flagging_checks_its_input(db):
    with pytest.raises(flags.NotFound):
        flags.set_flag(db, 99, ["x"], None, 1, NOW)
    with pytest.raises(flags.Invalid, match="at most 10 tags"):
        flags.set_flag(db, 1, [f"t{i}" for i in range(11)], None, 1, NOW)
    with pytest.raises(flags.Invalid, match="40 characters"):
        flags.set_flag(db, 1, ["x" * 41], None, 1, NOW)
    with pytest.raises(flags.Invalid, match="2000 characters"):
        flags.set_flag(db, 1, [], "n" * 2001, 1, NOW)
    assert flags.flag_of(db, 1) is None


def test_the_flagged_list_shows_the_customers_own_words_once_without_button_payloads(db):
    flags.set_flag(db, 1, ["misunderstood"], None, 1, NOW)
    flags.set_flag(db, 2, [], None, 1, NOW)
    newest_first = flags.flagged(db)
    assert [i["flag"].touchpoint_id for i in newest_first] == [2, 1]
    assert newest_first[0]["lines"] == []
    assert newest_first[1]["lines"] == ["where's my parcel??", "I ordered [2] chairs: #7"]
    older = flags.flagged(db, before=newest_first[0]["flag_id"])
    assert [i["flag"].touchpoint_id for i in older] == [1]


def test_kept_examples_export_as_nlu_yaml_that_rasa_reads_back(db):
    flags.keep_example(db, 1, "where's my parcel??", "order_status", INTENTS, 1, NOW)
    flags.keep_example(db, 1, "I ordered [2] chairs: #7", "request_refund", INTENTS, 1, NOW)
    again = flags.keep_example(db, 1, "I ordered [2] chairs: #7", "order_status", INTENTS, 1, NOW)
    assert again.intent == "order_status"  # the same message again: relabelled, not doubled
    kept = flags.examples(db)
    assert [(e.text, e.intent) for e in kept] == [
        ("I ordered [2] chairs: #7", "order_status"),
        ("where's my parcel??", "order_status"),
    ]

    data = RasaYAMLReader().reads(flags.nlu_yaml(kept))
    read = sorted((m.get("text"), m.get("intent")) for m in data.intent_examples)
    # Brackets would be read as an entity annotation: they come back as parentheses.
    assert read == [
        ("I ordered (2) chairs: #7", "order_status"),
        ("where's my parcel??", "order_status"),
    ]
    assert data.entity_examples == []


def test_an_example_needs_a_known_intent_and_real_text(db):
    with pytest.raises(flags.Invalid, match="not an intent"):
        flags.keep_example(db, 1, "hello", "made_up", INTENTS, 1, NOW)
    with pytest.raises(flags.Invalid, match="needs the customer's text"):
        flags.keep_example(db, 1, "  \n ", "greet", INTENTS, 1, NOW)
    with pytest.raises(flags.Invalid, match="at most 1000"):
        flags.keep_example(db, 1, "x" * 1001, "greet", INTENTS, 1, NOW)
    with pytest.raises(flags.NotFound):
        flags.keep_example(db, 99, "hello", "greet", INTENTS, 1, NOW)
    assert flags.examples(db) == []
    with pytest.raises(flags.NotFound):
        flags.drop_example(db, 12345)


def test_a_dropped_example_leaves_the_export():
    kept = [
        flags.Example(1, 1, "hi there", "greet", None, "Ana", NOW),
        flags.Example(2, 1, "status of ORD-1", "order_status", "greet", "Ana", NOW),
    ]
    assert "hi there" in flags.nlu_yaml(kept)
    assert "hi there" not in flags.nlu_yaml(kept[1:])


def test_the_intents_to_pick_from_are_the_domains():
    intents = flags.domain_intents(ROOT / "domain.yml")
    assert {"order_status", "greet", "request_human"} <= set(intents)
    assert "nlu_fallback" not in intents
