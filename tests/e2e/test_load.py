"""Load: 30 customers chatting at once over REST, 20 turns each, on the real servers.

Every virtual customer has their own sender id, their own back-office account and orders
(added for this test and removed after it), and sends their 20 messages one after another,
each waiting for its answer. The answers carry what belongs to that conversation only (the
customer's name once known, their order numbers and tracking numbers), so a reply given to
the wrong conversation, or to a message sent earlier or later, is caught.

``CX_LOAD_CONVERSATIONS=N`` runs it with N customers instead of 30; the issue's 50 run in
``make scale-test`` (through nginx, with a Rasa server and a dispatcher killed), and here with
``CX_LOAD_CONVERSATIONS=50``.
"""

from __future__ import annotations

import statistics
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest

from bot.db.engine import make_engine
from bot.journey.store import JourneyStore
from tests import load_driver
from tests.load_driver import (
    APOLOGY,
    REPLY_TIMEOUT,
    TURNS,
    Conversation,
    converse,
    customer_id,
    listed,
    others,
    percentile,
    script,
)

pytestmark = pytest.mark.e2e

# The target: 50 conversations at once. Measured on 2 shared cores (another job
# training a model beside it): 1000 turns in 105 s, 9.5 turns/s, p50 4.7 s, p95 9.4 s, no
# apology. Before bot/rasa/speedups.py and the busy-server check in bot/rasa/action_faults.py,
# 466 of 1000 turns got the apology (the 5 s action timeout fired on a server that was only
# busy). `make test` runs 30 (CI's 20 minutes are tight); CX_LOAD_CONVERSATIONS=N runs
# another size. The driver is tests/load_driver.py (tests/scale/ drives 50 through nginx to
# several Rasa servers).
CONVERSATIONS = load_driver.conversations(30)


@pytest.fixture(scope="module")
def load_customers(assistant) -> Iterator[None]:
    """A back-office account with two orders (one shipped, one packed) per virtual
    customer, added to the running assistant's back office and removed afterwards.

    One message goes first, not measured: the action server builds its services (and
    seeds the demo back office) on the first call that needs them, which would otherwise
    land on 50 customers at once. Its order number is nobody's, so no other test's
    customer gets a contact about their order.
    """
    assistant.say("load-warmup", "where is my order ORD-99999?", timeout=REPLY_TIMEOUT)
    with load_driver.load_customers(assistant.settings.backoffice_url, CONVERSATIONS):
        yield


def test_concurrent_conversations_of_20_turns(assistant, load_customers):
    run = f"load-{int(time.time())}"  # fresh senders: a rerun never reuses a tracker
    convos = [Conversation(n, f"{run}-{n:02d}") for n in range(CONVERSATIONS)]
    gate = threading.Barrier(CONVERSATIONS)
    began = time.perf_counter()
    with ThreadPoolExecutor(max_workers=CONVERSATIONS) as pool:
        done = list(pool.map(lambda c: converse(assistant.url, c, gate.wait), convos))
    elapsed = time.perf_counter() - began

    latencies = [s for c in done for s in c.latencies]
    turns = len(latencies)
    apologies = sum(APOLOGY in r for c in done for r in c.replies)
    figures = (
        f"load: {CONVERSATIONS} conversations x {TURNS} turns = {turns} turns in "
        f"{elapsed:.1f} s: {turns / elapsed:.1f} turns/s; latency p50 "
        f"{statistics.median(latencies) * 1000:.0f} ms, p95 "
        f"{percentile(latencies, 95) * 1000:.0f} ms, max {max(latencies) * 1000:.0f} ms; "
        f"{apologies} answers were the apology for a failed action call"
    )
    print("\n" + figures)
    assert turns == CONVERSATIONS * TURNS
    # The invariants first (they hold under any load), then the answers themselves.
    assert not any(c.errors for c in done), f"{figures}\nunanswered: {listed('errors', done)}"
    assert not any(c.crosstalk for c in done), f"{figures}\ncross-talk: {listed('crosstalk', done)}"

    # Rasa kept each conversation's messages in the order sent, and only its own.
    for c in done:
        tracker = assistant.tracker(c.sender)
        said = [e["text"] for e in tracker["events"] if e["event"] == "user"]
        assert said == [s.text for s in script(c.n)], c.sender
        answered = " ".join(e.get("text") or "" for e in tracker["events"] if e["event"] == "bot")
        assert not others(answered, c.n), f"{c.sender}'s tracker names other customers"

    assert not any(c.wrong for c in done), f"{figures}\nwrong answers: {listed('wrong', done)}"

    # One touchpoint per conversation, on the right customer, counting all 20 messages.
    engine = make_engine(assistant.settings.journey_url)
    try:
        journey = JourneyStore(engine)
        for c in done:
            touchpoints = journey.touchpoints_of(c.sender)
            assert len(touchpoints) == 1, (c.sender, touchpoints)
            [tp] = touchpoints
            assert (tp.customer_id, tp.channel, tp.message_count) == (
                customer_id(c.n),
                "rest",
                TURNS,
            ), c.sender
            assert set(tp.order_ids) == {f"ORD-9{c.n:02d}01", f"ORD-9{c.n:02d}02"}
            assert tp.outcome == "self_served", (c.sender, tp.outcome, tp.signals)
    finally:
        engine.dispose()
