"""A customer's data against the real Rasa server: chat over REST, export it, forget it."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys

import requests

from bot.settings import ROOT


def cli(assistant, *args: str) -> subprocess.CompletedProcess:
    """``python -m bot ...`` on the running assistant's databases, as an operator runs it."""
    env = {
        **os.environ,
        "CX_VAR_DIR": str(assistant.settings.var_dir),
        "CX_JOURNEY_URL": assistant.settings.journey_url,
        "CX_RASA_PORT": str(assistant.settings.rasa_port),  # forget asks Rasa first
    }
    env.pop("CX_TRACKER_URL", None)  # found from endpoints.yml, as make run points it
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def stored_events(assistant, sender: str) -> int:
    db = sqlite3.connect(assistant.settings.var_dir / "tracker.db")
    try:
        return db.execute("select count(*) from events where sender_id = ?", (sender,)).fetchone()[
            0
        ]
    finally:
        db.close()


def test_a_customer_is_exported_then_forgotten_everywhere(assistant):
    sender = "e2e-forget-me"
    assistant.say(sender, "hello")
    assistant.say(sender, "I was charged twice")
    assistant.say("e2e-keep-me", "hello")
    assert stored_events(assistant, sender) > 0

    exported = cli(assistant, "export", sender)
    assert exported.returncode == 0, exported.stderr
    doc = json.loads(exported.stdout)
    assert doc["touchpoints"] and "charged twice" in doc["touchpoints"][0]["customer_text"]
    said = [e.get("text") for e in doc["rasa_tracker_events"][sender] if e["event"] == "user"]
    assert said == ["hello", "I was charged twice"]

    forgot = cli(assistant, "forget", sender, "--yes")
    assert forgot.returncode == 0, forgot.stderr
    assert "touchpoints" in forgot.stdout and "Rasa tracker events" in forgot.stdout
    assert "erased by Rasa under each conversation's lock" in forgot.stdout
    assert stored_events(assistant, sender) == 0
    assert stored_events(assistant, "e2e-keep-me") > 0
    # Rasa itself sees an empty conversation, and a new message starts afresh.
    tracker = assistant.tracker(sender)
    assert not [e for e in tracker["events"] if e["event"] == "user"]
    assistant.say(sender, "hi again")
    users = [e["text"] for e in assistant.tracker(sender)["events"] if e["event"] == "user"]
    assert users == ["hi again"]

    again = cli(assistant, "forget", sender, "--yes")
    assert again.returncode == 0 and "nothing to erase" not in again.stdout  # the new chat
    last = cli(assistant, "forget", sender, "--yes")
    assert last.returncode == 0 and "nothing to erase" in last.stdout
    assert cli(assistant, "export", sender).returncode == 1


def test_replacing_a_tracker_with_no_events_erases_nothing_in_the_sql_store(assistant):
    """Why forget deletes rows itself: Rasa's SQLTrackerStore only appends on save."""
    sender = "e2e-put-empty"
    assistant.say(sender, "hello")
    before = stored_events(assistant, sender)
    r = requests.put(
        f"{assistant.url}/conversations/{sender}/tracker/events",
        params={"token": assistant.settings.rasa_token},
        json=[],
        timeout=10,
    )
    r.raise_for_status()
    assert before > 0 and stored_events(assistant, sender) == before


def test_rasa_erases_a_conversation_under_its_lock_only_with_its_token(assistant):
    sender = "e2e-erase-route"
    assistant.say(sender, "hello")
    assert stored_events(assistant, sender) > 0
    url = f"{assistant.settings.rasa_url}/webhooks/rest/conversations/{sender}/tracker"
    for params in ({}, {"token": "guess"}):
        refused = requests.delete(url, params=params, timeout=10)
        assert refused.status_code == 401 and stored_events(assistant, sender) > 0
    erased = requests.delete(url, params={"token": assistant.settings.rasa_token}, timeout=30)
    assert erased.status_code == 200, erased.text
    assert erased.json()["events_deleted"] > 0 and stored_events(assistant, sender) == 0
