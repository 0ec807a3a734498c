"""The hub's settings: one typed object, built from the environment and passed down."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from bot.departments import DEPARTMENTS_FILE
from bot.proactive.events import EVENTS_FILE
from bot.ratelimit import RateLimits
from bot.routing import ROUTING_FILE
from bot.settings import ROOT, Settings, seconds

DEFAULT_PORT = 8000
MAX_BODY_BYTES = 1024 * 1024  # 1 MiB: a context packet is a few kB; anything near this is abuse
SIGNATURE_TOLERANCE = 300  # seconds a signed request stays valid (replay window)
TAKEOVER_LEASE_SECONDS = 90.0  # the console renews every 20 s: a closed tab lets go in 1.5 min


@dataclass(frozen=True)
class HubSettings:
    """Where the hub listens, which journey database it serves, and where secrets come from.

    ``secrets`` is the mapping the departments' ``secret_env`` names are looked up in
    (the environment by default); ``clock`` gives unix seconds, for signatures and timestamps.
    """

    journey_url: str
    host: str = "127.0.0.1"
    port: int = DEFAULT_PORT
    departments_file: Path = DEPARTMENTS_FILE
    routing_file: Path = ROUTING_FILE
    domain_file: Path = ROOT / "domain.yml"  # its intents are what CX review can label with
    secrets: Mapping[str, str] = field(default_factory=lambda: os.environ)
    max_body_bytes: int = MAX_BODY_BYTES
    signature_tolerance: int = SIGNATURE_TOLERANCE
    access_log: bool = False
    clock: Callable[[], float] = time.time
    # The website chat: where browsers reach Rasa's socket.io channel, and the key the demo
    # storefront signs its customer tokens with (the channel checks them with the same key).
    rasa_url: str = "http://127.0.0.1:5005"
    widget_secret: str = ""
    # Mark the sign-in cookie Secure (set when a TLS proxy sits in front of the hub).
    secure_cookies: bool = False
    # The agent console: Rasa's HTTP API as the hub reaches it (pause, resume, relay) and
    # its token, and how long an agent's takeover lasts without the console renewing it.
    rasa_api_url: str = "http://127.0.0.1:5005"
    rasa_token: str = ""
    takeover_lease_seconds: float = TAKEOVER_LEASE_SECONDS
    # Failed sign-ins per username+address and per address (``CX_RATE_LOGIN_*``), and how
    # many proxies' X-Forwarded-For to trust (``CX_TRUSTED_PROXIES``). Counted on ``clock``.
    rate_limits: RateLimits = field(default_factory=RateLimits)
    # Department events (bot/proactive/): their types, the back office the customer is looked
    # up in (no back office: events are refused with 503), and whether this hub runs the
    # worker that tells customers.
    events_file: Path = EVENTS_FILE
    backoffice_url: str = ""
    backoffice_api_url: str = ""
    deliver_news: bool = True

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> HubSettings:
        """Read ``CX_HUB_HOST``/``CX_HUB_PORT`` and the shared ``CX_*`` variables (bot/settings.py)."""
        env = os.environ if env is None else env
        shared = Settings.from_env(env)
        return cls(
            journey_url=shared.journey_url,
            host=env.get("CX_HUB_HOST", shared.host),
            port=shared.hub_port,
            secrets=env,
            access_log=env.get("CX_HUB_ACCESS_LOG", "") in ("1", "true", "yes"),
            rasa_url=env.get("CX_WIDGET_RASA_URL", shared.rasa_url),
            widget_secret=shared.widget_secret,
            secure_cookies=env.get("CX_HUB_SECURE_COOKIES", "") in ("1", "true", "yes"),
            rasa_api_url=env.get("CX_RASA_API_URL", shared.rasa_url),
            rasa_token=shared.rasa_token,
            takeover_lease_seconds=seconds(
                env, "CX_TAKEOVER_LEASE_SECONDS", TAKEOVER_LEASE_SECONDS
            ),
            rate_limits=RateLimits.from_env(env),
            backoffice_url=shared.backoffice_url,
            backoffice_api_url=shared.backoffice_api_url,
            deliver_news=env.get("CX_HUB_DELIVER_NEWS", "1") not in ("0", "false", "no"),
        )
