"""Identity checks (bot/identity/checks.py): the record, the limits, one-time codes."""

from __future__ import annotations

import functools
from datetime import datetime, timedelta

import pytest
from alembic import command
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from bot.db.migrate import alembic_config, migrate
from bot.db.schema import identity_checks
from bot.identity.access import AccessRules
from bot.identity.checks import (
    CODE_SENT,
    FAILED,
    LIMITED,
    LOOKUP,
    OK,
    ORDER_EMAIL,
    IdentityChecks,
    Where,
    address_key,
    code_hash,
)
from bot.routing import RoutingMap

START = datetime(2025, 3, 12, 10, 0)


class Clock:
    def __init__(self):
        self.now = START

    def __call__(self):
        return self.now


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def checks(journey_engine, clock):
    codes = iter(f"{n:06d}" for n in range(123456, 999999))
    return IdentityChecks(
        journey_engine,
        AccessRules.load(known_needs=RoutingMap.load()),
        now=clock,
        new_code=lambda digits: next(codes),
    )


CHAT = Where("chat-1", "rest", "203.0.113.7")


def test_lookups_count_distinct_orders_per_conversation(checks):
    for n in range(5):
        order = f"ORD-1000{n}"
        assert checks.may_look_up(CHAT, order)
        checks.record(CHAT, LOOKUP, OK, order_id=order)
    # The same order again is free; a sixth one is not.
    assert checks.may_look_up(CHAT, "ORD-10000")
    assert not checks.may_look_up(CHAT, "ORD-10009")
    # Another conversation from another address starts afresh.
    assert checks.may_look_up(Where("chat-2", "rest", "198.51.100.1"), "ORD-10009")


def test_lookups_are_limited_per_address_across_conversations(checks):
    for n in range(20):
        where = Where(f"chat-{n}", "rest", "203.0.113.7")
        checks.record(where, LOOKUP, FAILED, order_id=f"ORD-2{n:04d}")
    assert not checks.may_look_up(Where("chat-new", "rest", "203.0.113.7"), "ORD-10001")
    assert checks.may_look_up(Where("chat-new", "rest", "198.51.100.1"), "ORD-10001")
    # A test system's rules without the per-address limits.
    relaxed = IdentityChecks(checks._engine, checks.rules.without_address_limits(), checks._now)
    assert relaxed.may_look_up(Where("chat-new", "rest", "203.0.113.7"), "ORD-10001")


def test_limits_reopen_when_the_window_has_passed(checks, clock):
    for _ in range(5):
        checks.record(CHAT, ORDER_EMAIL, FAILED, order_id="ORD-10001")
    assert not checks.may_try(CHAT)
    clock.now += timedelta(hours=1, seconds=1)
    assert checks.may_try(CHAT)


def test_failures_are_limited_per_conversation_and_per_address(checks):
    for _ in range(4):
        checks.record(CHAT, ORDER_EMAIL, FAILED)
    assert checks.may_try(CHAT)
    checks.record(CHAT, ORDER_EMAIL, OK, customer_id="C001")  # successes don't count
    assert checks.may_try(CHAT)
    checks.record(CHAT, ORDER_EMAIL, FAILED)
    assert not checks.may_try(CHAT)
    for n in range(5):
        checks.record(Where(f"other-{n}", "rest", "203.0.113.7"), ORDER_EMAIL, FAILED)
    assert not checks.may_try(Where("fresh", "rest", "203.0.113.7"))


def test_codes_sent_are_limited_per_conversation_and_per_customer(checks):
    for _ in range(3):
        assert checks.may_send_code(CHAT, "C001")
        checks.record(CHAT, CODE_SENT, OK, customer_id="C001")
    assert not checks.may_send_code(CHAT, "C001")
    for n in range(2):
        checks.record(Where(f"c{n}", "rest", None), CODE_SENT, OK, customer_id="C001")
    assert not checks.may_send_code(Where("another", "rest", None), "C001")
    assert checks.may_send_code(Where("another", "rest", None), "C002")


def test_a_code_verifies_once_and_only_in_its_own_conversation(checks):
    code = checks.issue_code(CHAT, "C002")
    assert checks.try_code(Where("chat-2"), code) is None
    assert checks.try_code(CHAT, code) == "C002"
    assert checks.try_code(CHAT, code) is None  # spent


def test_a_code_expires(checks, clock):
    code = checks.issue_code(CHAT, "C002")
    clock.now += timedelta(minutes=10, seconds=1)
    assert checks.try_code(CHAT, code) is None


def test_wrong_tries_spend_the_code(checks):
    code = checks.issue_code(CHAT, "C002")
    for _ in range(5):
        assert checks.try_code(CHAT, "000000") is None
    assert checks.try_code(CHAT, code) is None


def test_a_new_code_replaces_the_old_one(checks):
    old = checks.issue_code(CHAT, "C002")
    new = checks.issue_code(CHAT, "C002")
    assert checks.try_code(CHAT, old) is None
    assert checks.try_code(CHAT, new) == "C002"


def test_only_the_hash_of_a_code_is_kept(checks, engine):
    code = checks.issue_code(CHAT, "C002")
    from sqlalchemy import select

    from bot.db.schema import one_time_codes

    with engine.connect() as conn:
        stored = conn.execute(select(one_time_codes.c.code_hash)).scalar_one()
    assert code not in stored and stored == code_hash("chat-1", code)


