"""What each trust level may see and do: bot/config/access.yml, validated on load."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from pathlib import Path

from bot.config import CONFIG_DIR, ConfigError, load_yaml, require
from bot.ratelimit import Rate

ACCESS_FILE = CONFIG_DIR / "access.yml"

ANYONE, TRACKER, VERIFIED_ONLY = "anyone", "tracker", "verified"
NEED_LEVELS = (ANYONE, TRACKER, VERIFIED_ONLY)
DEFAULT = "default"
LIMITS = (
    "lookups_per_conversation",
    "lookups_per_address",
    "failures_per_conversation",
    "failures_per_address",
    "codes_per_conversation",
    "codes_per_customer",
)


@dataclass(frozen=True)
class CodeRules:
    """One-time codes: how many digits, how long they are valid, how many wrong tries."""

    digits: int = 6
    minutes_valid: int = 10
    max_tries: int = 5


@dataclass(frozen=True)
class AccessRules:
    """The level each need asks for, what options ask for, and the limits on checks."""

    needs: dict[str, str]
    options: dict[str, str]  # option -> level; DEFAULT for the rest
    limits: dict[str, Rate]
    code: CodeRules

    @classmethod
    def load(
        cls, path: Path = ACCESS_FILE, known_needs: Iterable[str] | None = None
    ) -> AccessRules:
        data = load_yaml(path)
        needs = require(data, "needs", path, "top level", dict)
        for need, level in needs.items():
            if level not in NEED_LEVELS:
                raise ConfigError(
                    f"{path}: needs.{need}: '{level}' is not one of {', '.join(NEED_LEVELS)}"
                )
        if known_needs is not None:
            missing = sorted(set(known_needs) - set(needs))
            unknown = sorted(set(needs) - set(known_needs))
            if missing:
                raise ConfigError(f"{path}: needs: no level for {', '.join(missing)}")
            if unknown:
                raise ConfigError(f"{path}: needs: not needs in routing.yml: {', '.join(unknown)}")
        raw_options = require(data, "options", path, "top level", dict)
        default = require(raw_options, "default", path, "options")
        if default not in NEED_LEVELS:
            raise ConfigError(
                f"{path}: options.default: '{default}' is not one of {', '.join(NEED_LEVELS)}"
            )
        open_to_anyone = raw_options.get("anyone") or []
        if not isinstance(open_to_anyone, list):
            raise ConfigError(f"{path}: options.anyone: expected a list of option names")
        options = {name: ANYONE for name in open_to_anyone}
        options[DEFAULT] = default
        raw_limits = require(data, "limits", path, "top level", dict)
        limits = {}
        for name in LIMITS:
            text = require(raw_limits, name, path, "limits")
            try:
                limits[name] = Rate.parse(str(text), name)
            except ValueError as e:
                raise ConfigError(f"{path}: limits.{name}: {e}") from None
        raw_code = require(data, "code", path, "top level", dict)
        code = CodeRules(
            digits=require(raw_code, "digits", path, "code", int),
            minutes_valid=require(raw_code, "minutes_valid", path, "code", int),
            max_tries=require(raw_code, "max_tries", path, "code", int),
        )
        if not 4 <= code.digits <= 10 or code.minutes_valid < 1 or code.max_tries < 1:
            raise ConfigError(f"{path}: code: digits 4-10, minutes_valid and max_tries >= 1")
        return cls(dict(needs), options, limits, code)

    def level(self, need: str | None) -> str:
        """The level ``need`` asks for; anything not listed needs a verified customer."""
        return self.needs.get(need or "", VERIFIED_ONLY)

    def needs_verification(self, need: str | None) -> bool:
        return self.level(need) == VERIFIED_ONLY

    def option_needs_verification(self, option: str | None) -> bool:
        """Whether carrying out ``option`` needs a verified customer."""
        return self.options.get(option or "", self.options[DEFAULT]) == VERIFIED_ONLY

    def without_address_limits(self) -> AccessRules:
        """The same rules with the per-address limits off (a test system whose every client
        is 127.0.0.1); the per-conversation limits still hold."""
        limits = {
            name: Rate(0, 1.0) if name.endswith("_per_address") else rate
            for name, rate in self.limits.items()
        }
        return replace(self, limits=limits)
