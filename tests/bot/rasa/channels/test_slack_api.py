"""Where a Slack conversation lives, and posting there at the configured Web API."""

from __future__ import annotations

import pytest

from bot.rasa.channels.slack_api import (
    DEFAULT_API_URL,
    SlackApiError,
    SlackThread,
    SlackWebApi,
    api_url,
    slack_thread_of,
)
from tests.fakes.slack import TOKEN, FakeSlack

T1 = "1741773600.000100"


@pytest.fixture(scope="module")
def fake_slack():
    with FakeSlack() as slack:
        yield slack


@pytest.mark.parametrize(
    ("sender_id", "metadata", "where"),
    [
        # conversation_granularity: thread (ours): the sender id is exact.
        (f"U0JANE_D0JANE_{T1}", {}, SlackThread("D0JANE", T1)),
        (
            f"U0JANE_D0JANE_{T1}",
            {"out_channel": "C0ELSE", "thread_id": "9.9"},
            SlackThread("D0JANE", T1),
        ),
        # Other granularities: the latest message's metadata says where the customer wrote.
        (
            "U0JANE_C0SUPPORT",
            {"out_channel": "C0SUPPORT", "thread_id": T1},
            SlackThread("C0SUPPORT", T1),
        ),
        ("U0JANE_C0SUPPORT", {}, SlackThread("C0SUPPORT")),
        ("U0JANE", {"out_channel": "D0JANE", "thread_id": None}, SlackThread("D0JANE")),
        ("U0JANE", None, SlackThread("U0JANE")),  # a user id: the app's DM with them
    ],
)
def test_the_place_of_a_slack_conversation(sender_id, metadata, where):
    assert slack_thread_of(sender_id, metadata) == where


def test_a_message_is_posted_into_the_thread_with_the_bot_token(fake_slack):
    slack = SlackWebApi(TOKEN, fake_slack.url)
    where = slack_thread_of(f"U0LIWEI_D0LI_{T1}")
    ts = slack.post(where, "Hi Li, this is Sam from support: I have your order here.")
    [post] = fake_slack.wait_for_posts(thread_ts=T1, channel="D0LI")
    assert post.ts == ts
    assert (post.token, post.text) == (
        TOKEN,
        "Hi Li, this is Sam from support: I have your order here.",
    )


def test_slack_refusing_a_post_raises_with_its_error(fake_slack):
    with pytest.raises(SlackApiError, match="invalid_auth"):
        SlackWebApi("xoxb-revoked", fake_slack.url).post(SlackThread("D0LI"), "hello")


def test_the_web_api_is_configured_like_the_channel(fake_slack):
    assert SlackWebApi.from_env({}) is None  # Slack not set up
    slack = SlackWebApi.from_env({"SLACK_BOT_TOKEN": TOKEN, "SLACK_API_URL": fake_slack.url})
    assert slack.base_url == fake_slack.url
    assert SlackWebApi.from_env({"SLACK_BOT_TOKEN": TOKEN}).base_url == DEFAULT_API_URL


@pytest.mark.parametrize(
    ("raw", "url"),
    [
        (None, "https://slack.com/api/"),
        ("  ", "https://slack.com/api/"),
        ("https://slack-gov.com/api", "https://slack-gov.com/api/"),
        ("http://127.0.0.1:9/api/", "http://127.0.0.1:9/api/"),
    ],
)
def test_the_base_url_always_ends_in_a_slash(raw, url):
    assert api_url(raw) == url


def test_more_than_five_buttons_all_reach_slack_in_rows_of_five(fake_slack):
    # The feedback question: five ratings and "No thanks". Stock Rasa posted none past five.
    import asyncio

    from bot.rasa.channels.slack import SlackOutput

    buttons = [
        {"title": f"{n}", "payload": f'/rate_conversation{{"rating":"{n}"}}'} for n in range(1, 6)
    ]
    buttons.append({"title": "No thanks", "payload": "/skip_feedback"})
    out = SlackOutput(TOKEN, slack_channel="D0RATE", thread_id="7.000001", base_url=fake_slack.url)
    asyncio.run(out.send_text_with_buttons("U0RATE", "How did I do?", buttons))
    [post] = fake_slack.wait_for_posts(channel="D0RATE")
    rows = [b for b in post.fields["blocks"] if b["type"] == "actions"]
    assert [len(r["elements"]) for r in rows] == [5, 1]
    assert [e["value"] for r in rows for e in r["elements"]] == [b["payload"] for b in buttons]
    assert post.text == "How did I do?"
