"""The Slack channel: signed requests only, each event taken in once, a conversation per thread.

Requests are real Sanic requests handed to the channel's handler, as Rasa's server hands
them; replies go to the fake Slack Web API over a real socket.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from urllib.parse import urlencode

import pytest
import yaml
from rasa.core.channels.channel import UserMessage
from rasa.core.run import _create_single_channel
from rasa.shared.exceptions import InvalidConfigException
from sanic.compat import Header
from sanic.request import Request

from bot.channels.slack import NOT_CONFIGURED, SlackOutput, ThreadedSlackInput
from bot.settings import ROOT
from tests.fakes.slack import BOT_USER, SIGNING_SECRET, TOKEN, FakeSlack, message_event, sign

WEBHOOK = b"/webhooks/slack/webhook"
T1, T2 = "1741773600.000100", "1741773700.000200"


@pytest.fixture(scope="module")
def fake_slack():
    with FakeSlack() as slack:
        yield slack


@pytest.fixture
def journey_url(tmp_path) -> str:
    return f"sqlite:///{tmp_path / 'journey.db'}"


@pytest.fixture
def channel(fake_slack, journey_url) -> ThreadedSlackInput:
    return ThreadedSlackInput(
        slack_token=TOKEN,
        slack_signing_secret=SIGNING_SECRET,
        slack_api_url=fake_slack.url,
        journey_url=journey_url,
    )


def request(
    body: bytes | dict,
    content_type: str = "application/json",
    timestamp: int | None = None,
    secret: str = SIGNING_SECRET,
    **headers: str,
) -> Request:
    """A request as Slack sends it: signed with ``secret`` at ``timestamp`` (now)."""
    if isinstance(body, dict):
        body = json.dumps(body).encode()
    signed = {"content-type": content_type, **sign(secret, body, timestamp)}
    signed.update({k.replace("_", "-"): v for k, v in headers.items()})
    req = Request(WEBHOOK, Header(signed), "1.1", "POST", None, None)
    req.body = body
    return req


class Turns:
    """Rasa's on_new_message: the user messages the channel started turns for."""

    def __init__(self):
        self.messages: list[UserMessage] = []

    async def __call__(self, message: UserMessage) -> None:
        self.messages.append(message)


def handle(channel: ThreadedSlackInput, req: Request, turns: Turns | None = None):
    async def go():
        answer = await channel.handle(req, turns or Turns())
        await asyncio.sleep(0.01)  # the turn runs as a background task, as in Rasa
        return answer

    return asyncio.run(go())


# -- a conversation per thread ------------------------------------------------------------


def test_a_signed_message_starts_a_turn_whose_replies_go_into_its_thread(channel, fake_slack):
    turns = Turns()
    answer = handle(channel, request(message_event("where is ORD-10001?", ts=T1)), turns)
    assert answer.status == 200
    [message] = turns.messages
    assert message.text == "where is ORD-10001?"
    assert message.sender_id == f"U0JANE_D0JANE_{T1}"  # Rasa 3.6: user_channel_thread
    assert message.input_channel == "slack"
    assert message.metadata["slack_user"] == "U0JANE"  # the author...
    assert message.metadata["users"] == [BOT_USER]  # ...not Rasa's "users", the bot itself
    assert (message.metadata["out_channel"], message.metadata["thread_id"]) == ("D0JANE", T1)

    # The reply goes to the configured Web API, into the customer's thread.
    asyncio.run(message.output_channel.send_text_message(message.sender_id, "On its way."))
    [post] = fake_slack.wait_for_posts(thread_ts=T1)
    assert (post.token, post.channel, post.text) == (TOKEN, "D0JANE", "On its way.")
    assert "as_user" not in post.fields  # refused by new Slack apps' bot tokens


