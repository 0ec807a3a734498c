"""Erasing a conversation inside Rasa: it waits for a turn in flight (Rasa's own lock store)
and deletes the events from Rasa's own SQL and in-memory tracker stores."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace

import pytest
from rasa.core.lock_store import InMemoryLockStore
from rasa.core.tracker_store import FailSafeTrackerStore, InMemoryTrackerStore, SQLTrackerStore
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import UserUttered
from rasa.shared.core.trackers import DialogueStateTracker

from bot.rasa.channels.erasure import UnsupportedTrackerStore, delete_events, erase_conversation


async def save(store, sender: str, *texts: str) -> None:
    tracker = DialogueStateTracker.from_events(sender, [UserUttered(t) for t in texts])
    await store.save(tracker)


async def count(store, sender: str) -> int:
    tracker = await store.retrieve(sender)
    return 0 if tracker is None else len(tracker.events)


@pytest.fixture
def sql_store(tmp_path):
    return SQLTrackerStore(Domain.empty(), dialect="sqlite", db=str(tmp_path / "tracker.db"))


def test_erasure_waits_for_the_turn_in_flight_then_deletes_its_events_too(sql_store):
    agent = SimpleNamespace(lock_store=InMemoryLockStore(), tracker_store=sql_store)

    async def scenario():
        await save(sql_store, "c-1", "hello")
        await save(sql_store, "c-2", "keep me")
        order = []

        async def turn_in_flight():
            async with agent.lock_store.lock("c-1"):  # as Agent.handle_message holds it
                order.append("turn started")
                await asyncio.sleep(0.5)
                await save(sql_store, "c-1", "hello", "my card is in here")
                order.append("turn saved")

        turn = asyncio.create_task(turn_in_flight())
        await asyncio.sleep(0.1)
        deleted = await erase_conversation(agent, "c-1")
        order.append("erased")
        await turn
        return order, deleted, await count(sql_store, "c-1"), await count(sql_store, "c-2")

    order, deleted, left, kept = asyncio.run(scenario())
    assert order == ["turn started", "turn saved", "erased"]
    assert deleted == 2 and left == 0 and kept == 1


def test_the_fail_safe_wrapper_and_the_in_memory_store_are_erased_too(sql_store):
    async def scenario():
        wrapped = FailSafeTrackerStore(sql_store)
        await save(wrapped, "c-3", "hi", "there")
        memory = InMemoryTrackerStore(Domain.empty())
        await save(memory, "c-4", "hi")
        return (
            delete_events(wrapped, "c-3"),
            await count(sql_store, "c-3"),
            delete_events(memory, "c-4"),
            delete_events(memory, "c-4"),
        )

    assert asyncio.run(scenario()) == (2, 0, 1, 0)


def test_other_tracker_stores_are_refused_clearly():
    with pytest.raises(UnsupportedTrackerStore):
        delete_events(object(), "c-5")
