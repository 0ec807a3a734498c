"""The CX metrics' query: the window, the grouping and the filters an analyst asks for.

``parse_query`` reads them from the request's parameters (the same as ``python -m bot
report``'s options) into a checked ``MetricsQuery``, or says what to write instead
(``BadQuery``); ``QUERY_PARAMETERS`` describes the same parameters in OpenAPI for the
metrics routes (bot/hub/review/metrics.py).
"""

from __future__ import annotations

import math
import re
import shlex
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from urllib.parse import urlencode

from bot.analytics.cli import parse_since
from bot.analytics.filters import NO_DEPARTMENT, UNKNOWN_STAGE, Filters
from bot.analytics.log_filters import CHANNELS
from bot.analytics.metrics import GROUPINGS
from bot.hub.openapi_parts import Spec
from bot.journey.store import OUTCOMES
from bot.routing import STAGES

DEFAULT_WINDOW = "30d"
QUICK_WINDOWS = ("7d", "30d", "90d")
DATES = "dates"  # the window value that means "between since and until"
MAX_DAYS = 400  # a year and a bit by day is 400 rows; longer asks for another tool
EARLIEST = date(1970, 1, 1)  # the metrics count days from the epoch
TIME_GROUPINGS = ("day", "week")

_WINDOW = re.compile(r"^(\d{1,4})([dw])$")
_CHANNEL = re.compile(r"^[A-Za-z0-9_.-]{1,32}$")


class BadQuery(ValueError):
    """A query parameter the metrics can't be computed from; the message says what to write."""


@dataclass(frozen=True)
class MetricsQuery:
    """What the analyst asked for: the window, the grouping and the filters, all checked."""

    window: str  # "7d", "30d", "4w"... (up to now), or DATES
    since: datetime
    until: datetime  # exclusive
    to_now: bool  # the window runs up to the hub's now (else to the midnight after a day)
    group_by: str = "day"
    channel: str | None = None
    stage: str | None = None
    department: str | None = None
    outcome: str | None = None

    def filters(self) -> Filters:
        return Filters(
            channel=self.channel, stage=self.stage, department=self.department, outcome=self.outcome
        )

    def params(self) -> dict[str, str]:
        """The query as URL parameters, shortest form: a rolling window by its name."""
        out = {"window": self.window}
        if self.window == DATES:
            out["since"] = self.since.date().isoformat()
            if not self.to_now:
                out["until"] = self.last_day.isoformat()
        out["by"] = self.group_by
        out.update({k: v for k, v in self.filter_values().items() if v})
        return out

    def filter_values(self) -> dict[str, str | None]:
        return {
            "channel": self.channel,
            "stage": self.stage,
            "department": self.department,
            "outcome": self.outcome,
        }

    @property
    def last_day(self) -> date:
        """The window's last day (included)."""
        return (self.until - timedelta(microseconds=1)).date()

    def url(self, path: str) -> str:
        return f"{path}?{urlencode(self.params())}"

    def cli(self) -> str:
        """The same table from the shell, to say that they agree (and to script it)."""
        if self.window == DATES:
            words = ["--since", self.since.date().isoformat()]
            if not self.to_now:
                words += ["--until", self.last_day.isoformat()]
        else:
            words = ["--since", self.window]
        words += ["--by", self.group_by]
        for name, value in self.filter_values().items():
            if value:
                words += [f"--{name}", value]
        return "python -m bot report " + shlex.join(words)


