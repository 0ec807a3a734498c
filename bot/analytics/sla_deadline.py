"""When a handoff was due to be acknowledged, as a SQL expression over epoch seconds.

``Department.promise`` (bot/departments.py) tells a customer the deadline one handoff at a
time; the SLA metric needs that same deadline for a month of handoffs at once, inside the
query, so it is written here as a CASE over department, weekday and time of day.
"""

from __future__ import annotations

import calendar
from collections.abc import Mapping
from datetime import datetime, time

from sqlalchemy import BigInteger, and_, case, cast, null

from bot.analytics.sql import EPOCH_WEEKDAY_SHIFT, SECONDS_PER_DAY
from bot.departments import WEEKDAYS, Department


def sla_deadline(created, department, departments: Mapping[str, Department]):
    """When a handoff was due to be acknowledged, in epoch seconds, as promised to the customer.

    The department's sla_hours from the handoff when the team was at work, else from its
    next opening (``Department.promise``): a CASE over department, weekday and time of day.
    """
    day_start = created - created % SECONDS_PER_DAY
    time_of_day = created % SECONDS_PER_DAY
    weekday = (created / SECONDS_PER_DAY + EPOCH_WEEKDAY_SHIFT) % 7
    branches = {}
    for name, d in departments.items():
        working = [i for i, day in enumerate(WEEKDAYS) if day in d.days]
        if not working:
            continue
        sla = d.sla_hours * 3600
        start, end = _seconds(d.start), _seconds(d.end)
        # After hours or on a day off: the next working day's opening, this many days ahead.
        ahead = {wd: next(k for k in range(1, 8) if (wd + k) % 7 in working) for wd in range(7)}
        branches[name] = case(
            (and_(weekday.in_(working), time_of_day < start), day_start + (start + sla)),
            (and_(weekday.in_(working), time_of_day < end), created + sla),
            else_=day_start
            + case(
                {wd: k * SECONDS_PER_DAY + start + sla for wd, k in ahead.items()},
                value=weekday,
            ),
        )
    if not branches:
        return cast(null(), BigInteger)  # typed, for PostgreSQL to compare with numbers
    return case(branches, value=department, else_=null())


def _seconds(t: time) -> int:
    return t.hour * 3600 + t.minute * 60 + t.second


def epoch_of(moment: datetime) -> int:
    """A naive datetime as epoch seconds on the same clock as ``sql.epoch``."""
    return calendar.timegm(moment.timetuple())