def test_a_reply_in_a_thread_continues_that_thread_and_another_thread_is_another_conversation(
    channel,
):
    turns = Turns()
    handle(channel, request(message_event("hi", ts=T1)), turns)
    handle(
        channel, request(message_event("where is my order", ts="1741773650.0", thread_ts=T1)), turns
    )
    handle(channel, request(message_event("hi again", ts=T2)), turns)
    assert [m.sender_id for m in turns.messages] == [
        f"U0JANE_D0JANE_{T1}",
        f"U0JANE_D0JANE_{T1}",
        f"U0JANE_D0JANE_{T2}",
    ]
    assert turns.messages[1].output_channel.thread_id == T1


def test_a_bot_mention_is_taken_out_of_the_text(channel):
    turns = Turns()
    handle(channel, request(message_event(f"<@{BOT_USER}> where is ORD-10001?")), turns)
    assert turns.messages[0].text == "where is ORD-10001?"


@pytest.mark.parametrize(
    "change",
    [
        {"bot_id": "B0BOT"},  # the bot's own reply, echoed back by Slack
        {"subtype": "message_changed"},
        {"user": None},
        {"text": ""},
        {"channel": "C0GENERAL", "channel_type": "channel"},  # a channel, without a mention
    ],
)
def test_what_is_not_a_person_writing_to_the_bot_starts_no_turn(channel, change):
    payload = message_event("hello")
    payload["event"].update(change)
    payload["event"] = {k: v for k, v in payload["event"].items() if v is not None}
    turns = Turns()
    assert handle(channel, request(payload), turns).status == 200
    assert turns.messages == []


def test_a_button_click_continues_the_thread_with_the_button_payload(channel):
    payload = {
        "type": "block_actions",
        "user": {"id": "U0JANE"},
        "channel": {"id": "D0JANE"},
        "message": {"ts": "1741773601.000300", "thread_ts": T1, "user": BOT_USER},
        "actions": [{"type": "button", "value": "/talk_to_person", "action_id": "x"}],
    }
    body = urlencode({"payload": json.dumps(payload)}).encode()
    turns = Turns()
    answer = handle(channel, request(body, "application/x-www-form-urlencoded"), turns)
    assert answer.status == 200
    [message] = turns.messages
    assert (message.text, message.sender_id) == ("/talk_to_person", f"U0JANE_D0JANE_{T1}")
    assert message.metadata["slack_user"] == "U0JANE"


# -- only Slack gets in -----------------------------------------------------------------------


def test_a_forged_signature_is_refused_and_starts_no_turn(channel):
    turns = Turns()
    body = json.dumps(message_event("hi")).encode()
    forged = request(body, secret="not-the-signing-secret")
    answer = handle(channel, forged, turns)
    assert answer.status == 401 and b"X-Slack-Signature" in answer.body
    assert turns.messages == []


def test_a_body_changed_after_signing_is_refused(channel):
    req = request(message_event("hi"))
    req.body = req.body.replace(b"hi", b"ho")
    assert handle(channel, req).status == 401


def test_a_request_without_signature_is_refused(channel):
    req = Request(WEBHOOK, Header({"content-type": "application/json"}), "1.1", "POST", None, None)
    req.body = json.dumps(message_event("hi")).encode()
    assert handle(channel, req).status == 401


@pytest.mark.parametrize("age", [301, 3600, -301])  # too old, much too old, from the future
def test_a_request_signed_more_than_five_minutes_away_is_refused(channel, age):
    turns = Turns()
    req = request(message_event("hi"), timestamp=int(time.time()) - age)
    assert handle(channel, req, turns).status == 401
    assert turns.messages == []


def test_a_request_signed_within_five_minutes_is_taken(channel):
    turns = Turns()
    req = request(message_event("hi"), timestamp=int(time.time()) - 240)
    assert handle(channel, req, turns).status == 200
    assert len(turns.messages) == 1


def test_url_verification_answers_the_challenge_only_when_signed(channel):
    payload = {"token": "x", "challenge": "3eZbrw1aBm2rZgRNFdxV", "type": "url_verification"}
    answer = handle(channel, request(payload))
    assert answer.status == 200
    assert json.loads(answer.body) == {"challenge": "3eZbrw1aBm2rZgRNFdxV"}
    assert handle(channel, request(payload, secret="forged")).status == 401


