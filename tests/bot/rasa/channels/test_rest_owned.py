"""A REST client continues only conversations the REST channel started (bot/rasa/channels/rest_owned.py),
over a real server with a real tracker store."""

from __future__ import annotations

import asyncio

import requests
from rasa.core.tracker_store import InMemoryTrackerStore
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import SlotSet, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker

from bot.rasa.channels.rest import CheckedRestInput
from bot.rasa.channels.rest_owned import RestConversations
from tests.fakes.channel_server import ChannelServer

# Rasa's Slack channel names a thread's conversation <user>_<channel>_<thread>: all three
# are seen by anyone in that Slack channel.
SLACK_CONVERSATION = "U024BE7LH_C024BE91L_1700000000.000100"


def say(url: str, sender: str, message: str = "where is my order?") -> requests.Response:
    return requests.post(
        f"{url}/webhooks/rest/webhook", json={"sender": sender, "message": message}, timeout=10
    )


def store_with(conversation: str, channel: str | None) -> InMemoryTrackerStore:
    """A tracker store holding one conversation of a verified customer, started on ``channel``."""
    store = InMemoryTrackerStore(Domain.empty())
    tracker = DialogueStateTracker.from_events(
        conversation,
        [
            UserUttered("hi", input_channel=channel),
            SlotSet("customer_id", "C001"),
            SlotSet("verified_by", "slack"),
        ],
    )
    asyncio.run(store.save(tracker))
    return store


def test_a_slack_conversation_is_refused_and_runs_no_turn():
    with ChannelServer(CheckedRestInput(), store_with(SLACK_CONVERSATION, "slack")) as server:
        refused = say(server.url, SLACK_CONVERSATION)
        assert refused.status_code == 403
        assert "started on another channel" in refused.json()["error"]
        assert server.messages == []  # no turn: nothing of the customer's was read out
        # The client's own conversations go on as ever.
        assert say(server.url, "integration-7").status_code == 200
        assert say(server.url, "integration-7").status_code == 200
        assert [m.sender_id for m in server.messages] == ["integration-7"] * 2


def test_a_website_conversation_is_refused_too():
    with ChannelServer(CheckedRestInput(), store_with("9f0c2e", "socketio")) as server:
        assert say(server.url, "9f0c2e").status_code == 403
        assert server.messages == []


def test_a_conversation_the_rest_channel_started_goes_on():
    for channel in ("rest", None):  # None: an event made through Rasa's HTTP API
        with ChannelServer(CheckedRestInput(), store_with("shop-backend-1", channel)) as server:
            assert say(server.url, "shop-backend-1").status_code == 200
            assert [m.sender_id for m in server.messages] == ["shop-backend-1"]


def test_each_conversation_is_looked_up_once_and_the_memory_is_bounded():
    class CountingStore(InMemoryTrackerStore):
        reads = 0

        async def retrieve(self, sender_id):
            CountingStore.reads += 1
            return await super().retrieve(sender_id)

    class App:
        class ctx:
            class agent:
                tracker_store = CountingStore(Domain.empty())

    conversations = RestConversations(remembered=2)

    async def ask(*senders: str) -> None:
        for sender in senders:
            assert await conversations.refusal(App, sender) is None

    asyncio.run(ask("a", "a", "a", "b", "a"))
    assert CountingStore.reads == 2
    asyncio.run(ask("c", "b"))  # "b" was the oldest remembered when "c" came: read again
    assert CountingStore.reads == 4
