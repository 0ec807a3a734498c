"""The load of the reliability issue: virtual customers chatting over REST, 20 turns each.

Shared by tests/e2e/test_load.py (one Rasa server) and tests/scale/ (several behind nginx).
Every virtual customer has their own sender id, their own back-office account and orders
(added for the run and removed after it), and sends their messages one after another, each
waiting for its answer. The answers carry what belongs to that conversation only (the
customer's name once known, their order numbers and tracking numbers), so a reply given to
the wrong conversation, or to a message sent earlier or later, is caught.
"""

from __future__ import annotations

import json
import os
import re
import statistics
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, timedelta

import requests
from sqlalchemy import delete, insert

from bot.backoffice.sql import customers, orders
from bot.db.engine import make_engine

LOAD_ENV = "CX_LOAD_CONVERSATIONS"
TURNS = 20
# Seconds a customer waits for an answer. The assistant answers by itself when an action
# call fails (in 5 s, CX_ACTION_TIMEOUT_SECONDS), but messages queue before that under load.
REPLY_TIMEOUT = 180

# The start of the reply Rasa gives itself when an action call fails or times out
# (bot/rasa/action_faults.py, CX_ACTION_TIMEOUT_SECONDS): counted apart, it tells overload.
APOLOGY = "Sorry, I'm having trouble looking that up right now."
# Anything that names a load-test customer or order: each must be the conversation's own.
OWN_MARKS = re.compile(r"Load(\d\d)|ORD-9(\d\d)0\d|LT(\d\d)0\dX")
# A retry may only follow an answer that never came: the balancer's "no server could take
# it" (502/503/504) or a dropped connection. Anything else is the server's own answer.
RETRY_STATUSES = frozenset({502, 503, 504})


def conversations(default: int = 50) -> int:
    """How many customers at once: ``CX_LOAD_CONVERSATIONS``, else ``default``."""
    return int(os.environ.get(LOAD_ENV) or default)


@dataclass(frozen=True)
class Step:
    """One message of a virtual customer and what its answer must say."""

    text: str
    expect: tuple[str, ...]  # every one of these, in the answer's text
    refuse: tuple[str, ...] = ()  # none of these


def script(n: int, handoff: bool = False) -> list[Step]:
    """The 20 messages of virtual customer ``n``: greetings, thanks, questions about their
    own two orders and general needs, with few repeated needs (three would bring in a
    person: the frustrated-customer rule of routing.yml).

    ``handoff``: turn 12 asks for a demo instead, which the assistant hands to the sales
    team (a handoff and its outbox row, delivered by the dispatcher).
    """
    shipped, packed, name = f"ORD-9{n:02d}01", f"ORD-9{n:02d}02", f"Hi Load{n:02d},"
    welcome = ("You're welcome",)
    steps = [
        Step("hi", ("What can I do for you?",), refuse=("Hi Load",)),  # not known yet
        # The order number with the email on it: verified, and the whole answer.
        Step(
            f"where is my order {shipped}? it's load{n:02d}@example.com",
            (shipped, f"LT{n:02d}01X", "DHL"),
        ),
        Step("thanks", welcome),
        Step("hello", (name,)),  # verified: the assistant knows who this is
        Step(f"and where is {packed}?", (packed, "being prepared")),
        Step("thank you", welcome),
        Step("how much is the Pro plan?", ("Pro: $29.00",)),
        Step("do you offer a free trial?", ("14-day free trial",)),
        Step("thanks a lot", welcome),
        Step("what delivery options do you have?", ("Express",)),
        Step("hey there", (name,)),
        Step("what's your refund policy?", ("within 30 days",)),
        Step("are you a bot?", ("virtual assistant",)),
        Step("great, thanks", welcome),
        Step(f"where is {shipped} now?", (shipped, f"LT{n:02d}01X")),
        Step("good morning", (name,)),
        Step("ok thank you so much", welcome),
        Step("cheers", welcome),
        Step("hi again", (name,)),
        Step("thanks for your help", welcome),
    ]
    if handoff:
        steps[12] = HANDOFF_STEP
    return steps


# A sales need from a known customer: handed to sales, with who, how and by when.
HANDOFF_STEP = Step("I'd like to book a demo", ("our sales team", "Your reference is H-"))


@dataclass
class Conversation:
    """What one virtual customer saw: each answer, its latency, and what went wrong."""

    n: int
    sender: str
    handoff: bool = False
    replies: list[str] = field(default_factory=list)
    latencies: list[float] = field(default_factory=list)  # per turn, retries included
    errors: list[str] = field(default_factory=list)  # no answer: HTTP error, timeout
    retries: list[str] = field(default_factory=list)  # a message sent again, and why
    crosstalk: list[str] = field(default_factory=list)  # another customer's data
    wrong: list[str] = field(default_factory=list)  # answered, but not what the turn asked
    answered_at: list[float] = field(default_factory=list)  # perf_counter of each answer

    @property
    def steps(self) -> list[Step]:
        return script(self.n, self.handoff)


def customer_id(n: int) -> str:
    return f"LT{n:02d}"


