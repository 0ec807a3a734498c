"""How a message from the console reaches the customer, on the customer's own channel.

- Website chat (Rasa's ``socketio`` channel): the message is a bot event added through
  Rasa's events API with ``execute_side_effects`` and ``output_channel=socketio``; Rasa
  records it and the channel sends it to the widget (an agent's name travels in the
  event's ``custom`` data, which bot/rasa/channels/web.py shows as the agent's message).
- Slack: Rasa's own Slack output would post to the default channel, not the customer's
  thread, so the message is posted with Slack's Web API into the conversation's own
  channel and thread, and then recorded in the tracker without side effects. In a channel
  others read (not a DM), a verified customer's conversation is told privately
  (``chat.postEphemeral`` to the customer, in the thread), as the assistant's replies are.

Other channels (the REST webhook, the command line) have no way to push a message to the
customer: ``CannotReach``.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import requests

from bot.agents.rasa_api import RasaApi, RasaApiError
from bot.rasa.channels.slack_api import (
    SlackApiError,
    SlackWebApi,
    is_shared_channel,
    private_recipient,
    slack_thread_of,
)

log = logging.getLogger(__name__)

WEB_CHANNEL = "socketio"
SLACK_CHANNEL = "slack"
REACHABLE = (WEB_CHANNEL, SLACK_CHANNEL)


class CannotReach(ValueError):
    """The conversation's channel cannot receive a message from a person."""


class RelayFailed(RuntimeError):
    """Rasa or Slack did not take the message (the message says which, and why)."""


def bot_event(
    text: str, agent: str | None = None, system: tuple[str, str] | None = None
) -> dict[str, Any]:
    """A bot event for ``text``; an agent's carries their name in ``custom`` data.

    ``system`` is (what happened, who): a person ``joined`` the chat or left it
    (``handed_back``, ``transferred``, ``resolved``, ``abandoned``), said in the assistant's
    words; the website chat shows it as an event and changes its header.
    """
    event: dict[str, Any] = {"event": "bot", "text": text}
    if agent:
        event["data"] = {"custom": {"text": text, "agent": agent}}
    elif system:
        event["data"] = {"custom": {"text": text, "system": system[0], "by": system[1]}}
    return event


def check_reachable(channel: str) -> None:
    """``CannotReach`` unless a person can write to customers on ``channel``."""
    if channel not in REACHABLE:
        raise CannotReach(
            f"this conversation is on the {channel!r} channel, which can't receive messages "
            "from a person (the website chat and Slack can)"
        )


class Relay:
    """Delivers messages and state changes to a conversation through Rasa (and Slack)."""

    def __init__(self, rasa: RasaApi, slack: SlackWebApi | None = None):
        self.rasa = rasa
        self.slack = slack

    def send(
        self,
        conversation_id: str,
        channel: str,
        text: str,
        agent: str | None = None,
        before: Sequence[dict[str, Any]] = (),
        after: Sequence[dict[str, Any]] = (),
        system: tuple[str, str] | None = None,
    ) -> None:
        """Say ``text`` to the customer (as ``agent`` when given), with events around it.

        ``before`` and ``after`` (pause, resume...) are recorded in the same call as the
        message where the channel allows it; ``system`` marks a person joining or leaving
        (``bot_event``). Raises ``CannotReach`` or ``RelayFailed``.
        """
        check_reachable(channel)
        message = bot_event(text, agent, system)
        if channel == WEB_CHANNEL:
            self._rasa(conversation_id, [*before, message, *after], WEB_CHANNEL)
            return
        if self.slack is None:
            raise RelayFailed(
                "Slack is not configured in the hub: set SLACK_BOT_TOKEN (and SLACK_API_URL "
                "if not slack.com) in the hub's environment"
            )
        if before:
            self._rasa(conversation_id, before)
        self._post_to_slack(self.slack, conversation_id, slack_text(text, agent))
        try:
            self._rasa(conversation_id, [message, *after])
        except RelayFailed as e:
            raise RelayFailed(
                f"the customer got the message in Slack, but the conversation's record was "
                f"not updated: {e}"
            ) from e

    def record(self, conversation_id: str, events: Sequence[dict[str, Any]]) -> None:
        """Record events that send nothing (pause, resume); ``RelayFailed`` if Rasa refuses."""
        self._rasa(conversation_id, events)

    def tracker(self, conversation_id: str) -> dict[str, Any]:
        """The conversation's tracker; ``RelayFailed`` if Rasa can't be read."""
        try:
            return self.rasa.tracker(conversation_id)
        except RasaApiError as e:
            raise RelayFailed(str(e)) from e

    def _rasa(
        self, conversation_id: str, events: Sequence[dict[str, Any]], output: str | None = None
    ) -> None:
        try:
            self.rasa.append(conversation_id, events, output)
        except RasaApiError as e:
            raise RelayFailed(str(e)) from e

    def _post_to_slack(self, slack: SlackWebApi, conversation_id: str, text: str) -> None:
        where = slack_thread_of(conversation_id)
        private_to = None
        if where.thread_ts is None or is_shared_channel(where.channel):
            tracker = self.tracker(conversation_id)
            if where.thread_ts is None:
                # Not a thread-granularity id: the latest message says where the customer wrote.
                latest = tracker.get("latest_message") or {}
                where = slack_thread_of(conversation_id, latest.get("metadata") or {})
            # Others read a channel: a verified customer is told privately (principle 9).
            private_to = private_recipient(conversation_id, where, tracker)
        try:
            slack.post(where, text, private_to=private_to)
        except (requests.RequestException, SlackApiError) as e:
            raise RelayFailed(f"Slack did not take the message: {e}") from e


def slack_text(text: str, agent: str | None = None) -> str:
    """Text for Slack: control characters escaped (no stray mentions or links), the agent named."""
    safe = _slack_escape(text)
    return f"*{_slack_escape(agent)}* (support team): {safe}" if agent else safe


def _slack_escape(text: str) -> str:
    # Slack's own rule: &, < and > are the only characters to escape in message text.
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
