"""The departments a need is handed to, with their channel, service level, hours and webhook."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from pathlib import Path
from urllib.parse import urlsplit

from bot.config import CONFIG_DIR, ConfigError, load_yaml, require
from bot.settings import WEBHOOK_SECRET_PREFIX

DEPARTMENTS_FILE = CONFIG_DIR / "departments.yml"
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_HHMM = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")
_ENV_NAME = re.compile(r"^[A-Z][A-Z0-9_]*$")

# The hub serves the built-in department inbox; its address fills "{hub_url}" in webhook URLs.
DEFAULT_HUB_URL = "http://127.0.0.1:8000"
HUB_URL_PLACEHOLDER = "{hub_url}"
# Appended to a secret's variable name for the secret it replaced, accepted during a rotation.
PREVIOUS_SUFFIX = "_PREVIOUS"


class MissingSecretError(RuntimeError):
    """A department's webhook signing secret is not set in the environment."""


def inbox_url(name: str, hub_url: str = DEFAULT_HUB_URL) -> str:
    """The hub's built-in inbox URL for a department without a system of its own."""
    return f"{hub_url.rstrip('/')}/api/departments/{name}/handoffs"


def default_secret_env(name: str) -> str:
    """The environment variable holding a department's webhook secret: CX_WEBHOOK_SECRET_<NAME>."""
    return WEBHOOK_SECRET_PREFIX + re.sub(r"[^A-Z0-9]", "_", name.upper())


@dataclass(frozen=True)
class Department:
    """One team: how it answers the customer, and how fast it promises to."""

    name: str
    title: str
    channel: str
    sla_hours: int
    days: tuple[str, ...]
    start: time
    end: time
    # Where handoffs are POSTed (signed); empty means the hub's built-in inbox for this team.
    webhook_url: str = ""
    # The name of the environment variable holding the signing secret, never the secret itself.
    secret_env: str = ""

    def __post_init__(self):
        # Departments built in code (tests, older call sites) get the same defaults as the YAML.
        if not self.webhook_url:
            object.__setattr__(self, "webhook_url", inbox_url(self.name))
        if not self.secret_env:
            object.__setattr__(self, "secret_env", default_secret_env(self.name))

    def webhook_secret(self, secrets: Mapping[str, str]) -> str:
        """The signing secret from ``secrets`` (the settings' ``secrets``: the environment as
        it was read), or MissingSecretError naming the variable."""
        secret = secrets.get(self.secret_env, "")
        if not secret:
            raise MissingSecretError(
                f"department {self.name!r}: webhook signing secret is not set; set the environment "
                f"variable {self.secret_env} (make run generates local values into var/)"
            )
        return secret

    @property
    def previous_secret_env(self) -> str:
        """The variable holding the secret before a rotation: ``<secret_env>_PREVIOUS``."""
        return self.secret_env + PREVIOUS_SUFFIX

    def webhook_secrets(self, secrets: Mapping[str, str]) -> tuple[str, ...]:
        """The secrets a request from or to this department may be signed with, current first.

        The previous secret (``<secret_env>_PREVIOUS``) is accepted while it is set, so a
        rotation has an overlap window; signing always uses the current one. Raises
        MissingSecretError when the current secret is not set, even if the previous one is.
        """
        current = self.webhook_secret(secrets)
        previous = secrets.get(self.previous_secret_env, "")
        return (current, previous) if previous and previous != current else (current,)

    def is_open(self, at: datetime) -> bool:
        return WEEKDAYS[at.weekday()] in self.days and self.start <= at.time() < self.end

    def next_opening(self, at: datetime) -> datetime:
        """``at`` itself when open, else the next moment the team starts work."""
        if self.is_open(at):
            return at
        for offset in range(8):
            day = (at + timedelta(days=offset)).date()
            if WEEKDAYS[day.weekday()] not in self.days:
                continue
            opening = datetime.combine(day, self.start)
            if opening >= at or (offset == 0 and at.time() < self.start):
                return opening
        raise ConfigError(f"department {self.name} has no working days")

    def promise(self, at: datetime) -> str:
        """When the customer will hear back, in words: 'within 24 hours' or 'on Monday from 09:00'."""
        if self.is_open(at):
            return f"within {_hours(self.sla_hours)}"
        opening = self.next_opening(at)
        day = (
            "today"
            if opening.date() == at.date()
            else (
                "tomorrow"
                if opening.date() == at.date() + timedelta(days=1)
                else opening.strftime("%A")
            )
        )
        return f"{day} from {opening:%H:%M}, within {_hours(self.sla_hours)} of opening"


