"""Build the services the actions use, once per process, from Settings."""

from __future__ import annotations

import threading

from sqlalchemy import inspect

from bot.backoffice.sql import SqlBackOffice, seed
from bot.db import make_engine
from bot.departments import load_departments
from bot.handoff import HandoffDesk
from bot.routing import RoutingMap
from bot.settings import Settings
from bot.support import SupportDesk

_lock = threading.Lock()
_desk: SupportDesk | None = None


def build_desk(settings: Settings) -> SupportDesk:
    """A SupportDesk on the configured databases; seeds the demo back office if it is empty."""
    backoffice_engine = make_engine(settings.backoffice_url)
    if not inspect(backoffice_engine).has_table("customers"):
        seed(backoffice_engine)
    journey_engine = make_engine(settings.journey_url)
    return SupportDesk(
        backoffice=SqlBackOffice(backoffice_engine),
        routing=RoutingMap.load(),
        handoffs=HandoffDesk(journey_engine, load_departments()),
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
