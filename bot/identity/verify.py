"""Verifying a customer in the chat, and looking orders up for visitors who are not.

A visitor becomes a verified customer by the order number together with the email on that
order, or by a one-time code emailed to the account's address. Whatever went wrong, the
visitor hears the same thing: "no such order" and "not your order" read alike, and a code
is "on its way if that email is on an account" whether or not it is. Every check is
recorded and limited (bot/identity/checks.py), as one unit with the check itself, so that
attempts at the same time get no more guesses than attempts one after another.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from bot.backoffice import BackOffice, Customer, Order
from bot.backoffice.base import customer_or_none, order_or_none
from bot.identity.checks import (
    CODE,
    FAILED,
    LOOKUP,
    OK,
    ORDER_EMAIL,
    IdentityChecks,
    Where,
)
from bot.identity.trust import BY_CODE, BY_ORDER_EMAIL

log = logging.getLogger(__name__)

EMAIL = re.compile(r"[^@\s<>(),;:\"']+@[^@\s<>(),;:\"']+\.[A-Za-z]{2,}")


class Mailer(Protocol):
    """What sends a one-time code (bot/identity/mail.py's CodeMailer)."""

    def send_code(
        self, to: str, code: str, minutes_valid: int, name: str | None = None
    ) -> None: ...


@dataclass(frozen=True)
class Said:
    """A response to say: its name in domain.yml and its variables."""

    response: str
    params: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Verification:
    """One attempt: the customer it verified (if any), how, and what to tell the visitor."""

    customer: Customer | None = None
    method: str | None = None
    said: Said | None = None
    limited: bool = False  # over a limit: stop asking, say what we can do instead


@dataclass(frozen=True)
class Lookup:
    """An order number looked up for a visitor who is not verified."""

    order: Order | None = None
    said: Said | None = None
    limited: bool = False


def email_in(text: str | None) -> str | None:
    """The first email address written in ``text``."""
    match = EMAIL.search(text or "")
    return match.group(0).rstrip(".") if match else None


def code_in(text: str | None, digits: int) -> str | None:
    """A one-time code typed alone or in a short sentence ("it's 482 913")."""
    squeezed = re.sub(r"(?<=\d)[\s-](?=\d)", "", text or "")
    match = re.search(rf"(?<!\d)\d{{{digits}}}(?!\d)", squeezed)
    return match.group(0) if match else None


# After a one-time code could not be sent, how long every visitor is told codes are down.
MAIL_DOWN_SECONDS = 300.0


class Verifier:
    """Checks who a visitor is, within the limits, and says so in the same words for all."""

    def __init__(
        self,
        backoffice: BackOffice,
        checks: IdentityChecks,
        mailer: Mailer | None,
        clock: Callable[[], float] = time.monotonic,
    ):
        self.backoffice = backoffice
        self.checks = checks
        self.mailer = mailer
        self._clock = clock
        # Until when codes are known not to go out (a send failed): everyone hears so alike.
        self._mail_down_until = 0.0

    @property
    def codes(self):
        return self.checks.rules.code

    def look_up(self, where: Where, order_id: str) -> Lookup:
        """An order (its normalised number) for the parcel-tracker answer: status and
        expected day only."""
        with self.checks.attempt(where, LOOKUP, order_id) as claim:
            if claim.limited:
                return Lookup(limited=True)
            order = order_or_none(self.backoffice, order_id)
            claim.settle(OK if order else FAILED)
        if order is None:
            return Lookup(said=Said("utter_order_not_found", {"given": order_id}))
        return Lookup(order=order)

    def with_order_email(self, where: Where, order_id: str, email: str) -> Verification:
        """The order number (normalised) with the email on that order: the customer who
        placed it."""
        with self.checks.attempt(where, ORDER_EMAIL, order_id) as claim:
            if claim.limited:
                return Verification(limited=True)
            order = order_or_none(self.backoffice, order_id)
            customer = customer_or_none(self.backoffice, order.customer_id) if order else None
            if customer is None or customer.email.casefold() != email.strip().casefold():
                # The same words whether the order is unknown or the email is someone else's.
                claim.settle(FAILED)
                return Verification(said=Said("utter_verification_failed", {"order_id": order_id}))
            claim.settle(OK, customer_id=customer.id)
        return Verification(customer=customer, method=BY_ORDER_EMAIL)

    def send_code(self, where: Where, email: str) -> Verification:
        """Email a one-time code to the account with this email, if there is one.

        The visitor is told the same either way; only the account's owner gets a code.
        """
        if self.mailer is None or self._clock() < self._mail_down_until:
            # Said before anyone's email is looked up: it tells nothing about the email.
            return Verification(said=Said("utter_code_unavailable"))
        customer = self.backoffice.customer_by_email(email.strip())
        # Checked against this chat's limit (alike for all) and the account's, and recorded
        # as sent, before the mail goes out: no lock is held while mailing.
        grant = self.checks.grant_code(where, customer.id if customer else None)
        if grant.limited:
            return Verification(limited=True)
        if customer is not None and grant.code is not None:
            try:
                self.mailer.send_code(
                    customer.email, grant.code, self.codes.minutes_valid, customer.first_name
                )
            except Exception as e:  # the mail server is down or refused it
                # This visitor hears what an email with no account gets (saying "codes
                # aren't going out" only to real accounts would tell which emails are one);
                # everyone asking next hears that codes are down, until a while has passed.
                log.warning("one-time code not sent: %s", e)
                self._mail_down_until = self._clock() + MAIL_DOWN_SECONDS
        elif customer is not None:
            # The account's own limit (anyone may type its email): no mail, and the visitor
            # hears and is asked what an email with no account gets, so it tells nothing.
            log.info("one-time code not sent: the customer's daily limit is reached")
        return Verification(
            said=Said(
                "utter_code_sent", {"email": email.strip(), "minutes": self.codes.minutes_valid}
            )
        )

    def with_code(self, where: Where, code: str) -> Verification:
        """A code typed in: the customer it was sent to, if right and still valid."""
        with self.checks.attempt(where, CODE) as claim:
            if claim.limited:
                return Verification(limited=True)
            customer_id = self.checks.try_code(where, code)
            customer = customer_or_none(self.backoffice, customer_id) if customer_id else None
            if customer is None:
                claim.settle(FAILED)
                return Verification(said=Said("utter_code_wrong"))
            claim.settle(OK, customer_id=customer.id)
        return Verification(customer=customer, method=BY_CODE)

    def code_requested(self, conversation_id: str) -> bool:
        """Whether this chat asked for a code lately (true alike for unknown emails)."""
        return self.checks.code_requested(conversation_id)