def parse_query(
    args: Mapping[str, str | None], now: datetime, departments: Iterable[str]
) -> MetricsQuery:
    """The metrics query from request parameters (empty ones count as absent), or BadQuery.

    A rolling window ("7d", "4w") is the CLI's ``--since 7d``: today and the days before it,
    from midnight, up to ``now``. Between dates, ``until`` is the last day included (the
    window ends at the next midnight), or up to ``now`` when not given.
    """
    given = {k: v.strip() for k, v in args.items() if v is not None and v.strip()}
    since_text, until_text = given.get("since"), given.get("until")
    window = given.get("window") or (DATES if since_text else DEFAULT_WINDOW)
    if window == DATES:
        if not since_text:
            raise BadQuery("since: give the first day of the window (YYYY-MM-DD), or a window")
        since = datetime.combine(_day("since", since_text), time())
        until, to_now = now, not until_text
        if until_text:
            last = _day("until", until_text)
            if last == date.max:
                raise BadQuery("until: too far in the future")
            until = datetime.combine(last + timedelta(days=1), time())
    else:
        found = _WINDOW.match(window.lower())
        if not found or int(found.group(1)) < 1:
            raise BadQuery(
                f"window: expected 7d, 30d, 90d, 4w (days or weeks up to now) or {DATES}, "
                f"not {window!r}"
            )
        window = window.lower()
        since = parse_since(window, now)
        until, to_now = now, True
    if until <= since:
        raise BadQuery(
            f"the window is empty: until ({until:%Y-%m-%d %H:%M}) must come after since "
            f"({since:%Y-%m-%d %H:%M})"
        )
    if until - since > timedelta(days=MAX_DAYS):
        days = math.ceil((until - since) / timedelta(days=1))  # a part of a day counts
        raise BadQuery(f"the window spans {days} days; at most {MAX_DAYS} days at a time")
    group_by = given.get("by", "day")
    if group_by not in GROUPINGS:
        raise BadQuery(f"by: one of {', '.join(GROUPINGS)}, not {group_by!r}")
    channel = given.get("channel")
    if channel is not None and not _CHANNEL.match(channel):
        raise BadQuery(f"channel: a channel name such as {', '.join(CHANNELS)}, not {channel!r}")
    stage = _one_of("stage", given.get("stage"), (*STAGES, UNKNOWN_STAGE))
    department = _one_of("department", given.get("department"), (*departments, NO_DEPARTMENT))
    outcome = _one_of("outcome", given.get("outcome"), OUTCOMES)
    return MetricsQuery(window, since, until, to_now, group_by, channel, stage, department, outcome)


def _day(name: str, value: str) -> date:
    try:
        day = date.fromisoformat(value)
    except ValueError:
        raise BadQuery(f"{name}: expected a date like 2025-03-01, not {value!r}") from None
    if day < EARLIEST:
        raise BadQuery(f"{name}: {EARLIEST.isoformat()} or later, not {value!r}")
    return day


def _one_of(name: str, value: str | None, allowed: Iterable[str]) -> str | None:
    allowed = tuple(allowed)
    if value is not None and value not in allowed:
        raise BadQuery(f"{name}: one of {', '.join(allowed)}, not {value!r}")
    return value


QUERY_PARAMETERS: list[Spec] = [
    {
        "name": "window",
        "in": "query",
        "description": (
            "A rolling window up to now, as `python -m bot report --since`: `7d` is today "
            "and the 6 days before, from midnight; `4w` is 28 days. Or `dates` for `since` "
            f"and `until`. Default: `dates` when `since` is given, else `{DEFAULT_WINDOW}`. "
            f"At most {MAX_DAYS} days."
        ),
        "schema": {"type": "string", "pattern": r"^(\d{1,4}[dw]|dates)$", "default": "30d"},
    },
    {
        "name": "since",
        "in": "query",
        "description": "The first day of the window (from midnight), with `window=dates`.",
        "schema": {"type": "string", "format": "date"},
    },
    {
        "name": "until",
        "in": "query",
        "description": "The last day of the window, included; without it, up to now.",
        "schema": {"type": "string", "format": "date"},
    },
    {
        "name": "by",
        "in": "query",
        "description": "One row per day, ISO week, journey stage or department.",
        "schema": {"type": "string", "enum": list(GROUPINGS), "default": "day"},
    },
    {
        "name": "channel",
        "in": "query",
        "description": "Only conversations on this channel (socketio, slack, rest).",
        "schema": {"type": "string", "pattern": _CHANNEL.pattern},
    },
    {
        "name": "stage",
        "in": "query",
        "description": f"Only conversations at this journey stage (`{UNKNOWN_STAGE}`: none known).",
        "schema": {"type": "string", "enum": [*STAGES, UNKNOWN_STAGE]},
    },
    {
        "name": "department",
        "in": "query",
        "description": (
            "Only conversations with a need of this department (departments.yml), and only "
            f"its handoffs; `{NO_DEPARTMENT}`: conversations that raised no department's need."
        ),
        "schema": {"type": "string"},
    },
    {
        "name": "outcome",
        "in": "query",
        "description": "Only conversations with this outcome.",
        "schema": {"type": "string", "enum": list(OUTCOMES)},
    },
]
