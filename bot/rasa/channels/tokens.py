"""Signed tokens for the website chat: who the visitor is, and which conversation is theirs.

Two kinds, both JSON Web Tokens (HS256) signed with ``CX_WIDGET_SECRET``, so a website's
backend in any language can mint the first kind with a standard library:

* a **customer token** says "this visitor is signed in as customer C001". The website's
  backend mints it for each page view (``mint_customer_token``) and puts it on the widget's
  script tag; the channel trusts the customer id only when the signature checks out.
* a **session token** binds a browser to one conversation. The channel mints it when the
  conversation starts; the widget keeps it and shows it again on every reconnect. A session
  id alone grants nothing: without the token, nobody reads or writes someone else's chat.

The audience claim keeps the two apart (a session token is never accepted as a customer
token). ``CX_WIDGET_SECRET_PREVIOUS`` keeps tokens signed before a secret rotation valid.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

import jwt

ALGORITHM = "HS256"
CUSTOMER_AUDIENCE = "cx-widget-customer"
SESSION_AUDIENCE = "cx-widget-session"
CUSTOMER_TOKEN_SECONDS = 60 * 60  # a page view's worth; the site mints a fresh one each time
SESSION_TOKEN_SECONDS = 30 * 24 * 60 * 60  # a returning visitor finds their chat for a month


class InvalidToken(ValueError):
    """A token that is malformed, expired, of the wrong kind or signed with another secret."""


@dataclass(frozen=True)
class WebSession:
    """One browser's conversation: its Rasa sender id and the signed-in customer, if any."""

    session_id: str
    customer_id: str | None = None


def mint_customer_token(
    secret: str, customer_id: str, ttl: int = CUSTOMER_TOKEN_SECONDS, now: float | None = None
) -> str:
    """A token saying the visitor is signed in as ``customer_id`` (for the website's backend)."""
    if not customer_id:
        raise ValueError("customer_id is empty")
    issued = int(now if now is not None else time.time())
    claims = {"sub": customer_id, "aud": CUSTOMER_AUDIENCE, "iat": issued, "exp": issued + ttl}
    return jwt.encode(claims, secret, algorithm=ALGORITHM)


def mint_session_token(
    secret: str, session: WebSession, ttl: int = SESSION_TOKEN_SECONDS, now: float | None = None
) -> str:
    """A token binding the browser that holds it to ``session``."""
    issued = int(now if now is not None else time.time())
    claims = {
        "sub": session.session_id,
        "cus": session.customer_id,
        "aud": SESSION_AUDIENCE,
        "iat": issued,
        "exp": issued + ttl,
    }
    return jwt.encode(claims, secret, algorithm=ALGORITHM)


def verify_customer_token(secrets: Sequence[str], token: str, expired_ok: bool = False) -> str:
    """The customer id a valid customer token vouches for; raises ``InvalidToken``.

    ``expired_ok`` accepts a well-signed token past its expiry (the channel does so only
    for a browser whose session token already names the same customer).
    """
    claims = _verify(secrets, token, CUSTOMER_AUDIENCE, verify_exp=not expired_ok)
    customer_id = claims.get("sub")
    if not isinstance(customer_id, str) or not customer_id:
        raise InvalidToken("the customer token names no customer")
    return customer_id


def verify_session_token(secrets: Sequence[str], token: str) -> WebSession:
    """The conversation a valid session token binds to; raises ``InvalidToken``."""
    claims = _verify(secrets, token, SESSION_AUDIENCE)
    session_id, customer_id = claims.get("sub"), claims.get("cus")
    if not isinstance(session_id, str) or not session_id:
        raise InvalidToken("the session token names no session")
    if customer_id is not None and not isinstance(customer_id, str):
        raise InvalidToken("the session token's customer is not a string")
    return WebSession(session_id, customer_id)


def _verify(secrets: Sequence[str], token: str, audience: str, verify_exp: bool = True) -> dict:
    if not isinstance(token, str) or not token:
        raise InvalidToken("no token")
    last_error: Exception = InvalidToken("no secret to check the token with")
    for secret in secrets:
        try:
            # The algorithm list is fixed: a token can't pick "none" or another algorithm.
            return jwt.decode(
                token,
                secret,
                algorithms=[ALGORITHM],
                audience=audience,
                options={"require": ["exp", "iat", "sub", "aud"], "verify_exp": verify_exp},
            )
        except jwt.InvalidSignatureError as e:
            last_error = e  # maybe signed with the previous secret: try the next one
        except jwt.PyJWTError as e:
            raise InvalidToken(str(e)) from None
    raise InvalidToken(str(last_error))
