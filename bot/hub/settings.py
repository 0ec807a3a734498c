"""The hub's settings: derived from the one ``Settings`` (bot/settings.py) and passed down."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from bot.departments import DEPARTMENTS_FILE
from bot.proactive.events import EVENTS_FILE
from bot.ratelimit import RateLimits
from bot.routing import ROUTING_FILE
from bot.settings import DEFAULT_TAKEOVER_LEASE_SECONDS, ROOT, Settings

DEFAULT_PORT = 8000
MAX_BODY_BYTES = 1024 * 1024  # 1 MiB: a context packet is a few kB; anything near this is abuse
SIGNATURE_TOLERANCE = 300  # seconds a signed request stays valid (replay window)
TAKEOVER_LEASE_SECONDS = DEFAULT_TAKEOVER_LEASE_SECONDS
# The metadata key of a field whose value ``from_settings`` takes from the shared Settings.
_FROM = "from_settings"


def derived(source: Callable[[Settings], Any], **options: Any) -> Any:
    """A field ``HubSettings.from_settings`` fills with ``source(settings)``."""
    return field(metadata={_FROM: source}, **options)


def _unless_unset(value: str | None, otherwise: str) -> str:
    """``value`` when its variable is set (even to nothing, as before), else ``otherwise``."""
    return otherwise if value is None else value


@dataclass(frozen=True)
class HubSettings:
    """Where the hub listens, which journey database it serves, and where secrets come from.

    Built from the shared ``Settings`` by ``from_settings``: each field marked ``derived``
    says which setting it is, so nothing is copied by hand. ``secrets`` is the mapping the
    departments' ``secret_env`` names are looked up in (the environment at start);
    ``clock`` gives unix seconds, for signatures and timestamps.
    """

    journey_url: str = derived(lambda s: s.journey_url)
    host: str = derived(lambda s: _unless_unset(s.hub_host, s.host), default="127.0.0.1")
    port: int = derived(lambda s: s.hub_port, default=DEFAULT_PORT)
    departments_file: Path = DEPARTMENTS_FILE
    routing_file: Path = ROUTING_FILE
    domain_file: Path = ROOT / "domain.yml"  # its intents are what CX review can label with
    secrets: Mapping[str, str] = derived(
        lambda s: s.secrets, default_factory=dict, repr=False, compare=False
    )
    max_body_bytes: int = MAX_BODY_BYTES
    signature_tolerance: int = SIGNATURE_TOLERANCE
    access_log: bool = derived(lambda s: s.hub_access_log, default=False)
    clock: Callable[[], float] = time.time
    # The website chat: where browsers reach Rasa's socket.io channel, and the key the demo
    # storefront signs its customer tokens with (the channel checks them with the same key).
    rasa_url: str = derived(
        lambda s: _unless_unset(s.widget_rasa_url, s.rasa_url), default="http://127.0.0.1:5005"
    )
    widget_secret: str = derived(lambda s: s.widget_secret, default="", repr=False)
    # Mark the sign-in cookie Secure (set when a TLS proxy sits in front of the hub).
    secure_cookies: bool = derived(lambda s: s.hub_secure_cookies, default=False)
    # The agent console: Rasa's HTTP API as the hub reaches it (pause, resume, relay) and
    # its token, and how long an agent's takeover lasts without the console renewing it.
    rasa_api_url: str = derived(
        lambda s: _unless_unset(s.rasa_api_url, s.rasa_url), default="http://127.0.0.1:5005"
    )
    rasa_token: str = derived(lambda s: s.rasa_token, default="", repr=False)
    takeover_lease_seconds: float = derived(
        lambda s: s.takeover_lease_seconds, default=TAKEOVER_LEASE_SECONDS
    )
    # Failed sign-ins per username+address and per address (``CX_RATE_LOGIN_*``), and how
    # many proxies' X-Forwarded-For to trust (``CX_TRUSTED_PROXIES``). Counted on ``clock``.
    rate_limits: RateLimits = derived(RateLimits.from_settings, default_factory=RateLimits)
    # Department events (bot/proactive/): their types, the back office the customer is looked
    # up in (no back office: events are refused with 503), and whether this hub runs the
    # worker that tells customers.
    events_file: Path = EVENTS_FILE
    backoffice_url: str = derived(lambda s: s.backoffice_url, default="")
    backoffice_api_url: str = derived(lambda s: s.backoffice_api_url, default="")
    deliver_news: bool = derived(lambda s: s.hub_deliver_news, default=True)

    @classmethod
    def from_settings(cls, settings: Settings, **overrides: Any) -> HubSettings:
        """The hub's view of ``settings``: every ``derived`` field, then ``overrides``."""
        values = {f.name: f.metadata[_FROM](settings) for f in fields(cls) if _FROM in f.metadata}
        return cls(**{**values, **overrides})

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> HubSettings:
        """``from_settings(Settings.from_env(env))``: the process environment by default."""
        return cls.from_settings(Settings.from_env(env))
