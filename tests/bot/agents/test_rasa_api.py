"""The Rasa HTTP API client and the relay, against a fake Rasa on a real socket."""

from __future__ import annotations

import socket

import pytest

from bot.agents.rasa_api import RasaApi, RasaApiError
from bot.agents.relay import CannotReach, Relay, RelayFailed, slack_text
from bot.rasa.channels.slack_api import SlackWebApi


def test_pause_and_resume_are_events_on_the_conversation(rasa):
    api = RasaApi(rasa.url + "/", rasa.token)
    api.pause("U1_C1_17.5")
    assert api.tracker("U1_C1_17.5")["paused"] is True
    api.resume("U1_C1_17.5")
    assert [e["event"] for e in rasa.events("U1_C1_17.5")] == ["pause", "resume", "action"]
    assert api.tracker("U1_C1_17.5")["paused"] is False
    method, path, query = rasa.requests[0]
    assert (method, path, query["token"]) == (
        "POST",
        "/conversations/U1_C1_17.5/tracker/events",
        [rasa.token],
    )
    assert "execute_side_effects" not in query  # recording only


def test_bot_messages_go_out_only_with_an_output_channel(rasa):
    api = RasaApi(rasa.url, rasa.token)
    api.append("web-1", [{"event": "bot", "text": "recorded only"}])
    api.append("web-1", [{"event": "bot", "text": "sent"}], output_channel="socketio")
    assert [(s.channel, s.text) for s in rasa.sent] == [("socketio", "sent")]
    assert rasa.requests[-1][2]["execute_side_effects"] == ["true"]


def test_errors_say_what_to_do(rasa):
    with pytest.raises(RasaApiError, match="CX_RASA_TOKEN must be the token Rasa was started"):
        RasaApi(rasa.url, "wrong").pause("web-1")
    rasa.fail(500)
    with pytest.raises(RasaApiError, match=r"could not add events \(500\): injected failure"):
        RasaApi(rasa.url, rasa.token).pause("web-1")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{s.getsockname()[1]}"
    with pytest.raises(RasaApiError, match="did not answer .* running with --enable-api"):
        RasaApi(closed, "t", timeout=2).tracker("web-1")


def test_the_relay_reaches_only_channels_that_can_take_a_persons_message(rasa):
    relay = Relay(RasaApi(rasa.url, rasa.token))
    with pytest.raises(CannotReach, match="'rest' channel"):
        relay.send("r-1", "rest", "hello")
    with pytest.raises(RelayFailed, match="Slack is not configured in the hub"):
        relay.send("U1_C1_17.5", "slack", "hello")
    assert rasa.requests == []


def test_a_slack_conversation_without_a_thread_is_found_from_its_latest_message(rasa, slack):
    relay = Relay(RasaApi(rasa.url, rasa.token), SlackWebApi(slack.token, slack.url))
    rasa.customer_says("U0JANE", "hi", "slack", {"out_channel": "D0JANE", "thread_id": "17.1"})
    relay.send("U0JANE", "slack", "Hello Jane", agent="Ana")
    assert [(p.channel, p.thread_ts, p.text) for p in slack.posts()] == [
        ("D0JANE", "17.1", "*Ana* (support team): Hello Jane")
    ]


def test_slack_text_escapes_slacks_control_characters():
    assert slack_text("<@U1> & <!here>") == "&lt;@U1&gt; &amp; &lt;!here&gt;"
    assert slack_text("hi", agent="<Ana>") == "*&lt;Ana&gt;* (support team): hi"


def test_a_person_joining_on_slack_is_said_plainly_and_recorded_as_an_event(rasa, slack):
    relay = Relay(RasaApi(rasa.url, rasa.token), SlackWebApi(slack.token, slack.url))
    rasa.customer_says("U0JANE", "hi", "slack", {"out_channel": "D0JANE", "thread_id": "17.1"})
    relay.send("U0JANE", "slack", "Ana has joined.", system=("joined", "Ana"))
    assert slack.posts()[-1].text == "Ana has joined."
    bot = [e for e in rasa.events("U0JANE") if e["event"] == "bot"][-1]
    assert bot["data"]["custom"] == {"text": "Ana has joined.", "system": "joined", "by": "Ana"}
