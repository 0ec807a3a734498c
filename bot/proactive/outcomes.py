"""Outcomes flow back: a department acknowledging or resolving a handoff is news for its customer.

When a department acknowledges a handoff with a promise or a note for the customer, or
resolves it, the hub (bot/hub/api.py) turns that into a department event of its own
(``handoff.acknowledged`` / ``handoff.resolved``) for the handoff's customer. From there it
travels exactly like a department's event (bot/proactive/deliver.py): their live channel,
outside their quiet hours, else their next contact, told once (its id is derived from the
handoff and the move, so a repeat of the move tells nobody twice).

These types are not in proactive.yml: no department posts them to the events API (which
refuses them as unknown types); only acknowledging or resolving a handoff makes them.
Only a handoff with a verified customer can be told later: an anonymous visitor's outcome
stays in the journey (and the console), as before.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from bot.proactive.events import EventType, IncomingEvent

ACKNOWLEDGED, RESOLVED = "handoff.acknowledged", "handoff.resolved"
TYPES = {
    ACKNOWLEDGED: EventType(
        name=ACKNOWLEDGED,
        department="",  # the handoff's own (the event row says which)
        about="order",
        need="order_status",  # the handoff's own need, from the details, when told
        response="utter_handoff_news_acknowledged",
        options=("all_good",),
    ),
    RESOLVED: EventType(
        name=RESOLVED,
        department="",
        about="order",
        need="order_status",
        response="utter_handoff_news_resolved",
        options=("all_good",),
    ),
}
# What the customer hears of a resolution when the department left no note for them.
NO_NOTE = "it's done. If anything still isn't right, tell me here."
MAX_NOTE_CHARS = 500


def outcome_event(handoff: dict[str, Any], action: str, note: str | None) -> IncomingEvent | None:
    """The news of ``action`` (acknowledge, resolve) on ``handoff`` (HubStore.handoff's
    dict), or None when there is nothing to tell or nobody to tell it to."""
    if not handoff.get("customer_id"):
        return None
    if action == "acknowledge" and not (note or handoff.get("promised_by")):
        return None
    kind = ACKNOWLEDGED if action == "acknowledge" else RESOLVED
    details: dict[str, Any] = {
        "handoff_id": handoff["id"],
        "need": handoff["need"],
        "note": note or ("" if action == "acknowledge" else NO_NOTE),
    }
    if action == "acknowledge":
        details["by"] = handoff.get("acknowledged_by") or ""
        details["due"] = handoff.get("promised_by") or ""
    return IncomingEvent(
        event_id=f"handoff-{handoff['id']}-{'acknowledged' if action == 'acknowledge' else 'resolved'}",
        type=TYPES[kind],
        order_id=handoff.get("order_id"),
        invoice_id=handoff.get("invoice_id"),
        customer_id=handoff["customer_id"],
        details=details,
    )


def parse_promise(value: Any) -> datetime | None:
    """``promised_by`` as sent: an ISO 8601 local time ("2026-12-08T17:00"), or ValueError."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise ValueError("promised_by must be a local time as YYYY-MM-DDTHH:MM")
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise ValueError("promised_by must be a local time as YYYY-MM-DDTHH:MM") from None
    if moment.tzinfo is not None:  # naive local time, like every time in the journey database
        moment = moment.astimezone().replace(tzinfo=None)
    return moment.replace(second=0, microsecond=0)
