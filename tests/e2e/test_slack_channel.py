"""The real Rasa server's Slack channel: signed Events API payloads in, replies in a fake Slack.

The session's assistant runs with SLACK_BOT_TOKEN, SLACK_SIGNING_SECRET and SLACK_API_URL
pointing at the fake (tests/e2e/conftest.py). Rasa answers Slack's request before or
after it posts the reply, so replies are waited for by polling the fake.
"""

from __future__ import annotations

import itertools
import json
import time

import pytest

from bot.rasa.channels.slack_output import PRIVATE_NOTE
from tests.fakes.slack import mention_event, message_event

pytestmark = pytest.mark.e2e

_counter = itertools.count(1)


def new_ts() -> str:
    """A fresh Slack message ts ("seconds.micro"), unique in this session."""
    return f"{int(time.time())}.{next(_counter):06d}"


def webhook(assistant) -> str:
    return f"{assistant.url}/webhooks/slack/webhook"


def sender(ts: str, user: str = "U0JANE", channel: str = "D0JANE") -> str:
    """Rasa 3.6's sender id with conversation_granularity: thread."""
    return f"{user}_{channel}_{ts}"


def user_texts(assistant, sender_id: str) -> list[str]:
    events = assistant.tracker(sender_id)["events"]
    return [e["text"] for e in events if e["event"] == "user"]


def wait_for_reply(fake_slack, thread_ts: str, words: str, timeout: float = 60) -> list:
    """The posts in ``thread_ts`` once one of them contains ``words``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        posts = fake_slack.posts(thread_ts=thread_ts)
        if any(words in p.text for p in posts):
            return posts
        time.sleep(0.2)
    raise AssertionError(f"no reply with {words!r} in thread {thread_ts}: {fake_slack.calls}")


def test_a_question_on_slack_is_answered_in_its_own_thread(assistant, fake_slack):
    ts = new_ts()
    event = message_event("where is my order ORD-10001", ts=ts)
    assert fake_slack.deliver(webhook(assistant), event, timeout=10).status_code == 200
    posts = wait_for_reply(fake_slack, ts, "DHL")
    assert "ORD-10001" in " ".join(p.text for p in posts)
    assert {(p.channel, p.thread_ts, p.token) for p in posts} == {("D0JANE", ts, fake_slack.token)}
    tracker = assistant.tracker(sender(ts))
    assert tracker["latest_input_channel"] == "slack"
    assert tracker["slots"]["customer_id"] == "C001"


def test_a_slack_user_known_to_the_back_office_is_greeted_by_name(assistant, fake_slack):
    ts = new_ts()
    fake_slack.deliver(webhook(assistant), message_event("hi", ts=ts), timeout=10)
    wait_for_reply(fake_slack, ts, "Hi Jane")  # U0JANE is Jane Doe's Slack user (C001)


def test_a_forged_signature_is_refused_and_nothing_is_posted(assistant, fake_slack):
    ts = new_ts()
    forged = {"X-Slack-Signature": "v0=" + "0" * 64}
    answer = fake_slack.deliver(webhook(assistant), message_event("hi", ts=ts), forged, timeout=10)
    assert answer.status_code == 401
    time.sleep(3)  # time enough for a reply, had there been a turn
    assert fake_slack.posts(thread_ts=ts) == []
    assert user_texts(assistant, sender(ts)) == []


def test_a_request_signed_more_than_five_minutes_ago_is_refused(assistant, fake_slack):
    ts = new_ts()
    event = message_event("hi", ts=ts)
    stale = fake_slack.signed_headers(json.dumps(event).encode(), int(time.time()) - 6 * 60)
    answer = fake_slack.deliver(webhook(assistant), event, stale, timeout=10)
    assert answer.status_code == 401
    time.sleep(3)
    assert fake_slack.posts(thread_ts=ts) == []
    assert user_texts(assistant, sender(ts)) == []


def test_slack_retrying_an_event_gets_exactly_one_answer(assistant, fake_slack):
    ts = new_ts()
    event = message_event("where is my order ORD-10001", ts=ts, event_id=f"Ev{ts}")
    first = fake_slack.deliver(webhook(assistant), event, timeout=10)
    # Slack gave up waiting on the first delivery and sends it again, as it does.
    retry_headers = {"X-Slack-Retry-Num": "1", "X-Slack-Retry-Reason": "http_error"}
    retry = fake_slack.deliver(webhook(assistant), event, retry_headers, timeout=10)
    assert (first.status_code, retry.status_code) == (200, 200)
    assert retry.headers.get("X-Slack-No-Retry") == "1"
    wait_for_reply(fake_slack, ts, "DHL")
    time.sleep(3)  # time enough for a second answer, had there been one
    assert user_texts(assistant, sender(ts)) == ["where is my order ORD-10001"]
    texts = [p.text for p in fake_slack.posts(thread_ts=ts)]
    assert len(texts) == len(set(texts)), texts


def test_two_threads_of_one_customer_are_two_conversations(assistant, fake_slack):
    order_thread, other_thread = new_ts(), new_ts()
    fake_slack.deliver(
        webhook(assistant), message_event("where is my order ORD-10001", ts=order_thread)
    )
    fake_slack.deliver(webhook(assistant), message_event("hi", ts=other_thread))
    wait_for_reply(fake_slack, order_thread, "DHL")
    wait_for_reply(fake_slack, other_thread, "Hi Jane")
    # Jane answers inside the order thread: that conversation goes on, the other does not.
    reply = message_event("thanks!", ts=new_ts(), thread_ts=order_thread)
    fake_slack.deliver(webhook(assistant), reply, timeout=10)
    wait_for_reply(fake_slack, order_thread, "welcome")
    assert user_texts(assistant, sender(order_thread)) == [
        "where is my order ORD-10001",
        "thanks!",
    ]
    assert user_texts(assistant, sender(other_thread)) == ["hi"]
    assert not any("welcome" in p.text for p in fake_slack.posts(thread_ts=other_thread))


def test_a_slack_user_over_the_rate_limit_is_told_in_the_thread_and_slack_gets_200(
    assistant, fake_slack
):
    # credentials.yml's channel reads CX_RATE_SLACK_USER (default 30 per minute).
    thread = new_ts()
    statuses = []
    for i in range(32):
        ts = thread if i == 0 else new_ts()
        event = message_event(f"hello {i}", user="U0FLOOD", channel="D0FLOOD", ts=ts)
        if i:
            event["event"]["thread_ts"] = thread
        statuses.append(fake_slack.deliver(webhook(assistant), event, timeout=10).status_code)
    assert statuses == [200] * 32  # never a 429: Slack would retry it
    posts = wait_for_reply(fake_slack, thread, "faster than I can read")
    assert sum("faster than I can read" in p.text for p in posts) == 1  # told once
    deadline = time.monotonic() + 60
    while len(user_texts(assistant, sender(thread, "U0FLOOD", "D0FLOOD"))) < 30:
        assert time.monotonic() < deadline, "the 30 messages within the limit were not all taken"
        time.sleep(0.5)
    time.sleep(1)
    texts = user_texts(assistant, sender(thread, "U0FLOOD", "D0FLOOD"))
    assert "hello 29" in texts and "hello 30" not in texts and "hello 31" not in texts


def wait_for_turn(assistant, sender_id: str, timeout: float = 30) -> None:
    """Until the conversation's turn is over (saved, listening again): all its replies sent."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        events = assistant.tracker(sender_id)["events"]
        kinds = [(e["event"], e.get("name")) for e in events]
        if ("user", None) in kinds and kinds[-1] == ("action", "action_listen"):
            return
        time.sleep(0.1)
    raise AssertionError(f"the turn of {sender_id} did not end within {timeout} s")


