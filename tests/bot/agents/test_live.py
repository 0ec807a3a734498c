"""The hub's client of the website channel's live route, against the fake Rasa on a real socket."""

from __future__ import annotations

import socket

import pytest

from bot.agents.live_chat import LiveChat, LiveUnavailable


def test_typing_and_seen_go_to_the_conversations_live_route_with_the_token(rasa):
    live = LiveChat(rasa.url + "/", rasa.token)
    live.agent_typing("web/1", "Ana")
    live.agent_typing("web/1", "Ana", typing=False)
    live.seen("web/1", "m1")
    assert rasa.live == [
        ("web/1", {"type": "agent_typing", "agent": "Ana", "typing": True}),
        ("web/1", {"type": "agent_typing", "agent": "Ana", "typing": False}),
        ("web/1", {"type": "seen", "message_id": "m1"}),
    ]
    assert rasa.requests[0][1] == "/webhooks/socketio/live/web%2F1"  # one path segment


def test_whether_the_customer_types_is_read_from_the_channel(rasa):
    live = LiveChat(rasa.url, rasa.token)
    assert live.customer_typing("web-1") is False
    rasa.customer_typing.add("web-1")
    assert live.customer_typing("web-1") is True


def test_failures_say_what_to_do(rasa):
    with pytest.raises(LiveUnavailable, match="CX_RASA_TOKEN must be the Rasa server's"):
        LiveChat(rasa.url, "wrong").seen("web-1", "m1")
    rasa.fail(500)
    with pytest.raises(LiveUnavailable, match="answered 500"):
        LiveChat(rasa.url, rasa.token).customer_typing("web-1")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{s.getsockname()[1]}"
    with pytest.raises(LiveUnavailable, match="did not answer"):
        LiveChat(closed, "t", timeout=1).agent_typing("web-1", "Ana")
