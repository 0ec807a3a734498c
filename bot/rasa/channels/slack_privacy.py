"""Whether a Slack turn's replies go to its author alone: privacy in shared channels.

In a channel others read (C.../G..., not a DM), every reply to a Slack user mapped to a
customer (a verified customer, whose answers carry their account details), or whose
conversation verified them in an earlier turn, is posted to that user alone
(bot/rasa/channels/slack_output.py). Replies to other users stay public: the trust rules give
them no account details. Apart from the channel (bot/rasa/channels/slack.py) because this
decision has sources of its own (the back office's map of Slack users, Rasa's tracker
store) and its own rule when they fail: private, since a public reply to an unmapped user
is only ever a courtesy, a public account detail a leak.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from rasa.core.tracker_store import TrackerStore
from sanic.request import Request

from bot.identity.trust import Identity
from bot.rasa.channels.owned import tracker_store_of
from bot.rasa.channels.slack_api import is_shared_channel

if TYPE_CHECKING:
    from bot.backoffice import BackOffice

logger = logging.getLogger(__name__)


async def author_alone(
    user: str | None,
    channel: str | None,
    customers: Callable[[], BackOffice],
    trackers: TrackerStore | None,
    sender_id: str | None,
) -> str | None:
    """``user`` (the author), when the replies must reach them alone: others read
    ``channel`` and the author's answers may carry account details, because they are
    mapped to a customer (``customers()``, the back office) or because the conversation
    already verified them (a check passed in an earlier turn; its slots, in ``trackers``).

    If the back office cannot be asked, the replies are private all the same.
    """
    if not user or not is_shared_channel(channel):
        return None
    try:
        customer = await asyncio.to_thread(customers().customer_by_slack_user, user)
    except Exception:
        logger.exception("Could not look up Slack user %s: answering them privately", user)
        return user
    if customer is not None or await verified_before(trackers, sender_id):
        return user
    return None


async def verified_before(store: TrackerStore | None, sender_id: str | None) -> bool:
    """Whether the conversation's saved tracker has a verified customer."""
    if store is None or not sender_id:
        return False
    try:
        tracker = await store.retrieve(sender_id)
    except Exception:
        logger.exception("Could not read the tracker of %s: answering privately", sender_id)
        return True
    if tracker is None:
        return False
    slots = {name: tracker.get_slot(name) for name in ("customer_id", "verified_by")}
    return Identity.from_slots(slots["customer_id"], slots["verified_by"]).verified


def tracker_store_of_request(request: Request) -> TrackerStore | None:
    """The tracker store of the Rasa server the request came to; None for a bare request."""
    return tracker_store_of(_app_of(request))


def _app_of(request: Request) -> Any:
    """The Sanic app (Rasa's server) the request came to; None for a bare request."""
    try:
        return request.app
    except Exception:
        return None
