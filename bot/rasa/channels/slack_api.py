"""Slack's Web API outside a Rasa turn: where a Slack conversation lives, and posting there.

A human agent relaying a message into a customer's Slack thread cannot use Rasa's
``output_channel=latest`` (Rasa's Slack output then posts to the default channel, not the
thread). The conversation's own sender id says where it lives; :class:`SlackWebApi` posts
there, at the configured base URL. Plain Python with ``requests``: no Rasa import, so the
hub can use it.

Privacy: in a channel that is not a DM, everyone in it reads the thread, so whatever is
said to a verified customer (their orders, address, invoices) is posted with
``chat.postEphemeral`` to that customer alone (:func:`private_recipient` says who).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import requests

from bot.identity.trust import Identity
from bot.settings import (
    SLACK_API_URL_ENV,
    SLACK_CHANNEL_ENV,
    SLACK_SIGNING_SECRET_ENV,
    SLACK_TOKEN_ENV,
)

# The variables credentials.yml names by default (bot/rasa/channels/slack.py), declared in
# bot/settings.py.
TOKEN_ENV = SLACK_TOKEN_ENV
SIGNING_SECRET_ENV = SLACK_SIGNING_SECRET_ENV
API_URL_ENV = SLACK_API_URL_ENV
CHANNEL_ENV = SLACK_CHANNEL_ENV
DEFAULT_API_URL = "https://slack.com/api/"


def api_url(raw: str | None) -> str:
    """The Web API base URL, ending in "/" (method names are joined onto it)."""
    url = (raw or "").strip() or DEFAULT_API_URL
    return url if url.endswith("/") else url + "/"


@dataclass(frozen=True)
class SlackThread:
    """A place to post in Slack: a channel (or DM) id, and the thread in it, if any."""

    channel: str
    thread_ts: str | None = None


def slack_thread_of(sender_id: str, metadata: Mapping[str, Any] | None = None) -> SlackThread:
    """Where a Slack conversation lives, from Rasa's sender id or the message metadata.

    Rasa 3.6 names Slack conversations ``user`` (granularity "sender"),
    ``user_channel`` ("channel") or ``user_channel_thread`` ("thread"); Slack ids contain
    no underscore, so the parts split cleanly. With thread granularity the sender id is
    exact; otherwise the latest message's metadata (``out_channel``, ``thread_id``) says
    where the customer last wrote, and a bare user id still reaches them in a DM.
    """
    parts = sender_id.split("_")
    if len(parts) == 3 and all(parts):
        return SlackThread(parts[1], parts[2])
    metadata = metadata or {}
    if isinstance(metadata.get("out_channel"), str) and metadata["out_channel"]:
        thread = metadata.get("thread_id")
        return SlackThread(metadata["out_channel"], thread if isinstance(thread, str) else None)
    if len(parts) == 2 and all(parts):
        return SlackThread(parts[1])
    return SlackThread(sender_id)  # a user id: chat.postMessage opens the app's DM


def is_shared_channel(channel: str | None) -> bool:
    """Whether others may read a Slack channel: a public (C...) or private (G...) channel,
    not a DM with the app (D...) nor a user id (U..., which opens the DM)."""
    return bool(channel and channel[0] in "CG")


def private_recipient(
    sender_id: str, where: SlackThread, tracker: Mapping[str, Any] | None
) -> str | None:
    """The Slack user to whom a message for this conversation goes privately, or None.

    In a channel others read (not a DM), a conversation whose customer is verified (its
    slots, as Rasa's tracker API gives them) may hear their account details: those go to
    the author alone. The author is ``slack_user`` in the latest message's metadata
    (bot/rasa/channels/slack.py), else the first part of Rasa's sender id.
    """
    if not is_shared_channel(where.channel):
        return None
    tracker = tracker or {}
    slots = tracker.get("slots") or {}
    identity = Identity.from_slots(slots.get("customer_id"), slots.get("verified_by"))
    if not identity.verified:
        return None
    metadata = (tracker.get("latest_message") or {}).get("metadata") or {}
    user = metadata.get("slack_user")
    return user if isinstance(user, str) and user else sender_id.split("_")[0] or None


class SlackApiError(RuntimeError):
    """Slack answered ``{"ok": false, "error": ...}``."""


class SlackWebApi:
    """The slice of Slack's Web API the assistant uses outside Rasa: posting a message."""

    def __init__(
        self,
        token: str,
        base_url: str = DEFAULT_API_URL,
        session: requests.Session | None = None,
        timeout: float = 10.0,
    ):
        self.token = token
        self.base_url = api_url(base_url)
        self.session = session or requests.Session()
        self.timeout = timeout

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> SlackWebApi | None:
        """The Web API as configured for the Slack channel, from ``env`` (the settings'
        ``secrets``: the environment as it was read); None when Slack is not set up."""
        token = env.get(TOKEN_ENV, "")
        return cls(token, api_url(env.get(API_URL_ENV))) if token else None

    def post(
        self,
        where: SlackThread,
        text: str,
        buttons: list[dict[str, str]] | None = None,
        private_to: str | None = None,
    ) -> str:
        """Post ``text`` as the bot into ``where``, with ``buttons`` ({title, payload}) under
        it; returns the new message's ts.

        Buttons are Block Kit buttons whose value is the payload, the way Rasa's own Slack
        output sends them, so a click comes back to the Slack channel as that payload.
        With ``private_to`` (a Slack user id) the message is ephemeral: only that user sees
        it, in the same thread (``chat.postEphemeral``).
        """
        body: dict[str, Any] = {"channel": where.channel, "text": text}
        if buttons:
            body["blocks"] = [
                {"type": "section", "text": {"type": "plain_text", "text": text}},
                {
                    "type": "actions",
                    "elements": [
                        {
                            "type": "button",
                            "text": {"type": "plain_text", "text": b["title"]},
                            "value": b["payload"],
                        }
                        for b in buttons
                    ],
                },
            ]
        if where.thread_ts:
            body["thread_ts"] = where.thread_ts
        method = "chat.postMessage"
        if private_to:
            method = "chat.postEphemeral"
            body["user"] = private_to
        response = self.session.post(
            f"{self.base_url}{method}",
            json=body,
            # Slack warns about JSON bodies that do not name their charset.
            headers={
                "Authorization": f"Bearer {self.token}",
                "Content-Type": "application/json; charset=utf-8",
            },
            timeout=self.timeout,
        )
        response.raise_for_status()
        answer = response.json()
        if not answer.get("ok"):
            raise SlackApiError(f"{method} failed: {answer.get('error', answer)}")
        return answer["ts"] if "ts" in answer else answer["message_ts"]  # ephemeral: message_ts
