"""The scale test's tracker-store check, on hand-made event tables: it must catch what it
claims to catch (a lost, reordered or unanswered turn; a message processed twice).

Fast, and part of `make test` (the scenario itself runs only under `make scale-test`).
"""

from __future__ import annotations

import json

import pytest
from sqlalchemy import text

from bot.db.engine import make_engine
from tests.load_driver import Conversation
from tests.scale.test_scale_out import tracker_problems


@pytest.fixture
def tracker(tmp_path):
    """An empty copy of Rasa's ``events`` table (rasa/core/tracker_store.py: SQLEvent)."""
    url = f"sqlite:///{tmp_path / 'tracker.db'}"
    engine = make_engine(url)
    with engine.begin() as conn:
        conn.execute(
            text(
                "CREATE TABLE events (id INTEGER PRIMARY KEY, sender_id VARCHAR(255) NOT NULL, "
                "type_name VARCHAR(255) NOT NULL, timestamp FLOAT, intent_name VARCHAR(255), "
                "action_name VARCHAR(255), data TEXT)"
            )
        )
    yield url, engine
    engine.dispose()


def store(engine, sender: str, said: list[str], answered: bool = True) -> None:
    """Events as Rasa writes them: each user message, then an action and the bot's answer."""
    rows = []
    for message in said:
        rows.append(("user", json.dumps({"event": "user", "text": message})))
        if answered:
            rows.append(("action", json.dumps({"event": "action", "name": "action_listen"})))
            rows.append(("bot", json.dumps({"event": "bot", "text": f"re: {message}"})))
    with engine.begin() as conn:
        for i, (kind, data) in enumerate(rows):
            conn.execute(
                text(
                    "INSERT INTO events (sender_id, type_name, timestamp, data) VALUES (:s, :k, :t, :d)"
                ),
                {"s": sender, "k": kind, "t": 1000.0 + i, "d": data},
            )


def test_a_conversation_stored_as_sent_passes(tracker):
    url, engine = tracker
    convo = Conversation(1, "c1")
    store(engine, "c1", [s.text for s in convo.steps])
    assert tracker_problems(url, [convo]) == ({}, [])


def test_a_message_processed_twice_is_named_not_hidden(tracker):
    url, engine = tracker
    convo = Conversation(2, "c2")
    said = [s.text for s in convo.steps]
    store(engine, "c2", said[:5] + [said[4]] + said[5:])
    assert tracker_problems(url, [convo]) == ({"c2": [said[4]]}, [])


@pytest.mark.parametrize(
    "mangle",
    [
        lambda said: said[:7] + said[8:],  # a turn lost
        lambda said: said[:3] + [said[4], said[3]] + said[5:],  # two turns swapped
        lambda said: said + ["hello again"],  # a message nobody sent
    ],
    ids=["lost", "reordered", "foreign"],
)
def test_a_lost_reordered_or_foreign_turn_is_a_problem(tracker, mangle):
    url, engine = tracker
    convo = Conversation(3, "c3")
    store(engine, "c3", mangle([s.text for s in convo.steps]))
    twice, problems = tracker_problems(url, [convo])
    assert problems and problems[0].startswith("c3: stored")


def test_a_message_without_an_answer_before_the_next_is_a_problem(tracker):
    url, engine = tracker
    convo = Conversation(4, "c4")
    store(engine, "c4", [s.text for s in convo.steps], answered=False)
    twice, problems = tracker_problems(url, [convo])
    assert any("got no answer" in p for p in problems)
