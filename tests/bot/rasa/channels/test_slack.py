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
from rasa.core.tracker_store import InMemoryTrackerStore
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import SlotSet, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.shared.exceptions import InvalidConfigException
from sanic.compat import Header
from sanic.request import Request

from bot.backoffice.http import HttpBackOffice
from bot.backoffice.sql import SqlBackOffice, seed
from bot.db.engine import make_engine
from bot.identity.disclosure import ACCOUNT_DETAILS
from bot.rasa.channels.slack import NOT_CONFIGURED, OPENED_ELSEWHERE, ThreadedSlackInput
from bot.rasa.channels.slack_api import SlackThread, SlackWebApi, private_recipient
from bot.rasa.channels.slack_output import PRIVATE_NOTE, SlackOutput
from bot.settings import ROOT
from tests.fakes.slack import (
    BOT_USER,
    SIGNING_SECRET,
    TOKEN,
    FakeSlack,
    mention_event,
    message_event,
    sign,
)

WEBHOOK = b"/webhooks/slack/webhook"
T1, T2 = "1741773600.000100", "1741773700.000200"


@pytest.fixture(scope="module")
def fake_slack():
    with FakeSlack() as slack:
        yield slack


@pytest.fixture
def journey_url(tmp_path) -> str:
    return f"sqlite:///{tmp_path / 'journey.db'}"


@pytest.fixture(scope="module")
def backoffice(tmp_path_factory) -> SqlBackOffice:
    """The demo back office: U0JANE is Jane Doe's Slack user (C001), U0LIWEI Li Wei's."""
    engine = make_engine(f"sqlite:///{tmp_path_factory.mktemp('bo') / 'backoffice.db'}")
    seed(engine)
    return SqlBackOffice(engine)


@pytest.fixture
def channel(fake_slack, journey_url, backoffice) -> ThreadedSlackInput:
    return ThreadedSlackInput(
        slack_token=TOKEN,
        slack_signing_secret=SIGNING_SECRET,
        slack_api_url=fake_slack.url,
        journey_url=journey_url,
        backoffice=backoffice,
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
    "bot.rasa.channels.slack.ThreadedSlackInput"
]


def test_credentials_yml_names_environment_variables_and_asks_for_threads(monkeypatch, fake_slack):
    monkeypatch.setenv("SLACK_BOT_TOKEN", TOKEN)
    monkeypatch.setenv("SLACK_SIGNING_SECRET", SIGNING_SECRET)
    monkeypatch.setenv("SLACK_API_URL", fake_slack.url.rstrip("/"))
    monkeypatch.setenv("SLACK_CHANNEL", "C0SUPPORT")
    # Built the way `rasa run --credentials credentials.yml` builds it.
    channel = _create_single_channel("bot.rasa.channels.slack.ThreadedSlackInput", CREDENTIALS)
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
    with caplog.at_level(logging.WARNING, logger="bot.rasa.channels.slack"):
        channel = _create_single_channel("bot.rasa.channels.slack.ThreadedSlackInput", CREDENTIALS)
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


# -- privacy in channels others read ------------------------------------------------------------

_thread = iter(range(1, 10_000))


def new_thread() -> str:
    """A thread ts of this module's own (the fake Slack is shared by the module)."""
    return f"1741774000.{next(_thread):06d}"


def reply(message: UserMessage, *texts: str) -> None:
    """The assistant's replies in ``message``'s turn, through its output channel."""

    async def go():
        for text in texts:
            await message.output_channel.send_text_message(message.sender_id, text)

    asyncio.run(go())


def test_a_mapped_user_in_a_channel_is_answered_privately_after_one_visible_note(
    channel, fake_slack
):
    thread, turns = new_thread(), Turns()
    handle(channel, request(mention_event("where is ORD-10001?", ts=thread)), turns)
    reply(turns.messages[0], "ORD-10001: 1 x Desk lamp\n\nto 12 Oak Street", "Anything else?")
    # Jane answers in the thread: a second turn, still private, and no second note.
    later = mention_event("and the tracking?", ts=new_thread(), thread_ts=thread)
    handle(channel, request(later), turns)
    reply(turns.messages[1], "Tracking: DHL 123")

    assert [p.text for p in fake_slack.posts(thread_ts=thread)] == [PRIVATE_NOTE]
    assert fake_slack.posts(thread_ts=thread)[0].channel == "C0SUPPORT"
    private = fake_slack.ephemerals(thread_ts=thread)
    assert [p.text for p in private] == [
        "ORD-10001: 1 x Desk lamp",
        "to 12 Oak Street",
        "Anything else?",
        "Tracking: DHL 123",
    ]
    assert {(p.user, p.channel, p.token) for p in private} == {("U0JANE", "C0SUPPORT", TOKEN)}
    # The note came first: Slack shows an ephemeral reply only in an active thread.
    assert fake_slack.calls.index(fake_slack.posts(thread_ts=thread)[0]) < fake_slack.calls.index(
        private[0]
    )


