"""The identity-check limits hold when attempts race: many at once from one conversation or
one address, in one process (the action server runs actions in threads) or in several on
one database, never get more guesses than the limit (bot/identity/checks.py's ``attempt``)."""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable

import pytest
from sqlalchemy import func, select
from sqlalchemy.engine import Engine

from bot.backoffice import Order
from bot.backoffice.sql import SqlBackOffice, seed
from bot.db.engine import make_engine
from bot.db.migrate import migrate
from bot.db.schema import identity_checks
from bot.identity.access import AccessRules
from bot.identity.checks import (
    CODE,
    CODE_SENT,
    FAILED,
    LIMITED,
    LOOKUP,
    OK,
    ORDER_EMAIL,
    IdentityChecks,
    Where,
)
from bot.identity.verify import Verifier
from tests.conftest import NOW, TODAY
from tests.fakes.mailbox import Mailbox

RULES = AccessRules.load()
THREADS = 12
ADDRESS = "203.0.113.7"
# An order of the demo back office and an email that is not its customer's.
ORDER, WRONG_EMAIL = "ORD-10001", "thief@example.com"
JANE = "jane.doe@example.com"


class CountingBackOffice(SqlBackOffice):
    """The demo back office, counting the orders asked for (each is a guess that reached it)
    and answering as slowly as one over HTTP, so that racing attempts overlap."""

    def __init__(self, engine: Engine):
        super().__init__(engine, today=lambda: TODAY)
        self.lookups = 0
        self._count = threading.Lock()

    def order(self, order_id: str) -> Order:
        with self._count:
            self.lookups += 1
        time.sleep(0.05)
        return super().order(order_id)


def verifier_on(engine: Engine, mailbox: Mailbox | None = None) -> Verifier:
    return Verifier(
        CountingBackOffice(engine),
        IdentityChecks(engine, RULES, now=lambda: NOW),
        mailbox or Mailbox(),
    )


@pytest.fixture
def database(engine):
    seed(engine, today=TODAY)
    migrate(engine)
    return engine


@pytest.fixture
def verifier(database):
    return verifier_on(database)


def race(n: int, attempt: Callable[[int], object]) -> list[object]:
    """``attempt(i)`` for i in range(n), in n threads released together."""
    start = threading.Barrier(n)
    results: list[object] = [None] * n
    errors: list[BaseException] = []

    def run(i: int) -> None:
        start.wait()
        try:
            results[i] = attempt(i)
        except BaseException as e:  # re-raised in the test's own thread
            errors.append(e)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    if errors:
        raise errors[0]
    assert not any(thread.is_alive() for thread in threads)
    return results


def outcomes(engine: Engine, kind: str) -> Counter[str]:
    with engine.connect() as conn:
        rows = conn.execute(
            select(identity_checks.c.outcome, func.count())
            .where(identity_checks.c.kind == kind)
            .group_by(identity_checks.c.outcome)
        ).all()
    return Counter({outcome: count for outcome, count in rows})


def limit(name: str) -> int:
    return RULES.limits[name].limit


def test_racing_order_and_email_guesses_from_one_conversation_get_the_limit(database, verifier):
    chat = Where("guesser", "rest", ADDRESS)
    results = race(THREADS, lambda _: verifier.with_order_email(chat, ORDER, WRONG_EMAIL))
    allowed = limit("failures_per_conversation")
    assert verifier.backoffice.lookups <= allowed
    assert outcomes(database, ORDER_EMAIL) == {FAILED: allowed, LIMITED: THREADS - allowed}
    assert sum(r.limited for r in results) == THREADS - allowed
    assert all(r.customer is None for r in results)


# An address longer than identity_checks.address shows (64 characters): a proxy's odd value.
LONG_ADDRESS = "proxy-said-" + "x" * 80


@pytest.mark.parametrize("address", [ADDRESS, LONG_ADDRESS], ids=["ip", "long"])
def test_racing_order_and_email_guesses_from_one_address_get_the_address_limit(
    database, verifier, address
):
    results = race(
        THREADS,
        lambda i: verifier.with_order_email(
            Where(f"chat-{i}", "rest", address), ORDER, WRONG_EMAIL
        ),
    )
    allowed = limit("failures_per_address")
    assert allowed < THREADS  # else this test proves nothing
    assert verifier.backoffice.lookups <= allowed
    assert outcomes(database, ORDER_EMAIL) == {FAILED: allowed, LIMITED: THREADS - allowed}
    assert sum(r.limited for r in results) == THREADS - allowed


def test_racing_code_guesses_from_one_conversation_get_the_limit(database):
    mailbox = Mailbox()
    verifier = verifier_on(database, mailbox)
    chat = Where("code-guesser", "rest", ADDRESS)
    verifier.send_code(chat, JANE)
    right = mailbox.last_code(JANE)
    assert right is not None
    wrong = "000000" if right != "000000" else "111111"
    results = race(THREADS, lambda _: verifier.with_code(chat, wrong))
    allowed = limit("failures_per_conversation")
    assert outcomes(database, CODE) == {FAILED: allowed, LIMITED: THREADS - allowed}
    assert sum(r.limited for r in results) == THREADS - allowed
    assert all(r.customer is None for r in results)


