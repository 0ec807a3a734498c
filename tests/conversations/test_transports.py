"""The transports' pure parts (tests/conversations/transports.py), without servers: what
counts as a recorded turn, and how arrivals on a channel are read and compared with what the
assistant said. The transports themselves run in tests/e2e/test_conversation_suite_channels.py.
"""

from __future__ import annotations

import pytest

from tests.conversations.transports import (
    RestTransport,
    from_slack,
    from_socketio,
    last_turn_utterances,
    make_transport,
    turn_is_recorded,
    undelivered,
)

BUTTONS = [
    {"title": "Store credit", "payload": '/choose{"option": "store_credit"}'},
    {"title": "Ask for an exception", "payload": '/choose{"option": "exception"}'},
]
EVENTS = [
    {"event": "action", "name": "action_session_start"},
    {"event": "session_started"},
    {"event": "action", "name": "action_listen"},
    {"event": "user", "text": "hi"},
    {"event": "bot", "text": "Hello!"},
    {"event": "action", "name": "action_listen"},
    {"event": "user", "text": "refund ORD-10005"},
    {"event": "action", "name": "action_refund"},
    {
        "event": "bot",
        "text": "That was 45 days ago.\n\nWhat would you like?",
        "data": {"buttons": BUTTONS},
    },
    {"event": "bot", "text": "Or ask me anything else.", "data": {}},
    {"event": "action", "name": "action_listen"},
]


def test_a_turn_is_recorded_once_the_assistant_listens_again():
    assert turn_is_recorded(EVENTS, 2)
    assert not turn_is_recorded(EVENTS, 3)  # the third message is not in yet
    assert not turn_is_recorded(EVENTS[:-1], 2)  # still answering
    assert not turn_is_recorded(EVENTS[:3], 1)  # a new conversation's first look


def test_the_last_turns_utterances_are_rest_replies():
    assert last_turn_utterances(EVENTS) == [
        {"text": "That was 45 days ago.\n\nWhat would you like?", "buttons": BUTTONS},
        {"text": "Or ask me anything else."},
    ]
    assert last_turn_utterances(EVENTS[:3]) == []


def slack_post(text, buttons=()):
    """The fields Rasa's SlackBot posts (send_text_with_buttons / send_text_message)."""
    if not buttons:
        return {"channel": "D1", "text": text, "type": "mrkdwn"}
    return {
        "channel": "D1",
        "text": text,
        "blocks": [
            {"type": "section", "text": {"type": "plain_text", "text": text}},
            {
                "type": "actions",
                "elements": [
                    {
                        "type": "button",
                        "text": {"type": "plain_text", "text": b["title"]},
                        "value": b["payload"],
                    }
                    for b in buttons
                ],
            },
        ],
    }


def test_slack_blocks_become_buttons_with_titles_and_payloads():
    said = "That was 45 days ago.\n\nWhat would you like?"
    assert from_slack(slack_post(said, BUTTONS)) == {"text": said, "buttons": BUTTONS}
    assert from_slack(slack_post("Hi")) == {"text": "Hi"}


def test_socketio_quick_replies_become_buttons():
    quick = [{"content_type": "text", **b} for b in BUTTONS]
    assert from_socketio({"text": "What would you like?", "quick_replies": quick}) == {
        "text": "What would you like?",
        "buttons": BUTTONS,
    }
    assert from_socketio({"text": "part one", "quick_replies": []}) == {"text": "part one"}
    assert from_socketio({"text": "Hi, I'm Ana", "agent": "Ana"}) == {
        "text": "Hi, I'm Ana",
        "agent": "Ana",
    }


def test_everything_said_arrived_even_split_into_paragraphs():
    said = last_turn_utterances(EVENTS)
    # socket.io splits text at blank lines and puts the buttons on the last part.
    arrived = [
        {"text": "That was 45 days ago."},
        {"text": "What would you like?", "buttons": BUTTONS},
        {"text": "Or ask me anything else."},
    ]
    assert undelivered(said, arrived) == []
    assert undelivered(said, arrived + [{"text": "an extra note"}]) == []


def test_a_lost_reply_or_button_is_named():
    said = last_turn_utterances(EVENTS)
    lost_reply = [{"text": "That was 45 days ago.\n\nWhat would you like?", "buttons": BUTTONS}]
    assert undelivered(said, lost_reply) == ["reply 'Or ask me anything else.' never arrived"]
    lost_buttons = [
        {"text": "That was 45 days ago. What would you like?"},
        {"text": "Or ask me anything else."},
    ]
    assert undelivered(said, lost_buttons) == [
        "button 'Store credit' ('/choose{\"option\": \"store_credit\"}') never arrived",
        "button 'Ask for an exception' ('/choose{\"option\": \"exception\"}') never arrived",
    ]
    wrong_payload = [dict(lost_reply[0], buttons=[dict(BUTTONS[0], payload="/other"), BUTTONS[1]])]
    assert len(undelivered(said[:1], wrong_payload)) == 1
    assert undelivered(said, []) and undelivered(said[:1], [{"text": "That was 45 days ago."}])


def test_channels_by_name():
    class Settings:
        rasa_url, rasa_token = "http://127.0.0.1:1", "t"

    assert isinstance(make_transport("rest", Settings()), RestTransport)
    assert make_transport("rest", Settings()).conversation_id("conv-a") == "conv-a"
    with pytest.raises(ValueError, match="fake Slack"):
        make_transport("slack", Settings())
    with pytest.raises(ValueError, match="unknown channel 'telegram'"):
        make_transport("telegram", Settings())