def test_the_note_is_said_once_per_thread_across_restarts(
    channel, fake_slack, journey_url, backoffice
):
    thread, turns = new_thread(), Turns()
    handle(channel, request(mention_event("hi", ts=thread)), turns)
    reply(turns.messages[0], "Hi Jane!")
    restarted = ThreadedSlackInput(
        slack_token=TOKEN,
        slack_signing_secret=SIGNING_SECRET,
        slack_api_url=fake_slack.url,
        journey_url=journey_url,
        backoffice=backoffice,
    )
    later = mention_event("my invoice please", ts=new_thread(), thread_ts=thread)
    handle(restarted, request(later), turns)
    reply(turns.messages[1], "Invoice INV-2001: 59.00 EUR")
    assert [p.text for p in fake_slack.posts(thread_ts=thread)] == [PRIVATE_NOTE]
    assert len(fake_slack.ephemerals(thread_ts=thread, user="U0JANE")) == 2


def test_an_unmapped_user_in_a_channel_is_answered_publicly(channel, fake_slack):
    thread, turns = new_thread(), Turns()
    handle(channel, request(mention_event("what do you sell?", user="U0NOBODY", ts=thread)), turns)
    reply(turns.messages[0], "Lamps and desks.")
    assert [p.text for p in fake_slack.posts(thread_ts=thread)] == ["Lamps and desks."]
    assert fake_slack.ephemerals(thread_ts=thread) == []


def test_a_mapped_user_in_a_dm_is_answered_as_before(channel, fake_slack):
    thread, turns = new_thread(), Turns()
    handle(channel, request(message_event("where is ORD-10001?", ts=thread)), turns)
    reply(turns.messages[0], "ORD-10001 is on its way.")
    assert [(p.channel, p.text) for p in fake_slack.posts(thread_ts=thread)] == [
        ("D0JANE", "ORD-10001 is on its way.")
    ]
    assert fake_slack.ephemerals(thread_ts=thread) == []


def test_buttons_for_a_mapped_user_in_a_channel_are_private_too(channel, fake_slack):
    thread, turns = new_thread(), Turns()
    handle(channel, request(mention_event("refund", user="U0LIWEI", ts=thread)), turns)
    message = turns.messages[0]
    buttons = [{"title": "Store credit", "payload": "/store_credit"}]
    asyncio.run(
        message.output_channel.send_text_with_buttons(message.sender_id, "59.00 EUR?", buttons)
    )
    [private] = fake_slack.ephemerals(thread_ts=thread, user="U0LIWEI")
    assert private.fields["blocks"][1]["elements"][0]["value"] == "/store_credit"
    assert [p.text for p in fake_slack.posts(thread_ts=thread)] == [PRIVATE_NOTE]


def test_when_the_back_office_cannot_be_asked_a_channel_reply_is_private(fake_slack, journey_url):
    down = HttpBackOffice("http://127.0.0.1:9", timeout=1)  # nothing listens on port 9
    channel = ThreadedSlackInput(
        slack_token=TOKEN,
        slack_signing_secret=SIGNING_SECRET,
        slack_api_url=fake_slack.url,
        journey_url=journey_url,
        backoffice=down,
    )
    thread, turns = new_thread(), Turns()
    handle(channel, request(mention_event("hi", user="U0NOBODY", ts=thread)), turns)
    reply(turns.messages[0], "Hello!")
    assert [p.text for p in fake_slack.ephemerals(thread_ts=thread, user="U0NOBODY")] == ["Hello!"]


