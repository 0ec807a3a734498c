"""One typed settings object, built from the environment and passed down explicitly."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# Each process's metrics port is CX_METRICS_PORT plus its offset (bot/metrics.py).
METRICS_OFFSETS = {"rasa": 0, "actions": 1, "hub": 2, "dispatcher": 3}
DEFAULT_METRICS_PORT = 9400


@dataclass(frozen=True)
class Settings:
    """Where things live and how the processes reach each other."""

    root: Path
    var_dir: Path
    backoffice_url: str
    backoffice_api_url: (
        str  # when set, the back office is reached over HTTP (bot/backoffice/http.py)
    )
    journey_url: str
    host: str
    rasa_port: int
    action_port: int
    rasa_token: str
    hub_port: int = 8000
    # The website chat (bot/channels/web.py): the key its tokens are signed with, the one
    # before a rotation (still accepted), and the web origins allowed to connect.
    widget_secret: str = ""
    widget_previous_secret: str = ""
    widget_origins: tuple[str, ...] = ()
    # Conversations that ended more than this many days ago are deleted with everything
    # attached (bot/journey/privacy.py); None keeps everything.
    retention_days: int | None = None
    # Rasa's SQL tracker store as a SQLAlchemy URL (e.g. postgresql://user@host/db); empty
    # keeps endpoints.yml's own (an SQLite file in var/).
    tracker_url: str = ""
    # Rasa's Redis lock store (e.g. redis://:password@host:6379/0): set it whenever more
    # than one Rasa process serves the same conversations (deploy/README.md); empty keeps
    # Rasa's in-memory lock store, right for one Rasa process only.
    lock_url: str = ""
    # Prepended to the lock store's Redis keys, so deployments sharing a Redis stay apart.
    # Rasa ignores (with a warning) a prefix that is not alphanumeric, so it is checked here.
    lock_key_prefix: str = ""
    # Seconds a conversation's lock ticket lives unless its Rasa server renews it
    # (bot/lock_store.py): how long a dead server can hold a conversation.
    lock_lifetime: float = 8.0
    # The action server's URL as Rasa calls it, when it is not this host's action port: a
    # load balancer in front of several (http://127.0.0.1:5054/webhook) or another machine.
    action_endpoint_url: str = ""
    # Where one-time verification codes are emailed from (bot/identity/mail.py):
    # smtp://[user[:password]@]host:port, or smtp+starttls://... for STARTTLS. Empty: `make
    # run` starts a local mail catcher on mail_port that saves every message under var/mail/.
    # Kept out of repr: the URL may carry the password.
    smtp_url: str = field(default="", repr=False)
    smtp_password: str = field(default="", repr=False)  # wins over one in smtp_url
    mail_from: str = "support@localhost"
    mail_port: int = 8025  # the local mail catcher's

    # The limits on identity checks per client address (bot/config/access.yml); "off" for a
    # test system whose every client is 127.0.0.1. The per-conversation limits always hold.
    identity_address_limits: bool = True

    # Prometheus metrics (bot/metrics.py): the first port (each process adds its offset,
    # METRICS_OFFSETS; 0 turns metrics off), the port of this one process when the runner
    # gives it one of its own (a scale-out), and the address they listen on (loopback).
    metrics_port: int = DEFAULT_METRICS_PORT
    metrics_own_port: int = 0
    metrics_host: str = "127.0.0.1"

    # Threads the action server runs synchronous actions in (bot/action_threads.py): how many
    # database and back-office calls may wait at once without stalling the others.
    action_threads: int = 8

    @property
    def hub_url(self) -> str:
        return f"http://{self.host}:{self.hub_port}"

    @property
    def widget_secrets(self) -> tuple[str, ...]:
        """Secrets a widget token may be signed with, the current one first."""
        return tuple(s for s in (self.widget_secret, self.widget_previous_secret) if s)

    @property
    def allowed_widget_origins(self) -> tuple[str, ...]:
        """Web pages allowed to open the chat: ``CX_WIDGET_ORIGINS``, else the hub's own."""
        if self.widget_origins:
            return self.widget_origins
        hosts = [self.host] + (["localhost"] if self.host == "127.0.0.1" else [])
        return tuple(f"http://{h}:{self.hub_port}" for h in hosts)

    def metrics_port_of(self, role: str) -> int | None:
        """The metrics port of this process in ``role`` (METRICS_OFFSETS), None when off."""
        if not self.metrics_port:
            return None
        return self.metrics_own_port or self.metrics_port + METRICS_OFFSETS[role]

    @property
    def rasa_url(self) -> str:
        return f"http://{self.host}:{self.rasa_port}"

    @property
    def action_url(self) -> str:
        return f"http://{self.host}:{self.action_port}/webhook"

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        """Read ``CX_*`` variables; every default is the embedded, single-machine set-up."""
        env = os.environ if env is None else env
        root = Path(env.get("CX_ROOT", ROOT))
        var_dir = Path(env.get("CX_VAR_DIR", root / "var"))
        return cls(
            root=root,
            var_dir=var_dir,
            backoffice_url=env.get("CX_BACKOFFICE_URL", f"sqlite:///{var_dir / 'backoffice.db'}"),
            backoffice_api_url=env.get("CX_BACKOFFICE_API_URL", ""),
            journey_url=env.get("CX_JOURNEY_URL", f"sqlite:///{var_dir / 'journey.db'}"),
            host=env.get("CX_HOST", "127.0.0.1"),
            rasa_port=_port(env, "CX_RASA_PORT", 5005),
            action_port=_port(env, "CX_ACTION_PORT", 5055),
            rasa_token=env.get("CX_RASA_TOKEN", ""),
            hub_port=_port(env, "CX_HUB_PORT", 8000),
            widget_secret=env.get("CX_WIDGET_SECRET", ""),
            widget_previous_secret=env.get("CX_WIDGET_SECRET_PREVIOUS", ""),
            widget_origins=tuple(
                o.strip().rstrip("/")
                for o in env.get("CX_WIDGET_ORIGINS", "").split(",")
                if o.strip()
            ),
            retention_days=_retention_days(env),
            tracker_url=env.get("CX_TRACKER_URL", ""),
            lock_url=env.get("CX_LOCK_URL", ""),
            lock_key_prefix=_lock_key_prefix(env),
            lock_lifetime=seconds(env, "CX_LOCK_LIFETIME", 8.0, minimum=2.0),
            action_endpoint_url=env.get("CX_ACTION_URL", ""),
            smtp_url=env.get("CX_SMTP_URL", "").strip(),
            smtp_password=env.get("CX_SMTP_PASSWORD", ""),
            mail_from=env.get("CX_MAIL_FROM", "").strip() or "support@localhost",
            mail_port=_port(env, "CX_MAIL_PORT", 8025),
            identity_address_limits=env.get("CX_IDENTITY_ADDRESS_LIMITS", "on").strip().lower()
            != "off",
            metrics_port=_optional_port(env, "CX_METRICS_PORT", DEFAULT_METRICS_PORT),
            metrics_own_port=_optional_port(env, "CX_METRICS_OWN_PORT", 0),
            metrics_host=env.get("CX_METRICS_HOST", "").strip() or "127.0.0.1",
            action_threads=_count(env, "CX_ACTION_THREADS", 8),
        )


