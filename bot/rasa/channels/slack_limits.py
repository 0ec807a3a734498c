"""The Slack channel's rate limits: per Slack user and per workspace, and the note to slow down.

Limits come from bot/ratelimit.py (``CX_RATE_SLACK_USER``, ``CX_RATE_SLACK_TEAM``). Slack
retries anything but a quick 2xx, so a message over a limit is still answered 200; it
starts no turn, and the author is told in the thread, once per window, to slow down.
Apart from the channel (bot/rasa/channels/slack.py) because the keys, windows and wording are
one decision made without Rasa; the channel only posts the note it is given.
"""

from __future__ import annotations

import logging
from typing import Any

from rasa.core.channels.channel import OutputChannel

from bot.ratelimit import Limiter, Rate, RateLimits, first_refusal

logger = logging.getLogger(__name__)

SLOW_DOWN = (
    "You're sending messages faster than I can read them, so I skipped the last one. "
    "Please wait {wait} seconds, then send it again."
)


def over_limit(
    limiter: Limiter, limits: RateLimits, team: Any, user: str
) -> tuple[bool, str | None]:
    """Whether a message from ``user`` of workspace ``team`` is over its author's or its
    workspace's limit, and the note to tell the author (None: not over, or told already
    in this window)."""
    team = team if isinstance(team, str) and team else "-"
    verdict = first_refusal(
        limiter,
        [
            (f"slack:user:{team}/{user}", limits.slack_user),
            (f"slack:team:{team}", limits.slack_team),
        ],
    )
    if verdict.allowed:
        return False, None
    logger.info("Slack message from %s/%s over the rate limit: no turn", team, user)
    window = Rate(1, max(limits.slack_user.window, verdict.retry_after))
    if not limiter.hit(f"slack:told:{team}/{user}", window).allowed:
        return True, None
    return True, SLOW_DOWN.format(wait=verdict.retry_after_seconds)


async def tell(output: OutputChannel, user: str, text: str) -> None:
    """Post ``text`` to ``user`` through ``output``; a failure is logged, never raised."""
    try:
        await output.send_text_message(user, text)
    except Exception:
        logger.exception("Could not post a note to Slack user %s", user)
