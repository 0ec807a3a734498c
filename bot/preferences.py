"""What a customer told us about how they like to be contacted, and how we honour it.

Four preferences, each unset until the customer states it: the name to use ("call me
Sam"), formality (first name or formal), the preferred channel, and quiet hours (no
proactive message from ``quiet_from`` until ``quiet_until``, on the assistant's clock: the
machine's local time, the company's, like departments' hours). Proactive messages
(bot/proactive/) wait for the end of quiet hours and go to the preferred channel when it
is live; handoff packets carry the preferences so a department contacts the customer the
way they like.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import asdict, dataclass, fields, replace
from datetime import datetime, time, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.engine import Connection, Engine

from bot.db.schema import customer_preferences, journey_customers

FORMALITIES = ("first_name", "formal")
# Rasa's input channel names of the channels a proactive message can reach.
CHANNELS = ("socketio", "slack")
CHANNEL_LABELS = {"socketio": "the website chat", "slack": "Slack"}
_CLOCK = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")


class InvalidPreference(ValueError):
    """A preference value we can't keep (the message says which and why)."""


@dataclass(frozen=True)
class Preferences:
    """A customer's stated preferences; ``None`` means not stated (the default applies)."""

    name: str | None = None
    formality: str | None = None
    channel: str | None = None
    quiet_from: str | None = None  # "HH:MM"
    quiet_until: str | None = None

    @property
    def stated(self) -> bool:
        return any(getattr(self, f.name) for f in fields(self))

    def as_dict(self) -> dict[str, Any]:
        """The stated preferences only (for handoff packets and the hub)."""
        return {key: value for key, value in asdict(self).items() if value}

    def address(self, full_name: str | None) -> str:
        """How to address the customer: their chosen name, else first name or full name."""
        if self.name:
            return self.name
        if not full_name:
            return ""
        return full_name if self.formality == "formal" else full_name.split()[0]

    def quiet_at(self, moment: datetime) -> bool:
        """Whether ``moment`` (naive, the assistant's local time) falls in quiet hours."""
        if not (self.quiet_from and self.quiet_until) or self.quiet_from == self.quiet_until:
            return False
        start, end, now = _clock(self.quiet_from), _clock(self.quiet_until), moment.time()
        if start < end:
            return start <= now < end
        return now >= start or now < end  # the window wraps past midnight (21:00-08:00)

    def quiet_ends(self, moment: datetime) -> datetime:
        """When quiet hours that include ``moment`` end (``moment`` itself if not quiet)."""
        if not self.quiet_at(moment):
            return moment
        end = datetime.combine(moment.date(), _clock(self.quiet_until or "00:00"))
        return end if end > moment else end + timedelta(days=1)

    def quiet_hours_text(self) -> str | None:
        if self.quiet_from and self.quiet_until:
            return f"{self.quiet_from}-{self.quiet_until}"
        return None


def checked(prefs: Preferences) -> Preferences:
    """``prefs`` if every stated value is one we can keep, else ``InvalidPreference``."""
    if prefs.name is not None and not (0 < len(prefs.name.strip()) <= 100):
        raise InvalidPreference("a name must be 1 to 100 characters")
    if prefs.formality is not None and prefs.formality not in FORMALITIES:
        raise InvalidPreference(f"formality must be one of {', '.join(FORMALITIES)}")
    if prefs.channel is not None and prefs.channel not in CHANNELS:
        raise InvalidPreference(f"channel must be one of {', '.join(CHANNELS)}")
    for key in ("quiet_from", "quiet_until"):
        value = getattr(prefs, key)
        if value is not None and not _CLOCK.match(value):
            raise InvalidPreference(f"{key} must be a time as HH:MM (24-hour clock)")
    if bool(prefs.quiet_from) != bool(prefs.quiet_until):
        raise InvalidPreference("quiet hours need both a start and an end")
    return prefs


