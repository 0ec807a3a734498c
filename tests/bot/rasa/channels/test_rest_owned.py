"""A REST client continues only conversations the REST channel started (bot/rasa/channels/rest_owned.py),
over a real server with a real tracker store."""

from __future__ import annotations

import asyncio

import pytest
import requests
from rasa.core.tracker_store import InMemoryTrackerStore
from rasa.shared.core.constants import ACTION_SESSION_START_NAME
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, SessionStarted, SlotSet, UserUttered
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
        assert "shape of a Slack conversation id" in refused.json()["error"]
        assert server.messages == []  # no turn: nothing of the customer's was read out
        # The client's own conversations go on as ever.
        assert say(server.url, "integration-7").status_code == 200
        assert say(server.url, "integration-7").status_code == 200
        assert [m.sender_id for m in server.messages] == ["integration-7"] * 2


@pytest.mark.parametrize(
    "sender",
    [
        SLACK_CONVERSATION,  # conversation_granularity: thread (credentials.yml)
        "U024BE7LH_C024BE91L",  # channel
        "U024BE7LH",  # sender, and a click that names no thread
        "W0ENTERPRISE_G0PRIVATE_1700000000.000100",  # Enterprise Grid user, private channel
    ],
)
def test_a_slack_thread_is_refused_before_its_customer_wrote_there(sender):
    # Nothing in the store yet: the Slack customer has not written in this thread, and
    # whatever a REST client typed there first (an email, a chosen option) they would inherit.
    store = InMemoryTrackerStore(Domain.empty())
    with ChannelServer(CheckedRestInput(), store) as server:
        refused = say(server.url, sender, "my email is thief@example.com")
        assert refused.status_code == 403
        assert "only the Slack channel may use" in refused.json()["error"]
        assert server.messages == []  # no turn, so nothing planted
    assert asyncio.run(store.retrieve(sender)) is None


@pytest.mark.parametrize(
    "sender",
    [
        "integration-7",
        "shop-backend_C024_1700000000.1",  # not a Slack user id first
        "u024be7lh_c024be91l_1700000000.000100",  # Slack's ids are upper-case
        "9f0c2e5b7d4a4c1e8b3f6a2d1c0e9f8a",  # plain hex, as many integrations use
        "ORDER-7",
    ],
)
def test_sender_ids_not_shaped_as_slacks_are_taken(sender):
    with ChannelServer(CheckedRestInput(), InMemoryTrackerStore(Domain.empty())) as server:
        assert say(server.url, sender).status_code == 200
        assert [m.sender_id for m in server.messages] == [sender]


def test_a_website_conversation_is_refused_too():
    with ChannelServer(CheckedRestInput(), store_with("9f0c2e", "socketio")) as server:
        assert say(server.url, "9f0c2e").status_code == 403
        assert server.messages == []


def test_a_website_conversation_is_refused_after_its_session_expired_too():
    # A new session starts after an hour's silence (domain.yml) with the verified customer
    # carried over; the website's message is then in an earlier session, not the latest.
    store = InMemoryTrackerStore(Domain.empty())
    events = [
        UserUttered("hi", input_channel="socketio"),
        SlotSet("customer_id", "C001"),
        ActionExecuted(ACTION_SESSION_START_NAME),
        SessionStarted(),
        SlotSet("customer_id", "C001"),
    ]
    asyncio.run(store.save(DialogueStateTracker.from_events("9f0c2e", events)))
    with ChannelServer(CheckedRestInput(), store) as server:
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

        async def retrieve_full_tracker(self, sender_id):
            CountingStore.reads += 1
            return await super().retrieve_full_tracker(sender_id)

    store = CountingStore(Domain.empty())
    for sender in ("a", "b", "c"):  # each with a message of REST's own
        tracker = DialogueStateTracker.from_events(
            sender, [UserUttered("hi", input_channel="rest")]
        )
        asyncio.run(store.save(tracker))

    class App:
        class ctx:
            class agent:
                tracker_store = store

    conversations = RestConversations(remembered=2)

    async def ask(*senders: str) -> None:
        for sender in senders:
            assert await conversations.refusal(App, sender) is None

    asyncio.run(ask("a", "a", "a", "b", "a"))
    assert CountingStore.reads == 2
    asyncio.run(ask("c", "b"))  # "b" was the oldest remembered when "c" came: read again
    assert CountingStore.reads == 4
    # A new conversation is read until it holds a message of REST's own: another channel
    # could still speak in it first.
    asyncio.run(ask("new", "new"))
    assert CountingStore.reads == 6
