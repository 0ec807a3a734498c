"""An agent's message to a Slack conversation: private to a verified customer in a channel
others read, as the assistant's replies are (bot/agents/relay.py, bot/rasa/channels/slack_api.py).

Real sockets: the relay talks to a fake Rasa HTTP API (whose trackers here also carry the
slots their ``slot`` events set, as Rasa's do) and to the fake Slack Web API.
"""

from __future__ import annotations

from typing import Any

import pytest

from bot.agents import RasaApi
from bot.agents.relay import Relay
from bot.rasa.channels.slack_api import SlackWebApi
from tests.fakes.rasa import FakeRasa
from tests.fakes.slack import FakeSlack

THREAD = "1741773600.000100"


class RasaWithSlots(FakeRasa):
    """The fake Rasa, its trackers showing ``slots`` as Rasa's tracker API does."""

    def _state(self, conversation_id: str) -> dict[str, Any]:
        state = super()._state(conversation_id)
        slots: dict[str, Any] = {}
        for event in state["events"]:
            if event["event"] == "slot":
                slots[event["name"]] = event["value"]
        return {**state, "slots": slots}


@pytest.fixture
def rasa():
    with RasaWithSlots() as fake:
        yield fake


@pytest.fixture(scope="module")
def slack():
    with FakeSlack() as fake:
        yield fake


def conversation(rasa, channel: str, user: str = "U0JANE", verified_by: str | None = "slack"):
    """A Slack conversation in ``channel`` whose customer is C001, verified as said."""
    sender = f"{user}_{channel}_{THREAD}"
    rasa.customer_says(sender, "I want to talk to a person", "slack", {"slack_user": user})
    rasa.trackers[sender] += [
        {"event": "slot", "name": "customer_id", "value": "C001"},
        {"event": "slot", "name": "verified_by", "value": verified_by},
    ]
    return sender


def relay(rasa, slack) -> Relay:
    return Relay(RasaApi(rasa.url, rasa.token), SlackWebApi(slack.token, slack.url))


def test_an_agent_tells_a_verified_customer_in_a_channel_privately(rasa, slack):
    sender = conversation(rasa, "C0PRIV1")
    relay(rasa, slack).send(sender, "slack", "Your refund of 59.00 EUR is on its way.", "Ana")
    [private] = slack.ephemerals(channel="C0PRIV1")
    assert (private.user, private.thread_ts) == ("U0JANE", THREAD)
    assert private.text == "*Ana* (support team): Your refund of 59.00 EUR is on its way."
    assert slack.posts(channel="C0PRIV1") == []
    # Still recorded in the conversation, as every relayed message is.
    assert rasa.events(sender)[-1]["text"] == "Your refund of 59.00 EUR is on its way."


@pytest.mark.parametrize(
    ("channel", "verified_by"),
    [("D0PUB1", "slack"), ("C0PUB2", None)],  # a DM; a channel, the customer only claimed
)
def test_an_agent_posts_publicly_in_a_dm_or_to_an_unverified_customer(
    rasa, slack, channel, verified_by
):
    sender = conversation(rasa, channel, verified_by=verified_by)
    relay(rasa, slack).send(sender, "slack", "Hi, Ana here.", "Ana")
    assert [p.text for p in slack.posts(channel=channel)] == ["*Ana* (support team): Hi, Ana here."]
    assert slack.ephemerals(channel=channel) == []
