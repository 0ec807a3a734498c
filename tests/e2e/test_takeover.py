"""A support agent takes a live conversation over, against the real Rasa server and hub.

A web customer (a python-socketio client speaking the widget's protocol) and a Slack
customer (signed events into Rasa's Slack channel, replies recorded by the fake Slack) ask
for a person; an agent signed in to the hub takes over through the console's JSON API,
chats both ways, and hands back. While the conversation is paused the assistant sends
nothing; after the hand-back it answers again. tests/e2e/test_console_browser.py does the
same in Chromium, through the console's pages.
"""

from __future__ import annotations

import time
import uuid

import pytest
import requests

from bot.db.engine import make_engine
from bot.hub.accounts import Accounts
from tests.bot.hub.test_hub import PASSWORD, sign_in
from tests.e2e.test_slack_channel import new_ts, sender, wait_for_reply, webhook
from tests.e2e.test_web_channel import WidgetClient
from tests.fakes.slack import message_event

pytestmark = pytest.mark.e2e

QUIET_SECONDS = 6  # long enough for the assistant's answer, had it answered


class Agent:
    """A support agent using the console's JSON API, signed in through the login form."""

    def __init__(self, hub_url: str, journey_url: str, name: str = "Ana"):
        self.hub_url = hub_url
        username = f"agent-{uuid.uuid4().hex[:8]}"
        engine = make_engine(journey_url)
        try:
            Accounts(engine).add(username, PASSWORD, "agent", name)
        finally:
            engine.dispose()
        self.browser, self.csrf = sign_in(hub_url, username)

    def api(self, conversation_id: str = "") -> str:
        base = f"{self.hub_url}/api/console"
        return f"{base}/conversations/{conversation_id}" if conversation_id else base

    def post(self, conversation_id: str, action: str, body: dict | None = None) -> dict:
        r = self.browser.post(
            f"{self.api(conversation_id)}/{action}",
            json=body or {},
            headers={"X-CSRF-Token": self.csrf},
            timeout=30,
        )
        assert r.ok, (action, r.status_code, r.text)
        return r.json()

    def view(self, conversation_id: str) -> dict:
        r = self.browser.get(self.api(conversation_id), timeout=30)
        r.raise_for_status()
        return r.json()

    def wait_in_queue(self, conversation_id: str, timeout: float = 30) -> dict:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            queue = self.browser.get(self.api() + "/queue", timeout=10).json()["escalations"]
            found = [e for e in queue if e["conversation_id"] == conversation_id]
            if found:
                return found[0]
            time.sleep(0.3)
        raise AssertionError(f"{conversation_id} never reached the escalation queue")

    def wait_for_customer_line(self, conversation_id: str, text: str, timeout: float = 30):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            lines = self.view(conversation_id)["transcript"] or []
            if any(line["sender"] == "customer" and line["text"] == text for line in lines):
                return lines
            time.sleep(0.3)
        raise AssertionError(f"{text!r} never showed in the console's transcript")


@pytest.fixture
def agent(assistant):
    settings = assistant.settings
    return Agent(settings.hub_url, settings.journey_url)


def bot_events_after(tracker: dict, text: str) -> list[dict]:
    """The bot events after the customer's message ``text`` (the newest such message)."""
    events = tracker["events"]
    last = max(i for i, e in enumerate(events) if e["event"] == "user" and e.get("text") == text)
    return [e for e in events[last + 1 :] if e["event"] == "bot"]


def test_a_web_customer_is_taken_over_chats_with_a_person_and_is_handed_back(assistant, agent):
    customer = WidgetClient(assistant.url)
    try:
        conversation = customer.session["session_id"]
        customer.say("I want to talk to a person")
        promise = " ".join(r.get("text", "") for r in customer.answers())
        assert "right here in this chat" in promise  # the support team's channel

        item = agent.wait_in_queue(conversation)
        assert (item["channel"], item["taken_by"]) == ("socketio", None)
        taken = agent.post(conversation, "take")["takeover"]
        assert taken["mine"] and taken["agent"]["display_name"] == "Ana"
        joined = customer.next("bot_uttered")
        assert "Ana from our support team has joined" in joined["text"]

        agent.post(conversation, "messages", {"text": "Hi, I'm Ana. How can I help?"})
        assert customer.next("bot_uttered") == {
            "text": "Hi, I'm Ana. How can I help?",
            "agent": "Ana",
        }

        customer.say("My parcel never arrived")
        agent.wait_for_customer_line(conversation, "My parcel never arrived")
        with pytest.raises(AssertionError, match="no bot_uttered"):
            customer.next("bot_uttered", timeout=QUIET_SECONDS)  # the assistant stays quiet
        tracker = assistant.tracker(conversation)
        assert tracker["paused"] is True
        assert bot_events_after(tracker, "My parcel never arrived") == []
        agent.post(conversation, "notes", {"text": "Internal: check the courier"})

        agent.post(conversation, "hand-back", {"note": "Courier contacted, she is fine"})
        back = customer.next("bot_uttered")
        assert "handed you back to me" in back["text"]
        assert assistant.tracker(conversation)["paused"] is False

        customer.say("hello")
        answers = [r.get("text", "") for r in customer.answers()]
        assert any("What can I do for you?" in a for a in answers), answers
        seen = repr(assistant.tracker(conversation)["events"])
        assert "Internal: check the courier" not in seen and "Courier contacted" not in seen
        view = agent.view(conversation)
        assert view["takeover"] is None and view["escalation"] is None
        assert view["takeovers"][-1]["status"] == "handed_back"
    finally:
        customer.close()