def test_racing_code_guesses_from_one_address_get_the_address_limit(database):
    mailbox = Mailbox()
    verifier = verifier_on(database, mailbox)
    chats = [Where(f"code-chat-{i}", "rest", ADDRESS) for i in range(THREADS)]
    results = race(THREADS, lambda i: verifier.with_code(chats[i], "000000"))
    allowed = limit("failures_per_address")
    assert outcomes(database, CODE) == {FAILED: allowed, LIMITED: THREADS - allowed}
    assert sum(r.limited for r in results) == THREADS - allowed


def test_racing_lookups_from_one_conversation_get_the_limit_in_distinct_orders(database, verifier):
    chat = Where("browser", "rest", ADDRESS)
    results = race(THREADS, lambda i: verifier.look_up(chat, f"ORD-9{i:04d}"))
    allowed = limit("lookups_per_conversation")
    assert verifier.backoffice.lookups <= allowed
    assert outcomes(database, LOOKUP) == {FAILED: allowed, LIMITED: THREADS - allowed}
    assert sum(r.limited for r in results) == THREADS - allowed


@pytest.mark.parametrize("address", [ADDRESS, LONG_ADDRESS], ids=["ip", "long"])
def test_racing_lookups_from_one_address_get_the_address_limit(database, verifier, address):
    allowed = limit("lookups_per_address")
    n = allowed + 4
    results = race(
        n, lambda i: verifier.look_up(Where(f"tab-{i}", "rest", address), f"ORD-9{i:04d}")
    )
    assert verifier.backoffice.lookups <= allowed
    assert outcomes(database, LOOKUP) == {FAILED: allowed, LIMITED: n - allowed}
    assert sum(r.limited for r in results) == n - allowed


def test_racing_code_requests_from_one_conversation_mail_the_limit(database):
    mailbox = Mailbox()
    verifier = verifier_on(database, mailbox)
    chat = Where("code-asker", "rest", ADDRESS)
    results = race(THREADS, lambda _: verifier.send_code(chat, JANE))
    allowed = limit("codes_per_conversation")
    assert len(mailbox.sent) == allowed
    assert outcomes(database, CODE_SENT) == {OK: allowed, LIMITED: THREADS - allowed}
    said = Counter(r.said.response for r in results if not r.limited)
    assert said == {"utter_code_sent": allowed}


def test_the_limit_holds_across_processes_on_one_database(database):
    """Two engines (two action servers' pools) on one database race the same guesses."""
    other = make_engine(database.url.render_as_string(hide_password=False))
    try:
        verifiers = [verifier_on(database), verifier_on(other)]
        chat = Where("two-servers", "rest", ADDRESS)
        results = race(
            THREADS,
            lambda i: verifiers[i % 2].with_order_email(chat, ORDER, WRONG_EMAIL),
        )
    finally:
        other.dispose()
    allowed = limit("failures_per_conversation")
    assert sum(v.backoffice.lookups for v in verifiers) <= allowed
    assert outcomes(database, ORDER_EMAIL) == {FAILED: allowed, LIMITED: THREADS - allowed}
    assert sum(r.limited for r in results) == THREADS - allowed


class DownBackOffice(SqlBackOffice):
    """A back office whose orders cannot be read (its server is down)."""

    def order(self, order_id: str) -> Order:
        raise ConnectionError("back office down")


def test_an_attempt_that_errs_leaves_no_record_and_takes_no_guess(database):
    checks = IdentityChecks(database, RULES, now=lambda: NOW)
    down = Verifier(DownBackOffice(database, today=lambda: TODAY), checks, Mailbox())
    chat = Where("unlucky", "rest", ADDRESS)
    for _ in range(limit("failures_per_conversation") + 1):
        with pytest.raises(ConnectionError):
            down.with_order_email(chat, ORDER, WRONG_EMAIL)
    assert outcomes(database, ORDER_EMAIL) == {}  # as before: no answer, no check recorded
    back = verifier_on(database).with_order_email(chat, ORDER, "jane.doe@example.com")
    assert back.customer is not None and back.customer.id == "C001"
    assert outcomes(database, ORDER_EMAIL) == {OK: 1}


class CheckingMailbox(Mailbox):
    """A mailbox that, as each code goes out, sees what is recorded and tries another
    check of the same conversation from another thread (held up if a lock were held)."""

    def __init__(self, engine: Engine, attempt: Callable[[], object]):
        super().__init__()
        self.engine = engine
        self.attempt = attempt
        self.seen: list[Counter[str]] = []
        self.other_done: list[bool] = []

    def send_code(self, to: str, code: str, minutes_valid: int, name: str | None = None) -> None:
        self.seen.append(outcomes(self.engine, CODE_SENT))
        other = threading.Thread(target=self.attempt)
        other.start()
        other.join(timeout=10)
        self.other_done.append(not other.is_alive())
        super().send_code(to, code, minutes_valid, name)


def test_a_code_is_mailed_after_its_record_is_committed_and_no_lock_is_held(database):
    chat = Where("mailed", "rest", ADDRESS)
    checks = IdentityChecks(database, RULES, now=lambda: NOW)
    backoffice = SqlBackOffice(database, today=lambda: TODAY)
    mailbox = CheckingMailbox(
        database,
        lambda: Verifier(backoffice, checks, Mailbox()).with_order_email(chat, ORDER, WRONG_EMAIL),
    )
    said = Verifier(backoffice, checks, mailbox).send_code(chat, JANE)
    assert said.said is not None and said.said.response == "utter_code_sent"
    assert mailbox.seen == [Counter({OK: 1})]
    assert mailbox.other_done == [True]
    assert outcomes(database, ORDER_EMAIL) == {FAILED: 1}