def test_a_stranger_verified_by_a_check_in_a_channel_is_answered_privately_from_then_on(
    channel, fake_slack
):
    """An unmapped Slack user who passed a check in the chat (a one-time code) is a
    verified customer too: Rasa's tracker store says so, and later replies go to them alone."""
    from rasa.core.tracker_store import InMemoryTrackerStore
    from rasa.shared.core.domain import Domain
    from rasa.shared.core.events import SlotSet
    from rasa.shared.core.trackers import DialogueStateTracker

    domain = Domain.from_yaml(
        "slots:\n"
        "  customer_id: {type: any, mappings: [{type: custom}]}\n"
        "  verified_by: {type: any, mappings: [{type: custom}]}\n"
    )
    channel.trackers = InMemoryTrackerStore(domain)
    thread, turns = new_thread(), Turns()
    sender = f"U0OMAR_C0SUPPORT_{thread}"
    handle(channel, request(mention_event("hi", user="U0OMAR", ts=thread)), turns)
    reply(turns.messages[0], "Hello! Who am I talking to?")  # nobody verified yet: public
    verified = [SlotSet("customer_id", "C002"), SlotSet("verified_by", "one_time_code")]
    tracker = DialogueStateTracker.from_events(sender, verified, domain.slots)
    asyncio.run(channel.trackers.save(tracker))
    later = mention_event("my invoice please", user="U0OMAR", ts=new_thread(), thread_ts=thread)
    handle(channel, request(later), turns)
    reply(turns.messages[1], "Invoice INV-50004: 249.00")
    assert [p.text for p in fake_slack.posts(thread_ts=thread)] == [
        "Hello! Who am I talking to?",
        PRIVATE_NOTE,
    ]
    assert [p.text for p in fake_slack.ephemerals(thread_ts=thread, user="U0OMAR")] == [
        "Invoice INV-50004: 249.00"
    ]


def test_the_turn_in_which_a_stranger_verifies_is_answered_privately_from_that_reply_on(
    channel, fake_slack
):
    """An unmapped Slack user who verifies in this very turn ("ORD-10001,
    jane.doe@example.com"): the reply written once verified carries account details
    (marked by bot/identity/disclosure.py), so it and the rest of the turn reach the author
    alone, after the one visible note; what came before it stays public."""
    thread, turns = new_thread(), Turns()
    handle(channel, request(mention_event("ORD-10001 jane@x.com", user="U0OMAR", ts=thread)), turns)
    out, sender = turns.messages[0].output_channel, turns.messages[0].sender_id

    async def go():
        await out.send_response(sender, {"text": "One moment."})
        await out.send_response(
            sender, {"text": "ORD-10001: to 12 Oak Street", ACCOUNT_DETAILS: True}
        )
        await out.send_response(sender, {"text": "Anything else?"})

    asyncio.run(go())
    assert [p.text for p in fake_slack.posts(thread_ts=thread)] == ["One moment.", PRIVATE_NOTE]
    assert [p.text for p in fake_slack.ephemerals(thread_ts=thread, user="U0OMAR")] == [
        "ORD-10001: to 12 Oak Street",
        "Anything else?",
    ]


def test_a_marked_reply_in_a_dm_is_posted_as_any_other(fake_slack):
    out = SlackOutput(TOKEN, "D0OMAR", T2, base_url=fake_slack.url, author="U0OMAR")
    asyncio.run(
        out.send_response("U0OMAR_D0OMAR_" + T2, {"text": "To 12 Oak St", ACCOUNT_DETAILS: True})
    )
    assert [p.text for p in fake_slack.wait_for_posts(thread_ts=T2, channel="D0OMAR")] == [
        "To 12 Oak St"
    ]
    assert fake_slack.ephemerals(thread_ts=T2) == []


def test_a_click_in_a_private_message_continues_its_thread(channel):
    """Slack sends a click in an ephemeral message without "message": the container says
    where it was."""
    payload = {
        "type": "block_actions",
        "user": {"id": "U0JANE"},
        "channel": {"id": "C0SUPPORT"},
        "container": {
            "type": "message",
            "message_ts": "1741773601.000300",
            "channel_id": "C0SUPPORT",
            "is_ephemeral": True,
            "thread_ts": T1,
        },
        "actions": [{"type": "button", "value": "/talk_to_person", "action_id": "x"}],
    }
    body = urlencode({"payload": json.dumps(payload)}).encode()
    turns = Turns()
    handle(channel, request(body, "application/x-www-form-urlencoded"), turns)
    [message] = turns.messages
    assert message.sender_id == f"U0JANE_C0SUPPORT_{T1}"
    assert (message.output_channel.thread_id, message.output_channel.private_to) == (
        T1,
        "U0JANE",
    )


def verified_tracker(user: str = "U0JANE", verified_by: str | None = "slack") -> dict:
    """A tracker as Rasa's HTTP API gives it, for a Slack conversation."""
    return {
        "slots": {"customer_id": "C001", "verified_by": verified_by},
        "latest_message": {"metadata": {"slack_user": user}},
    }


