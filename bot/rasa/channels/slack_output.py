"""How the assistant's replies reach Slack: Rasa's Slack output, fixed and made private.

Apart from the input channel (bot/rasa/channels/slack.py) because it is the other direction:
the input channel decides where a turn's replies go and whether they are private; this
module posts them. Stock ``SlackBot`` always talks to https://slack.com/api/, posts
``as_user`` (which new Slack apps' bot tokens refuse) and drops every button past five.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from rasa.core.channels.slack import SlackBot
from slack_sdk.web.async_client import AsyncWebClient

from bot.identity.disclosure import ACCOUNT_DETAILS
from bot.rasa.channels.slack_api import DEFAULT_API_URL, api_url, is_shared_channel

# Said once per thread, visibly, when a verified customer's answers go to them alone.
PRIVATE_NOTE = (
    "I'll answer you here where only you can see it, since this channel is shared. "
    "For a lasting copy, message me directly."
)
# Buttons per actions block (a row on narrow screens), and at most this many in all.
BUTTONS_PER_ROW = 5
MAX_BUTTONS = 25


class SlackOutput(SlackBot):
    """Rasa's Slack output at a configurable Web API base URL, without ``as_user``; with
    ``private_to``, every message is ephemeral to that Slack user. In a shared channel, a
    reply marked as carrying account details (bot/identity/disclosure.py: the turn in which
    the ``author`` verified) makes it and the rest of the turn's replies private to them."""

    def __init__(
        self,
        token: str,
        slack_channel: str | None = None,
        thread_id: str | None = None,
        proxy: str | None = None,
        base_url: str = DEFAULT_API_URL,
        private_to: str | None = None,
        note_due: Callable[[], Awaitable[bool]] | None = None,
        author: str | None = None,
    ) -> None:
        """``note_due`` says (once per thread, across processes) whether the visible
        PRIVATE_NOTE is still to be posted before the first private message."""
        super().__init__(token, slack_channel, thread_id, proxy)
        self.base_url = api_url(base_url)
        # Stock SlackBot always talks to https://slack.com/api/.
        self.client = AsyncWebClient(token, base_url=self.base_url, proxy=proxy)
        self.private_to = private_to
        self._note_due = note_due
        self.author = author

    async def send_response(self, recipient_id: str, message: dict[str, Any]) -> None:
        if (
            message.pop(ACCOUNT_DETAILS, False)
            and not self.private_to
            and self.author
            and is_shared_channel(self.slack_channel)
        ):
            self.private_to = self.author
        await super().send_response(recipient_id, message)

    async def send_text_with_buttons(
        self, recipient_id: str, text: str, buttons: list[dict[str, Any]], **kwargs: Any
    ) -> None:
        """Text and buttons in rows of at most BUTTONS_PER_ROW. Stock Rasa sends no button
        at all past five (the feedback question has six: five ratings and "No thanks"),
        from a Slack limit long gone: an actions block takes up to 25 elements."""
        rows = [
            {
                "type": "actions",
                "elements": [
                    {
                        "type": "button",
                        "text": {"type": "plain_text", "text": b["title"]},
                        "value": b["payload"],
                    }
                    for b in buttons[i : i + BUTTONS_PER_ROW]
                ],
            }
            for i in range(0, min(len(buttons), MAX_BUTTONS), BUTTONS_PER_ROW)
        ]
        text_block = {"type": "section", "text": {"type": "plain_text", "text": text}}
        await self._post_message(
            channel=self.slack_channel or recipient_id, text=text, blocks=[text_block, *rows]
        )

    async def _post_message(self, channel: str, **kwargs: Any) -> None:
        # as_user is for classic apps only: bot tokens of new apps get invalid_arguments.
        kwargs.pop("as_user", None)
        if not self.private_to:
            await super()._post_message(channel, **kwargs)
            return
        note_due, self._note_due = self._note_due, None  # asked once per turn at most
        if note_due is not None and await note_due():
            # Visible, and first: Slack shows an ephemeral reply only in an active thread.
            await super()._post_message(channel, text=PRIVATE_NOTE)
        if self.thread_id:
            kwargs["thread_ts"] = self.thread_id
        await self.client.chat_postEphemeral(channel=channel, user=self.private_to, **kwargs)
