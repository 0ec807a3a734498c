"""What is happening in a website chat right now: who is typing, what the agent has seen.

The website channel (bot/rasa/channels/web.py) keeps this in its process's memory, because it
lasts seconds (typing) or only matters while the chat is open (seen): nothing here is part
of the conversation's record, and nothing is lost that the tracker store needs.

- The customer's typing: the widget says so at most every few seconds while the customer
  types (only while a person holds the chat); the agent console asks the channel about it.
  A typing mark older than ``TYPING_FRESH_SECONDS`` has lapsed (the widget went quiet).
- Seen: the newest customer message the holding agent's console displayed, so a widget that
  reconnects shows "Seen" again.

Both are kept for at most ``MAX_CONVERSATIONS`` conversations (oldest dropped first).
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable

TYPING_FRESH_SECONDS = 6.0  # the widget repeats "typing" every 2 s while the customer types
MAX_CONVERSATIONS = 10_000


class LiveState:
    """Typing marks and seen marks of website chats, in memory, on ``clock`` (seconds)."""

    def __init__(
        self,
        clock: Callable[[], float] = time.monotonic,
        max_conversations: int = MAX_CONVERSATIONS,
    ):
        self._clock = clock
        self._max = max_conversations
        self._typing: OrderedDict[str, float] = OrderedDict()
        self._seen: OrderedDict[str, str] = OrderedDict()

    def customer_typing(self, conversation_id: str, typing: bool) -> None:
        """The customer started (or went on) typing, or stopped (sent, or emptied the box)."""
        if typing:
            _put(self._typing, conversation_id, self._clock(), self._max)
        else:
            self._typing.pop(conversation_id, None)

    def is_customer_typing(self, conversation_id: str) -> bool:
        """Whether the customer typed in the last ``TYPING_FRESH_SECONDS``."""
        at = self._typing.get(conversation_id)
        if at is None:
            return False
        if self._clock() - at > TYPING_FRESH_SECONDS:
            del self._typing[conversation_id]
            return False
        return True

    def seen(self, conversation_id: str, message_id: str) -> None:
        """The holding agent's console displayed the customer's messages up to ``message_id``."""
        _put(self._seen, conversation_id, message_id, self._max)

    def seen_up_to(self, conversation_id: str) -> str | None:
        """The newest customer message an agent has seen, if any (since this process started)."""
        return self._seen.get(conversation_id)


def _put(marks: OrderedDict, key: str, value, limit: int) -> None:
    marks[key] = value
    marks.move_to_end(key)
    while len(marks) > limit:
        marks.popitem(last=False)