def test_in_a_shared_channel_a_mapped_customers_details_reach_her_alone(assistant, fake_slack):
    # Jane (U0JANE, mapped to C001) and a stranger ask in #support; Jane also asks in her DM.
    jane, stranger, dm = new_ts(), new_ts(), new_ts()
    for event in (
        mention_event("where is my order ORD-10001", channel="C0SHARED", ts=jane),
        mention_event("where is my order ORD-10001", "U0STRANGER", "C0SHARED", ts=stranger),
        message_event("where is my order ORD-10001", ts=dm),
    ):
        assert fake_slack.deliver(webhook(assistant), event, timeout=10).status_code == 200
    wait_for_turn(assistant, sender(jane, channel="C0SHARED"))
    wait_for_turn(assistant, sender(stranger, "U0STRANGER", "C0SHARED"))
    wait_for_turn(assistant, sender(dm))

    # Jane's details (items, address, tracking) reach her alone, in her thread.
    private = fake_slack.ephemerals(thread_ts=jane)
    assert private and {(p.user, p.channel) for p in private} == {("U0JANE", "C0SHARED")}
    said_to_jane = " ".join(p.text for p in private)
    details = [d for d in ("Ceramic mug set", "12 Elm Street", "JD014600001") if d in said_to_jane]
    assert details, said_to_jane
    # What everyone in the channel reads: one kind note, and none of her details.
    public = [p.text for p in fake_slack.posts(channel="C0SHARED") if p.thread_ts == jane]
    assert public == [PRIVATE_NOTE]

    # The stranger's answer is public (a parcel tracker's, by the trust rules: no details).
    answer = " ".join(p.text for p in fake_slack.posts(thread_ts=stranger))
    assert "ORD-10001" in answer and fake_slack.ephemerals(thread_ts=stranger) == []
    assert not any(d in answer for d in ("Ceramic mug set", "12 Elm Street", "JD014600001"))

    # Jane's DM is as it was: everything posted, nothing ephemeral, no note.
    in_dm = [p.text for p in fake_slack.posts(thread_ts=dm)]
    assert any(d in " ".join(in_dm) for d in details) and PRIVATE_NOTE not in in_dm
    assert fake_slack.ephemerals(thread_ts=dm) == []


def test_in_a_shared_channel_the_turn_that_verifies_a_stranger_answers_them_alone(
    assistant, fake_slack
):
    # Someone whose Slack account is mapped to nobody proves in one message that the order
    # is theirs: the answer that follows holds its items and address, so it must not be
    # posted where the whole channel reads it, even in this first turn.
    ts = new_ts()
    text = "where is my order ORD-10001? my email is jane.doe@example.com"
    event = mention_event(text, "U0GUEST", "C0SHARED", ts=ts)
    assert fake_slack.deliver(webhook(assistant), event, timeout=10).status_code == 200
    wait_for_turn(assistant, sender(ts, "U0GUEST", "C0SHARED"))

    said_privately = " ".join(p.text for p in fake_slack.ephemerals(thread_ts=ts, user="U0GUEST"))
    assert any(d in said_privately for d in ("Ceramic mug set", "12 Elm Street", "JD014600001"))
    public = " ".join(p.text for p in fake_slack.posts(channel="C0SHARED") if p.thread_ts == ts)
    assert PRIVATE_NOTE in public
    assert not any(d in public for d in ("Ceramic mug set", "12 Elm Street", "JD014600001"))
