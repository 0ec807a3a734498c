"""The website chat never carries on a conversation another channel spoke in first
(bot/rasa/channels/web.py, bot/rasa/channels/owned.py): over real socket.io, with a real
tracker store, on a channel server without Rasa's model."""

from __future__ import annotations

import asyncio

import pytest
from rasa.core.tracker_store import InMemoryTrackerStore
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import SlotSet, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker

from bot.db.engine import make_engine
from bot.db.migrate import migrate
from bot.rasa.channels.presence import WebPresence
from bot.rasa.channels.tokens import WebSession, mint_session_token
from bot.rasa.channels.web import WebChatInput
from bot.settings import Settings
from tests.e2e.test_web_channel import WidgetClient
from tests.fakes.channel_server import ChannelServer

SECRET = "w" * 32


@pytest.fixture
def clients():
    opened: list[WidgetClient] = []
    yield opened
    for client in opened:
        client.close()


def web_channel(journey_url: str | None = None) -> WebChatInput:
    env = {"CX_WIDGET_SECRET": SECRET}
    if journey_url:
        env["CX_JOURNEY_URL"] = journey_url
    return WebChatInput(Settings.from_env(env))


def say_into(store: InMemoryTrackerStore, conversation: str, channel: str) -> None:
    """A customer message of ``conversation`` on ``channel``, and the state it left: an
    email typed and an option pending, for whoever speaks there next to inherit."""
    events = [
        UserUttered("my email is thief@example.com", input_channel=channel),
        SlotSet("email", "thief@example.com"),
        SlotSet("pending_option", "refund"),
    ]
    tracker = asyncio.run(store.retrieve_full_tracker(conversation))
    if tracker is None:
        tracker = DialogueStateTracker.from_events(conversation, [])
    for event in events:
        tracker.update(event)
    asyncio.run(store.save(tracker))


def test_a_chat_a_rest_client_spoke_in_while_the_widget_was_away_is_not_resumed(clients):
    store = InMemoryTrackerStore(Domain.empty())
    say_into(store, "e3b0c44298fc1c149afbf4c8996fb924", "rest")
    token = mint_session_token(SECRET, WebSession("e3b0c44298fc1c149afbf4c8996fb924"))
    with ChannelServer(web_channel(), store) as server:
        widget = WidgetClient(server.url, session=token)
        clients.append(widget)
        fresh = widget.session["session_id"]
        assert fresh != "e3b0c44298fc1c149afbf4c8996fb924"
        assert widget.session["history"] == []  # nothing of what was said there
        widget.say("hi")
        assert widget.next("bot_uttered")["text"] == "you said: hi"
        assert [m.sender_id for m in server.messages] == [fresh]


def test_a_chat_a_rest_client_spoke_in_before_the_widgets_first_message_starts_afresh(
    clients, tmp_path
):
    journey_url = f"sqlite:///{tmp_path / 'journey.db'}"
    migrate(make_engine(journey_url))
    store = InMemoryTrackerStore(Domain.empty())
    with ChannelServer(web_channel(journey_url), store) as server:
        widget = WidgetClient(server.url)
        clients.append(widget)
        first = widget.session["session_id"]
        say_into(store, first, "rest")  # a REST client that learnt the id, before she wrote
        widget.say("where is my order?")
        assert widget.next("bot_uttered")["text"] == "you said: where is my order?"
        [message] = server.messages
        assert message.sender_id != first
        # The widget is given the new chat: its id and the token that opens it again.
        confirmed = widget.next("session_confirm")
        assert confirmed["session_id"] == message.sender_id
        # News told first reaches the chat the browser shows now (bot/rasa/channels/presence.py).
        presence = WebPresence(make_engine(journey_url))
        assert presence.online(message.sender_id) and not presence.online(first)
        again = WidgetClient(server.url, session=confirmed["token"])
        clients.append(again)
        assert again.session["session_id"] == message.sender_id


def test_the_widgets_own_chat_goes_on(clients):
    store = InMemoryTrackerStore(Domain.empty())
    say_into(store, "own-chat", "socketio")
    say_into(store, "own-chat", None)  # made through Rasa's HTTP API: nobody's planting
    token = mint_session_token(SECRET, WebSession("own-chat"))
    with ChannelServer(web_channel(), store) as server:
        widget = WidgetClient(server.url, session=token)
        clients.append(widget)
        assert widget.session["session_id"] == "own-chat"
        widget.say("and my invoice?")
        assert widget.next("bot_uttered")["text"] == "you said: and my invoice?"
        assert [m.sender_id for m in server.messages] == ["own-chat"]