def test_a_slack_customer_is_taken_over_in_their_own_thread(assistant, agent, fake_slack):
    ts = new_ts()
    conversation = sender(ts)
    delivered = fake_slack.deliver(
        webhook(assistant), message_event("I want to talk to a person", ts=ts), timeout=10
    )
    assert delivered.status_code == 200
    wait_for_reply(fake_slack, ts, "right here in this chat")

    item = agent.wait_in_queue(conversation)
    assert item["channel"] == "slack" and item["customer"]["tier"] == "gold"  # Jane Doe
    agent.post(conversation, "take")
    wait_for_reply(fake_slack, ts, "Ana from our support team has joined")
    agent.post(conversation, "messages", {"text": "Hi Jane, Ana here. What happened?"})
    posts = wait_for_reply(fake_slack, ts, "Ana here")
    assert posts[-1].text == "*Ana* (support team): Hi Jane, Ana here. What happened?"
    assert {(p.channel, p.thread_ts) for p in posts} == {("D0JANE", ts)}

    before = len(fake_slack.posts(thread_ts=ts))
    reply = message_event("The box arrived crushed", ts=new_ts(), thread_ts=ts)
    assert fake_slack.deliver(webhook(assistant), reply, timeout=10).status_code == 200
    agent.wait_for_customer_line(conversation, "The box arrived crushed")
    time.sleep(QUIET_SECONDS)
    assert len(fake_slack.posts(thread_ts=ts)) == before  # nothing from the assistant
    tracker = assistant.tracker(conversation)
    assert tracker["paused"] is True
    assert bot_events_after(tracker, "The box arrived crushed") == []
    agent_lines = [e for e in tracker["events"] if (e.get("data") or {}).get("custom")]
    assert agent_lines[-1]["data"]["custom"]["agent"] == "Ana"  # in the transcript too

    agent.post(conversation, "hand-back", {"note": "Replacement ordered"})
    wait_for_reply(fake_slack, ts, "handed you back to me")
    again = message_event("hello", ts=new_ts(), thread_ts=ts)
    fake_slack.deliver(webhook(assistant), again, timeout=10)
    wait_for_reply(fake_slack, ts, "Hi Jane")  # the assistant answers again, in the thread


def test_the_console_needs_an_agent(assistant):
    hub = assistant.settings.hub_url
    assert requests.get(f"{hub}/api/console/queue", timeout=10).status_code == 401
    page = requests.get(f"{hub}/console", allow_redirects=False, timeout=10)
    assert page.status_code == 303 and page.headers["location"].startswith("/login")


def test_a_takeover_outlasting_rasas_session_expiry_keeps_the_assistant_quiet(assistant):
    # An agent's chat that goes silent for over an hour: the customer's next message starts
    # a new Rasa session, which resets a pause unless action_session_start carries it over.
    # The conversation is written two hours in the past (Rasa measures session expiry from
    # the last customer message, and reads a session's events by their timestamps).
    conversation = f"long-takeover-{uuid.uuid4().hex[:8]}"
    then = time.time() - 2 * 3600
    r = requests.post(
        f"{assistant.url}/conversations/{conversation}/tracker/events",
        params={"token": assistant.settings.rasa_token},
        json=[
            {"event": "action", "name": "action_session_start", "timestamp": then},
            {"event": "session_started", "timestamp": then + 0.001},
            {"event": "action", "name": "action_listen", "timestamp": then + 0.002},
            {
                "event": "user",
                "text": "I need a person",
                "parse_data": {"intent": {"name": "request_human", "confidence": 1.0}},
                "timestamp": then + 0.003,
            },
            {"event": "pause", "timestamp": then + 0.004},  # an agent took over
            {"event": "action", "name": "action_listen", "timestamp": then + 0.005},
        ],
        timeout=10,
    )
    r.raise_for_status()

    assert assistant.say(conversation, "are you still there?") == []

    tracker = assistant.tracker(conversation)
    assert tracker["paused"] is True
    assert [e["event"] for e in tracker["events"]].count("session_started") == 2
