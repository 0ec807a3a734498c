"""Which conversations the CX review looks at: ``Filters`` and the SQL conditions they make.

The metrics (bot/analytics/metrics.py) and the touchpoint log (bot/analytics/log.py) filter the
same touchpoints the same way, so both read their window and attributes from here.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime

from bot.analytics.sql import unindexed
from bot.db.schema import touchpoints

UNKNOWN_STAGE = "unknown"  # touchpoints whose stage was never known (no need, no customer)
NO_DEPARTMENT = "none"  # touchpoints that raised no need any department owns
PROACTIVE_CHANNEL = "proactive"  # JourneyStore.record_proactive


@dataclass(frozen=True)
class Filters:
    """Which conversations a metric looks at: a window on their start and their attributes.

    ``since`` is inclusive and ``until`` exclusive; None leaves that side open. The
    department filter keeps conversations that raised a need of that department (and, for
    the handoff metrics, that department's handoffs only); ``stage="unknown"`` and
    ``department="none"`` select touchpoints without one.
    """

    since: datetime | None = None
    until: datetime | None = None
    channel: str | None = None
    stage: str | None = None
    department: str | None = None
    outcome: str | None = None
    need: str | None = None
    customer_id: str | None = None


def filter_conditions(filters: Filters, window_by_index: bool = True) -> list:
    """The filters as conditions on touchpoints.

    Without ``window_by_index``, the window on started_at is no index condition on SQLite,
    for queries that start from their own table's time index and then look touchpoints up.
    """
    tp = touchpoints
    started_at = tp.c.started_at if window_by_index else unindexed(tp.c.started_at)
    out = []
    if filters.since is not None:
        out.append(started_at >= filters.since)
    if filters.until is not None:
        out.append(started_at < filters.until)
    if filters.channel:
        out.append(tp.c.channel == filters.channel)
    else:
        # A department's news told first is a touchpoint but not a conversation: it would
        # count as self-served with no message. Its metrics are the "proactive" channel's.
        out.append(tp.c.channel != PROACTIVE_CHANNEL)
    if filters.stage:
        out.append(
            tp.c.stage.is_(None) if filters.stage == UNKNOWN_STAGE else tp.c.stage == filters.stage
        )
    if filters.outcome:
        out.append(tp.c.outcome == filters.outcome)
    if filters.department:
        out.append(
            tp.c.departments == "[]"
            if filters.department == NO_DEPARTMENT
            else tp.c.departments.contains(json.dumps(filters.department), autoescape=True)
        )
    if filters.need:
        out.append(tp.c.needs.contains(json.dumps(filters.need), autoescape=True))
    if filters.customer_id:
        out.append(tp.c.customer_id == filters.customer_id)
    return out
