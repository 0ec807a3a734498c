"""The composition root: every service the actions use is built here, once per process.

``build_desk`` makes the support desk from Settings (the configured databases and back
office); ``assemble_desk`` puts it together from a back office, the routing map and the
handoff desk (tests and benchmarks call it with their own). Nothing else builds a
collaborator of the desk: the desk and its handlers are given them.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import date, datetime
from typing import TYPE_CHECKING

from bot.backoffice import BackOffice
from bot.backoffice.http import HttpBackOffice
from bot.backoffice.sql import SqlBackOffice, seed_if_empty
from bot.cx_routing import CxRules
from bot.db.engine import make_engine
from bot.db.migrate import migrate
from bot.departments import load_departments
from bot.handoff import HandoffDesk
from bot.identity.access import AccessRules
from bot.identity.checks import IdentityChecks
from bot.identity.mail import CodeMailer
from bot.identity.verify import Mailer, Verifier
from bot.journey.store import JourneyStore
from bot.policies.engine import PolicyEngine
from bot.policies.moments import PolicyLog
from bot.preferences import PreferenceStore
from bot.proactive import outcomes
from bot.proactive.events import EventCatalogue
from bot.proactive.store import ProactiveStore
from bot.routing import RoutingMap
from bot.settings import Settings
from bot.support import SupportDesk, needs
from bot.support.facts import DepartmentFacts
from bot.support.outgoing import OutgoingGuard
from bot.support.stages import CustomerStages

if TYPE_CHECKING:
    from bot.hub.settings import HubSettings

_lock = threading.Lock()
_desk: SupportDesk | None = None


def build_backoffice(settings: Settings | HubSettings) -> BackOffice:
    """The company's systems over HTTP when configured, else the embedded demo (seeded once)."""
    if settings.backoffice_api_url:
        return HttpBackOffice(settings.backoffice_api_url)
    engine = make_engine(settings.backoffice_url)
    seed_if_empty(engine)  # `make run` seeds it before any process starts (bot/runner.py)
    return SqlBackOffice(engine)


def build_desk(settings: Settings) -> SupportDesk:
    """A SupportDesk on the configured back office and journey database."""
    journey_engine = make_engine(settings.journey_url)
    migrate(journey_engine)
    routing = RoutingMap.load()
    access = AccessRules.load(known_needs=routing)
    if not settings.identity_address_limits:
        access = access.without_address_limits()
    return assemble_desk(
        build_backoffice(settings),
        routing,
        HandoffDesk(journey_engine, load_departments()),
        access=access,
        mailer=CodeMailer.from_settings(settings),
    )


def assemble_desk(
    backoffice: BackOffice,
    routing: RoutingMap,
    handoffs: HandoffDesk,
    today: Callable[[], date] = date.today,
    now: Callable[[], datetime] = datetime.now,
    access: AccessRules | None = None,
    mailer: Mailer | None = None,
) -> SupportDesk:
    """The support desk and every collaborator it uses, on ``handoffs``' journey database.

    The configuration (policies.yml, proactive.yml, access.yml, routing.yml's rules) is
    loaded and checked against the needs registry here, so a mismatch stops the process at
    start-up with the file and the key, never in a conversation.
    """
    engine = handoffs.engine  # policy moments, the journey, news and facts live beside it
    access = access or AccessRules.load(known_needs=routing)
    needs.check(routing, access)
    events = EventCatalogue.load(known_options=set(needs.OPTIONS), known_needs=set(routing))
    # A handoff's outcome is told like a department's event (bot/proactive/outcomes.py).
    events.types.update(outcomes.TYPES)
    return SupportDesk(
        backoffice=backoffice,
        routing=routing,
        handoffs=handoffs,
        policies=PolicyEngine.load(known_options=needs.OPTIONS),
        policy_log=PolicyLog(engine, now),
        journey=JourneyStore(engine, now),
        preferences=PreferenceStore(engine, now),
        events=events,
        proactive=ProactiveStore(engine, now),
        facts=DepartmentFacts(engine),
        cx_rules=CxRules.load(),
        stages=CustomerStages(backoffice, routing, today),
        today=today,
        now=now,
        access=access,
        verifier=Verifier(backoffice, IdentityChecks(engine, access, now), mailer),
        outgoing=OutgoingGuard(),
    )


def desk() -> SupportDesk:
    """The process-wide SupportDesk, built on first use (never at import time)."""
    global _desk
    with _lock:
        if _desk is None:
            _desk = build_desk(Settings.from_env())
        return _desk


def reset() -> None:
    """Forget the process-wide desk (tests point the settings elsewhere)."""
    global _desk
    with _lock:
        _desk = None
