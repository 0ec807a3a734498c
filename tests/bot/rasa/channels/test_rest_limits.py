"""The REST channel's rate limits over a real server: 429 with Retry-After, then served again."""

from __future__ import annotations

import time

import requests

from bot.rasa.channels.rest import CheckedRestInput
from bot.ratelimit import MemoryLimiter, Rate, RateLimits
from tests.fakes.channel_server import ChannelServer
from tests.fakes.clock import Clock


def say(url: str, sender: str, message: str = "hi", **headers: str) -> requests.Response:
    return requests.post(
        f"{url}/webhooks/rest/webhook",
        json={"sender": sender, "message": message},
        headers=headers,
        timeout=10,
    )


def test_over_the_senders_limit_a_429_with_retry_after_and_no_turn_until_the_window_passes():
    clock = Clock()
    limits = RateLimits(conversation=Rate(3, 60), ip=Rate(100, 60))
    channel = CheckedRestInput(limits, MemoryLimiter(lambda: clock().timestamp()))
    with ChannelServer(channel) as server:
        for i in range(3):
            r = say(server.url, "ann", f"message {i}")
            assert r.status_code == 200 and r.json()[0]["text"] == f"you said: message {i}"
        clock.advance(seconds=15)
        refused = say(server.url, "ann", "one too many")
        assert refused.status_code == 429
        assert refused.headers["Retry-After"] == "45"
        assert refused.json()["retry_after"] == 45 and "wait 45 seconds" in refused.json()["error"]
        assert [m.text for m in server.messages][-1] == "message 2"  # no turn for it
        assert say(server.url, "bob").status_code == 200  # another conversation goes on
        clock.advance(seconds=45)
        assert say(server.url, "ann", "again").status_code == 200


def test_over_the_addresss_limit_every_sender_from_it_waits():
    clock = Clock()
    limits = RateLimits(conversation=Rate(30, 60), ip=Rate(3, 60))
    channel = CheckedRestInput(limits, MemoryLimiter(lambda: clock().timestamp()))
    with ChannelServer(channel) as server:
        assert all(say(server.url, f"s{i}").status_code == 200 for i in range(3))
        refused = say(server.url, "s-new")
        assert refused.status_code == 429 and refused.headers["Retry-After"] == "60"


def test_behind_a_trusted_proxy_the_forwarded_address_is_limited():
    clock = Clock()
    limits = RateLimits(conversation=Rate(30, 60), ip=Rate(1, 60), trusted_proxies=1)
    channel = CheckedRestInput(limits, MemoryLimiter(lambda: clock().timestamp()))
    with ChannelServer(channel) as server:
        first, second = {"X-Forwarded-For": "203.0.113.7"}, {"X-Forwarded-For": "203.0.113.8"}
        assert say(server.url, "a", **first).status_code == 200
        assert say(server.url, "b", **second).status_code == 200
        assert say(server.url, "c", **first).status_code == 429


def test_malformed_requests_are_still_400_and_do_not_count():
    limits = RateLimits(conversation=Rate(1, 60), ip=Rate(1, 60))
    with ChannelServer(CheckedRestInput(limits)) as server:
        for body in ([], {"sender": "ann"}, {"sender": "ann", "message": 3}) * 2:
            r = requests.post(f"{server.url}/webhooks/rest/webhook", json=body, timeout=10)
            assert r.status_code == 400
        assert say(server.url, "ann").status_code == 200


def test_the_window_comes_from_the_environment(monkeypatch):
    monkeypatch.setenv("CX_RATE_CONVERSATION", "2/1s")
    channel = CheckedRestInput.from_credentials(None)
    with ChannelServer(channel) as server:
        assert [say(server.url, "ann").status_code for _ in range(3)] == [200, 200, 429]
        time.sleep(1.05)
        assert say(server.url, "ann").status_code == 200
