"""The action server killed or hung mid-conversation, on the real Rasa server (issue 9).

This module starts its own Rasa server and action server (once, on free ports), because
it kills and stops the action server: the session's shared ``assistant`` must never see
that. The customer gets the graceful reply within 10 s on their own channel (REST,
website chat, Slack), the touchpoint records the failure, and the conversation carries on
once the action server is back.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from bot.child_process import Process
from bot.rasa.action_faults import APOLOGY
from bot.runner import processes, wait_ready
from bot.settings import Settings
from tests.e2e.conftest import Assistant, fresh_settings, latest_model, use_fake_slack
from tests.e2e.test_slack_channel import new_ts, wait_for_reply
from tests.e2e.test_web_channel import WidgetClient
from tests.fakes.slack import message_event

pytestmark = pytest.mark.e2e

TIMEOUT_SECONDS = 3  # CX_ACTION_TIMEOUT_SECONDS for this Rasa server
GRACEFUL_WITHIN = 10.0  # the promise


class FaultyAssistant(Assistant):
    """The assistant with a hand on its action server process."""

    def __init__(self, settings: Settings, actions: Process):
        super().__init__(settings)
        self.actions = actions

    @contextmanager
    def killed_actions(self) -> Iterator[None]:
        """The action server killed (SIGKILL) inside the block, started again after it."""
        os.killpg(self.actions.popen.pid, signal.SIGKILL)
        self.actions.popen.wait(10)
        try:
            yield
        finally:
            self.actions.start(self.settings.root)
            wait_ready([self.actions], timeout=90)

    @contextmanager
    def hung_actions(self) -> Iterator[None]:
        """The action server stopped (SIGSTOP: it takes connections, never answers)."""
        os.killpg(self.actions.popen.pid, signal.SIGSTOP)
        try:
            yield
        finally:
            os.killpg(self.actions.popen.pid, signal.SIGCONT)
            wait_ready([self.actions], timeout=30)

    def failures(self, conversation_id: str) -> list[dict]:
        """The failures on the conversation's touchpoints, oldest first."""
        db = sqlite3.connect(self.settings.var_dir / "journey.db")
        try:
            rows = db.execute(
                "select action_failures from touchpoints where conversation_id = ? order by id",
                (conversation_id,),
            ).fetchall()
        finally:
            db.close()
        return [mark for (marks,) in rows for mark in json.loads(marks or "[]")]


@pytest.fixture(scope="module")
def faulty(tmp_path_factory, fake_slack) -> Iterator[FaultyAssistant]:
    settings = fresh_settings(tmp_path_factory.mktemp("var-faults"))
    with pytest.MonkeyPatch.context() as env:
        env.setenv("CX_ACTION_TIMEOUT_SECONDS", str(TIMEOUT_SECONDS))
        use_fake_slack(env, fake_slack)
        for key in ("CX_RATE_IP", "CX_RATE_CONNECT_IP", "CX_RATE_SLACK_TEAM"):
            env.setenv(key, "off")
        actions, rasa = processes(settings, model=latest_model())[:2]  # no hub, no dispatcher
    for proc in (actions, rasa):
        proc.start(settings.root)
    try:
        wait_ready([actions, rasa], timeout=240)
        yield FaultyAssistant(settings, actions)
    finally:
        for proc in (rasa, actions):
            if proc.alive():
                os.killpg(proc.popen.pid, signal.SIGCONT)  # a stopped one can't stop
            proc.stop(grace=5)


def texts(replies: list[dict]) -> str:
    return "\n".join(r.get("text") or "" for r in replies)


def timed_say(assistant: Assistant, who: str, message: str) -> tuple[list[dict], float]:
    started = time.monotonic()
    replies = assistant.say(who, message, timeout=60)
    return replies, time.monotonic() - started


