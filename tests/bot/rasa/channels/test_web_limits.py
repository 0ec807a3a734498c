"""The website chat's rate limits over real socket.io (a channel server without Rasa's model)."""

from __future__ import annotations

import pytest
import socketio

from bot.rasa.channels.web import TOO_MANY_CONNECTIONS, WebChatInput
from bot.ratelimit import MemoryLimiter, Rate, RateLimits
from bot.settings import Settings
from tests.e2e.test_web_channel import WidgetClient
from tests.fakes.channel_server import ChannelServer
from tests.fakes.clock import Clock


def web_channel(clock: Clock, **limits) -> WebChatInput:
    return WebChatInput(
        Settings.from_env({"CX_WIDGET_SECRET": "w" * 32}),
        limits=RateLimits(**limits),
        limiter=MemoryLimiter(lambda: clock().timestamp()),
    )


@pytest.fixture
def clients():
    opened: list[WidgetClient] = []
    yield opened
    for client in opened:
        client.close()


def test_over_the_sessions_limit_the_widget_is_told_to_wait_and_no_turn_starts(clients):
    clock = Clock()
    with ChannelServer(web_channel(clock, conversation=Rate(2, 60))) as server:
        widget = WidgetClient(server.url)
        clients.append(widget)
        for text in ("one", "two"):
            widget.say(text)
            assert widget.next("bot_uttered")["text"] == f"you said: {text}"
        clock.advance(seconds=20)
        widget.say("three")
        notice = widget.next("error_message")
        assert notice["retry_after"] == 40 and "wait 40 seconds" in notice["message"]
        assert [m.text for m in server.messages] == ["one", "two"]
        # Another browser's conversation is not held up.
        other = WidgetClient(server.url)
        clients.append(other)
        other.say("hello")
        assert other.next("bot_uttered")["text"] == "you said: hello"
        clock.advance(seconds=40)
        widget.say("four")
        assert widget.next("bot_uttered")["text"] == "you said: four"


def test_over_the_addresss_message_limit_every_session_from_it_waits(clients):
    clock = Clock()
    with ChannelServer(web_channel(clock, ip=Rate(2, 60))) as server:
        first, second = WidgetClient(server.url), WidgetClient(server.url)
        clients.extend([first, second])
        first.say("a")
        second.say("b")
        assert first.next("bot_uttered") and second.next("bot_uttered")
        first.say("c")
        assert first.next("error_message")["retry_after"] == 60


def test_over_the_addresss_connection_limit_the_connection_is_refused(clients):
    clock = Clock()
    with ChannelServer(web_channel(clock, connect_ip=Rate(2, 60))) as server:
        clients.extend([WidgetClient(server.url), WidgetClient(server.url)])
        refused = socketio.Client(reconnection=False)
        reasons: list = []
        refused.on("connect_error", reasons.append)
        with pytest.raises(socketio.exceptions.ConnectionError):
            refused.connect(server.url, transports=["polling"], wait_timeout=10)
        assert reasons == [{"message": TOO_MANY_CONNECTIONS, "data": {"retry_after": 60}}]
        clock.advance(seconds=60)
        clients.append(WidgetClient(server.url))


def test_the_limits_come_from_the_environment(monkeypatch):
    monkeypatch.setenv("CX_RATE_CONVERSATION", "5/10s")
    monkeypatch.setenv("CX_WIDGET_SECRET", "w" * 32)
    channel = WebChatInput.from_credentials(None)
    assert channel.limits.conversation == Rate(5, 10)
