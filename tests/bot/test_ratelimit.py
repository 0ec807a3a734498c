"""The rate limiter: sliding windows per key, moved by a hand clock, and its configuration.

The behaviour tests run on the in-memory limiter, and on Redis too when TEST_REDIS_URL is
set (e.g. ``redis://127.0.0.1:6379/0``; each test uses its own key prefix and cleans up).
"""

from __future__ import annotations

import logging
import os
import uuid

import pytest

from bot.ratelimit import MemoryLimiter, Rate, RateLimits, RedisLimiter, first_refusal
from tests.fakes.clock import Clock

STORES = ["memory"] + (["redis"] if os.environ.get("TEST_REDIS_URL") else [])


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture(params=STORES)
def limiter(request, clock):
    if request.param == "memory":
        yield MemoryLimiter(lambda: clock().timestamp())
        return
    prefix = f"cx-test:{uuid.uuid4().hex}:"
    redis_limiter = RedisLimiter.from_url(
        os.environ["TEST_REDIS_URL"], prefix=prefix, clock=lambda: clock().timestamp()
    )
    yield redis_limiter
    client = redis_limiter.client
    for key in client.scan_iter(f"{prefix}*"):
        client.delete(key)


def stored_keys(limiter) -> int:
    if isinstance(limiter, MemoryLimiter):
        return len(limiter)
    return sum(1 for _ in limiter.client.scan_iter(f"{limiter.prefix}*"))


def test_the_limit_is_allowed_then_refused_until_the_oldest_hit_ages_out(limiter, clock):
    rate = Rate(3, 60)
    for _ in range(3):
        assert limiter.hit("k", rate).allowed
        clock.advance(seconds=10)
    refused = limiter.hit("k", rate)  # hits at 0, 10, 20; now 30
    assert not refused and refused.retry_after == 30 and refused.retry_after_seconds == 30
    clock.advance(seconds=29)
    assert not limiter.hit("k", rate)
    clock.advance(seconds=1)  # the first hit is 60 s old
    assert limiter.hit("k", rate)
    assert not limiter.hit("k", rate)  # 10, 20 and 60 are in the window


def test_refused_hits_do_not_extend_the_wait(limiter, clock):
    rate = Rate(1, 60)
    assert limiter.hit("k", rate)
    for _ in range(10):
        clock.advance(seconds=5)
        assert not limiter.hit("k", rate)
    clock.advance(seconds=10)
    assert limiter.hit("k", rate)


def test_keys_are_counted_apart_and_reset_forgets_one(limiter):
    rate = Rate(1, 60)
    assert limiter.hit("a", rate) and limiter.hit("b", rate)
    assert not limiter.hit("a", rate) and not limiter.hit("b", rate)
    limiter.reset("a")
    assert limiter.hit("a", rate) and not limiter.hit("b", rate)


def test_peek_answers_without_counting(limiter):
    rate = Rate(1, 60)
    assert limiter.peek("k", rate) and limiter.peek("k", rate)
    assert limiter.hit("k", rate)
    assert not limiter.peek("k", rate)


def test_a_limit_that_is_off_always_allows(limiter):
    assert all(limiter.hit("k", Rate.parse("off")) for _ in range(1000))
    assert stored_keys(limiter) == 0


def test_memory_is_bounded_the_least_recently_used_key_is_forgotten(clock):
    limiter = MemoryLimiter(lambda: clock().timestamp(), max_keys=100)
    rate = Rate(1, 60)
    assert limiter.hit("first", rate)
    for i in range(1000):
        limiter.hit(f"flood-{i}", rate)
    assert len(limiter) == 100
    assert limiter.hit("first", rate)  # forgotten, so counted afresh


def test_keys_whose_hits_aged_out_are_dropped_on_peek(clock):
    limiter = MemoryLimiter(lambda: clock().timestamp())
    limiter.hit("k", Rate(1, 60))
    clock.advance(seconds=61)
    assert limiter.peek("k", Rate(1, 60)) and len(limiter) == 0


