"""Identity checks in the journey database: the record, the limits, and one-time codes.

Guarantees:
- every check (an order looked up unverified, an email checked against an order, a code sent
  or typed) is one row in ``identity_checks``, so CX review sees them and the limits count
  them in every process, across restarts;
- a limit refuses before anything is looked up, and a refusal is recorded (``limited``);
- the limits hold whatever the concurrency, in one process or in several on one database:
  an attempt is checked against its limits and reserved in one transaction that no other
  attempt of the same conversation, address or customer runs alongside (``attempt``,
  ``grant_code``); nothing slow (a back-office lookup, a mail) runs inside it;
- a client address is counted by a digest of its normalised form (``address_key``), one
  count per address whatever its length or spelling; what CX review is shown may be cut;
- a one-time code is kept only as a hash, is valid for minutes, is spent by its first right
  answer or by ``max_tries`` wrong ones, and only the newest code of a conversation counts.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import secrets
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, func, select
from sqlalchemy.engine import Connection, Engine

from bot.db.schema import identity_checks, one_time_codes
from bot.identity.access import AccessRules
from bot.ratelimit import Rate

LOOKUP, ORDER_EMAIL, CODE_SENT, CODE = "lookup", "order_email", "code_sent", "code"
OK, FAILED, LIMITED = "ok", "failed", "limited"


@dataclass(frozen=True)
class Where:
    """Which conversation a check comes from, on which channel, from which address."""

    conversation_id: str
    channel: str = "rest"
    address: str | None = None


# What CX review is shown of an address (identity_checks.address); the limits never count
# by it, since a longer address shown cut would share its count with every other address
# cut the same way (and an address counted whole would never find its rows stored cut).
SHOWN_ADDRESS_CHARS = 64


def normalised_address(address: str) -> str:
    """One spelling per client address: an IP address in its canonical form (``2001:DB8::1``
    and ``2001:0db8:0:0::1`` are one address; an IPv4-mapped IPv6 address is its IPv4
    address), anything else (a proxy's odd value) trimmed and lower-cased."""
    text = address.strip()
    try:
        ip = ipaddress.ip_address(text)
    except ValueError:
        return text.lower()
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return str(ip.ipv4_mapped)
    return str(ip)


def address_key(address: str) -> str:
    """What the limits count an address by (identity_checks.address_key): the SHA-256 of its
    normalised form, the same 64 characters for an address of any length, so two addresses
    never share a count and one address never has two."""
    return hashlib.sha256(normalised_address(address).encode()).hexdigest()


def shown_address(address: str) -> str:
    """The address as CX review shows it: normalised, cut (marked) past SHOWN_ADDRESS_CHARS."""
    text = normalised_address(address)
    if len(text) <= SHOWN_ADDRESS_CHARS:
        return text
    return text[: SHOWN_ADDRESS_CHARS - 1] + "\u2026"


def code_hash(conversation_id: str, code: str) -> str:
    """A code's hash, salted with its conversation (a code is no use in another chat)."""
    return hashlib.sha256(f"{conversation_id}:{code}".encode()).hexdigest()


class IdentityChecks:
    """The checks of every conversation, the limits on them and the codes sent."""

    def __init__(
        self,
        engine: Engine,
        rules: AccessRules,
        now: Callable[[], datetime] = datetime.now,
        new_code: Callable[[int], str] | None = None,
    ):
        self._engine = engine  # a journey database, migrated (bot.db.migrate)
        self.rules = rules
        self._now = now
        self._new_code = new_code or _random_code

    # -- attempts within the limits ----------------------------------------------------------
    @contextmanager
    def attempt(self, where: Where, kind: str, order_id: str | None = None) -> Iterator[Claim]:
        """One attempt of ``kind`` (LOOKUP, ORDER_EMAIL or CODE) about ``order_id``, let
        through only within its limits, whatever else runs at the same time.

        Checked and reserved as one unit per conversation and address: the reservation is
        the attempt's row, recorded ``failed`` (as it counts until shown right), committed
        before the body runs. The body does the lookup outside any lock and settles the row
        (``claim.settle(OK, ...)``); a body that raises leaves no row, as no check was made.
        A refused attempt is recorded ``limited`` and its claim is ``limited``.
        """
        if kind not in (LOOKUP, ORDER_EMAIL, CODE):
            raise ValueError(f"no limit counts attempts of kind {kind!r}")
        with self._serialised(_keys(where)) as conn:
            allowed = (
                self._may_look_up(conn, where, order_id or "")
                if kind == LOOKUP
                else self._may_try(conn, where)
            )
            if allowed:
                claim = Claim(self, self._insert(conn, where, kind, FAILED, order_id))
            else:
                # Only a lookup's refusal names its order: the order is what its limit counts.
                self._insert(conn, where, kind, LIMITED, order_id if kind == LOOKUP else None)
                claim = Claim(self, None)
        try:
            yield claim
        except BaseException:
            if claim.row_id is not None:
                with self._engine.begin() as conn:
                    conn.execute(
                        identity_checks.delete().where(identity_checks.c.id == claim.row_id)
                    )
            raise

    def grant_code(self, where: Where, customer_id: str | None) -> CodeGrant:
        """A one-time code for ``customer_id`` (None: the email is no account's), within the
        limits, recorded as sent in the same transaction that checks them.

        The caller mails the code afterwards, outside any lock; the record says "sent"
        whether or not the mail then goes out, as it always has.
        """
        customer_key = [f"customer:{customer_id}"] if customer_id else []
        with self._serialised([f"conversation:{where.conversation_id}", *customer_key]) as conn:
            if not self._may_send_code(conn, where, None):  # this chat's limit: alike for all
                self._insert(conn, where, CODE_SENT, LIMITED)
                return CodeGrant(limited=True)
            if customer_id is not None and not self._may_send_code(conn, where, customer_id):
                customer_id = None  # the account's own limit: sent to "no account" instead
            code = self._issue_code(conn, where, customer_id) if customer_id else None
            self._insert(conn, where, CODE_SENT, OK, customer_id=customer_id)
        return CodeGrant(code=code)

    @contextmanager
    def _serialised(self, keys: Iterable[str]) -> Iterator[Connection]:
        """A write transaction that no other on any of ``keys`` runs alongside, in this
        process or another on the same database.

        PostgreSQL: an advisory lock per key, held until commit, taken in one order (the
        keys' numbers ascending) so that two attempts never wait on each other in a circle.
        The counts after it see what the lock's last holder committed because each
        statement reads afresh (READ COMMITTED, PostgreSQL's default and make_engine's).
        SQLite: the database's write lock from the first statement (``BEGIN IMMEDIATE``; a
        deferred transaction would let two readers count the same rows, then both write).
        """
        with self._engine.begin() as conn:
            if conn.dialect.name == "sqlite":
                conn.exec_driver_sql("BEGIN IMMEDIATE")
            elif conn.dialect.name == "postgresql":
                for number in sorted({_lock_number(key) for key in keys}):
                    conn.execute(select(func.pg_advisory_xact_lock(number)))
            yield conn

    def _settle(self, row_id: int, outcome: str, customer_id: str | None) -> None:
        with self._engine.begin() as conn:
            conn.execute(
                identity_checks.update()
                .where(identity_checks.c.id == row_id)
                .values(outcome=outcome, customer_id=customer_id)
            )

    # -- the record ------------------------------------------------------------------------
    def record(
        self,
        where: Where,
        kind: str,
        outcome: str,
        order_id: str | None = None,
        customer_id: str | None = None,
    ) -> None:
        """Record one check as it was (no limit asked: ``attempt`` is what enforces them)."""
        with self._engine.begin() as conn:
            self._insert(conn, where, kind, outcome, order_id, customer_id)

    def _insert(
        self,
        conn: Connection,
        where: Where,
        kind: str,
        outcome: str,
        order_id: str | None = None,
        customer_id: str | None = None,
    ) -> int:
        inserted = conn.execute(
            identity_checks.insert().values(
                conversation_id=where.conversation_id,
                channel=where.channel,
                address=shown_address(where.address) if where.address else None,
                address_key=address_key(where.address) if where.address else None,
                kind=kind,
                outcome=outcome,
                order_id=order_id and order_id[:64],
                customer_id=customer_id,
                at=self._now(),
            )
        )
        return int(inserted.inserted_primary_key[0])

    def of_conversation(self, conversation_id: str) -> list[dict[str, Any]]:
        """Every check of one conversation, oldest first (CX review)."""
        with self._engine.connect() as conn:
            rows = conn.execute(
                select(identity_checks)
                .where(identity_checks.c.conversation_id == conversation_id)
                .order_by(identity_checks.c.id)
            ).all()
        return [dict(row._mapping) for row in rows]

    def failures_by_conversation(self, conversation_ids: list[str]) -> dict[str, int]:
        """Failed or refused checks per conversation (a security signal in CX review)."""
        if not conversation_ids:
            return {}
        with self._engine.connect() as conn:
            rows = conn.execute(
                select(identity_checks.c.conversation_id, func.count())
                .where(
                    identity_checks.c.conversation_id.in_(conversation_ids),
                    identity_checks.c.outcome.in_((FAILED, LIMITED)),
                )
                .group_by(identity_checks.c.conversation_id)
            ).all()
        return {conversation_id: count for conversation_id, count in rows}

    # -- the limits ------------------------------------------------------------------------
    def limited_lately(self, conversation_id: str) -> bool:
        """Whether a check of this conversation was refused within the longest window."""
        window = max(rate.window for rate in self.rules.limits.values())
        with self._engine.connect() as conn:
            return (
                self._count(
                    conn,
                    and_(
                        identity_checks.c.conversation_id == conversation_id,
                        identity_checks.c.outcome == LIMITED,
                    ),
                    window,
                )
                > 0
            )

    # The may_* questions read the limits as they are; only ``attempt`` and ``grant_code``
    # hold them against attempts running at the same time.
    def may_look_up(self, where: Where, order_id: str) -> bool:
        """Whether an unverified visitor may look ``order_id`` up now.

        Counted in distinct order numbers: asking about the same order again is free.
        """
        with self._engine.connect() as conn:
            return self._may_look_up(conn, where, order_id)

    def may_try(self, where: Where) -> bool:
        """Whether another verification attempt is allowed (failures so far under the limits)."""
        with self._engine.connect() as conn:
            return self._may_try(conn, where)

    def may_send_code(self, where: Where, customer_id: str | None) -> bool:
        """Whether another code may be emailed from this conversation (and to this customer)."""
        with self._engine.connect() as conn:
            return self._may_send_code(conn, where, customer_id)

    def _may_look_up(self, conn: Connection, where: Where, order_id: str) -> bool:
        limits = self.rules.limits
        if self._looked_up(conn, where.conversation_id, order_id):
            return True
        by_conversation = self._distinct_lookups(
            conn,
            identity_checks.c.conversation_id == where.conversation_id,
            limits["lookups_per_conversation"].window,
        )
        if _reached(by_conversation, limits["lookups_per_conversation"]):
            return False
        if where.address:
            by_address = self._distinct_lookups(
                conn,
                identity_checks.c.address_key == address_key(where.address),
                limits["lookups_per_address"].window,
            )
            if _reached(by_address, limits["lookups_per_address"]):
                return False
        return True

    def _may_try(self, conn: Connection, where: Where) -> bool:
        limits = self.rules.limits
        failed = and_(
            identity_checks.c.kind.in_((ORDER_EMAIL, CODE)), identity_checks.c.outcome == FAILED
        )
        return not (
            self._over(
                conn,
                failed,
                identity_checks.c.conversation_id,
                where.conversation_id,
                limits["failures_per_conversation"],
            )
            or self._over(
                conn,
                failed,
                identity_checks.c.address_key,
                address_key(where.address) if where.address else None,
                limits["failures_per_address"],
            )
        )

    def _may_send_code(self, conn: Connection, where: Where, customer_id: str | None) -> bool:
        limits = self.rules.limits
        sent = and_(identity_checks.c.kind == CODE_SENT, identity_checks.c.outcome == OK)
        return not (
            self._over(
                conn,
                sent,
                identity_checks.c.conversation_id,
                where.conversation_id,
                limits["codes_per_conversation"],
            )
            or self._over(
                conn,
                sent,
                identity_checks.c.customer_id,
                customer_id,
                limits["codes_per_customer"],
            )
        )

    # -- one-time codes --------------------------------------------------------------------
    def issue_code(self, where: Where, customer_id: str) -> str:
        """A new code for ``customer_id`` in this conversation; earlier ones stop counting."""
        with self._engine.begin() as conn:
            return self._issue_code(conn, where, customer_id)

    def _issue_code(self, conn: Connection, where: Where, customer_id: str) -> str:
        code = self._new_code(self.rules.code.digits)
        now = self._now()
        conn.execute(
            one_time_codes.update()
            .where(
                one_time_codes.c.conversation_id == where.conversation_id,
                one_time_codes.c.used_at.is_(None),
            )
            .values(used_at=now)
        )
        conn.execute(
            one_time_codes.insert().values(
                conversation_id=where.conversation_id,
                customer_id=customer_id,
                code_hash=code_hash(where.conversation_id, code),
                created_at=now,
                expires_at=now + timedelta(minutes=self.rules.code.minutes_valid),
                tries=0,
            )
        )
        return code

    def code_requested(self, conversation_id: str) -> bool:
        """Whether this conversation asked for a code that could still be valid.

        Read from the record of codes sent, which has a row whether or not the email was an
        account's: what the visitor is asked next never tells the two apart.
        """
        with self._engine.connect() as conn:
            return (
                self._count(
                    conn,
                    and_(
                        identity_checks.c.conversation_id == conversation_id,
                        identity_checks.c.kind == CODE_SENT,
                        identity_checks.c.outcome == OK,
                    ),
                    self.rules.code.minutes_valid * 60,
                )
                > 0
            )

    def try_code(self, where: Where, code: str) -> str | None:
        """The customer the code verifies, or None (wrong, expired, spent or none sent)."""
        now = self._now()
        # Serialised with other tries of this chat: on SQLite, FOR UPDATE is no lock, and two
        # tries reading the same count would each write it plus one.
        with self._serialised([f"conversation:{where.conversation_id}"]) as conn:
            row = self._live_code(conn, where.conversation_id, for_update=True)
            if row is None:
                return None
            right = hmac.compare_digest(row.code_hash, code_hash(where.conversation_id, code))
            tries = row.tries + 1
            spent = right or tries >= self.rules.code.max_tries
            conn.execute(
                one_time_codes.update()
                .where(one_time_codes.c.id == row.id)
                .values(tries=tries, used_at=now if spent else None)
            )
        return row.customer_id if right else None

    def _live_code(self, conn, conversation_id: str, for_update: bool = False):
        query = (
            select(one_time_codes)
            .where(
                one_time_codes.c.conversation_id == conversation_id,
                one_time_codes.c.used_at.is_(None),
                one_time_codes.c.expires_at > self._now(),
            )
            .order_by(one_time_codes.c.id.desc())
            .limit(1)
        )
        return conn.execute(query.with_for_update() if for_update else query).first()

    # -- counting --------------------------------------------------------------------------
    def _since(self, window: float) -> datetime:
        return self._now() - timedelta(seconds=window)

    def _count(self, conn, condition, window: float) -> int:
        return conn.execute(
            select(func.count())
            .select_from(identity_checks)
            .where(condition, identity_checks.c.at >= self._since(window))
        ).scalar_one()

    def _over(self, conn, condition, column, value: str | None, rate: Rate) -> bool:
        """Whether the checks matching ``condition`` with ``column == value`` reached
        ``rate`` in its window (never, for an unknown value or a limit that is off)."""
        if value is None or rate.off:
            return False
        return _reached(self._count(conn, and_(condition, column == value), rate.window), rate)

    def _distinct_lookups(self, conn, condition, window: float) -> int:
        return conn.execute(
            select(func.count(func.distinct(identity_checks.c.order_id))).where(
                condition,
                identity_checks.c.kind == LOOKUP,
                identity_checks.c.outcome != LIMITED,
                identity_checks.c.at >= self._since(window),
            )
        ).scalar_one()

    def _looked_up(self, conn, conversation_id: str, order_id: str) -> bool:
        return (
            conn.execute(
                select(identity_checks.c.id)
                .where(
                    identity_checks.c.conversation_id == conversation_id,
                    identity_checks.c.kind == LOOKUP,
                    identity_checks.c.outcome != LIMITED,
                    identity_checks.c.order_id == order_id,
                )
                .limit(1)
            ).first()
            is not None
        )


class Claim:
    """One attempt from ``IdentityChecks.attempt``: refused (``limited``), or reserved and
    counted as failed until settled."""

    def __init__(self, checks: IdentityChecks, row_id: int | None):
        self._checks = checks
        self.row_id = row_id  # its row in identity_checks; None when refused

    @property
    def limited(self) -> bool:
        """Whether a limit refused the attempt (nothing may be looked up)."""
        return self.row_id is None

    def settle(self, outcome: str, customer_id: str | None = None) -> None:
        """Record how the attempt went (OK or FAILED) and whom it verified."""
        if self.row_id is None:
            raise ValueError("a refused attempt has nothing to settle")
        self._checks._settle(self.row_id, outcome, customer_id)


@dataclass(frozen=True)
class CodeGrant:
    """A code request within the limits: refused (``limited``), or recorded as sent, with
    the code to mail (None: the email is no account's, or that account's limit is reached)."""

    limited: bool = False
    code: str | None = None


def _keys(where: Where) -> list[str]:
    """What an attempt's limits count by: its conversation and, when known, its address."""
    keys = [f"conversation:{where.conversation_id}"]
    if where.address:
        keys.append(f"address:{address_key(where.address)}")
    return keys


def _lock_number(key: str) -> int:
    """A PostgreSQL advisory lock's number for ``key``: stable across processes and
    restarts (Python's hash() is salted per process), signed 64-bit as the lock takes."""
    digest = hashlib.sha256(f"cx-identity-checks:{key}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


def _reached(count: int, rate: Rate) -> bool:
    return not rate.off and count >= rate.limit


def _random_code(digits: int) -> str:
    return "".join(secrets.choice("0123456789") for _ in range(digits))