class PreferenceStore:
    """Preferences in the journey database, one row per journey customer."""

    def __init__(self, engine: Engine, now: Callable[[], datetime] = datetime.now):
        self._engine = engine  # a journey database, migrated (bot.db.migrate)
        self._now = now

    def get(self, customer_id: str | None) -> Preferences:
        """The customer's preferences (all unset for an unknown or anonymous customer)."""
        if not customer_id:
            return Preferences()
        with self._engine.connect() as conn:
            row = conn.execute(
                select(customer_preferences).where(
                    customer_preferences.c.customer_id == customer_id
                )
            ).first()
        if row is None:
            return Preferences()
        return Preferences(
            **{f.name: getattr(row, f.name) for f in fields(Preferences)},
        )

    def update(self, customer_id: str, **changes: str | None) -> Preferences:
        """Change some preferences (a ``None`` value clears one); returns the result.

        The customer must be in the journey already (they are, once they have chatted).
        """
        unknown = set(changes) - {f.name for f in fields(Preferences)}
        if unknown:
            raise InvalidPreference(f"no preference named {', '.join(sorted(unknown))}")
        with self._engine.begin() as conn:
            known = conn.execute(
                select(journey_customers.c.id).where(journey_customers.c.id == customer_id)
            ).first()
            if known is None:
                raise InvalidPreference(f"no customer {customer_id!r} in the journey")
            row = conn.execute(
                select(customer_preferences)
                .where(customer_preferences.c.customer_id == customer_id)
                .with_for_update()
            ).first()
            current = (
                Preferences(**{f.name: getattr(row, f.name) for f in fields(Preferences)})
                if row
                else Preferences()
            )
            result = checked(replace(current, **changes))
            values = {**asdict(result), "updated_at": self._now()}
            if row is None:
                conn.execute(
                    customer_preferences.insert().values(customer_id=customer_id, **values)
                )
            else:
                conn.execute(
                    customer_preferences.update()
                    .where(customer_preferences.c.customer_id == customer_id)
                    .values(**values)
                )
        return result

    def forget(self, customer_id: str) -> None:
        """Clear every preference of the customer."""
        with self._engine.begin() as conn:
            conn.execute(
                customer_preferences.delete().where(
                    customer_preferences.c.customer_id == customer_id
                )
            )


def move_preferences(conn: Connection, from_id: str, to_id: str) -> None:
    """Carry an anonymous visitor's preferences over to the customer they turned out to be.

    Meant for the journey store's merge of an anonymous record into an identified one (in
    its transaction, ``conn``; ``to_id`` must be in ``journey_customers`` already). Where
    both stated a preference, the one stated last wins; the anonymous row is deleted.
    """
    rows = {
        row.customer_id: row
        for row in conn.execute(
            select(customer_preferences).where(
                customer_preferences.c.customer_id.in_([from_id, to_id])
            )
        )
    }
    moving = rows.get(from_id)
    if moving is None or from_id == to_id:
        return
    kept = rows.get(to_id)
    if kept is None:
        conn.execute(
            customer_preferences.update()
            .where(customer_preferences.c.customer_id == from_id)
            .values(customer_id=to_id)
        )
        return
    older, newer = sorted((kept, moving), key=lambda row: row.updated_at)
    merged = {f.name: getattr(newer, f.name) or getattr(older, f.name) for f in fields(Preferences)}
    if not (newer.quiet_from and newer.quiet_until):  # quiet hours go as a pair
        merged["quiet_from"], merged["quiet_until"] = older.quiet_from, older.quiet_until
    conn.execute(
        customer_preferences.update()
        .where(customer_preferences.c.customer_id == to_id)
        .values(**merged, updated_at=newer.updated_at)
    )
    conn.execute(customer_preferences.delete().where(customer_preferences.c.customer_id == from_id))


def _clock(value: str) -> time:
    hours, minutes = value.split(":")
    return time(int(hours), int(minutes))
