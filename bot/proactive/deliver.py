"""Tell each department event to its customer: on a live channel, at a time they accept.

For every event due (bot/proactive/store.py claims it for this worker):

1. **Quiet hours.** Inside the customer's quiet hours it is held until they end.
2. **A live channel.** The customer's conversations on the website chat and Slack, their
   preferred channel first, then the one they used last. The website chat is live only
   while a browser shows it (bot/rasa/channels/presence.py); Slack always is (Slack keeps the
   message for them). A conversation a person has taken over is left alone.
3. **Through Rasa.** The hub triggers ``proactive_news`` with Rasa's HTTP API
   (``trigger_intent``), so the assistant words it, offers the options, records it in the
   conversation and the journey (actions/proactive.py), and the customer's choice comes
   back as a normal turn. For the website, Rasa's socket.io output sends it
   (``output_channel=socketio``). For Slack, Rasa's own output would post to the default
   channel, not the customer's thread, so the messages are collected
   (``output_channel=collector``) and posted into the conversation's own channel and thread.
4. **Nobody there.** With no live channel, the event waits for the customer's next contact
   ("Before anything else: ..." at their greeting, actions/proactive.py).

Failures (Rasa or Slack down) are tried again with a growing delay; an event still not told
after ``give_up_after`` waits for the next contact instead: it is never lost.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta

import requests
from sqlalchemy import func, select
from sqlalchemy.engine import Engine

from bot.agents.rasa_api import RasaApi, RasaApiError
from bot.agents.relay import slack_text
from bot.db.schema import takeovers, touchpoints
from bot.preferences import CHANNELS, PreferenceStore
from bot.proactive.store import ProactiveEvent, ProactiveStore
from bot.rasa.channels.presence import WebPresence
from bot.rasa.channels.slack_api import (
    SlackApiError,
    SlackWebApi,
    is_shared_channel,
    private_recipient,
    slack_thread_of,
)

log = logging.getLogger(__name__)

INTENT = "proactive_news"  # domain.yml; its rule runs action_tell_proactive_news
ENTITY = "proactive_event"
WEB, SLACK = "socketio", "slack"
RETRY_FIRST = timedelta(seconds=30)
RETRY_MAX = timedelta(minutes=30)


@dataclass
class DeliveryReport:
    """What one run did with the events it claimed."""

    delivered: int = 0
    held: int = 0  # quiet hours
    waiting: int = 0  # no live channel: the next contact
    retried: int = 0


class DeliveryFailed(RuntimeError):
    """Rasa or Slack did not take the news (the message says which)."""


class Deliverer:
    """Claims due events and tells them, as the module docstring describes."""

    def __init__(
        self,
        engine: Engine,
        rasa: RasaApi,
        slack: SlackWebApi | None = None,
        now: Callable[[], datetime] = datetime.now,
        give_up_after: timedelta = timedelta(hours=24),
    ):
        self.engine = engine
        self.rasa = rasa
        self.slack = slack
        self.store = ProactiveStore(engine, now)
        self.preferences = PreferenceStore(engine, now)
        self.presence = WebPresence(engine, now)
        self.give_up_after = give_up_after
        self._now = now
        self.wake = threading.Event()  # set by the intake: a new event, deliver it now

    def run_once(self, limit: int = 20) -> DeliveryReport:
        report = DeliveryReport()
        for event in self.store.claim_due(limit):
            outcome = self.deliver(event)
            setattr(report, outcome, getattr(report, outcome) + 1)
        return report

    def deliver(self, event: ProactiveEvent) -> str:
        """Tell one claimed event, or hold it; returns the DeliveryReport field it counts in."""
        now = self._now()
        prefs = self.preferences.get(event.customer_id)
        if prefs.quiet_at(now):
            self.store.hold(event.id, prefs.quiet_ends(now), quiet_hours=True)
            return "held"
        for conversation_id, channel in self.live_conversations(event.customer_id, prefs.channel):
            try:
                self._tell(conversation_id, channel, event)
            except DeliveryFailed as e:
                log.warning("proactive event %s not delivered: %s", event.event_id, e)
                if now - event.received_at >= self.give_up_after:
                    self.store.wait_for_contact(event.id, f"gave up on live delivery: {e}")
                    return "waiting"
                delay = min(RETRY_FIRST * 2**event.attempts, RETRY_MAX)
                self.store.hold(event.id, now + delay, error=str(e))
                return "retried"
            self.store.delivered(event.id, conversation_id, channel)
            return "delivered"
        self.store.wait_for_contact(event.id, "no live channel: told at the next contact")
        return "waiting"

    def live_conversations(
        self, customer_id: str, preferred: str | None
    ) -> Iterator[tuple[str, str]]:
        """The customer's conversations that can take a message now, best first."""
        newest = (
            select(touchpoints.c.conversation_id, touchpoints.c.channel)
            .where(touchpoints.c.customer_id == customer_id, touchpoints.c.channel.in_(CHANNELS))
            .group_by(touchpoints.c.conversation_id, touchpoints.c.channel)
            .order_by(func.max(touchpoints.c.last_activity_at).desc())
            .limit(10)
        )
        with self.engine.connect() as conn:
            candidates = [(r.conversation_id, r.channel) for r in conn.execute(newest)]
            taken_over = set(
                conn.execute(
                    select(takeovers.c.conversation_id).where(
                        takeovers.c.conversation_id.in_([c for c, _ in candidates]),
                        takeovers.c.status == "active",
                    )
                ).scalars()
            )
        # The preferred channel first; otherwise the order of last use (sorted is stable).
        candidates.sort(key=lambda c: c[1] != preferred)
        for conversation_id, channel in candidates:
            if conversation_id in taken_over:
                continue  # a person is talking with them there: not our turn to interrupt
            web_open = channel == WEB and self.presence.online(conversation_id)
            if web_open or (channel == SLACK and self.slack is not None):
                yield conversation_id, channel

    def _tell(self, conversation_id: str, channel: str, event: ProactiveEvent) -> None:
        entities = {ENTITY: str(event.id)}
        try:
            if channel == WEB:
                self.rasa.trigger_intent(conversation_id, INTENT, entities, WEB)
                return
            where = slack_thread_of(conversation_id)
            if where.thread_ts is None:
                latest = self.rasa.tracker(conversation_id).get("latest_message") or {}
                where = slack_thread_of(conversation_id, latest.get("metadata") or {})
            answer = self.rasa.trigger_intent(conversation_id, INTENT, entities, "collector")
            # Others read a channel: news about a verified customer's account goes to them
            # alone (principle 9), as the assistant's own answers there do.
            private_to = None
            if is_shared_channel(where.channel):
                tracker = self.rasa.tracker(conversation_id)
                private_to = private_recipient(conversation_id, where, tracker)
        except RasaApiError as e:
            raise DeliveryFailed(str(e)) from e
        messages = answer.get("messages") or []
        if not messages:
            raise DeliveryFailed("the assistant said nothing (is the conversation paused?)")
        if self.slack is None:  # live_conversations offers Slack only when it is set up
            raise DeliveryFailed("Slack is not configured in the hub (SLACK_BOT_TOKEN)")
        try:
            for message in messages:
                self.slack.post(
                    where,
                    slack_text(message.get("text") or ""),
                    message.get("buttons"),
                    private_to=private_to,
                )
        except (requests.RequestException, SlackApiError) as e:
            raise DeliveryFailed(f"Slack did not take the message: {e}") from e

    def run_forever(self, stop: threading.Event, idle_sleep: float = 2.0) -> None:
        """Deliver until ``stop`` is set: at once when woken by the intake, else every ``idle_sleep``."""
        while not stop.is_set():
            try:
                report = self.run_once()
            except Exception:
                # The database may be down; the events wait safely in it.
                log.exception("proactive delivery failed; trying again shortly")
                report = DeliveryReport()
            if not (report.delivered or report.held or report.waiting or report.retried):
                self.wake.wait(idle_sleep)
                self.wake.clear()
