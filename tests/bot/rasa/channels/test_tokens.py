"""Signed website-chat tokens: who the visitor is, and which conversation is theirs."""

from __future__ import annotations

import time

import jwt
import pytest

from bot.rasa.channels.tokens import (
    InvalidToken,
    WebSession,
    mint_customer_token,
    mint_session_token,
    verify_customer_token,
    verify_session_token,
)

SECRET = "s" * 32
OLD_SECRET = "o" * 32


def test_a_customer_token_round_trips_and_expires():
    token = mint_customer_token(SECRET, "C001")
    assert verify_customer_token([SECRET], token) == "C001"
    stale = mint_customer_token(SECRET, "C001", ttl=60, now=time.time() - 120)
    with pytest.raises(InvalidToken, match="expired"):
        verify_customer_token([SECRET], stale)


def test_a_session_token_round_trips_with_or_without_a_customer():
    for session in (WebSession("abc"), WebSession("abc", "C003")):
        assert verify_session_token([SECRET], mint_session_token(SECRET, session)) == session


@pytest.mark.parametrize(
    "token",
    [
        "",
        "garbage",
        mint_session_token("x" * 32, WebSession("abc")),  # another secret
        jwt.encode(
            {"sub": "abc", "aud": "cx-widget-session", "iat": 1, "exp": 2**31}, None, "none"
        ),
        jwt.encode({"sub": "abc", "aud": "cx-widget-session"}, SECRET, "HS256"),  # no exp
        jwt.encode({"sub": "abc", "aud": "other", "iat": 1, "exp": 2**31}, SECRET, "HS256"),
        jwt.encode({"sub": 42, "aud": "cx-widget-session", "iat": 1, "exp": 2**31}, SECRET),
    ],
    # Named, not by value: the other-secret token carries the time it was made, and test ids
    # that differ between pytest-xdist's workers stop the run at collection.
    ids=[
        "empty",
        "garbage",
        "other-secret",
        "alg-none",
        "no-exp",
        "other-audience",
        "sub-not-text",
    ],
)
def test_a_bad_session_token_is_refused(token):
    with pytest.raises(InvalidToken):
        verify_session_token([SECRET], token)


def test_the_two_kinds_of_token_are_not_interchangeable():
    customer = mint_customer_token(SECRET, "C001")
    session = mint_session_token(SECRET, WebSession("C001"))
    with pytest.raises(InvalidToken):
        verify_session_token([SECRET], customer)
    with pytest.raises(InvalidToken):
        verify_customer_token([SECRET], session)


def test_tokens_signed_before_a_secret_rotation_still_work():
    old = mint_session_token(OLD_SECRET, WebSession("abc"))
    assert verify_session_token([SECRET, OLD_SECRET], old) == WebSession("abc")
    with pytest.raises(InvalidToken):
        verify_session_token([SECRET], old)
