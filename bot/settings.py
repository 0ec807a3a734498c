"""One typed settings object, built from the environment in one place and passed down.

Every environment variable the assistant reads is declared here, once: its name, its
default and why it exists. This module is the only one that touches the process
environment (tests/test_settings_one_place.py checks bot/ and actions/ for ``os.environ``
and ``os.getenv``): ``Settings.from_env()`` reads it, ``child_process_env()`` copies it
for a child process, ``quiet_tensorflow()`` sets TensorFlow's log level in it. Every other
module is handed a ``Settings``, a value taken from one, or its ``secrets`` mapping by
whoever calls it. The process entry points
(``python -m bot``, the hub, the action server, the dispatcher, and the Rasa-side channels
Rasa builds from credentials.yml) are the ones that call ``Settings.from_env()``.

Why a frozen dataclass and not pydantic's ``BaseSettings`` (1.10 is installed): several
defaults derive from other variables (``CX_VAR_DIR`` from ``CX_ROOT``, the database URLs
from ``CX_VAR_DIR``, the hub's address from ``CX_HOST``), each bad value already has an
error message that names the variable and says what to do (tests and operators rely on
them), and ``BaseSettings(...)`` reads ``os.environ`` again on every construction, so a
test or a derived ``replace(settings, ...)`` would pick up whatever the shell happens to
hold. A dataclass with one ``from_env(env)`` keeps the reading in one visible function.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# Each process's metrics port is CX_METRICS_PORT plus its offset (bot/monitoring.py).
METRICS_OFFSETS = {"rasa": 0, "actions": 1, "hub": 2, "dispatcher": 3}
DEFAULT_METRICS_PORT = 9400

# Rasa stops waiting for the action server after this long and answers itself
# (bot/rasa/action_faults.py).
ACTION_TIMEOUT_ENV = "CX_ACTION_TIMEOUT_SECONDS"
DEFAULT_ACTION_TIMEOUT_SECONDS = 5.0
# Rasa -> action server: the shared secret the action server checks (bot/rasa/action_server.py).
ACTION_SECRET_ENV = "CX_ACTION_SECRET"
# Rasa sends the whole tracker on every call: long chats with long messages reach a few MB.
ACTION_MAX_BODY_ENV = "CX_ACTION_MAX_BODY_BYTES"
DEFAULT_ACTION_MAX_BODY_BYTES = 32 * 1024 * 1024
# The largest request body the Rasa server reads (413 beyond it): a chat message is cut at
# 20,000 characters (bot/rasa/channels/rest.py), and /model/train's data is well under this.
RASA_MAX_BODY_ENV = "CX_RASA_MAX_BODY_BYTES"
DEFAULT_RASA_MAX_BODY_BYTES = 4 * 1024 * 1024
# The console renews a takeover every 20 s: a closed tab lets go in 1.5 min (bot/hub/).
TAKEOVER_LEASE_ENV = "CX_TAKEOVER_LEASE_SECONDS"
DEFAULT_TAKEOVER_LEASE_SECONDS = 90.0

# Rate limits of the public endpoints (bot/ratelimit.py), each ``N/WINDOW`` or ``off``:
# RateLimits field -> the variable that sets it.
RATE_ENV = {
    "conversation": "CX_RATE_CONVERSATION",  # messages per conversation
    "ip": "CX_RATE_IP",  # messages per client address
    "connect_ip": "CX_RATE_CONNECT_IP",  # website chat connections per client address
    "slack_user": "CX_RATE_SLACK_USER",  # messages per Slack user
    "slack_team": "CX_RATE_SLACK_TEAM",  # messages per Slack workspace
    "login_failures": "CX_RATE_LOGIN_FAILURES",  # failed hub sign-ins per username+address
    "login_ip_failures": "CX_RATE_LOGIN_IP_FAILURES",  # failed hub sign-ins per address
}

# The Slack app's variables, as credentials.yml names them by default (bot/rasa/channels/slack.py;
# credentials.yml may name others, looked up in ``Settings.secrets``). The hub posts agents'
# replies with the same token at the same Web API URL (bot/rasa/channels/slack_api.py).
SLACK_TOKEN_ENV = "SLACK_BOT_TOKEN"
SLACK_SIGNING_SECRET_ENV = "SLACK_SIGNING_SECRET"  # and SLACK_SIGNING_SECRET_PREVIOUS
SLACK_API_URL_ENV = "SLACK_API_URL"  # Enterprise Grid, GovSlack, tests; default slack.com
SLACK_CHANNEL_ENV = "SLACK_CHANNEL"

# Department webhook secrets are named by bot/config/departments.yml (``secret_env``,
# default this prefix + the department's name, bot/departments.py), since each department
# has its own; they are looked up in ``Settings.secrets``, and ``<name>_PREVIOUS`` holds
# the one a rotation replaced.
WEBHOOK_SECRET_PREFIX = "CX_WEBHOOK_SECRET_"
# Read by Rasa, not by us: endpoints.yml names ``${CX_ACTION_SECRET}`` and
# ``${CX_LOCK_PASSWORD}``, so secrets stay out of the files; bot/runner.py writes the
# password (taken from CX_LOCK_URL) into the Rasa server's environment.
LOCK_PASSWORD_ENV = "CX_LOCK_PASSWORD"


@dataclass(frozen=True)
class Settings:
    """Where things live, how the processes reach each other, and every other setting."""

    # CX_ROOT: the checkout (config.yml, domain.yml, endpoints.yml, models/); CX_VAR_DIR
    # (default <root>/var): everything a run writes, so a test or a second instance can
    # keep its own.
    root: Path
    var_dir: Path
    # CX_BACKOFFICE_URL: the demo back office's database (default an SQLite file in var/);
    # CX_BACKOFFICE_API_URL: when set, the company's back office reached over HTTP instead
    # (bot/backoffice/http.py).
    backoffice_url: str
    backoffice_api_url: str
    # CX_JOURNEY_URL: our own database (journeys, handoffs, hub users), SQLite in var/ by
    # default, PostgreSQL when several processes or machines share it.
    journey_url: str
    # CX_HOST, CX_RASA_PORT (5005), CX_ACTION_PORT (5055), CX_HUB_PORT (8000): where the
    # processes listen and reach each other; loopback by default, so nothing is exposed
    # until the operator says so.
    host: str
    rasa_port: int
    action_port: int
    # Rasa's API token (``rasa run --auth-token``): the hub, `python -m bot forget` and the
    # erasure route use it. Secrets are kept out of repr, so a logged Settings leaks none.
    rasa_token: str = field(repr=False)
    hub_port: int = 8000
    # The website chat (bot/rasa/channels/web.py): the key its tokens are signed with, the one
    # before a rotation (still accepted), and the web origins allowed to connect.
    widget_secret: str = field(default="", repr=False)
    widget_previous_secret: str = field(default="", repr=False)
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
    # (bot/rasa/lock_store.py): how long a dead server can hold a conversation.
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

    # Prometheus metrics (bot/monitoring.py): the first port (each process adds its offset,
    # METRICS_OFFSETS; 0 turns metrics off), the port of this one process when the runner
    # gives it one of its own (a scale-out), and the address they listen on (loopback).
    metrics_port: int = DEFAULT_METRICS_PORT
    metrics_own_port: int = 0
    metrics_host: str = "127.0.0.1"

    # Threads the action server runs synchronous actions in (bot/rasa/action_threads.py): how many
    # database and back-office calls may wait at once without stalling the others.
    action_threads: int = 8
    # How long Rasa waits for the action server before it answers the customer itself
    # (CX_ACTION_TIMEOUT_SECONDS).
    action_timeout_seconds: float = DEFAULT_ACTION_TIMEOUT_SECONDS
    # The secret Rasa's calls to the action server carry (CX_ACTION_SECRET); empty: anyone
    # may call it, and the action server warns.
    action_secret: str = field(default="", repr=False)
    action_max_body_bytes: int = DEFAULT_ACTION_MAX_BODY_BYTES  # CX_ACTION_MAX_BODY_BYTES
    # Where the action server listens (SANIC_HOST: rasa_sdk binds 0.0.0.0 unless told; the
    # runner sets it to ``host``).
    action_server_host: str = "127.0.0.1"
    rasa_max_body_bytes: int = DEFAULT_RASA_MAX_BODY_BYTES  # CX_RASA_MAX_BODY_BYTES

    # The hub (bot/hub/settings.py derives HubSettings from these). CX_HUB_HOST: where it
    # listens when not ``host``. CX_HUB_ACCESS_LOG: log every request. CX_WIDGET_RASA_URL /
    # CX_RASA_API_URL: where browsers reach Rasa's socket.io channel and where the hub
    # reaches Rasa's HTTP API when not ``rasa_url`` (a proxy, a container name); None for
    # the three means unset. CX_HUB_SECURE_COOKIES: the Secure cookie flag, behind TLS.
    # CX_TAKEOVER_LEASE_SECONDS: how long an agent's takeover lasts unrenewed.
    # CX_HUB_DELIVER_NEWS: whether this hub runs the worker that tells customers department
    # news (one hub of several). CX_HUB_ADMIN_PASSWORD: the first admin's (`make run`
    # generates one into var/secrets.env).
    hub_host: str | None = None
    hub_access_log: bool = False
    widget_rasa_url: str | None = None
    rasa_api_url: str | None = None
    hub_secure_cookies: bool = False
    takeover_lease_seconds: float = DEFAULT_TAKEOVER_LEASE_SECONDS
    hub_deliver_news: bool = True
    hub_admin_password: str = field(default="", repr=False)

    # Rate limits (bot/ratelimit.py parses them: RateLimits.from_settings): the ``N/WINDOW``
    # text of each one set (RATE_ENV), how many reverse proxies' X-Forwarded-For to trust
    # (0: the socket's peer, since any client can forge the header), and the Redis every
    # process counts in together (empty: each process counts in its own memory).
    rates: tuple[tuple[str, str], ...] = ()
    trusted_proxies: int = 0
    rate_redis_url: str = ""

    # The environment as it was read: department webhook secrets (departments.yml's
    # ``secret_env``) and the Slack app's variables (credentials.yml may rename them) are
    # looked up in it by name, since their names are data, not code. Out of repr and
    # comparisons: it holds secrets.
    secrets: Mapping[str, str] = field(default_factory=dict, repr=False, compare=False)

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
        """Read every setting from ``env`` (the process environment by default); every
        default is the embedded, single-machine set-up. A bad value raises ValueError
        naming the variable."""
        env = dict(os.environ) if env is None else env
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
            action_timeout_seconds=seconds(env, ACTION_TIMEOUT_ENV, DEFAULT_ACTION_TIMEOUT_SECONDS),
            action_secret=env.get(ACTION_SECRET_ENV, ""),
            action_max_body_bytes=_bytes(env, ACTION_MAX_BODY_ENV, DEFAULT_ACTION_MAX_BODY_BYTES),
            action_server_host=env.get("SANIC_HOST", "127.0.0.1"),
            rasa_max_body_bytes=_bytes(env, RASA_MAX_BODY_ENV, DEFAULT_RASA_MAX_BODY_BYTES),
            hub_host=env.get("CX_HUB_HOST"),
            hub_access_log=env.get("CX_HUB_ACCESS_LOG", "") in ("1", "true", "yes"),
            widget_rasa_url=env.get("CX_WIDGET_RASA_URL"),
            rasa_api_url=env.get("CX_RASA_API_URL"),
            hub_secure_cookies=env.get("CX_HUB_SECURE_COOKIES", "") in ("1", "true", "yes"),
            takeover_lease_seconds=seconds(env, TAKEOVER_LEASE_ENV, DEFAULT_TAKEOVER_LEASE_SECONDS),
            hub_deliver_news=env.get("CX_HUB_DELIVER_NEWS", "1") not in ("0", "false", "no"),
            hub_admin_password=env.get("CX_HUB_ADMIN_PASSWORD", ""),
            rates=tuple((attr, env[key]) for attr, key in RATE_ENV.items() if env.get(key)),
            trusted_proxies=_trusted_proxies(env),
            rate_redis_url=env.get("CX_RATE_REDIS_URL", "").strip(),
            secrets=env,
        )


def child_process_env() -> dict[str, str]:
    """The environment a child process starts from: this process's own, whole (PATH, HOME,
    the operator's secrets), for the runner and training to add to, never to read settings
    from."""
    return dict(os.environ)


def quiet_tensorflow() -> None:
    """Hide TensorFlow's C++ info and warning lines (it reads TF_CPP_MIN_LOG_LEVEL as it
    loads), unless the operator asked for another level."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def _bytes(env: Mapping[str, str], key: str, default: int) -> int:
    raw = env.get(key, "")
    if not raw:
        return default
    try:
        return int(raw)
    except ValueError:
        raise ValueError(f"{key}={raw!r} is not a number of bytes") from None


def _trusted_proxies(env: Mapping[str, str]) -> int:
    raw = env.get("CX_TRUSTED_PROXIES", "0").strip() or "0"
    if not raw.isdigit():
        raise ValueError(f"CX_TRUSTED_PROXIES={raw!r} must be a number of proxies (0, 1...)")
    return int(raw)


def _lock_key_prefix(env: Mapping[str, str]) -> str:
    prefix = env.get("CX_LOCK_KEY_PREFIX", "").strip()
    if prefix and not prefix.isalnum():
        raise ValueError(
            f"CX_LOCK_KEY_PREFIX={prefix!r}: Rasa's Redis lock store takes letters and digits only"
        )
    return prefix


def seconds(env: Mapping[str, str], key: str, default: float, minimum: float = 0.0) -> float:
    """Setting ``key`` as a finite number of seconds, more than ``minimum`` (0) or at least
    it (when not 0); ``default`` when unset."""
    raw = env.get(key, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        value = math.nan
    if not math.isfinite(value):  # "inf" and "nan" parse, but are no wait at all
        raise ValueError(f"{key}={raw!r} is not a number of seconds")
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