# -- each event taken in once ---------------------------------------------------------------


@pytest.mark.parametrize("reason", ["http_error", "http_timeout", "connection_failed"])
def test_a_retried_event_starts_no_second_turn(channel, reason):
    turns = Turns()
    event = message_event("where is ORD-10001?", ts=T1, event_id="Ev0RETRY")
    assert handle(channel, request(event), turns).status == 200
    retry = request(event, x_slack_retry_num="1", x_slack_retry_reason=reason)
    answer = handle(channel, retry, turns)
    assert answer.status == 200 and answer.headers["X-Slack-No-Retry"] == "1"
    assert len(turns.messages) == 1


def test_a_retry_whose_first_delivery_never_arrived_is_answered(channel):
    """Stock Rasa drops every http_timeout retry; one that is new to us gets its answer."""
    turns = Turns()
    retry = request(message_event("hi"), x_slack_retry_num="1", x_slack_retry_reason="http_timeout")
    assert handle(channel, retry, turns).status == 200
    assert len(turns.messages) == 1


def test_events_already_taken_in_survive_a_restart(channel, fake_slack, journey_url):
    event = message_event("hi", ts=T1)
    handle(channel, request(event))
    restarted = ThreadedSlackInput(
        TOKEN, slack_signing_secret=SIGNING_SECRET, journey_url=journey_url
    )
    turns = Turns()
    handle(
        restarted, request(event, x_slack_retry_num="2", x_slack_retry_reason="http_error"), turns
    )
    assert turns.messages == []


def test_one_message_delivered_as_message_and_as_app_mention_gets_one_turn(channel):
    """In the SLACK_CHANNEL the bot reads every message, and a mention there also comes as
    app_mention: two events, two event ids, one message."""
    channel.slack_channel = "C0SUPPORT"
    turns = Turns()
    as_message = message_event(f"<@{BOT_USER}> hi", channel="C0SUPPORT", ts=T1, event_id="Ev1")
    as_mention = message_event(f"<@{BOT_USER}> hi", channel="C0SUPPORT", ts=T1, event_id="Ev2")
    as_mention["event"]["type"] = "app_mention"
    handle(channel, request(as_message), turns)
    handle(channel, request(as_mention), turns)
    assert [(m.sender_id, m.text) for m in turns.messages] == [(f"U0JANE_C0SUPPORT_{T1}", "hi")]


def test_messages_in_the_slack_channel_are_taken_without_a_mention(channel):
    channel.slack_channel = "C0SUPPORT"
    turns = Turns()
    handle(channel, request(message_event("my parcel is late", channel="C0SUPPORT")), turns)
    handle(channel, request(message_event("lunch?", channel="C0RANDOM")), turns)
    assert [m.text for m in turns.messages] == ["my parcel is late"]


# -- malformed requests: 400, never 500 -------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "content_type", "status"),
    [
        (b"{not json", "application/json", 400),
        (b"[]", "application/json", 400),
        (b'{"event": "hello"}', "application/json", 400),
        (
            b'{"event": {"type": "message", "text": ["hi"], "user": "U0JANE"}}',
            "application/json",
            400,
        ),
        (b'{"type": "event_callback", "event_id": 7, "event": {}}', "application/json", 400),
        (b"payload=%7Bnope", "application/x-www-form-urlencoded", 400),
        (b"nothing=here", "application/x-www-form-urlencoded", 400),
        (
            b'payload={"actions": [{"type": "select", "selected_options": []}], "user": {"id": "U1"}}',
            "application/x-www-form-urlencoded",
            400,
        ),
        (b"hello", "text/plain", 415),
    ],
)
def test_a_malformed_signed_request_gets_a_client_error(channel, body, content_type, status):
    turns = Turns()
    answer = handle(channel, request(body, content_type), turns)
    assert answer.status == status
    assert turns.messages == []


def test_metadata_of_a_malformed_request_is_empty(channel):
    assert channel.get_metadata(request(b"[1, 2]")) == {}
    assert channel.get_metadata(request(message_event("hi", ts=T1)))["thread_id"] == T1


