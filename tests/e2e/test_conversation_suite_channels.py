"""A sample of the conversation suite (tests/conversations/*.yml) over the website's
socket.io channel and over Slack, with the suite's own checks, unchanged.

The smoke subset (test_conversation_suite_smoke.py) plays over REST; these play the same kind
of conversations as the widget does (a python-socketio client, a session per chat) and as
Slack does (signed Events API payloads, a thread per chat, replies read from the fake
Slack, buttons pressed as signed block_actions). tests/conversations/transports.py does the
talking: a turn is over when the tracker has it, and a reply or a button the assistant said
but the channel did not deliver fails the conversation. Handoffs are looked up under the
channel's own conversation ids (the widget's session id, Slack's user_channel_thread).

They share the session's end-to-end assistant (tests/e2e/conftest.py), which posts its Slack
replies to the session's fake Slack.
"""

from __future__ import annotations

import dataclasses
import queue

import pytest
import requests

from tests.conversations.runner import (
    System,
    load_suite,
    parse_conversation,
    run_conversation,
    transcript,
)
from tests.conversations.transports import SlackTransport, SocketIOTransport

pytestmark = pytest.mark.e2e

# Conversations that pass over REST, among them typed choices, details up front, several
# turns, a pressed button, a handoff, back-office changes and (Slack) a second chat.
SAMPLE = {
    "socketio": (
        "address-change-verified",  # details up front, three turns, the address changed
        "refund-outside-window-store-credit-typed",  # buttons, a typed choice, a handoff
        "cancel-shipped-press",  # a pressed button (its payload, as the widget sends it)
    ),
    "slack": (
        "address-change-shipped-redirect-typed",  # buttons as blocks, a typed choice, handoff
        "refund-outside-window-second-chat-partial",  # a new chat is a new thread, same user
        "refund-outside-window-exception-press",  # a pressed button is a block_actions
    ),
}
SUITE = {c.id: c for c in load_suite()}
CASES = [(channel, SUITE[cid]) for channel, ids in SAMPLE.items() for cid in ids]


@pytest.fixture(scope="module")
def systems(assistant, fake_slack):
    settings = assistant.settings
    made = {
        "socketio": System(settings, SocketIOTransport(settings.rasa_url, settings.rasa_token)),
        "slack": System(
            settings, SlackTransport(settings.rasa_url, settings.rasa_token, fake_slack)
        ),
    }
    yield made
    for system in made.values():
        system.transport.close()


def test_the_sample_is_in_the_suite_and_runs_there():
    for channel, ids in SAMPLE.items():
        for cid in ids:
            assert cid in SUITE, f"{cid} ({channel}) is no longer in tests/conversations/*.yml"
            assert not SUITE[cid].known_failure, f"{cid} is marked known_failure: pick another"
    turns = [t for _, c in CASES for t in c.turns]
    assert any("press" in t for t in turns) and any(t.get("new_chat") for t in turns)


@pytest.mark.parametrize("channel, conversation", CASES, ids=[f"{ch}-{c.id}" for ch, c in CASES])
def test_conversation_over_a_channel(systems, assistant, channel, conversation):
    result = run_conversation(systems[channel], conversation)
    assert result.passed, (
        f"{conversation.id} over {channel}: {conversation.description}\n"
        + "\n".join(f"- {f}" for f in result.failures)
        + "\n"
        + transcript(result)
    )
    # Every chat of it went through that channel, each under an id of the channel's own.
    chats = 1 + sum(bool(t.get("new_chat")) for t in conversation.turns)
    assert len(set(result.conversation_ids)) == chats
    for cid in result.conversation_ids:
        tracker = requests.get(
            f"{assistant.url}/conversations/{cid}/tracker",
            params={"token": assistant.settings.rasa_token},
            timeout=10,
        ).json()
        assert tracker["latest_input_channel"] == channel, cid


# -- a channel that loses things fails the conversation -------------------------------------
# One turn with buttons and no expectation of its own: only the transport's comparison of
# what arrived with what the assistant said (its tracker) can fail it.
REFUND = parse_conversation(
    {"id": "lossy", "turns": [{"say": "refund ORD-10005 li.wei@example.com"}]}
)


class LosesBlocks:
    """The fake Slack as a client that loses every post's blocks (so its buttons) sees it."""

    def __init__(self, slack):
        self.slack = slack
        self.signing_secret = slack.signing_secret

    def deliver(self, *args, **kwargs):
        return self.slack.deliver(*args, **kwargs)

    def posts(self, **where):
        return [
            dataclasses.replace(p, fields={k: v for k, v in p.fields.items() if k != "blocks"})
            for p in self.slack.posts(**where)
        ]


class LosesFirstReply(queue.Queue):
    """A socket's inbox that drops the first bot_uttered it gets."""

    lost = False

    def put(self, item, *args, **kwargs):
        if item[0] == "bot_uttered" and not self.lost:
            self.lost = True
            return
        super().put(item, *args, **kwargs)


def test_buttons_lost_on_slack_fail_the_conversation(assistant, fake_slack):
    settings = assistant.settings
    transport = SlackTransport(settings.rasa_url, settings.rasa_token, LosesBlocks(fake_slack))
    transport.grace = 0.5
    result = run_conversation(System(settings, transport), REFUND)
    assert not result.passed
    assert "turn 1: the Slack call failed" in result.failures[0]
    assert "button" in result.failures[0] and "never arrived" in result.failures[0]


def test_a_reply_lost_on_socketio_fails_the_conversation(assistant):
    settings = assistant.settings

    class Lossy(SocketIOTransport):
        inbox = LosesFirstReply

    transport = Lossy(settings.rasa_url, settings.rasa_token)
    transport.grace = 0.5
    try:
        result = run_conversation(System(settings, transport), REFUND)
    finally:
        transport.close()
    assert not result.passed
    assert "turn 1: the socket.io call failed" in result.failures[0]
    assert "never arrived" in result.failures[0]
