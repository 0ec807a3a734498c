"""Hub users, their roles and their signed-in sessions, in the journey database.

Passwords are hashed with Argon2id (argon2-cffi); a session is a random token in an
HttpOnly cookie, of which only a SHA-256 hash is stored, with its own CSRF token. Sessions
end after ``IDLE_TIMEOUT`` without use and ``ABSOLUTE_TIMEOUT`` after sign-in, whichever
comes first, and at sign-out.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import delete, insert, select, update
from sqlalchemy.engine import Engine, Row
from sqlalchemy.exc import IntegrityError

from bot.db.schema import hub_sessions, users

# What each role may open. Department staff see their own department only (checked with
# the user's department); an admin may open everything.
ROLES = ("agent", "department", "analyst", "admin")
AREAS = {
    "console": ("agent", "admin"),  # the escalation queue and live takeovers
    "department": ("department", "admin"),  # a department's inbox
    "review": ("analyst", "admin"),  # CX review: logs, journeys, metrics
    "users": ("admin",),
}
HOME = {"agent": "/console", "department": "/departments/{department}", "analyst": "/review"}
IDLE_TIMEOUT = timedelta(hours=2)
ABSOLUTE_TIMEOUT = timedelta(hours=12)
MIN_PASSWORD_CHARS = 10

_hasher = PasswordHasher()  # Argon2id with the library's current recommended parameters
# Checked against when the username is unknown, so a wrong name takes as long as a wrong
# password and sign-in timing doesn't tell which usernames exist.
_DUMMY_HASH = _hasher.hash("not a real password, only for timing")


class AccountError(ValueError):
    """A user that can't be created or changed as asked (the message says why)."""


@dataclass(frozen=True)
class User:
    """A signed-in person of the hub."""

    id: int
    username: str
    display_name: str
    role: str
    department: str | None = None

    def may_open(self, area: str, department: str | None = None) -> bool:
        """Whether this user's role covers ``area`` (and that department's inbox)."""
        if self.role not in AREAS.get(area, ()):
            return False
        return area != "department" or self.role == "admin" or self.department == department

    @property
    def home(self) -> str:
        """Where this user lands after signing in."""
        return HOME.get(self.role, "/console").format(department=self.department)


@dataclass(frozen=True)
class Session:
    """A signed-in browser: its user and the CSRF token its forms must carry."""

    user: User
    csrf_token: str
    expires_at: datetime

    def csrf_ok(self, token: str | None) -> bool:
        if not token:
            return False
        return hmac.compare_digest(token, self.csrf_token)


