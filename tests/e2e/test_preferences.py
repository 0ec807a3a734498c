"""Preferences end to end: the real Rasa server and action server over the REST channel."""

from __future__ import annotations

import sqlite3

import pytest

pytestmark = pytest.mark.e2e


def texts(replies: list[dict]) -> str:
    return "\n".join(r.get("text", "") for r in replies)


def test_a_customer_states_preferences_sees_them_and_is_greeted_by_name(assistant):
    sender = "e2e-preferences"
    assert "that's what I'll call you from now on" in texts(assistant.say(sender, "call me Sam"))
    kept = texts(assistant.say(sender, "no messages after 9pm"))
    assert "Got it, Sam: no messages from 21:00 to 08:00." in kept

    shown = assistant.say(sender, "what are my preferences?")
    assert "Here's what I know:" in texts(shown)
    assert "- Name: Sam" in texts(shown)
    assert "- Quiet hours: no messages from 21:00 to 08:00" in texts(shown)
    assert any(b["title"] == "Forget my preferences" for r in shown for b in r.get("buttons", []))

    assert "Hi Sam" in texts(assistant.say(sender, "hello"))
    # Kept in the journey database, on the visitor's anonymous journey id.
    db = sqlite3.connect(assistant.settings.var_dir / "journey.db")
    row = db.execute(
        "select name, quiet_from, quiet_until from customer_preferences where customer_id = ?",
        (f"anon-rest-{sender}",),
    ).fetchone()
    assert row == ("Sam", "21:00", "08:00")


def test_out_of_scope_calls_are_not_preferences(assistant):
    reply = texts(assistant.say("e2e-taxi", "call me a taxi"))
    assert "Got it" not in reply and "call you" not in reply