# -- configured from the environment ------------------------------------------------------------

CREDENTIALS = yaml.safe_load((ROOT / "credentials.yml").read_text())[
    "bot.channels.slack.ThreadedSlackInput"
]


def test_credentials_yml_names_environment_variables_and_asks_for_threads(monkeypatch, fake_slack):
    monkeypatch.setenv("SLACK_BOT_TOKEN", TOKEN)
    monkeypatch.setenv("SLACK_SIGNING_SECRET", SIGNING_SECRET)
    monkeypatch.setenv("SLACK_API_URL", fake_slack.url.rstrip("/"))
    monkeypatch.setenv("SLACK_CHANNEL", "C0SUPPORT")
    # Built the way `rasa run --credentials credentials.yml` builds it.
    channel = _create_single_channel("bot.channels.slack.ThreadedSlackInput", CREDENTIALS)
    assert isinstance(channel, ThreadedSlackInput) and channel.name() == "slack"
    assert channel.configured
    assert (channel.slack_token, channel.slack_signing_secret) == (TOKEN, SIGNING_SECRET)
    assert channel.slack_api_url == fake_slack.url  # with its trailing slash back
    assert channel.slack_channel == "C0SUPPORT"
    assert (channel.conversation_granularity, channel.use_threads) == ("thread", True)
    assert not set(CREDENTIALS) & {"slack_token", "slack_signing_secret"}


def test_without_slack_secrets_rasa_starts_and_the_channel_says_what_to_set(monkeypatch, caplog):
    for name in ("SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET", "SLACK_API_URL", "SLACK_CHANNEL"):
        monkeypatch.delenv(name, raising=False)
    with caplog.at_level(logging.WARNING, logger="bot.channels.slack"):
        channel = _create_single_channel("bot.channels.slack.ThreadedSlackInput", CREDENTIALS)
    assert [r.getMessage() for r in caplog.records if "Slack" in r.getMessage()] == [
        NOT_CONFIGURED + " Until then /webhooks/slack/webhook answers 503."
    ]
    answer = handle(channel, request(message_event("hi")))
    assert answer.status == 503
    assert b"SLACK_BOT_TOKEN" in answer.body and b"SLACK_SIGNING_SECRET" in answer.body


def test_a_token_without_signing_secret_is_not_enough(monkeypatch):
    monkeypatch.setenv("SLACK_BOT_TOKEN", TOKEN)
    monkeypatch.delenv("SLACK_SIGNING_SECRET", raising=False)
    channel = ThreadedSlackInput.from_credentials(CREDENTIALS)
    assert not channel.configured
    assert handle(channel, request(message_event("hi"), secret="")).status == 503


@pytest.mark.parametrize("literal", ["slack_token", "slack_signing_secret"])
def test_a_secret_written_into_credentials_is_refused(literal):
    with pytest.raises(InvalidConfigException, match="environment variable"):
        ThreadedSlackInput.from_credentials({**CREDENTIALS, literal: "xoxb-committed"})


# -- the output channel -----------------------------------------------------------------------


def test_buttons_are_posted_as_blocks_into_the_thread(fake_slack):
    out = SlackOutput(TOKEN, "D0LI", T2, base_url=fake_slack.url)
    buttons = [{"title": "Exchange", "payload": "/exchange"}]
    asyncio.run(out.send_text_with_buttons("U0LIWEI_D0LI_" + T2, "What suits you?", buttons))
    [post] = fake_slack.wait_for_posts(thread_ts=T2, channel="D0LI")
    assert post.text == "What suits you?"
    assert post.fields["blocks"][1]["elements"][0]["value"] == "/exchange"


def test_stock_slack_output_would_not_reach_the_configured_api():
    """Why SlackOutput exists: stock SlackBot always talks to slack.com."""
    from rasa.core.channels.slack import SlackBot

    assert SlackBot(TOKEN).client.base_url == "https://slack.com/api/"
    assert SlackOutput(TOKEN, base_url="http://127.0.0.1:9/api").client.base_url == (
        "http://127.0.0.1:9/api/"
    )