class Accounts:
    """Users and sessions in the journey database."""

    def __init__(self, engine: Engine, now: Callable[[], datetime] = datetime.now):
        self._engine = engine
        self._now = now

    # -- users -----------------------------------------------------------------------------
    def add(
        self,
        username: str,
        password: str,
        role: str,
        display_name: str | None = None,
        department: str | None = None,
    ) -> User:
        """Create a user; raises ``AccountError`` saying what is wrong."""
        username = username.strip()
        if not username or len(username) > 64 or any(c.isspace() for c in username):
            raise AccountError("a username is 1-64 characters without spaces")
        if role not in ROLES:
            raise AccountError(f"unknown role {role!r}; one of: {', '.join(ROLES)}")
        if role == "department" and not department:
            raise AccountError("department staff need --department (sales, billing, ...)")
        _check_password(password)
        try:
            with self._engine.begin() as conn:
                user_id = conn.execute(
                    insert(users).values(
                        username=username,
                        display_name=(display_name or username).strip()[:100],
                        role=role,
                        department=department if role == "department" else None,
                        password_hash=_hasher.hash(password),
                        created_at=self._now(),
                    )
                ).inserted_primary_key[0]
        except IntegrityError:
            raise AccountError(f"a user called {username!r} already exists") from None
        user = self.user(user_id)
        assert user is not None  # inserted, enabled and committed just above
        return user

    def user(self, user_id: int) -> User | None:
        with self._engine.connect() as conn:
            row = conn.execute(
                select(users).where(users.c.id == user_id, users.c.disabled_at.is_(None))
            ).first()
        return _user(row) if row else None

    def all(self) -> list[tuple[User, bool]]:
        """Every user with whether they are disabled, by username."""
        with self._engine.connect() as conn:
            rows = conn.execute(select(users).order_by(users.c.username)).all()
        return [(_user(r), r.disabled_at is not None) for r in rows]

    def set_password(self, username: str, password: str) -> None:
        _check_password(password)
        self._update(username, password_hash=_hasher.hash(password))
        self._end_sessions_of(username)

    def disable(self, username: str) -> None:
        """Stop a user signing in, and sign them out everywhere."""
        self._update(username, disabled_at=self._now())
        self._end_sessions_of(username)

    def authenticate(self, username: str, password: str) -> User | None:
        """The user if the password is theirs and they are not disabled, else None."""
        with self._engine.connect() as conn:
            row = conn.execute(
                select(users).where(users.c.username == (username or "").strip())
            ).first()
        try:
            _hasher.verify(row.password_hash if row else _DUMMY_HASH, password or "")
        except (VerificationError, InvalidHashError):
            return None
        if row is None or row.disabled_at is not None:
            return None
        if _hasher.check_needs_rehash(row.password_hash):
            with self._engine.begin() as conn:
                conn.execute(
                    update(users)
                    .where(users.c.id == row.id)
                    .values(password_hash=_hasher.hash(password))
                )
        return _user(row)

    # -- sessions --------------------------------------------------------------------------
    def sign_in(self, user: User) -> tuple[str, Session]:
        """A new session for ``user``: the cookie's token and the session."""
        token = secrets.token_urlsafe(32)
        now = self._now()
        session = Session(user, secrets.token_urlsafe(32), now + IDLE_TIMEOUT)
        with self._engine.begin() as conn:
            # Expired sessions of anyone are swept here, at the rare moment of a sign-in.
            conn.execute(delete(hub_sessions).where(hub_sessions.c.expires_at < now))
            conn.execute(
                insert(hub_sessions).values(
                    token_hash=_hash(token),
                    user_id=user.id,
                    csrf_token=session.csrf_token,
                    created_at=now,
                    last_seen_at=now,
                    expires_at=session.expires_at,
                )
            )
        return token, session

    def session(self, token: str | None) -> Session | None:
        """The live session of a cookie's token (its idle timer restarts), else None."""
        if not token:
            return None
        now = self._now()
        with self._engine.begin() as conn:
            row = conn.execute(
                select(
                    hub_sessions.c.token_hash,
                    hub_sessions.c.csrf_token,
                    hub_sessions.c.created_at,
                    hub_sessions.c.last_seen_at,
                    hub_sessions.c.expires_at,
                    users.c.id,
                    users.c.username,
                    users.c.display_name,
                    users.c.role,
                    users.c.department,
                    users.c.disabled_at,
                )
                .join(users, users.c.id == hub_sessions.c.user_id)
                .where(hub_sessions.c.token_hash == _hash(token))
            ).first()
            if row is None:
                return None
            if (
                row.expires_at <= now
                or row.created_at + ABSOLUTE_TIMEOUT <= now
                or row.disabled_at is not None
            ):
                conn.execute(delete(hub_sessions).where(hub_sessions.c.token_hash == _hash(token)))
                return None
            expires = min(now + IDLE_TIMEOUT, row.created_at + ABSOLUTE_TIMEOUT)
            if now - row.last_seen_at > timedelta(minutes=1):  # one write a minute, not per request
                conn.execute(
                    update(hub_sessions)
                    .where(hub_sessions.c.token_hash == row.token_hash)
                    .values(last_seen_at=now, expires_at=expires)
                )
        return Session(_user(row), row.csrf_token, expires)

    def sign_out(self, token: str | None) -> None:
        if token:
            with self._engine.begin() as conn:
                conn.execute(delete(hub_sessions).where(hub_sessions.c.token_hash == _hash(token)))

    # -- internals -------------------------------------------------------------------------
    def _update(self, username: str, **values: Any) -> None:
        with self._engine.begin() as conn:
            changed = conn.execute(
                update(users).where(users.c.username == username).values(**values)
            ).rowcount
        if not changed:
            raise AccountError(f"no user called {username!r}")

    def _end_sessions_of(self, username: str) -> None:
        with self._engine.begin() as conn:
            conn.execute(
                delete(hub_sessions).where(
                    hub_sessions.c.user_id.in_(
                        select(users.c.id).where(users.c.username == username)
                    )
                )
            )


def _check_password(password: str) -> None:
    if len(password or "") < MIN_PASSWORD_CHARS:
        raise AccountError(f"a password has at least {MIN_PASSWORD_CHARS} characters")


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _user(row: Row) -> User:
    return User(row.id, row.username, row.display_name, row.role, row.department)