def test_killed_action_server_gets_a_graceful_reply_and_the_chat_carries_on(faulty):
    who = "faults-killed"
    # The order with the email on it: a verified customer gets the full answer.
    answer = texts(faulty.say(who, "where is my order ORD-10001? jane.doe@example.com"))
    assert "ORD-10001" in answer and "DHL" in answer

    with faulty.killed_actions():
        replies, elapsed = timed_say(faulty, who, "and where is my order ORD-10002?")
        assert elapsed < GRACEFUL_WITHIN
        assert len(replies) == 1, replies  # told once, not once per action of the turn
        [reply] = replies
        assert reply["text"] == APOLOGY
        assert [b["title"] for b in reply["buttons"]] == ["Try again", "Talk to a person"]
        # Each call the outage hit is marked (the first is the one that waited, if any).
        failures = faulty.failures(who)
        assert failures and {f["reason"] for f in failures} == {"unreachable"}
        assert failures[0]["action"].startswith("action_")

    # Back: the same conversation goes on, and the question is answered properly.
    answer = texts(faulty.say(who, "where is my order ORD-10002?"))
    assert "ORD-10002" in answer and APOLOGY not in answer
    bot_texts = [e.get("text") for e in faulty.tracker(who)["events"] if e["event"] == "bot"]
    assert APOLOGY in bot_texts  # the transcript CX reads shows what the customer saw
    print(f"\nkilled: graceful reply in {elapsed:.2f} s")


def test_hung_action_server_gets_a_graceful_reply_within_10_seconds(faulty):
    who = "faults-hung"
    assert "ORD-10001" in texts(faulty.say(who, "where is my order ORD-10001?"))

    with faulty.hung_actions():
        replies, elapsed = timed_say(faulty, who, "where is my order ORD-10003?")
        # It waited for the action server, but only CX_ACTION_TIMEOUT_SECONDS, not 300 s.
        assert TIMEOUT_SECONDS - 0.2 <= elapsed < GRACEFUL_WITHIN
        assert texts(replies) == APOLOGY
        failures = faulty.failures(who)
        assert failures and {f["reason"] for f in failures} == {"timeout"}

    answer = texts(faulty.say(who, "where is my order ORD-10003?"))
    assert "ORD-10003" in answer and APOLOGY not in answer
    print(f"\nhung: graceful reply in {elapsed:.2f} s (timeout {TIMEOUT_SECONDS} s)")


def test_every_channel_gets_the_graceful_reply_while_it_is_down(faulty, fake_slack):
    """A new REST conversation (its session start fails too), the website chat and Slack,
    in one outage; then each carries on."""
    rest, ts = "faults-new", new_ts()
    visitor = WidgetClient(faulty.url)
    try:
        visitor.say("hello")
        assert visitor.answers()  # the website chat works before the outage
        with faulty.killed_actions():
            # REST, a conversation that starts now: the session still starts, told once.
            replies, elapsed = timed_say(faulty, rest, "where is my order ORD-10001?")
            assert elapsed < GRACEFUL_WITHIN and texts(replies) == APOLOGY
            events = faulty.tracker(rest)["events"]
            assert [e["event"] for e in events].count("session_started") == 1
            assert {f["reason"] for f in faulty.failures(rest)} == {"unreachable"}

            # The website chat: the apology arrives on the visitor's socket, with buttons.
            started = time.monotonic()
            visitor.say("where is my order ORD-10001?")
            reply = visitor.next("bot_uttered", timeout=GRACEFUL_WITHIN)
            assert time.monotonic() - started < GRACEFUL_WITHIN
            assert reply["text"] == APOLOGY
            assert "Talk to a person" in [b["title"] for b in reply["quick_replies"]]
            assert faulty.failures(visitor.session["session_id"])[0]["reason"] == "unreachable"

            # Slack: the apology in the message's own thread.
            started = time.monotonic()
            event = message_event("where is my order ORD-10001", ts=ts)
            webhook = f"{faulty.url}/webhooks/slack/webhook"
            assert fake_slack.deliver(webhook, event, timeout=10).status_code == 200
            posts = wait_for_reply(fake_slack, ts, "having trouble", timeout=GRACEFUL_WITHIN)
            assert time.monotonic() - started < GRACEFUL_WITHIN
            assert [p.text for p in posts if "having trouble" in p.text] == [APOLOGY]

        # Back: every conversation goes on.
        answer = texts(faulty.say(rest, "where is my order ORD-10001?"))
        assert "ORD-10001" in answer and APOLOGY not in answer
        visitor.say("where is my order ORD-10001?")
        assert "ORD-10001" in texts(visitor.answers())
        again = message_event("where is my order ORD-10001", ts=new_ts(), thread_ts=ts)
        assert fake_slack.deliver(webhook, again, timeout=10).status_code == 200
        wait_for_reply(fake_slack, ts, "DHL")  # same thread, answered properly
    finally:
        visitor.close()