@pytest.mark.skipif("redis" not in STORES, reason="TEST_REDIS_URL is not set")
def test_two_processes_on_one_redis_share_the_count(clock):
    prefix = f"cx-test:{uuid.uuid4().hex}:"
    url = os.environ["TEST_REDIS_URL"]
    one, two = (
        RedisLimiter.from_url(url, prefix=prefix, clock=lambda: clock().timestamp())
        for _ in range(2)
    )
    try:
        assert one.hit("k", Rate(2, 60)) and two.hit("k", Rate(2, 60))
        assert not one.hit("k", Rate(2, 60)) and not two.peek("k", Rate(2, 60))
        ttl = one.client.pttl(f"{prefix}k")
        assert 0 < ttl <= 60_000  # Redis forgets the key with its window
    finally:
        one.client.delete(f"{prefix}k")


def test_an_unreachable_redis_lets_messages_through_and_says_so(caplog):
    limiter = RedisLimiter.from_url("redis://127.0.0.1:1/0")
    with caplog.at_level(logging.WARNING):
        assert limiter.hit("k", Rate(1, 60)) and limiter.hit("k", Rate(1, 60))
    assert sum("Redis is unreachable" in r.message for r in caplog.records) == 1


def test_a_redis_url_in_the_environment_picks_the_redis_limiter():
    limits = RateLimits.from_env({"CX_RATE_REDIS_URL": "redis://127.0.0.1:6379/0"})
    assert isinstance(limits.limiter(), RedisLimiter)
    assert isinstance(RateLimits.from_env({}).limiter(), MemoryLimiter)


def test_first_refusal_counts_on_every_key_only_when_all_allow(limiter):
    small, big = Rate(1, 60), Rate(5, 60)
    assert first_refusal(limiter, [("sender:a", small), ("ip:x", big)])
    assert not first_refusal(limiter, [("sender:a", small), ("ip:x", big)])
    # The refused message did not use up the address's allowance.
    for i in range(4):
        assert first_refusal(limiter, [(f"sender:{i}", small), ("ip:x", big)])
    assert not first_refusal(limiter, [("sender:new", small), ("ip:x", big)])


@pytest.mark.parametrize(
    "text, rate",
    [
        ("30/60", Rate(30, 60)),
        ("30/1m", Rate(30, 60)),
        ("10/15m", Rate(10, 900)),
        ("1000/1h", Rate(1000, 3600)),
        ("2/0.5s", Rate(2, 0.5)),
        ("5/min", Rate(5, 60)),
        ("off", Rate(0, 1.0)),
    ],
)
def test_rates_are_read_as_n_per_window(text, rate):
    assert Rate.parse(text) == rate


@pytest.mark.parametrize("text", ["30", "abc", "30/", "-1/60", "3/0"])
def test_a_bad_rate_names_the_variable_and_the_format(text):
    with pytest.raises(ValueError, match="CX_RATE_IP.*(N/WINDOW|more than 0)"):
        RateLimits.from_env({"CX_RATE_IP": text})


def test_limits_come_from_the_environment_with_generous_defaults():
    default = RateLimits.from_env({})
    assert (default.conversation, default.ip) == (Rate(30, 60), Rate(120, 60))
    assert default.login_failures == Rate(10, 900) and default.trusted_proxies == 0
    custom = RateLimits.from_env({"CX_RATE_CONVERSATION": "2/1s", "CX_TRUSTED_PROXIES": "1"})
    assert custom.conversation == Rate(2, 1) and custom.trusted_proxies == 1
    with pytest.raises(ValueError, match="CX_TRUSTED_PROXIES"):
        RateLimits.from_env({"CX_TRUSTED_PROXIES": "yes"})


def test_the_client_address_is_the_peer_unless_proxies_are_trusted():
    forged = "6.6.6.6, 203.0.113.7"  # the client wrote 6.6.6.6; nginx appended 203.0.113.7
    assert RateLimits().client_ip("10.0.0.2", forged) == "10.0.0.2"
    assert RateLimits(trusted_proxies=1).client_ip("10.0.0.2", forged) == "203.0.113.7"
    assert RateLimits(trusted_proxies=2).client_ip("10.0.0.2", forged) == "6.6.6.6"
    assert RateLimits(trusted_proxies=1).client_ip("10.0.0.2", None) == "10.0.0.2"