def _hours(n: int) -> str:
    return "1 hour" if n == 1 else f"{n} hours"


def load_departments(
    path: Path = DEPARTMENTS_FILE, hub_url: str = DEFAULT_HUB_URL
) -> dict[str, Department]:
    """Read departments.yml, validating every key with errors naming the file and key.

    ``hub_url`` replaces ``{hub_url}`` in webhook URLs, so the hub's port stays configurable.
    """
    data = load_yaml(path)
    entries = require(data, "departments", path, "top level", dict)
    result = {}
    for name, spec in entries.items():
        where = f"departments.{name}"
        if not isinstance(spec, dict):
            raise ConfigError(f"{path}: {where}: expected a mapping")
        hours = require(spec, "hours", path, where, dict)
        days = require(hours, "days", path, f"{where}.hours", list)
        bad = [d for d in days if d not in WEEKDAYS]
        if bad or not days:
            raise ConfigError(
                f"{path}: {where}.hours.days: expected some of {', '.join(WEEKDAYS)}, got {days!r}"
            )
        sla = require(spec, "sla_hours", path, where, int)
        if sla <= 0:
            raise ConfigError(f"{path}: {where}.sla_hours: must be positive")
        result[name] = Department(
            name=name,
            title=require(spec, "title", path, where),
            channel=require(spec, "channel", path, where),
            sla_hours=sla,
            days=tuple(days),
            start=_clock(hours, "start", path, f"{where}.hours"),
            end=_clock(hours, "end", path, f"{where}.hours"),
            **_webhook(spec, name, path, where, hub_url),
        )
    return result


def _webhook(spec: dict, name: str, path: Path, where: str, hub_url: str) -> dict[str, str]:
    """``webhook: {url, secret_env}``; both optional, defaulting to the hub's built-in inbox."""
    webhook = spec.get("webhook", {})
    where = f"{where}.webhook"
    if not isinstance(webhook, dict):
        raise ConfigError(f"{path}: {where}: expected a mapping with url and secret_env")
    unknown = sorted(set(webhook) - {"url", "secret_env"})
    if unknown:
        raise ConfigError(f"{path}: {where}.{unknown[0]}: unknown key (expected url, secret_env)")
    template = webhook.get("url", f"{HUB_URL_PLACEHOLDER}/api/departments/{name}/handoffs")
    if not isinstance(template, str):
        raise ConfigError(f"{path}: {where}.url: expected str, got {template!r}")
    url = template.replace(HUB_URL_PLACEHOLDER, hub_url.rstrip("/"))
    if "{" in url or "}" in url:
        raise ConfigError(
            f"{path}: {where}.url: the only placeholder allowed is {HUB_URL_PLACEHOLDER}, got {template!r}"
        )
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ConfigError(f"{path}: {where}.url: expected an http(s) URL, got {url!r}")
    secret_env = webhook.get("secret_env", default_secret_env(name))
    if not isinstance(secret_env, str) or not _ENV_NAME.match(secret_env):
        raise ConfigError(
            f"{path}: {where}.secret_env: expected the NAME of an environment variable "
            f"(like {default_secret_env(name)}), got {secret_env!r}; secrets never go in this file"
        )
    return {"webhook_url": url, "secret_env": secret_env}


def _clock(mapping: dict, key: str, path: Path, where: str) -> time:
    raw = require(mapping, key, path, where)
    m = _HHMM.match(raw)
    if not m:
        raise ConfigError(f"{path}: {where}.{key}: expected HH:MM, got {raw!r}")
    return time(int(m.group(1)), int(m.group(2)))
