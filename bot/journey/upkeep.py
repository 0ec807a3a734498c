"""The background worker: deliver handoffs from the outbox, close chats left idle.

``python -m bot dispatch`` (started by ``make run``) runs both until stopped. The
dispatcher's own loop (bot/handoff/dispatcher.py) sends handoffs; a second thread closes
touchpoints idle past Rasa's session expiry as ``abandoned`` unless they were resolved, and
with ``CX_RETENTION_DAYS`` a third deletes conversations older than that once an hour.
"""

from __future__ import annotations

import logging
import signal
import threading
from datetime import timedelta

import yaml

from bot.db.engine import make_engine
from bot.db.migrate import migrate
from bot.handoff.dispatcher import run_dispatcher
from bot.journey.store import JourneyStore
from bot.redaction import install_log_redaction, keep_tensorflow_out, redactor
from bot.settings import Settings

log = logging.getLogger(__name__)
SWEEP_EVERY = 60.0  # seconds between idle sweeps
RETENTION_EVERY = 3600.0  # seconds between retention sweeps


def session_expiry(settings: Settings) -> timedelta:
    """Rasa's session expiry from domain.yml: silence after which a chat is over."""
    domain = yaml.safe_load((settings.root / "domain.yml").read_text(encoding="utf-8"))
    minutes = (domain.get("session_config") or {}).get("session_expiration_time", 60)
    return timedelta(minutes=float(minutes))


def sweep_idle(store: JourneyStore, idle: timedelta, stop: threading.Event) -> None:
    """Close idle touchpoints every minute until ``stop`` is set."""
    while not stop.is_set():
        try:
            closed = store.close_idle(idle)
            if closed:
                log.info("closed %d idle conversation(s)", closed)
        except Exception:  # a database hiccup must not end the worker
            log.exception("idle sweep failed; trying again in %.0f s", SWEEP_EVERY)
        stop.wait(SWEEP_EVERY)


def sweep_retention(settings: Settings, stop: threading.Event) -> None:
    """Delete what is older than ``settings.retention_days``, hourly, until ``stop``."""
    from bot.journey.privacy import apply_retention
    from bot.journey.rasa_tracker import tracker_store_url

    engine = make_engine(settings.journey_url)
    url = tracker_store_url(settings)
    tracker = make_engine(url) if url else None
    if tracker is None:
        log.warning("retention: Rasa's tracker store is not SQL; set CX_TRACKER_URL to sweep it")
    while not stop.is_set():
        try:
            done = apply_retention(engine, settings.retention_days or 0, tracker)
            if done.total:
                log.info("retention: deleted %d row(s) older than %s", done.total, done.cutoff)
        except Exception:  # a database hiccup must not end the worker
            log.exception("retention sweep failed; trying again in %.0f s", RETENTION_EVERY)
        stop.wait(RETENTION_EVERY)


def run_upkeep(settings: Settings) -> int:
    """Run the dispatcher and the idle sweep until SIGINT/SIGTERM."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    keep_tensorflow_out()  # no model here: spaCy (for the redactor) loads in 2 s
    install_log_redaction()  # no email, phone or card number in the dispatcher's log
    redactor()  # built now rather than on the first log line that needs it
    engine = make_engine(settings.journey_url)
    migrate(engine)
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    sweeper = threading.Thread(
        target=sweep_idle,
        args=(JourneyStore(engine), session_expiry(settings), stop),
        name="idle-sweep",
        daemon=True,
    )
    sweeper.start()
    if settings.retention_days:
        threading.Thread(
            target=sweep_retention, args=(settings, stop), name="retention", daemon=True
        ).start()
        log.info("retention: conversations older than %d days are deleted", settings.retention_days)
    log.info("handoff dispatcher started (hub at %s)", settings.hub_url)
    run_dispatcher(settings.journey_url, stop, hub_url=settings.hub_url, secrets=settings.secrets)
    sweeper.join(timeout=5)
    return 0
