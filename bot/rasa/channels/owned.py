"""Which conversations a channel may take a turn in: its own, never another channel's.

A conversation's id is all Rasa keys it by, and two channels can arrive at the same id: the
REST client chooses its ``sender`` freely, and a Slack thread's id is
``<user>_<channel>_<thread>``, all three seen by anyone in that Slack channel. Whoever speaks
first in a conversation leaves its state there (a typed email, a pending option, a noted
need) for whoever speaks next. So a channel takes a turn only in a conversation whose
customer messages all came in on that same channel, or that has none yet: the REST channel
refuses a Slack or website conversation (bot/rasa/channels/rest_owned.py), and the Slack
channel a conversation that REST opened (bot/rasa/channels/slack.py).

A customer message without a channel was made through Rasa's HTTP API, with its token
(the hub, an operator): it is nobody's planting and counts as the channel's own.

A conversation found to hold one of the channel's own customer messages is remembered, so
its tracker is read once per process, not on every message: every other channel refuses
it from then on. A new one is read again until it holds one (another channel could still
speak first in it).
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

from rasa.core.tracker_store import TrackerStore
from rasa.shared.core.events import UserUttered


class OwnConversations:
    """The conversations ``channel`` may take a turn in (see the module doc)."""

    def __init__(self, channel: str, remembered: int = 50_000) -> None:
        self.channel = channel
        self._own: OrderedDict[str, None] = OrderedDict()
        self._remembered = remembered

    async def opened_elsewhere(self, store: TrackerStore | None, conversation_id: str) -> bool:
        """Whether a customer message of ``conversation_id`` came in on another channel.

        False without a tracker store (a channel served without Rasa's model). A store that
        cannot be read raises: the caller decides what a turn it cannot vouch for gets.
        """
        if conversation_id in self._own:
            self._own.move_to_end(conversation_id)
            return False
        if store is None:
            return False
        # Every session's events, not only the latest's: slots carry over into a new session
        # (domain.yml), so a message of an earlier session still left its state there.
        tracker = await store.retrieve_full_tracker(conversation_id)
        return self.opened_elsewhere_in(conversation_id, tracker.events if tracker else [])

    def opened_elsewhere_in(self, conversation_id: str, events: Any) -> bool:
        """``opened_elsewhere`` for a caller that has read the conversation's events (every
        session's) already."""
        channels = customer_channels(events)
        if channels - {None, self.channel}:
            return True
        if self.channel in channels:
            self._own[conversation_id] = None
            self._own.move_to_end(conversation_id)
            if len(self._own) > self._remembered:
                self._own.popitem(last=False)
        return False


def tracker_store_of(app: Any) -> TrackerStore | None:
    """The tracker store of the Rasa server ``app`` is (its agent's); None for an app
    without one (a channel served without Rasa's model, a bare test app)."""
    agent = getattr(getattr(app, "ctx", None), "agent", None)
    store: TrackerStore | None = getattr(agent, "tracker_store", None)
    return store


def customer_channels(events: Any) -> set[str | None]:
    """The channels the customer messages among ``events`` came in on (None: made through
    Rasa's HTTP API, not another channel's)."""
    return {event.input_channel for event in events if isinstance(event, UserUttered)}