@contextmanager
def load_customers(backoffice_url: str, count: int) -> Iterator[list[str]]:
    """A back-office account with two orders (one shipped, one packed) per virtual
    customer, added to the back office at ``backoffice_url`` and removed afterwards."""
    engine = make_engine(backoffice_url)
    today = date.today()
    ids = [customer_id(n) for n in range(count)]
    try:
        with engine.begin() as conn:
            for n, cid in enumerate(ids):
                conn.execute(
                    insert(customers).values(
                        id=cid, name=f"Load{n:02d} Tester", email=f"load{n:02d}@example.com"
                    )
                )
                common = {"customer_id": cid, "address": f"{n} Test Road", "total": 45.0}
                conn.execute(
                    insert(orders).values(
                        id=f"ORD-9{n:02d}01",
                        items=json.dumps(["Desk lamp"]),
                        placed_at=today - timedelta(days=2),
                        status="shipped",
                        carrier="DHL",
                        tracking_number=f"LT{n:02d}01X",
                        expected_delivery=today + timedelta(days=2),
                        last_scan="Left the Leipzig hub",
                        **common,
                    )
                )
                conn.execute(
                    insert(orders).values(
                        id=f"ORD-9{n:02d}02",
                        items=json.dumps(["Office chair"]),
                        placed_at=today - timedelta(days=1),
                        status="packed",
                        expected_delivery=today + timedelta(days=4),
                        **common,
                    )
                )
        yield ids
    finally:
        with engine.begin() as conn:
            conn.execute(delete(orders).where(orders.c.customer_id.in_(ids)))
            conn.execute(delete(customers).where(customers.c.id.in_(ids)))
        engine.dispose()


def reply_text(replies: list[dict]) -> str:
    return "\n".join(r.get("text", "") for r in replies)


def converse(
    url: str,
    convo: Conversation,
    start: Callable[[], None],
    retries: int = 0,
    message_ids: bool = False,
) -> Conversation:
    """Send ``convo``'s script one message at a time, each after the previous answer.

    ``retries``: how many times a message is sent again when no answer came (a dropped
    connection or 502/503/504 from a balancer), after 0.5 s, 1 s, ... Each retry is kept
    in ``convo.retries``: if the first attempt was processed after all, the tracker shows
    the message twice, and the caller checks for that. With ``message_ids`` each message
    carries a ``message_id`` (its turn number), the same on every retry, so the assistant
    answers a retry of a turn it already ran from that turn (bot/rasa/channels/once.py).
    """
    with requests.Session() as http:
        start()  # every customer waits here, then all begin at once
        for turn, step in enumerate(convo.steps):
            began = time.perf_counter()
            text, error = "", None
            for attempt in range(retries + 1):
                try:
                    r = http.post(
                        f"{url}/webhooks/rest/webhook",
                        json={
                            "sender": convo.sender,
                            "message": step.text,
                            **({"message_id": f"turn-{turn}"} if message_ids else {}),
                        },
                        timeout=REPLY_TIMEOUT,
                    )
                    if r.status_code in RETRY_STATUSES and attempt < retries:
                        convo.retries.append(f"turn {turn} ({step.text!r}): HTTP {r.status_code}")
                        time.sleep(0.5 * (attempt + 1))
                        continue
                    r.raise_for_status()
                    text, error = reply_text(r.json()), None
                    break
                except requests.ConnectionError as e:
                    error = e
                    if attempt < retries:
                        convo.retries.append(f"turn {turn} ({step.text!r}): {type(e).__name__}")
                        time.sleep(0.5 * (attempt + 1))
                except (requests.RequestException, ValueError) as e:
                    error = e
                    break
            if error is not None:
                convo.errors.append(f"turn {turn} ({step.text!r}): {error!r}")
            convo.latencies.append(time.perf_counter() - began)
            convo.answered_at.append(time.perf_counter())
            convo.replies.append(text)
            missing = [e for e in step.expect if e not in text]
            wrong = [e for e in step.refuse if e in text]
            if missing or wrong or not text:
                convo.wrong.append(
                    f"turn {turn} ({step.text!r}): lacks {missing}, has {wrong}: {text!r}"
                )
            if strangers := others(text, convo.n):
                convo.crosstalk.append(f"turn {turn} ({step.text!r}) names {strangers}: {text!r}")
    return convo


def others(text: str, n: int) -> set[str]:
    """The other load-test customers that ``text`` names (customer ``n``'s own are fine)."""
    return {m for g in OWN_MARKS.findall(text) for m in g if m} - {f"{n:02d}"}


def listed(kind: str, convos: list[Conversation]) -> str:
    """The first few problems of one kind, each with its conversation."""
    found = [f"{c.sender}: {p}" for c in convos for p in getattr(c, kind)]
    return f"{len(found)} turns; the first ones:\n" + "\n".join(found[:8])


def percentile(values: list[float], p: float) -> float:
    """The ``p``-th percentile (nearest rank) of ``values``."""
    ordered = sorted(values)
    return ordered[max(0, round(p / 100 * len(ordered)) - 1)]


def figures(label: str, convos: list[Conversation], elapsed: float) -> str:
    """One line: turns, turns/s, latency p50/p95/max, retries and apologies."""
    latencies = [s for c in convos for s in c.latencies]
    turns = len(latencies)
    apologies = sum(APOLOGY in r for c in convos for r in c.replies)
    retries = sum(len(c.retries) for c in convos)
    return (
        f"{label}: {len(convos)} conversations x {TURNS} turns = {turns} turns in "
        f"{elapsed:.1f} s: {turns / elapsed:.1f} turns/s; latency p50 "
        f"{statistics.median(latencies) * 1000:.0f} ms, p95 "
        f"{percentile(latencies, 95) * 1000:.0f} ms, max {max(latencies) * 1000:.0f} ms; "
        f"{retries} retries; {apologies} answers were the apology for a failed action call"
    )