def test_a_verified_customer_in_a_channel_is_posted_to_privately():
    where = SlackThread("C0SUPPORT", T1)
    assert private_recipient(f"U0JANE_C0SUPPORT_{T1}", where, verified_tracker()) == "U0JANE"
    # Verified in the chat (a one-time code) is verified all the same.
    code = verified_tracker(verified_by="one_time_code")
    assert private_recipient(f"U0JANE_C0SUPPORT_{T1}", where, code) == "U0JANE"
    assert private_recipient(f"U0JANE_G0PRIVATE_{T1}", SlackThread("G0PRIVATE", T1), code) == (
        "U0JANE"
    )


@pytest.mark.parametrize(
    ("where", "tracker"),
    [
        (SlackThread("D0JANE", T1), verified_tracker()),  # a DM: nobody else reads it
        (SlackThread("U0JANE"), verified_tracker()),  # a user id: Slack opens the DM
        (SlackThread("C0SUPPORT", T1), verified_tracker(verified_by=None)),  # only a claim
        (SlackThread("C0SUPPORT", T1), {"slots": {}}),  # nobody known
    ],
)
def test_others_are_posted_to_publicly(where, tracker):
    assert private_recipient(f"U0JANE_{where.channel}_{T1}", where, tracker) is None


def test_the_web_api_posts_privately_into_the_thread(fake_slack):
    api = SlackWebApi(TOKEN, fake_slack.url)
    thread = new_thread()
    ts = api.post(SlackThread("C0SUPPORT", thread), "*Ana* (support team): hi", private_to="U0JANE")
    [private] = fake_slack.ephemerals(thread_ts=thread)
    assert (private.user, private.channel, private.ts) == ("U0JANE", "C0SUPPORT", ts)
    assert fake_slack.posts(thread_ts=thread) == []


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


# -- a thread's conversation another channel opened first ---------------------------------


def planted(conversation: str, *said: tuple[str, str | None]) -> InMemoryTrackerStore:
    """A tracker store holding ``conversation`` with customer messages (text, channel) and
    the state the first of them left: an email typed and a pending option."""
    store = InMemoryTrackerStore(Domain.empty())
    events = [UserUttered(text, input_channel=where) for text, where in said]
    events += [SlotSet("email", "thief@example.com"), SlotSet("pending_option", "refund")]
    asyncio.run(store.save(DialogueStateTracker.from_events(conversation, events)))
    return store


def test_a_thread_whose_conversation_a_rest_client_opened_first_starts_no_turn(channel, fake_slack):
    # Anyone in C0SUPPORT sees Jane's user id, the channel and the thread's ts, so a REST
    # client could name U0JANE_C0SUPPORT_<thread> before Jane wrote there (from before REST
    # refused such ids: bot/rasa/channels/rest_owned.py).
    thread, turns = new_thread(), Turns()
    channel.trackers = planted(f"U0JANE_C0SUPPORT_{thread}", ("my email is thief@", "rest"))
    answer = handle(channel, request(mention_event("hi, where is my order?", ts=thread)), turns)
    assert answer.status == 200  # Slack retries anything else
    assert turns.messages == []  # nothing planted reaches Jane's turn: there is none
    [note] = fake_slack.wait_for_posts(thread_ts=thread)
    assert (note.channel, note.text) == ("C0SUPPORT", OPENED_ELSEWHERE)


def test_a_thread_whose_conversation_is_slacks_own_goes_on(channel):
    conversation = f"U0JANE_D0JANE_{T1}"
    # None: a message made through Rasa's HTTP API (with its token), nobody's planting.
    channel.trackers = planted(conversation, ("hi", "slack"), ("resume", None))
    turns = Turns()
    handle(channel, request(message_event("where is my order", ts=T2, thread_ts=T1)), turns)
    assert [m.sender_id for m in turns.messages] == [conversation]


def test_when_the_tracker_store_cannot_be_read_no_turn_starts(channel, fake_slack):
    class Unreadable(InMemoryTrackerStore):
        async def retrieve_full_tracker(self, sender_id):
            raise ConnectionError("tracker store down")

    channel.trackers = Unreadable(Domain.empty())
    turns, thread = Turns(), new_thread()
    answer = handle(channel, request(message_event("hi", ts=thread)), turns)
    assert answer.status == 200 and turns.messages == []
    assert fake_slack.posts(thread_ts=thread) == []  # not told it was opened elsewhere
