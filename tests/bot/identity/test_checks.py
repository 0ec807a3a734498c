"""Identity checks (bot/identity/checks.py): the record, the limits, one-time codes."""

from __future__ import annotations

import functools
from datetime import datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.db.migrate import migrate
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
