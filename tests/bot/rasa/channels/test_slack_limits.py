"""The Slack channel's rate limits: signed requests over the limit are answered 200 (so
Slack does not retry), start no turn, and the author is told once per window in the thread."""

from __future__ import annotations

import asyncio
import json
from urllib.parse import urlencode

import pytest

from bot.rasa.channels.slack import ThreadedSlackInput
from bot.ratelimit import MemoryLimiter, Rate, RateLimits
from tests.bot.rasa.channels.test_slack import T1, Turns, request
from tests.fakes.clock import Clock
from tests.fakes.slack import SIGNING_SECRET, TOKEN, FakeSlack, message_event


@pytest.fixture(scope="module")
def fake_slack():
    with FakeSlack() as slack:
        yield slack


@pytest.fixture(autouse=True)
def no_earlier_posts(fake_slack):
    fake_slack.calls.clear()  # the fake is shared by the module's tests


@pytest.fixture
def clock() -> Clock:
    return Clock()


def channel_with(fake_slack, tmp_path, clock, **limits) -> ThreadedSlackInput:
    return ThreadedSlackInput(
        slack_token=TOKEN,
        slack_signing_secret=SIGNING_SECRET,
        slack_api_url=fake_slack.url,
        journey_url=f"sqlite:///{tmp_path / 'journey.db'}",
        limits=RateLimits(**limits),
        limiter=MemoryLimiter(lambda: clock().timestamp()),
    )


def send(channel: ThreadedSlackInput, turns: Turns, *events: dict | bytes) -> list[int]:
    """Each event (or interactivity form body) as a signed request; waits for the
    channel's background work to finish."""

    def signed(e: dict | bytes):
        return (
            request(e, "application/x-www-form-urlencoded") if isinstance(e, bytes) else request(e)
        )

    async def go() -> list[int]:
        statuses = [(await channel.handle(signed(e), turns)).status for e in events]
        while channel._background_tasks:
            await asyncio.gather(*channel._background_tasks)
        return statuses

    return asyncio.run(go())


def event(n: int, user: str = "U0JANE", channel: str = "D0JANE") -> dict:
    ts = f"1741773600.{n:06d}"
    return message_event(f"message {n}", user=user, channel=channel, ts=ts, thread_ts=T1)


def test_over_the_users_limit_slack_gets_200_no_turn_starts_and_the_user_is_told_once(
    fake_slack, tmp_path, clock
):
    channel = channel_with(fake_slack, tmp_path, clock, slack_user=Rate(2, 60))
    turns = Turns()
    assert send(channel, turns, event(1), event(2), event(3), event(4)) == [200] * 4
    assert [m.text for m in turns.messages] == ["message 1", "message 2"]
    [told] = fake_slack.wait_for_posts(channel="D0JANE", thread_ts=T1)
    assert "faster than I can read" in told.text and "wait 60 seconds" in told.text
    fake_slack.calls.clear()
    assert send(channel, turns, event(6)) == [200]  # still over, but told already
    assert fake_slack.posts(channel="D0JANE") == []

    clock.advance(seconds=60)
    assert send(channel, turns, event(5)) == [200]
    assert turns.messages[-1].text == "message 5"


def test_another_user_is_not_held_up_by_one_users_flood(fake_slack, tmp_path, clock):
    channel = channel_with(fake_slack, tmp_path, clock, slack_user=Rate(1, 60))
    turns = Turns()
    send(channel, turns, event(1), event(2), event(3, user="U0OMAR", channel="D0OMAR"))
    assert [m.text for m in turns.messages] == ["message 1", "message 3"]


def test_over_the_workspaces_limit_every_user_in_it_waits(fake_slack, tmp_path, clock):
    channel = channel_with(fake_slack, tmp_path, clock, slack_team=Rate(2, 60))
    turns = Turns()
    send(
        channel,
        turns,
        event(1),
        event(2, user="U0OMAR", channel="D0OMAR"),
        event(3, user="U0LI", channel="D0LI"),
    )
    assert [m.text for m in turns.messages] == ["message 1", "message 2"]


def test_a_retry_of_a_message_over_the_limit_is_still_answered_once(fake_slack, tmp_path, clock):
    channel = channel_with(fake_slack, tmp_path, clock, slack_user=Rate(1, 60))
    turns = Turns()
    send(channel, turns, event(1), event(2))
    clock.advance(seconds=60)
    send(channel, turns, event(2))  # Slack's retry: already taken in, not a new message
    assert [m.text for m in turns.messages] == ["message 1"]


def click(value: str, team: object) -> bytes:
    payload = {
        "type": "block_actions",
        "user": {"id": "U0JANE"},
        "team": team,
        "channel": {"id": "D0JANE"},
        "message": {"ts": "1741773601.000300", "thread_ts": T1},
        "actions": [{"type": "button", "value": value, "action_id": "x"}],
    }
    return urlencode({"payload": json.dumps(payload)}).encode()


@pytest.mark.parametrize("team", [{"id": "T0FAKE"}, "not an object", None])
def test_button_clicks_count_too(fake_slack, tmp_path, clock, team):
    channel = channel_with(fake_slack, tmp_path, clock, slack_user=Rate(1, 60))
    turns = Turns()
    assert send(channel, turns, click("/greet", team), click("/talk_to_person", team)) == [200, 200]
    assert [m.text for m in turns.messages] == ["/greet"]
