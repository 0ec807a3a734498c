"""The website channel's live signals over real socket.io and HTTP (a channel server without
Rasa's model): the message id a widget is acknowledged with, the customer's typing as the
console reads it, and the agent's typing and "seen" as the console sends them."""

from __future__ import annotations

import queue
import time
from typing import Any

import pytest
import requests
import socketio

from bot.rasa.channels.web import WebChatInput
from bot.settings import Settings
from tests.fakes.channel_server import ChannelServer

TOKEN = "rasa-api-token-for-the-test"


class Widget:
    """A socket.io client speaking the widget's protocol, live events included."""

    def __init__(self, url: str, session: str | None = None):
        self.events: queue.Queue[tuple[str, Any]] = queue.Queue()
        self.sio = socketio.Client(reconnection=False)
        for name in ("session_confirm", "bot_uttered", "agent_typing", "seen", "user_echo"):
            self.sio.on(name, lambda data, name=name: self.events.put((name, data)))
        self.sio.connect(
            url,
            auth={"session": session} if session else {},
            transports=["polling"],
            wait_timeout=10,
        )
        self.sio.emit("session_request", {})
        self.session = self.next("session_confirm")

    @property
    def conversation(self) -> str:
        return self.session["session_id"]

    def next(self, name: str, timeout: float = 10) -> Any:
        deadline = time.monotonic() + timeout
        while (left := deadline - time.monotonic()) > 0:
            try:
                got, data = self.events.get(timeout=left)
            except queue.Empty:
                break
            if got == name:
                return data
        raise AssertionError(f"no {name} within {timeout} s")

    def heard(self, name: str, wait: float = 1.0) -> list[Any]:
        """Every ``name`` event within ``wait`` seconds."""
        found, deadline = [], time.monotonic() + wait
        while (left := deadline - time.monotonic()) > 0:
            try:
                got, data = self.events.get(timeout=left)
            except queue.Empty:
                break
            if got == name:
                found.append(data)
        return found

    def close(self) -> None:
        self.sio.disconnect()


@pytest.fixture
def server():
    channel = WebChatInput(
        Settings.from_env({"CX_WIDGET_SECRET": "w" * 32, "CX_RASA_TOKEN": TOKEN})
    )
    with ChannelServer(channel) as running:
        yield running


@pytest.fixture
def widgets(server):
    opened: list[Widget] = []

    def open_widget(session: str | None = None) -> Widget:
        widget = Widget(server.url, session)
        opened.append(widget)
        return widget

    yield open_widget
    for widget in opened:
        widget.close()


def live(server, conversation: str, method: str = "GET", token: str = TOKEN, **body):
    return requests.request(
        method,
        f"{server.url}/webhooks/socketio/live/{conversation}",
        json=body or None,
        headers={"Authorization": f"Bearer {token}"} if token else {},
        timeout=10,
    )


def test_a_message_is_acknowledged_with_the_id_rasa_records_it_under(server, widgets):
    widget = widgets()
    ack = widget.sio.call("user_uttered", {"message": "hello"}, timeout=10)
    assert ack == {"id": server.messages[-1].message_id}
    assert widget.sio.call("user_uttered", {"message": "  "}, timeout=10) == {"error": "empty"}


def test_the_first_screen_learns_the_support_teams_promise(widgets):
    assert widgets().session["support"]["wait"].startswith("A person from our team replies ")


def test_the_console_reads_the_customers_typing(server, widgets):
    widget, other = widgets(), widgets()
    assert live(server, widget.conversation).json() == {"customer_typing": False}
    widget.sio.emit("typing", {"typing": True})
    for _ in range(50):
        if live(server, widget.conversation).json()["customer_typing"]:
            break
        time.sleep(0.1)
    assert live(server, widget.conversation).json() == {"customer_typing": True}
    assert live(server, other.conversation).json() == {"customer_typing": False}
    widget.sio.call("user_uttered", {"message": "there"}, timeout=10)  # sending ends it
    assert live(server, widget.conversation).json() == {"customer_typing": False}


def test_the_agents_typing_and_seen_reach_that_conversations_widgets_only(server, widgets):
    widget, stranger = widgets(), widgets()
    r = live(server, widget.conversation, "POST", type="agent_typing", agent="Ana", typing=True)
    assert r.status_code == 204
    assert widget.next("agent_typing") == {"agent": "Ana", "typing": True}
    ack = widget.sio.call("user_uttered", {"message": "hi Ana"}, timeout=10)
    assert live(server, widget.conversation, "POST", type="seen", message_id=ack["id"]).ok
    assert widget.next("seen") == {"message_id": ack["id"]}
    assert stranger.heard("agent_typing") == [] and stranger.heard("seen", 0.2) == []
    # A widget that (re)connects to the conversation is told what was seen.
    again = widgets(widget.session["token"])
    assert again.conversation == widget.conversation and again.session["seen"] == ack["id"]
    assert stranger.session["seen"] is None


def test_only_the_hub_with_rasas_token_may_send_or_read_live_signals(server, widgets):
    widget = widgets()
    for token in ("", "not-the-token"):
        assert live(server, widget.conversation, token=token).status_code == 403
        refused = live(
            server, widget.conversation, "POST", token=token, type="seen", message_id="m"
        )
        assert refused.status_code == 403
    assert widget.heard("seen") == []
    assert live(server, widget.conversation, "POST", type="agent_typing").status_code == 400


def test_without_an_api_token_nobody_may():
    channel = WebChatInput(Settings.from_env({"CX_WIDGET_SECRET": "w" * 32}))
    assert not channel.authorised("Bearer ") and not channel.authorised("Bearer anything")
