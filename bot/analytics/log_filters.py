"""What the touchpoint log filters on, and the filters in a URL.

``LogFilters`` adds to the metrics' ``Filters`` what only the log filters on: the
customer's rating, frustration, policy moments, review flags, failed identity checks,
and words the customer wrote. ``parse_filters`` reads them from a query string and
``filter_query`` writes them back, so a filtered view is a URL.

Apart from the log's reading (bot/analytics/log.py) because the review pages, the exports and
the log all share these filters and their wording (the channels and policy choices as
people call them), and none of it touches the database.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Collection, Mapping
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from bot.analytics.filters import NO_DEPARTMENT, UNKNOWN_STAGE, Filters
from bot.cx_routing import CxRules
from bot.journey.store import OUTCOMES
from bot.routing import STAGES

# "Frustrated" in the log means what makes the assistant bring in a person: the routing
# rule frustrated_customer (routing.yml, frustration_at_least). The hub passes the
# configured value; this is the default when a routing file names none.
FRUSTRATED_AT = 3
MAX_SEARCH_CHARS = 200
MAX_SEARCH_TERMS = 8
# Channels the assistant is reachable on, as people call them.
CHANNELS = {
    "socketio": "Website chat",
    "slack": "Slack",
    "rest": "REST API",
    "proactive": "News told first",
}
POLICY_CHOICES = {
    "yes": "had a policy moment",
    "taken": "an alternative was taken",
    "not_taken": "offered, none taken",
    "no": "no policy moment",
}
YES_NO = {"yes": True, "no": False}
_NAME = re.compile(r"^[A-Za-z0-9_.:-]{1,64}$")
RATING_PATTERN = re.compile(r"^([1-5])(?:-([1-5]))?$")


class BadFilter(ValueError):
    """A filter value that can't be used; the message names the filter and what it takes."""


@dataclass(frozen=True)
class LogFilters:
    """What the log shows: the metrics' ``Filters`` and the filters only the log has.

    ``rating``: ``"4"`` (exactly), ``"1-2"`` (a range), ``"rated"`` or ``"unrated"``.
    ``frustrated``: whether the touchpoint's frustration reached ``frustrated_at``.
    ``policy``: a key of ``POLICY_CHOICES``. ``flagged``: flagged for review or not.
    ``identity_failed``: whether an identity check of the session failed or was refused
    (a security signal: someone trying order numbers, emails or codes).
    ``text``: words the customer wrote, each of them, in any case ("quoted phrases" kept
    together).
    """

    base: Filters = field(default_factory=Filters)
    rating: str | None = None
    frustrated: bool | None = None
    frustrated_at: int = FRUSTRATED_AT
    policy: str | None = None
    flagged: bool | None = None
    identity_failed: bool | None = None
    text: str | None = None

    def terms(self) -> list[str]:
        """The words and phrases of ``text``, each to be found in what the customer wrote."""
        return search_terms(self.text or "")


def as_log_filters(filters: LogFilters | Filters | None) -> LogFilters:
    """``filters`` as ``LogFilters`` (the metrics' ``Filters`` alone filter the log too)."""
    if filters is None:
        return LogFilters()
    return filters if isinstance(filters, LogFilters) else LogFilters(base=filters)


def search_terms(text: str) -> list[str]:
    """The words of a search, "quoted phrases" as one; an unpaired quote is just a character."""
    text = text.strip()[:MAX_SEARCH_CHARS]
    if not text:
        return []
    try:
        lexer = shlex.shlex(text, posix=True)
        lexer.whitespace_split = True
        lexer.quotes = '"'
        lexer.escape = ""  # a backslash is a character people search for, not an escape
        terms = list(lexer)
    except ValueError:  # an unpaired double quote
        terms = text.split()
    return [t for t in dict.fromkeys(terms) if t.strip()][:MAX_SEARCH_TERMS]


def frustration_threshold(rules: CxRules) -> int:
    """The frustration at which the routing rules bring a person in: the lowest
    ``frustration_at_least`` of routing.yml's rules, or ``FRUSTRATED_AT`` if none names one."""
    levels = [
        r.when["frustration_at_least"] for r in rules.rules if "frustration_at_least" in r.when
    ]
    return min(levels, default=FRUSTRATED_AT)


# -- the filters in a URL ----------------------------------------------------------------------
# Query parameters, named as the metrics page names them: since, until (dates YYYY-MM-DD,
# both days included), channel, stage, department, need,
# outcome, customer, rating, frustrated (yes/no), policy, flagged (yes/no), identity_failed
# (yes/no: an identity check failed or was refused), q (the words).
FILTER_PARAMETERS = (
    "since", "until", "channel", "stage", "department", "need", "outcome", "customer",
    "rating", "frustrated", "policy", "flagged", "identity_failed", "q",
)  # fmt: skip


