"""The departments a need is handed to, with their channel, service level and hours."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from pathlib import Path

from bot.config import CONFIG_DIR, ConfigError, load_yaml, require

DEPARTMENTS_FILE = CONFIG_DIR / "departments.yml"
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_HHMM = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")


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


def load_departments(path: Path = DEPARTMENTS_FILE) -> dict[str, Department]:
    """Read departments.yml, validating every key with errors naming the file and key."""
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
        )
    return result


def _clock(mapping: dict, key: str, path: Path, where: str) -> time:
    raw = require(mapping, key, path, where)
    m = _HHMM.match(raw)
    if not m:
        raise ConfigError(f"{path}: {where}.{key}: expected HH:MM, got {raw!r}")
    return time(int(m.group(1)), int(m.group(2)))
