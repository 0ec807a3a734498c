"""Nobody passes as another customer, opens their chat or hears their news, by what a
client can send: the real Rasa server and action server, spoken to over REST and the
website's socket.io as an attacker would."""

from __future__ import annotations

import json

import pytest
import requests
from sqlalchemy import delete, update

from bot.db.engine import make_engine
from bot.db.schema import proactive_events
from bot.proactive.events import EventCatalogue
from bot.proactive.store import ProactiveStore
from bot.rasa.channels.slack import OPENED_ELSEWHERE
from tests.e2e.test_identity import personal_fields, texts
from tests.e2e.test_slack_channel import new_ts
from tests.fakes.slack import mention_event

pytestmark = pytest.mark.e2e


def post(assistant, body: dict) -> list[dict]:
    r = requests.post(f"{assistant.url}/webhooks/rest/webhook", json=body, timeout=30)
    r.raise_for_status()
    return r.json()


@pytest.mark.parametrize(
    "channel, metadata",
    [("socketio", {"customer_id": "C001"}), ("slack", {"slack_user": "U0JANE"})],
    ids=["website", "slack"],
)
def test_a_rest_client_cannot_pass_as_a_signed_in_or_slack_customer(assistant, channel, metadata):
    # Rasa's REST channel takes "input_channel" from the body: a client naming the website
    # or Slack must not borrow what those channels vouch for (a signed token, a Slack user).
    sender = f"spoof-{channel}"
    said = texts(
        post(
            assistant,
            {
                "sender": sender,
                "message": "where is ORD-10001?",
                "input_channel": channel,
                "metadata": metadata,
            },
        )
    )
    leaked = [f for f in personal_fields(assistant) if f in said]
    assert leaked == [], said
    slots = assistant.tracker(sender)["slots"]
    assert (slots["customer_id"], slots["verified_by"]) == (None, None)


def test_typing_the_news_intent_tells_nobody_someone_elses_news(assistant):
    # The hub triggers proactive_news through Rasa's API; a visitor typing it as "/intent"
    # (which Rasa parses literally) must hear nothing of it, and it must stay untold.
    engine = make_engine(assistant.settings.journey_url)
    store = ProactiveStore(engine)
    body = {"id": "isolation-delay-1", "type": "shipment.delayed", "order_id": "ORD-10004",
            "new_date": "2031-01-17", "reason": "storm at the depot"}  # fmt: skip
    incoming = EventCatalogue.load().check("delivery", body)
    event, _ = store.take_in(incoming, "C004")
    with engine.begin() as conn:  # waiting for Sam's next contact: the hub delivers none live
        conn.execute(
            update(proactive_events)
            .where(proactive_events.c.id == event.id, proactive_events.c.state == "pending")
            .values(state="waiting")
        )
    try:
        message = "/proactive_news" + json.dumps({"proactive_event": str(event.id)})
        said = texts(assistant.say("news-thief", message))
        for secret in ("ORD-10004", "storm at the depot", "17 January", "January 17"):
            assert secret not in said, said
        assert [f for f in personal_fields(assistant) if f in said] == []
        after = store.get(event.id)
        assert (after.state, after.conversation_id) == ("waiting", None)
        assert assistant.tracker("news-thief")["slots"]["customer_id"] is None
    finally:
        # Other modules share this assistant: C004 must not hear this news, nor its date
        # overlay ORD-10004's answers.
        with engine.begin() as conn:
            conn.execute(delete(proactive_events).where(proactive_events.c.id == event.id))


def test_a_chat_token_from_before_sign_in_does_not_open_the_customers_chat(assistant):
    # The widget carries an anonymous chat on when the visitor signs in. The token that
    # chat had before (copied on a shared computer, say) must not open it afterwards: it
    # is the signed-in customer's chat now, with their answers and their verified identity.
    from bot.rasa.channels.tokens import mint_customer_token
    from tests.e2e.test_web_channel import WidgetClient

    guest = WidgetClient(assistant.url)
    jane_token = mint_customer_token(assistant.settings.widget_secret, "C001")
    jane = WidgetClient(assistant.url, session=guest.session["token"], customer=jane_token)
    try:
        assert jane.session["session_id"] == guest.session["session_id"]
        jane.say("where is ORD-10001?")
        assert "12 Elm Street" in "\n".join(m.get("text", "") for m in jane.answers())
    finally:
        jane.close()
        guest.close()
    omar_token = mint_customer_token(assistant.settings.widget_secret, "C002")
    for auth in ({}, {"customer": omar_token}):  # anonymous, or signed in as someone else
        thief = WidgetClient(assistant.url, session=guest.session["token"], **auth)
        try:
            assert thief.session["session_id"] != guest.session["session_id"]
            assert thief.session["history"] == []
            thief.say("where is ORD-10001?")
            said = "\n".join(m.get("text", "") for m in thief.answers())
            assert "12 Elm Street" not in said and "Ceramic mug" not in said, said
        finally:
            thief.close()


