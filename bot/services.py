"""Build the services the actions use, once per process, from Settings."""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

from sqlalchemy import inspect

from bot.backoffice import BackOffice
from bot.backoffice.http import HttpBackOffice
from bot.backoffice.sql import SqlBackOffice, seed
from bot.db import make_engine
from bot.departments import load_departments
from bot.handoff import HandoffDesk
from bot.identity.access import AccessRules
from bot.identity.mail import CodeMailer
from bot.journey.migrate import migrate
from bot.routing import RoutingMap
from bot.settings import Settings

if TYPE_CHECKING:
    from bot.hub.settings import HubSettings
from bot.support import SupportDesk

_lock = threading.Lock()
_desk: SupportDesk | None = None


def build_backoffice(settings: Settings | HubSettings) -> BackOffice:
    """The company's systems over HTTP when configured, else the embedded demo (seeded once)."""
    if settings.backoffice_api_url:
        return HttpBackOffice(settings.backoffice_api_url)
    engine = make_engine(settings.backoffice_url)
    if not inspect(engine).has_table("customers"):
        seed(engine)
    return SqlBackOffice(engine)


def build_desk(settings: Settings) -> SupportDesk:
    """A SupportDesk on the configured back office and journey database."""
    journey_engine = make_engine(settings.journey_url)
    migrate(journey_engine)
    routing = RoutingMap.load()
    access = AccessRules.load(known_needs=routing)
    if not settings.identity_address_limits:
        access = access.without_address_limits()
    return SupportDesk(
        backoffice=build_backoffice(settings),
        routing=routing,
        handoffs=HandoffDesk(journey_engine, load_departments()),
        access=access,
        mailer=CodeMailer.from_settings(settings),
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
