"""Erase one conversation's tracker inside the Rasa server, under Rasa's conversation lock.

``python -m bot forget`` deletes a customer's tracker events. Done from outside Rasa, a
turn in flight at that moment (it holds the conversation in memory) saves its session back
afterwards. Rasa handles each message holding ``agent.lock_store.lock(sender_id)``; this
route takes the same lock, so it waits for a turn in flight to finish and the next message
waits for the erasure, then deletes the conversation's events from the tracker store.

``DELETE /webhooks/rest/conversations/<id>/tracker`` on the Rasa server (the REST channel's
blueprint carries it), with Rasa's API token (``?token=`` or ``Authorization: Bearer``),
compared in constant time. Answers ``{"conversation_id": ..., "events_deleted": n}``.
"""

from __future__ import annotations

import asyncio
import hmac
from typing import Any

from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

ROUTE = "/conversations/<conversation_id:str>/tracker"


class UnsupportedTrackerStore(Exception):
    """The tracker store is neither SQL nor in memory: this route can't erase from it."""


def delete_events(tracker_store: Any, conversation_id: str) -> int:
    """Delete every event of ``conversation_id``; return how many (1 for an in-memory tracker)."""
    from rasa.core.tracker_store import InMemoryTrackerStore, SQLTrackerStore

    store = getattr(tracker_store, "_tracker_store", tracker_store)  # FailSafeTrackerStore
    if isinstance(store, SQLTrackerStore):
        with store.session_scope() as session:
            deleted = (
                session.query(store.SQLEvent)
                .filter(store.SQLEvent.sender_id == conversation_id)
                .delete(synchronize_session=False)
            )
            session.commit()
        return int(deleted)
    if isinstance(store, InMemoryTrackerStore):
        return int(store.store.pop(conversation_id, None) is not None)
    raise UnsupportedTrackerStore(type(store).__name__)


async def erase_conversation(agent: Any, conversation_id: str) -> int:
    """Delete the conversation's events while holding Rasa's lock on it."""
    async with agent.lock_store.lock(conversation_id):
        # The SQL delete blocks: off the event loop, so other conversations go on.
        return await asyncio.to_thread(delete_events, agent.tracker_store, conversation_id)


def add_route(blueprint: Blueprint, token: str) -> None:
    """Add the erasure route to the REST channel's blueprint (bot/rasa/channels/rest.py).

    ``token``: Rasa's API token (``CX_RASA_TOKEN``, the one `rasa run --auth-token` was
    given by bot/runner.py); empty refuses every request.
    """

    @blueprint.route(ROUTE, methods=["DELETE"], name="cx_erase_conversation")
    async def erase(request: Request, conversation_id: str) -> HTTPResponse:
        expected = token
        given = request.args.get("token") or _bearer(request.headers.get("authorization"))
        if not expected or not hmac.compare_digest(
            (given or "").encode("utf-8"), expected.encode("utf-8")
        ):
            return response.json({"error": "Rasa's API token is required"}, status=401)
        agent = getattr(request.app.ctx, "agent", None)
        if agent is None or agent.tracker_store is None:
            return response.json({"error": "no model is loaded yet: try again"}, status=503)
        try:
            deleted = await erase_conversation(agent, conversation_id)
        except UnsupportedTrackerStore as e:
            return response.json(
                {"error": f"can't erase from a {e} tracker store: use SQL or in-memory"},
                status=501,
            )
        return response.json({"conversation_id": conversation_id, "events_deleted": deleted})


def _bearer(header: str | None) -> str | None:
    if header and header.lower().startswith("bearer "):
        return header[7:].strip()
    return None