def parse_filters(
    args: Mapping[str, str],
    departments: Collection[str],
    frustrated_at: int = FRUSTRATED_AT,
) -> LogFilters:
    """``LogFilters`` from query parameters (empty ones ignored); ``BadFilter`` says which is
    wrong and what it takes."""

    def value(name: str) -> str | None:
        raw = args.get(name)
        return raw.strip() if isinstance(raw, str) and raw.strip() else None

    since = _date(value("since"), "since")
    to = _date(value("until"), "until")
    if since and to and since > to:
        raise BadFilter(f"since ({since}) is after until ({to})")
    stage = _one_of(value("stage"), "stage", (*STAGES, UNKNOWN_STAGE))
    department = _one_of(value("department"), "department", (*departments, NO_DEPARTMENT))
    outcome = _one_of(value("outcome"), "outcome", OUTCOMES)
    rating = value("rating")
    if (
        rating is not None
        and rating not in ("rated", "unrated")
        and not RATING_PATTERN.match(rating)
    ):
        raise BadFilter(f"rating: {rating!r} is not 1 to 5, a range like 1-2, 'rated' or 'unrated'")
    text = value("q")
    if text is not None and len(text) > MAX_SEARCH_CHARS:
        raise BadFilter(f"q: search for at most {MAX_SEARCH_CHARS} characters")
    return LogFilters(
        base=Filters(
            since=datetime.combine(since, datetime.min.time()) if since else None,
            until=datetime.combine(to + timedelta(days=1), datetime.min.time()) if to else None,
            channel=_name(value("channel"), "channel"),
            stage=stage,
            department=department,
            outcome=outcome,
            need=_name(value("need"), "need"),
            customer_id=_name(value("customer"), "customer", 64, free=True),
        ),
        rating=rating,
        frustrated=_yes_no(value("frustrated"), "frustrated"),
        frustrated_at=frustrated_at,
        policy=_one_of(value("policy"), "policy", POLICY_CHOICES),
        flagged=_yes_no(value("flagged"), "flagged"),
        identity_failed=_yes_no(value("identity_failed"), "identity_failed"),
        text=text,
    )


def filter_query(filters: LogFilters) -> dict[str, str]:
    """The query parameters that ``parse_filters`` reads back into ``filters`` (set ones only)."""
    base = filters.base
    out = {
        "since": base.since.date().isoformat() if base.since else None,
        "until": (base.until - timedelta(days=1)).date().isoformat() if base.until else None,
        "channel": base.channel,
        "stage": base.stage,
        "department": base.department,
        "need": base.need,
        "outcome": base.outcome,
        "customer": base.customer_id,
        "rating": filters.rating,
        "frustrated": _from_yes_no(filters.frustrated),
        "policy": filters.policy,
        "flagged": _from_yes_no(filters.flagged),
        "identity_failed": _from_yes_no(filters.identity_failed),
        "q": filters.text,
    }
    return {k: v for k, v in out.items() if v}


def describe_filters(filters: LogFilters) -> dict[str, Any]:
    """The filters as JSON-ready data (an export says what it holds)."""
    data = {k: v for k, v in asdict(filters.base).items() if v is not None}
    for key in ("since", "until"):
        if key in data:
            data[key] = data[key].isoformat(timespec="seconds")
    for key in ("rating", "frustrated", "policy", "flagged", "identity_failed", "text"):
        if getattr(filters, key) is not None:
            data[key] = getattr(filters, key)
    if filters.frustrated is not None:
        data["frustrated_at"] = filters.frustrated_at
    return data


def _date(raw: str | None, name: str) -> date | None:
    if raw is None:
        return None
    try:
        return date.fromisoformat(raw)
    except ValueError:
        raise BadFilter(f"{name}: {raw!r} is not a date (YYYY-MM-DD)") from None


def _one_of(raw: str | None, name: str, allowed: Collection[str]) -> str | None:
    if raw is not None and raw not in allowed:
        raise BadFilter(f"{name}: {raw!r} is not one of {', '.join(allowed)}")
    return raw


def _name(raw: str | None, name: str, most: int = 64, free: bool = False) -> str | None:
    """A short identifier (a channel, a need); a customer id may hold any printable text."""
    if raw is None:
        return None
    if len(raw) > most or (not free and not _NAME.match(raw)) or not raw.isprintable():
        raise BadFilter(f"{name}: {raw!r} is not a {name} name")
    return raw


def _yes_no(raw: str | None, name: str) -> bool | None:
    if raw is None:
        return None
    if raw not in YES_NO:
        raise BadFilter(f"{name}: {raw!r} is not yes or no")
    return YES_NO[raw]


def _from_yes_no(value: bool | None) -> str | None:
    return None if value is None else ("yes" if value else "no")
