"""A REST client speaks only in conversations of its own: never in a Slack or website one.

Why: a conversation's id is its ``sender``, and the REST channel lets the client choose it.
A Slack conversation's id is ``<user>_<channel>_<thread>`` (Rasa's SlackInput; ``<user>`` or
``<user>_<channel>`` at a coarser ``conversation_granularity``), all of which anyone in that
Slack channel can see. A REST message naming such an id would either be a turn of the Slack
customer's conversation, with what it holds (the verified customer, their orders, their
address), or, sent before the customer's first message there, plant state (a typed email, a
pending option, a noted need) that the customer would then inherit. So, before a REST
message runs a turn:

- a ``sender`` shaped as a Slack conversation id is refused (403), whatever the tracker
  store holds: REST has no business there, and nothing it could leave there is safe;
- otherwise the conversation's saved tracker is read once: if any customer message in it
  came from another channel, the request is refused (403) and nothing runs
  (bot/rasa/channels/owned.py).

A website chat's id is not refused by shape: the website channel mints it on the server
(``uuid4().hex``, bot/rasa/channels/web.py) when a browser connects and tells it only to
that browser, inside the signed session token that already opens the chat; a REST client
cannot name it before it exists, and plain hex ids are what many integrations use. Once
the browser has spoken, the tracker rule above refuses it; if a REST client that learnt the
id speaks there first, the website channel gives the browser a new conversation instead.
"""

from __future__ import annotations

import logging
import re
from typing import Any

from sanic import response
from sanic.response import HTTPResponse

from bot.rasa.channels.owned import OwnConversations, tracker_store_of

logger = logging.getLogger(__name__)

REST = "rest"
REFUSED = (
    "This conversation was started on another channel and can't be continued here: "
    "use a sender id of your own."
)
SLACK_SHAPED = (
    "This sender id has the shape of a Slack conversation id (<user>_<channel>_<thread>, made "
    "of Slack's upper-case ids), which only the Slack channel may use: use a sender id of "
    "your own (lower-case letters, or any id not shaped like Slack's)."
)
# What Rasa's SlackInput._get_conversation_id can make: a Slack user id (U... or W...),
# then optionally a channel id (C..., G..., D...; any upper-case prefix, so new kinds are
# covered) and a thread's ts. Slack's ids are upper-case letters and digits; tracker stores
# key conversations case-sensitively, so "u0jane_c0shop_1.2" is not the same conversation.
SLACK_CONVERSATION_ID = re.compile(r"[UW][A-Z0-9]+(?:_[A-Z][A-Z0-9]+(?:_.+)?)?", re.DOTALL)


def slack_shaped(sender_id: str) -> bool:
    """Whether ``sender_id`` could be a conversation id of the Slack channel."""
    return SLACK_CONVERSATION_ID.fullmatch(sender_id) is not None


class RestConversations:
    """Which conversations a REST message may take a turn in (see the module doc)."""

    def __init__(self, remembered: int = 50_000) -> None:
        self._conversations = OwnConversations(REST, remembered)

    async def refusal(self, app: Any, sender_id: str) -> HTTPResponse | None:
        """None when ``sender_id`` is REST's own conversation (or a new one); otherwise
        the answer to send instead of running a turn."""
        if slack_shaped(sender_id):
            logger.warning("Refused a REST message with a Slack-shaped sender id")
            return response.json({"error": SLACK_SHAPED}, status=403)
        try:
            elsewhere = await self._conversations.opened_elsewhere(tracker_store_of(app), sender_id)
        except Exception:
            logger.exception("Could not read the tracker of %s", sender_id)
            return response.json(
                {"error": "Conversations can't be read right now: please try again shortly."},
                status=503,
            )
        if elsewhere:
            logger.warning("Refused a REST message to a conversation of another channel")
            return response.json({"error": REFUSED}, status=403)
        return None
