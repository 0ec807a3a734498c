"""An AgentDesk on a fresh journey database, against a fake Rasa and a fake Slack on real sockets."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import pytest

from bot.agents import AgentDesk, RasaApi
from bot.agents.queue import Holder
from bot.agents.relay import Relay
from bot.departments import load_departments
from bot.handoff import HandoffDesk, HandoffRequest
from bot.hub.accounts import Accounts
from bot.hub.store import HubStore
from bot.journey.store import JourneyStore, Turn
from bot.rasa.channels.slack_api import SlackWebApi
from tests.fakes.clock import Clock
from tests.fakes.rasa import FakeRasa
from tests.fakes.slack import FakeSlack

NOW = datetime(2025, 3, 12, 10, 0)  # a Wednesday: support works 08:00-22:00
LEASE = timedelta(seconds=90)
PASSWORD = "a long enough test password"


@dataclass
class Setting:
    """Everything a desk test touches."""

    desk: AgentDesk
    rasa: FakeRasa
    slack: FakeSlack
    clock: Clock
    engine: object

    def agent(self, username: str, name: str) -> Holder:
        user = Accounts(self.engine).add(username, PASSWORD, "agent", name)
        return Holder(user.id, user.username, user.display_name)

    def escalate(
        self,
        conversation_id: str,
        channel: str = "socketio",
        *,
        customer: str | None = None,
        name: str | None = None,
        tier: str | None = None,
        frustration: int = 0,
        need: str = "request_human",
        priority: str = "normal",
        said: str = "I want to talk to a person",
    ) -> int:
        """A conversation as the assistant leaves it when it escalates: touchpoint + handoff."""
        now = self.clock()
        JourneyStore(self.engine, self.clock).record(
            Turn(
                conversation_id=conversation_id,
                channel=channel,
                session_started_at=now,
                customer_id=customer,
                customer_name=name,
                tier=tier,
                need=need,
                department="support",
                outcome="escalated",
            )
        )
        packet = {
            "need": need,
            "customer": {"id": customer, "name": name, "tier": tier} if customer else {},
            "customer_said": said,
            "transcript": [f"customer: {said}"],
            "signals": {"frustration": frustration},
        }
        handoff = HandoffDesk(self.engine, self.desk.departments, self.clock).hand_off(
            HandoffRequest(
                department="support",
                need=need,
                conversation_id=conversation_id,
                summary=f"{name or 'A visitor'} asked for a person.",
                channel=channel,
                customer_id=customer,
                priority=priority,
                context=packet,
            )
        )
        self.rasa.customer_says(conversation_id, said, channel)
        return handoff.id


@pytest.fixture
def clock() -> Clock:
    return Clock(NOW)


@pytest.fixture
def rasa(clock):
    with FakeRasa(clock=lambda: clock.now.timestamp()) as fake:
        yield fake


@pytest.fixture
def slack():
    with FakeSlack() as fake:
        yield fake


@pytest.fixture
def setting(journey_engine, rasa, slack, clock) -> Setting:
    relay = Relay(RasaApi(rasa.url, rasa.token), SlackWebApi(slack.token, slack.url))
    desk = AgentDesk(
        journey_engine,
        relay,
        load_departments(),
        HubStore(journey_engine, clock),
        now=clock,
        lease=LEASE,
    )
    return Setting(desk, rasa, slack, clock, journey_engine)
