"""The hub's settings: one typed object, built from the environment and passed down."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from bot.departments import DEPARTMENTS_FILE
from bot.routing import ROUTING_FILE
from bot.settings import Settings

DEFAULT_PORT = 8000
MAX_BODY_BYTES = 1024 * 1024  # 1 MiB: a context packet is a few kB; anything near this is abuse
SIGNATURE_TOLERANCE = 300  # seconds a signed request stays valid (replay window)


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
        )
