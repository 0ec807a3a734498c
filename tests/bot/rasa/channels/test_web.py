"""The website channel's decisions, without a server: which conversation a browser gets,
and what a reconnecting widget is shown (the protocol itself: tests/e2e/test_web_channel.py)."""

from __future__ import annotations

from datetime import datetime

import pytest

from bot.departments import load_departments
from bot.rasa.channels.tokens import (
    InvalidToken,
    WebSession,
    mint_customer_token,
    mint_session_token,
)
from bot.rasa.channels.web import WebChatInput
from bot.rasa.channels.web_history import holder_of, transcript_of
from bot.rasa.channels.web_live_route import live_signal
from bot.settings import Settings

SECRET = "w" * 32


@pytest.fixture
def channel() -> WebChatInput:
    return WebChatInput(Settings.from_env({"CX_WIDGET_SECRET": SECRET}))


def session_token(session_id: str, customer_id: str | None = None) -> str:
    return mint_session_token(SECRET, WebSession(session_id, customer_id))


def test_no_token_means_a_new_anonymous_conversation(channel):
    a, b = channel.open_session({}), channel.open_session({"session": "junk"})
    assert a.customer_id is None and b.customer_id is None
    assert len({a.session_id, b.session_id}) == 2


def test_a_valid_session_token_resumes_its_conversation(channel):
    assert channel.open_session({"session": session_token("abc")}) == WebSession("abc")


def test_signing_in_keeps_the_anonymous_conversation(channel):
    auth = {"session": session_token("abc"), "customer": mint_customer_token(SECRET, "C001")}
    assert channel.open_session(auth) == WebSession("abc", "C001")


def test_another_or_no_customer_never_sees_a_customers_conversation(channel):
    janes = session_token("abc", "C001")
    as_li = channel.open_session(
        {"session": janes, "customer": mint_customer_token(SECRET, "C003")}
    )
    signed_out = channel.open_session({"session": janes})
    assert as_li.session_id != "abc" and as_li.customer_id == "C003"
    assert signed_out.session_id != "abc" and signed_out.customer_id is None


def test_a_bad_customer_token_is_an_error_not_a_guest(channel):
    with pytest.raises(InvalidToken):
        channel.open_session({"customer": mint_customer_token("x" * 32, "C001")})


def test_origins_default_to_the_hubs_own_and_follow_the_environment():
    default = WebChatInput(Settings.from_env({"CX_WIDGET_SECRET": SECRET, "CX_HUB_PORT": "8100"}))
    assert default.origins == ["http://127.0.0.1:8100", "http://localhost:8100"]
    configured = WebChatInput(
        Settings.from_env(
            {
                "CX_WIDGET_SECRET": SECRET,
                "CX_WIDGET_ORIGINS": "https://shop.example/, https://b.example",
            }
        )
    )
    assert configured.origins == ["https://shop.example", "https://b.example"]


def test_without_a_secret_the_channel_still_works_with_a_throwaway_one():
    channel = WebChatInput(Settings.from_env({}))
    assert channel.secrets and len(channel.secrets[0]) >= 32
    with pytest.raises(InvalidToken):  # nobody else knows it: website tokens are refused
        channel.open_session({"customer": mint_customer_token(SECRET, "C001")})


def test_the_transcript_shows_customers_assistant_and_agents_with_button_titles():
    buttons = [{"title": "Refund to my card", "payload": '/choose_option{"option":"refund"}'}]
    events = [
        {"event": "action", "name": "action_session_start"},
        {"event": "user", "text": "I want my money back"},
        {"event": "bot", "text": "Here's what we can do:", "data": {"buttons": buttons}},
        {"event": "user", "text": '/choose_option{"option":"refund"}'},
        {"event": "bot", "text": "Done.", "data": {}},
        {"event": "bot", "text": "x", "data": {"custom": {"text": "Hi, Ana here", "agent": "Ana"}}},
        {"event": "bot", "text": None, "data": {}},
    ]
    assert transcript_of(events) == [
        {"sender": "customer", "text": "I want my money back"},
        {
            "sender": "assistant",
            "text": "Here's what we can do:",
            "quick_replies": [{"content_type": "text", **buttons[0]}],
        },
        {"sender": "customer", "text": "Refund to my card"},
        {"sender": "assistant", "text": "Done."},
        {"sender": "agent", "text": "Hi, Ana here", "agent": "Ana"},
    ]