def test_a_code_requested_is_known_alike_for_accounts_and_strangers(checks, clock):
    checks.record(CHAT, CODE_SENT, OK, customer_id=None)  # an email with no account
    assert checks.code_requested("chat-1")
    clock.now += timedelta(minutes=11)
    assert not checks.code_requested("chat-1")


def test_refusals_are_recorded_and_seen(checks):
    checks.record(CHAT, LOOKUP, LIMITED, order_id="ORD-10009")
    checks.record(CHAT, ORDER_EMAIL, FAILED, order_id="ORD-10001")
    assert checks.limited_lately("chat-1") and not checks.limited_lately("chat-2")
    assert checks.failures_by_conversation(["chat-1", "chat-2"]) == {"chat-1": 2}
    kinds = [(c["kind"], c["outcome"]) for c in checks.of_conversation("chat-1")]
    assert kinds == [(LOOKUP, LIMITED), (ORDER_EMAIL, FAILED)]


@settings(max_examples=30, deadline=None)
@given(st.text(alphabet="0123456789", min_size=6, max_size=6))
def test_no_guess_verifies_without_a_code_sent(guess):
    # A conversation with no code out: nothing typed verifies it. (Own database: hypothesis
    # runs many examples in one test.)
    assert _fresh_checks().try_code(Where("never-sent"), guess) is None


@functools.cache
def _fresh_checks() -> IdentityChecks:
    from bot.db.engine import make_engine

    engine = make_engine("sqlite://")
    migrate(engine)
    return IdentityChecks(engine, AccessRules.load(), now=lambda: START)


# -- an address is counted as one, whatever its length or spelling -------------------------

# Longer than identity_checks.address shows (64 characters), alike in their first 64.
LONG = "proxy-said-" + "x" * 80 + "-1"
LONG_TWIN = "proxy-said-" + "x" * 80 + "-2"


def fail_from(checks: IdentityChecks, address: str, times: int) -> None:
    """``times`` failed order-and-email attempts from ``address``, each in a chat of its own."""
    for n in range(times):
        with checks.attempt(Where(f"{address[-8:]}-{n}", "rest", address), ORDER_EMAIL) as claim:
            assert not claim.limited
            claim.settle(FAILED)


def test_a_long_address_reaches_its_own_limit_and_shares_it_with_no_other(checks):
    fail_from(checks, LONG, checks.rules.limits["failures_per_address"].limit)
    assert not checks.may_try(Where("fresh", "rest", LONG))
    with checks.attempt(Where("fresh", "rest", LONG), ORDER_EMAIL) as claim:
        assert claim.limited
    assert checks.may_try(Where("fresh", "rest", LONG_TWIN))  # the same first 64 characters


def test_a_long_address_reaches_its_lookup_limit(checks):
    for n in range(checks.rules.limits["lookups_per_address"].limit):
        with checks.attempt(Where(f"tab-{n}", "rest", LONG), LOOKUP, f"ORD-3{n:04d}") as claim:
            claim.settle(FAILED)
    assert not checks.may_look_up(Where("tab-new", "rest", LONG), "ORD-10001")
    assert checks.may_look_up(Where("tab-new", "rest", LONG_TWIN), "ORD-10001")


@pytest.mark.parametrize(
    "written, also",
    [
        ("2001:DB8::1", "2001:0db8:0000:0000:0000:0000:0000:0001"),
        ("::ffff:203.0.113.7", "203.0.113.7"),  # IPv4 seen through an IPv6 socket
        (" 198.51.100.4", "198.51.100.4"),
    ],
)
def test_one_address_written_two_ways_has_one_count(checks, written, also):
    fail_from(checks, written, checks.rules.limits["failures_per_address"].limit)
    assert not checks.may_try(Where("fresh", "rest", also))


def test_cx_review_is_shown_the_address_normalised_and_a_long_one_cut(checks):
    checks.record(Where("seen-1", "rest", "2001:DB8::0:1"), ORDER_EMAIL, FAILED)
    checks.record(Where("seen-2", "rest", LONG), ORDER_EMAIL, FAILED)
    [short] = checks.of_conversation("seen-1")
    [long] = checks.of_conversation("seen-2")
    assert short["address"] == "2001:db8::1"
    assert long["address"] == LONG[:63] + "\u2026" and len(long["address"]) == 64
    assert long["address_key"] == address_key(LONG) != address_key(LONG_TWIN)


def test_the_migration_keys_the_addresses_already_recorded(engine, clock):
    with engine.begin() as conn:
        config = alembic_config()
        config.attributes["connection"] = conn
        command.upgrade(config, "0012_one_truth")
    rows = [
        {"conversation_id": f"old-{n}", "channel": "rest", "address": address,
         "kind": ORDER_EMAIL, "outcome": FAILED, "at": START}
        for n, address in enumerate(["2001:DB8::1"] * 10 + ["203.0.113.9", None])
    ]  # fmt: skip
    with engine.begin() as conn:
        conn.execute(identity_checks.insert(), rows)
    migrate(engine)
    with engine.connect() as conn:
        stored = conn.execute(select(identity_checks.c.address, identity_checks.c.address_key))
        keys = {address: key for address, key in stored}
    assert keys == {
        "2001:DB8::1": address_key("2001:db8::1"),
        "203.0.113.9": address_key("203.0.113.9"),
        None: None,
    }
    # The failures recorded before the upgrade still count, under any spelling.
    checks = IdentityChecks(engine, AccessRules.load(known_needs=RoutingMap.load()), now=clock)
    assert not checks.may_try(Where("after", "rest", "2001:db8:0::1"))
    assert checks.may_try(Where("after", "rest", "203.0.113.9"))
