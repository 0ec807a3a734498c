"""The website chat channel over real socket.io, against the running Rasa server.

A python-socketio client plays the widget, so these tests pin the protocol and the
session binding (bot/rasa/channels/web.py); tests/e2e/test_widget_browser.py drives the real
widget in Chromium.
"""

from __future__ import annotations

import queue
import time
from typing import Any

import jwt
import pytest
import requests
import socketio

from bot.db.engine import make_engine
from bot.journey.store import JourneyStore
from bot.rasa.channels.tokens import mint_customer_token


def without_time_and_id(entry: dict) -> dict:
    return {k: v for k, v in entry.items() if k not in ("at", "id")}


class WidgetClient:
    """A socket.io client speaking the widget's protocol; every event lands in a queue."""

    def __init__(self, url: str, session: str | None = None, customer: str | None = None):
        self.events: queue.Queue[tuple[str, Any]] = queue.Queue()
        self.sio = socketio.Client(reconnection=False)
        for name in ("session_confirm", "bot_uttered", "user_echo", "error_message"):
            self.sio.on(name, lambda data, name=name: self.events.put((name, data)))
        auth = {k: v for k, v in (("session", session), ("customer", customer)) if v}
        self.sio.connect(url, auth=auth, transports=["polling"], wait_timeout=10)
        self.sio.emit("session_request", {})
        self.session = self.next("session_confirm")

    def say(self, text: str) -> None:
        self.sio.emit("user_uttered", {"message": text})

    def next(self, name: str, timeout: float = 30) -> Any:
        """The next event called ``name`` (earlier events of other names are dropped)."""
        deadline = time.monotonic() + timeout
        while (left := deadline - time.monotonic()) > 0:
            try:
                got, data = self.events.get(timeout=left)
            except queue.Empty:
                break
            if got == name:
                return data
        raise AssertionError(f"no {name} within {timeout} s")

    def answers(self, quiet: float = 1.5, timeout: float = 30) -> list[dict]:
        """Every bot_uttered until the assistant has been quiet for ``quiet`` seconds."""
        replies = [self.next("bot_uttered", timeout)]
        while True:
            try:
                name, data = self.events.get(timeout=quiet)
            except queue.Empty:
                return replies
            if name == "bot_uttered":
                replies.append(data)

    def close(self) -> None:
        self.sio.disconnect()


@pytest.fixture
def widget(assistant):
    clients: list[WidgetClient] = []

    def connect(**auth) -> WidgetClient:
        client = WidgetClient(assistant.url, **auth)
        clients.append(client)
        return client

    yield connect
    for client in clients:
        client.close()


def user_texts(tracker: dict) -> list[str]:
    return [e.get("text") for e in tracker["events"] if e["event"] == "user"]


def test_a_new_visitor_gets_a_signed_session_and_answers(widget, assistant):
    # Replies reach the socket only if it joined its session's room: the trap of
    # python-socketio >= 5.10 (un-awaited enter_room) shows up here as no answer at all.
    visitor = widget()
    session = visitor.session
    assert len(session["session_id"]) == 32 and session["customer_id"] is None
    claims = jwt.decode(
        session["token"], assistant.settings.widget_secret, ["HS256"], audience="cx-widget-session"
    )
    assert claims["sub"] == session["session_id"]
    assert session["history"] == []

    visitor.say("hello")
    replies = visitor.answers()
    assert replies and all(r.get("text") for r in replies)
    tracker = assistant.tracker(session["session_id"])
    assert user_texts(tracker) == ["hello"]
    assert tracker["latest_input_channel"] == "socketio"


def test_the_session_token_brings_the_conversation_back_with_its_history(widget):
    first = widget()
    first.say("hello")
    greeting = first.answers()[0]["text"]
    first.close()

    again = widget(session=first.session["token"])
    assert again.session["session_id"] == first.session["session_id"]
    history = again.session["history"][:2]
    assert [without_time_and_id(h) for h in history] == [
        {"sender": "customer", "text": "hello"},
        {"sender": "assistant", "text": greeting},
    ]
    # Each with its time (shown in the widget), the customer's with Rasa's message id.
    assert all(abs(h["at"] - time.time()) < 300 for h in history)
    assert len(history[0]["id"]) == 32 and "id" not in history[1]
    assert again.session["agent"] is None  # nobody has taken it over


def test_a_forged_or_foreign_token_never_opens_someone_elses_conversation(widget, assistant):
    victim = widget()
    victim.say("my secret is 42")
    victim.answers()
    victim_id = victim.session["session_id"]

    forged = jwt.encode(
        {"sub": victim_id, "aud": "cx-widget-session", "iat": int(time.time()), "exp": 2**31},
        "not-the-secret-but-long-enough-for-hs256",
        algorithm="HS256",
    )
    unsigned = jwt.encode(
        {"sub": victim_id, "aud": "cx-widget-session", "iat": 1, "exp": 2**31},
        key="",
        algorithm="none",
    )
    for token in (forged, unsigned, victim.session["token"][:-3] + "abc"):
        intruder = widget(session=token)
        assert intruder.session["session_id"] != victim_id
        assert intruder.session["history"] == []

    # A session id in the message itself is ignored: the socket's own session gets it.
    intruder = widget()
    intruder.sio.emit("user_uttered", {"message": "hello", "session_id": victim_id})
    intruder.answers()
    assert user_texts(assistant.tracker(victim_id)) == ["my secret is 42"]
    assert user_texts(assistant.tracker(intruder.session["session_id"])) == ["hello"]