def test_a_rest_client_cannot_continue_a_slack_customers_conversation(assistant):
    # A Slack thread's conversation id (<user>_<channel>_<thread>) is visible to anyone in
    # the channel. Jane's, verified, made here through Rasa's own API as Slack would leave it.
    conversation = "U0JANE_C0SHOP_1700000000.000100"
    # Two calls: events made in the first call predate the session Rasa starts for it.
    for events in (
        [
            {"event": "slot", "name": "customer_id", "value": "C001"},
            {"event": "slot", "name": "verified_by", "value": "slack"},
        ],
        [{"event": "user", "text": "hi", "input_channel": "slack", "parse_data": {}}],
    ):
        requests.post(
            f"{assistant.url}/conversations/{conversation}/tracker/events",
            params={"token": assistant.settings.rasa_token},
            json=events,
            timeout=10,
        ).raise_for_status()
    before = len(assistant.tracker(conversation)["events"])
    r = requests.post(
        f"{assistant.url}/webhooks/rest/webhook",
        json={"sender": conversation, "message": "where is my order?"},
        timeout=30,
    )
    assert r.status_code == 403, r.text
    assert not [f for f in personal_fields(assistant) if f in r.text]
    assert len(assistant.tracker(conversation)["events"]) == before  # no turn ran


def test_a_rest_client_cannot_plant_state_in_a_slack_thread_before_its_customer(
    assistant, fake_slack
):
    # Someone posted in #support; everyone there sees the thread's ts, the channel and Jane's
    # user id, so a REST client can name the conversation Jane's reply in it will have, and
    # say something there first (an email of its own, a need) for Jane to inherit.
    thread = new_ts()
    conversation = f"U0JANE_C0SUPPORT_{thread}"
    r = requests.post(
        f"{assistant.url}/webhooks/rest/webhook",
        json={"sender": conversation, "message": "my email is thief@example.com"},
        timeout=30,
    )
    assert r.status_code == 403, r.text
    assert "only the Slack channel may use" in r.json()["error"]
    assert user_events(assistant, conversation) == []  # nothing planted

    # A plant from before REST refused such ids, made here through Rasa's own API as the
    # REST channel would have left it: Jane's reply in the thread starts no turn there.
    requests.post(
        f"{assistant.url}/conversations/{conversation}/tracker/events",
        params={"token": assistant.settings.rasa_token},
        json=[
            {
                "event": "user",
                "text": "my email is thief@example.com",
                "input_channel": "rest",
                "parse_data": {},
            },
            {"event": "slot", "name": "email", "value": "thief@example.com"},
        ],
        timeout=10,
    ).raise_for_status()
    jane = mention_event("where is my order ORD-10001?", ts=new_ts(), thread_ts=thread)
    delivered = fake_slack.deliver(f"{assistant.url}/webhooks/slack/webhook", jane, timeout=10)
    assert delivered.status_code == 200
    fake_slack.wait_for_posts(thread_ts=thread, text=OPENED_ELSEWHERE)
    assert user_events(assistant, conversation) == ["my email is thief@example.com"]
    answers = fake_slack.posts(thread_ts=thread) + fake_slack.ephemerals(thread_ts=thread)
    assert [p.text for p in answers] == [OPENED_ELSEWHERE]  # no turn answered her there


def user_events(assistant, conversation: str) -> list[str]:
    """The customer messages of ``conversation`` that Rasa holds."""
    return [e["text"] for e in assistant.tracker(conversation)["events"] if e["event"] == "user"]


def test_state_a_rest_client_left_in_a_website_chat_never_reaches_its_visitor(assistant):
    # The widget's chat id is no secret to the page it runs on (data-session-id): a REST
    # client that learns it can speak there before the visitor does.
    from tests.e2e.test_web_channel import WidgetClient

    visitor = WidgetClient(assistant.url)
    try:
        planted = visitor.session["session_id"]
        said = post(assistant, {"sender": planted, "message": "my email is thief@example.com"})
        assert said  # REST spoke first, in a chat with no customer message yet
        assert assistant.tracker(planted)["slots"]["email"] == "thief@example.com"
        visitor.say("hi")
        fresh = visitor.next("session_confirm")["session_id"]  # sent once she's answered
        assert fresh != planted
        assert user_events(assistant, fresh) == ["hi"]
        assert assistant.tracker(fresh)["slots"].get("email") is None
        # REST can't follow the visitor there either.
        r = requests.post(
            f"{assistant.url}/webhooks/rest/webhook",
            json={"sender": fresh, "message": "what did she say?"},
            timeout=30,
        )
        assert r.status_code == 403, r.text
    finally:
        visitor.close()
