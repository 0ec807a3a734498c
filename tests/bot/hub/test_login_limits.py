"""Hub sign-in under password guessing: failed attempts are limited, over a real server."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from bot.db.engine import make_engine
from bot.hub import HubSettings, serve
from bot.hub.accounts import Accounts
from bot.ratelimit import Rate, RateLimits
from tests.fakes.clock import Clock

PASSWORD = "a long enough test password"


@pytest.fixture
def clock() -> Clock:
    return Clock()


def start(tmp_path, clock: Clock, **limits):
    settings = HubSettings(
        journey_url=f"sqlite:///{tmp_path / 'journey.db'}",
        clock=lambda: clock().timestamp(),
        rate_limits=RateLimits(**limits),
    )
    server = serve(settings, port=0)
    engine = make_engine(settings.journey_url)
    accounts = Accounts(engine)
    accounts.add("bill", PASSWORD, "department", "Bill", department="billing")
    accounts.add("ana", PASSWORD, "agent", "Ana")
    engine.dispose()
    return server


@pytest.fixture
def hub(tmp_path, clock):
    server = start(tmp_path, clock)
    yield server.url
    server.stop()


def login(url: str, password: str, username: str = "bill", **headers) -> requests.Response:
    return requests.post(
        f"{url}/login",
        data={"username": username, "password": password},
        headers=headers,
        allow_redirects=False,
        timeout=10,
    )


def test_after_ten_failures_even_the_right_password_waits_until_the_window_passes(hub, clock):
    for _ in range(10):
        assert login(hub, "guess").status_code == 401
    clock.advance(minutes=5)
    locked = login(hub, PASSWORD)
    assert locked.status_code == 429
    assert locked.headers["Retry-After"] == "600"  # the first failure leaves the window in 10 min
    assert "Too many failed sign-ins" in locked.text and "10 minutes" in locked.text
    assert "set-cookie" not in locked.headers
    assert "Content-Security-Policy" in locked.headers  # still a hub page
    clock.advance(minutes=10)
    assert login(hub, PASSWORD).status_code == 303


def test_a_success_resets_the_count_of_its_username(hub):
    for _ in range(9):
        assert login(hub, "guess").status_code == 401
    assert login(hub, PASSWORD).status_code == 303
    for _ in range(9):
        assert login(hub, "guess").status_code == 401
    assert login(hub, PASSWORD).status_code == 303


def test_another_user_from_the_same_address_is_not_locked_out_by_one_users_failures(hub):
    for _ in range(10):
        login(hub, "guess")
    assert login(hub, PASSWORD).status_code == 429
    assert login(hub, PASSWORD, username="ana").status_code == 303


def test_guessing_over_many_usernames_locks_the_address(tmp_path, clock):
    server = start(tmp_path, clock, login_ip_failures=Rate(5, 900))
    try:
        for i in range(5):
            assert login(server.url, "guess", username=f"user{i}").status_code == 401
        assert login(server.url, PASSWORD, username="ana").status_code == 429
    finally:
        server.stop()


def test_forwarded_addresses_count_apart_only_behind_a_trusted_proxy(tmp_path, clock):
    server = start(tmp_path, clock, login_failures=Rate(1, 900), trusted_proxies=1)
    try:
        assert login(server.url, "guess", **{"X-Forwarded-For": "203.0.113.7"}).status_code == 401
        assert login(server.url, PASSWORD, **{"X-Forwarded-For": "203.0.113.7"}).status_code == 429
        assert login(server.url, PASSWORD, **{"X-Forwarded-For": "203.0.113.8"}).status_code == 303
    finally:
        server.stop()


def test_limits_are_read_from_the_environment():
    settings = HubSettings.from_env({"CX_RATE_LOGIN_FAILURES": "3/5m", "CX_TRUSTED_PROXIES": "1"})
    assert settings.rate_limits.login_failures == Rate(3, 300)
    assert settings.rate_limits.trusted_proxies == 1


def test_parallel_guesses_do_not_slip_past_the_limit(hub):
    with ThreadPoolExecutor(20) as pool:
        statuses = sorted(pool.map(lambda _: login(hub, "guess").status_code, range(20)))
    assert statuses == [401] * 10 + [429] * 10
