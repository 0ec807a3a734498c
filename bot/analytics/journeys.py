"""One customer's journey for CX review: every touchpoint across channels and departments.

The journey page draws these as a timeline (a lane per journey stage) and lists them;
this module only reads them, oldest first, with what each touchpoint's row says and
whether it was flagged for review.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.engine import Connection, Engine

from bot.analytics.sql import connected
from bot.db.schema import identities, journey_customers, review_flags, touchpoints
from bot.routing import STAGES

# A journey page shows at most this many touchpoints, the most recent ones (a customer
# of ten years on a busy channel could have thousands; the log pages through them all).
MAX_TOUCHPOINTS = 500


@dataclass(frozen=True)
class Journey:
    """A customer and their touchpoints, oldest first.

    ``total`` counts all their touchpoints; when it is more than ``touchpoints`` holds,
    the oldest ones were left out.
    """

    customer: dict[str, Any]
    identities: list[dict[str, str]]
    touchpoints: list[dict[str, Any]]
    total: int

    @property
    def truncated(self) -> bool:
        return self.total > len(self.touchpoints)

    def stages(self) -> list[str]:
        """The journey stages this customer's touchpoints were in, in the journey's order."""
        seen = {t["stage"] for t in self.touchpoints}
        return [s for s in STAGES if s in seen]

    def as_json(self) -> dict[str, Any]:
        """The journey with times as ISO text."""
        return {
            "customer": _iso(self.customer),
            "identities": self.identities,
            "touchpoints": [_iso(t) for t in self.touchpoints],
            "total": self.total,
            "truncated": self.truncated,
        }


def journey(
    bind: Engine | Connection, customer_id: str, most: int = MAX_TOUCHPOINTS
) -> Journey | None:
    """``customer_id``'s journey (the ``most`` recent touchpoints), or None when the journey
    store knows no such customer."""
    tp = touchpoints
    with connected(bind) as conn:
        customer = conn.execute(
            select(journey_customers).where(journey_customers.c.id == customer_id)
        ).first()
        total = conn.execute(
            select(func.count()).select_from(tp).where(tp.c.customer_id == customer_id)
        ).scalar_one()
        if customer is None and not total:
            return None
        known_as = conn.execute(
            select(identities.c.kind, identities.c.value)
            .where(identities.c.customer_id == customer_id)
            .order_by(identities.c.id)
        ).all()
        rows = conn.execute(
            select(
                *[c for c in tp.c if c.name not in ("customer_text", "customer_id")],
                review_flags.c.tags.label("flag_tags"),
            )
            .select_from(tp.outerjoin(review_flags, review_flags.c.touchpoint_id == tp.c.id))
            .where(tp.c.customer_id == customer_id)
            .order_by(tp.c.started_at.desc(), tp.c.id.desc())
            .limit(most)
        ).all()
    return Journey(
        customer={
            "id": customer_id,
            "name": customer.name if customer is not None else None,
            "tier": customer.tier if customer is not None else None,
            "since": customer.created_at if customer is not None else None,
        },
        identities=[{"kind": i.kind, "value": i.value} for i in known_as],
        touchpoints=[_touchpoint(r) for r in reversed(rows)],
        total=total,
    )


def _touchpoint(row) -> dict[str, Any]:
    data = dict(row._mapping)
    for name in ("needs", "departments", "order_ids"):
        data[name] = _loads(data[name], [])
    signals = _loads(data.pop("signals"), {})
    data["frustration"] = int(signals.get("frustration") or 0) if isinstance(signals, dict) else 0
    tags = data.pop("flag_tags")
    data["flag_tags"] = _loads(tags, []) if tags is not None else None
    return data


def _loads(text: str | None, empty):
    try:
        value = json.loads(text) if text else empty
    except ValueError:
        return empty
    return value if isinstance(value, type(empty)) else empty


def _iso(data: dict[str, Any]) -> dict[str, Any]:
    return {
        k: v.isoformat(timespec="seconds") if isinstance(v, datetime) else v
        for k, v in data.items()
    }
