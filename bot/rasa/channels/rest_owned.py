"""A REST client continues only conversations the REST channel itself started.

Why: a conversation's id is its ``sender``, and the REST channel lets the client choose it.
A Slack conversation's id is ``<user>_<channel>_<thread>`` (Rasa's SlackInput), all three of
which anyone in that Slack channel can see. A REST message naming that id would be a turn
of the Slack customer's conversation, with what it holds: the verified customer, their
orders, their address. So before a REST message runs a turn, the conversation's saved
tracker is read once: if any customer message in it came from another channel, the request
is refused (403) and nothing runs. (A website chat's id is a random token nobody else sees,
but the same rule covers it.)

A conversation found to be REST's own (or new) is remembered, so the tracker is read once
per conversation per server, not on every message.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from typing import Any

from rasa.shared.core.events import UserUttered
from sanic import response
from sanic.response import HTTPResponse

logger = logging.getLogger(__name__)

REST = "rest"
REFUSED = (
    "This conversation was started on another channel and can't be continued here: "
    "use a sender id of your own."
)


class RestConversations:
    """Which conversations a REST message may take a turn in (see the module doc)."""

    def __init__(self, remembered: int = 50_000) -> None:
        self._own: OrderedDict[str, None] = OrderedDict()
        self._remembered = remembered

    async def refusal(self, app: Any, sender_id: str) -> HTTPResponse | None:
        """None when ``sender_id`` is REST's own conversation (or a new one); otherwise
        the answer to send instead of running a turn."""
        if sender_id in self._own:
            self._own.move_to_end(sender_id)
            return None
        agent = getattr(getattr(app, "ctx", None), "agent", None)
        store = getattr(agent, "tracker_store", None)
        if store is None:  # no tracker store (a channel served without Rasa's model)
            return None
        try:
            tracker = await store.retrieve(sender_id)
        except Exception:
            logger.exception("Could not read the tracker of %s", sender_id)
            return response.json(
                {"error": "Conversations can't be read right now: please try again shortly."},
                status=503,
            )
        if tracker is not None and started_elsewhere(tracker.events):
            logger.warning("Refused a REST message to a conversation of another channel")
            return response.json({"error": REFUSED}, status=403)
        self._own[sender_id] = None
        if len(self._own) > self._remembered:
            self._own.popitem(last=False)
        return None


def started_elsewhere(events: Any) -> bool:
    """Whether any customer message among ``events`` came in on a channel other than REST."""
    return any(
        isinstance(event, UserUttered) and (event.input_channel or REST) != REST for event in events
    )
