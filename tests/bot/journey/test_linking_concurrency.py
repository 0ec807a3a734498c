"""Many chats of one customer verifying at the same moment (a customer with several tabs
open, a load test): each chat's anonymous record moves to the customer and the repeat
marks are counted again, all at once, and no turn fails. On PostgreSQL these writers took
the customer's lock and each other's touchpoint rows in opposite orders, and the server
broke the deadlock by failing one of the turns ("having trouble looking that up")."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta

from sqlalchemy import select

from bot.db.schema import touchpoints
from bot.journey.signals import UserMessage
from bot.journey.store import JourneyStore, Turn

T0 = datetime(2025, 3, 12, 10, 0)
THREADS = 8
CHATS_EACH = 6


def chat(store: JourneyStore, conversation: str, started: datetime) -> None:
    """An anonymous question about an order, then the same chat verified as C001: each
    chat repeats the ones before it, so every move changes earlier chats' marks."""
    said = [UserMessage("where is ORD-10004?", "order_status", started)]
    # Anonymous; verified (the anonymous record moves, marks counted again); verified
    # with a second need (the customer's lock, marks counted again).
    for customer, need in (
        (None, "order_status"),
        ("C001", "order_status"),
        ("C001", "charged_twice"),
    ):
        store.record(
            Turn(
                conversation_id=conversation,
                channel="rest",
                session_started_at=started,
                messages=tuple(said),
                customer_id=customer,
                customer_name="Omar" if customer else None,
                need=need,
                department="delivery",
                order_id="ORD-10004",
            )
        )
        said.append(UserMessage("it's omar@example.com", "inform", started))


def test_chats_verifying_as_one_customer_at_once_lose_no_turn(journey_engine):
    store = JourneyStore(journey_engine, now=lambda: T0 + timedelta(hours=1))
    start = threading.Barrier(THREADS)
    failures: list[BaseException] = []

    def writer(n: int) -> None:
        start.wait()
        for c in range(CHATS_EACH):
            try:
                chat(store, f"t{n}-c{c}", T0 + timedelta(seconds=n * CHATS_EACH + c))
            except BaseException as exc:  # noqa: BLE001 - reported by the test below
                failures.append(exc)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert failures == []
    with journey_engine.connect() as conn:
        rows = conn.execute(select(touchpoints.c.customer_id, touchpoints.c.message_count)).all()
    assert len(rows) == THREADS * CHATS_EACH
    assert {tuple(r) for r in rows} == {("C001", 3)}