def test_an_expired_customer_token_still_reconnects_its_own_customers_session(channel):
    expired = mint_customer_token(SECRET, "C001", ttl=60, now=0)
    janes = session_token("abc", "C001")
    assert channel.open_session({"session": janes, "customer": expired}) == WebSession(
        "abc", "C001"
    )
    for session in (None, session_token("abc"), session_token("abc", "C003")):
        with pytest.raises(InvalidToken):
            channel.open_session({"session": session, "customer": expired})


def test_the_transcript_has_times_message_ids_and_a_person_joining_and_leaving_as_events():
    joined = {"text": "Ana from our support team has joined.", "system": "joined", "by": "Ana"}
    back = {"text": "Ana has handed you back to me.", "system": "handed_back", "by": "Ana"}
    events = [
        {"event": "user", "text": "a person please", "timestamp": 10.0, "message_id": "m1"},
        {"event": "pause", "timestamp": 11.0},
        {"event": "bot", "text": joined["text"], "timestamp": 11.5, "data": {"custom": joined}},
        {"event": "user", "text": "my parcel is late", "timestamp": 12.0, "message_id": "m2"},
        {"event": "bot", "text": back["text"], "timestamp": 13.0, "data": {"custom": back}},
        {"event": "resume", "timestamp": 13.0},
    ]
    assert transcript_of(events) == [
        {"sender": "customer", "text": "a person please", "id": "m1", "at": 10.0},
        {"sender": "event", "text": joined["text"], "system": "joined", "by": "Ana", "at": 11.5},
        {"sender": "customer", "text": "my parcel is late", "id": "m2", "at": 12.0},
        {"sender": "event", "text": back["text"], "system": "handed_back", "by": "Ana", "at": 13.0},
    ]


def test_who_holds_the_chat_follows_joins_hand_backs_and_pauses():
    joined = {"event": "bot", "text": "x", "data": {"custom": {"system": "joined", "by": "Ana"}}}
    left = {"event": "bot", "text": "x", "data": {"custom": {"system": "resolved", "by": "Ana"}}}
    pause, resume = {"event": "pause"}, {"event": "resume"}
    assert holder_of([]) is None
    assert holder_of([pause, joined]) == {"name": "Ana"}
    assert holder_of([pause, joined, left, resume]) is None
    assert holder_of([pause, joined, resume]) is None
    assert holder_of([pause]) == {"name": ""}  # a takeover from before system events


def test_live_signals_from_the_console_are_checked():
    assert live_signal({"type": "agent_typing", "agent": " Ana "}) == (
        "agent_typing",
        {"agent": "Ana", "typing": True},
    )
    assert (
        live_signal({"type": "agent_typing", "agent": "Ana", "typing": False})[1]["typing"] is False
    )
    assert live_signal({"type": "seen", "message_id": "m1"}) == ("seen", {"message_id": "m1"})
    for bad in (
        None,
        [],
        {},
        {"type": "agent_typing"},
        {"type": "seen", "message_id": 3},
        {"type": "seen", "message_id": "x" * 65},
        {"type": "shout", "agent": "Ana"},
    ):
        assert live_signal(bad) is None, bad


def test_the_first_screen_promises_what_the_support_team_promises(channel):
    wednesday_noon, wednesday_late = datetime(2025, 3, 12, 12, 0), datetime(2025, 3, 12, 23, 0)
    support = load_departments()["support"]
    assert channel.support_wait(wednesday_noon) == {
        "wait": f"A person from our team replies {support.promise(wednesday_noon)}."
    }
    assert channel.support_wait(wednesday_noon)["wait"] == (
        "A person from our team replies within 1 hour."
    )
    assert channel.support_wait(wednesday_late)["wait"] == (
        "A person from our team replies tomorrow from 08:00, within 1 hour of opening."
    )


def test_without_a_support_team_the_first_screen_promises_nothing(channel, monkeypatch):
    departments = {k: v for k, v in load_departments().items() if k != "support"}
    monkeypatch.setattr("bot.rasa.channels.web.load_departments", lambda: departments)
    assert channel.support_wait(datetime(2025, 3, 12, 12, 0)) is None