def test_a_signed_in_customer_is_greeted_by_name_and_logged_as_themselves(widget, assistant):
    token = mint_customer_token(assistant.settings.widget_secret, "C001")
    jane = widget(customer=token)
    assert jane.session["customer_id"] == "C001"
    jane.say("hi")
    assert "Jane" in jane.answers()[0]["text"]

    store = JourneyStore(make_engine(assistant.settings.journey_url))
    (touchpoint,) = store.touchpoints_of(jane.session["session_id"])
    assert touchpoint.customer_id == "C001" and touchpoint.channel == "socketio"

    # Signed in as someone else on the same browser: Jane's chat is not shown.
    li = widget(
        session=jane.session["token"],
        customer=mint_customer_token(assistant.settings.widget_secret, "C003"),
    )
    assert li.session["session_id"] != jane.session["session_id"]
    assert li.session["history"] == []
    # Anonymous chat carries on once the visitor signs in.
    guest = widget()
    signed_in = widget(session=guest.session["token"], customer=token)
    assert signed_in.session["session_id"] == guest.session["session_id"]
    assert signed_in.session["customer_id"] == "C001"


def test_a_bad_customer_token_is_refused(assistant):
    for token in ("garbage", mint_customer_token("another-secret-of-at-least-32-bytes", "C001")):
        # The server's refusal, with its reason, as it comes (python-socketio's blocking
        # connect would sit out its whole wait after a refusal before saying so).
        refusals: queue.Queue = queue.Queue()
        client = socketio.Client(reconnection=False)
        client.on("connect_error", refusals.put)
        client.on("connect", lambda refusals=refusals: refusals.put("connected"))
        client.connect(assistant.url, auth={"customer": token}, transports=["polling"], wait=False)
        try:
            assert refusals.get(timeout=15) == {"message": "customer token rejected"}
        finally:
            client.disconnect()


def test_an_agent_message_pushed_through_rasas_api_arrives_with_the_agents_name(widget, assistant):
    visitor = widget()
    session_id = visitor.session["session_id"]
    visitor.say("hello")
    visitor.answers()
    r = requests.post(
        f"{assistant.url}/conversations/{session_id}/tracker/events",
        params={
            "token": assistant.settings.rasa_token,
            "execute_side_effects": "true",
            "output_channel": "latest",
        },
        json={
            "event": "bot",
            "text": "Hi, I'm Ana from support.",
            "data": {"custom": {"text": "Hi, I'm Ana from support.", "agent": "Ana"}},
        },
        timeout=10,
    )
    r.raise_for_status()
    assert visitor.answers() == [{"text": "Hi, I'm Ana from support.", "agent": "Ana"}]
    reloaded = widget(session=visitor.session["token"])
    assert without_time_and_id(reloaded.session["history"][-1]) == {
        "sender": "agent",
        "text": "Hi, I'm Ana from support.",
        "agent": "Ana",
    }


def test_other_tabs_of_the_conversation_see_the_customers_message(widget):
    tab = widget()
    other_tab = widget(session=tab.session["token"])
    tab.say("hello")
    echo = other_tab.next("user_echo")
    assert echo["text"] == "hello" and len(echo["id"]) == 32  # the id "seen" names
    assert other_tab.next("bot_uttered")["text"]  # both tabs get the answers


def test_an_empty_message_gets_a_clear_error_and_no_turn(widget, assistant):
    visitor = widget()
    for bad in ({"message": "   "}, {"message": 42}, "just a string", None):
        visitor.sio.emit("user_uttered", bad)
        assert "type a message" in visitor.next("error_message")["message"]
    assert user_texts(assistant.tracker(visitor.session["session_id"])) == []


def test_only_configured_origins_may_connect(assistant):
    handshake = f"{assistant.url}/socket.io/?EIO=4&transport=polling"
    allowed = requests.get(handshake, headers={"Origin": assistant.settings.hub_url}, timeout=10)
    assert allowed.status_code == 200
    assert allowed.headers["Access-Control-Allow-Origin"] == assistant.settings.hub_url
    refused = requests.get(handshake, headers={"Origin": "http://evil.example"}, timeout=10)
    assert refused.status_code == 400
    assert "Access-Control-Allow-Origin" not in refused.headers


def test_a_chat_on_the_website_and_one_on_slack_are_one_customers_journey(
    widget, assistant, fake_slack
):
    from tests.e2e.test_slack_channel import new_ts, sender, wait_for_reply, webhook
    from tests.fakes.slack import message_event

    store = JourneyStore(make_engine(assistant.settings.journey_url))
    before = {t.conversation_id for t in store.journey("C001")}

    jane_on_the_web = widget(customer=mint_customer_token(assistant.settings.widget_secret, "C001"))
    jane_on_the_web.say("where is my order ORD-10001")
    assert any("ORD-10001" in r.get("text", "") for r in jane_on_the_web.answers())
    ts = new_ts()
    fake_slack.deliver(webhook(assistant), message_event("is ORD-10001 late?", ts=ts), timeout=10)
    wait_for_reply(fake_slack, ts, "ORD-10001")

    new = {t.conversation_id: t for t in store.journey("C001")}
    new = {cid: t for cid, t in new.items() if cid not in before}
    assert set(new) == {jane_on_the_web.session["session_id"], sender(ts)}
    assert {t.channel for t in new.values()} == {"socketio", "slack"}
    assert all("ORD-10001" in t.order_ids for t in new.values())
    assert store.customer_of("slack", "U0JANE") == "C001"