def _lock_key_prefix(env: Mapping[str, str]) -> str:
    prefix = env.get("CX_LOCK_KEY_PREFIX", "").strip()
    if prefix and not prefix.isalnum():
        raise ValueError(
            f"CX_LOCK_KEY_PREFIX={prefix!r}: Rasa's Redis lock store takes letters and digits only"
        )
    return prefix


def seconds(env: Mapping[str, str], key: str, default: float, minimum: float = 0.0) -> float:
    """Setting ``key`` as a number of seconds, more than ``minimum`` (0) or at least it
    (when not 0); ``default`` when unset."""
    raw = env.get(key, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ValueError(f"{key}={raw!r} is not a number of seconds") from None
    if value < minimum or value <= 0:
        least = f"at least {minimum:g}" if minimum else "more than 0"
        raise ValueError(f"{key}={raw!r} must be {least} seconds")
    return value


def _retention_days(env: Mapping[str, str]) -> int | None:
    raw = env.get("CX_RETENTION_DAYS", "").strip()
    if not raw:
        return None
    try:
        days = int(raw)
    except ValueError:
        raise ValueError(f"CX_RETENTION_DAYS={raw!r} is not a number of days") from None
    if days < 1:
        raise ValueError(f"CX_RETENTION_DAYS={days}: keep at least 1 day, or leave it unset")
    return days


def _count(env: Mapping[str, str], key: str, default: int) -> int:
    """A whole number of at least 1; ``default`` when unset."""
    raw = env.get(key, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ValueError(f"{key}={raw!r} is not a whole number") from None
    if value < 1:
        raise ValueError(f"{key}={value} must be at least 1")
    return value


def _port(env: Mapping[str, str], key: str, default: int) -> int:
    raw = env.get(key, str(default))
    try:
        port = int(raw)
    except ValueError:
        raise ValueError(f"{key}={raw!r} is not a port number") from None
    if not 0 < port < 65536:
        raise ValueError(f"{key}={port} is outside 1-65535")
    return port


def _optional_port(env: Mapping[str, str], key: str, default: int) -> int:
    """A port, or 0 (off) when set to 0 or to nothing."""
    raw = env.get(key, str(default)).strip()
    if raw in ("", "0"):
        return 0
    return _port({key: raw}, key, default)
