"""Replies that may carry a verified customer's account details are marked as such.

Why: a channel others read (a shared Slack channel) must show a customer's orders, address
and invoices to that customer alone. Whether a reply may carry them is known only once the
action that wrote it has run: the turn in which a visitor verifies ("ORD-10001,
jane.doe@example.com") starts unverified, and its answer already holds the order's items and
address. So every reply of a remote action after which the conversation's customer is
verified gets ``ACCOUNT_DETAILS: True``; Rasa keeps unknown keys of an action's response as
the message's metadata and hands them to the output channel (``BotUttered.message()``), and
the channel decides (bot/rasa/channels/slack_output.py posts them to the author alone).

Marked on Rasa's side, from the action call and its result (bot/rasa/action_faults.py calls
:func:`mark_account_details`), so no action has to remember it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bot.identity.trust import Identity

ACCOUNT_DETAILS = "account_details"
_IDENTITY_SLOTS = ("customer_id", "verified_by")


def verified_after(call: Mapping[str, Any], result: Mapping[str, Any]) -> bool:
    """Whether the conversation's customer is verified once ``result``'s events (an action
    server's answer to ``call``) are applied to the tracker the call carried."""
    tracker = call.get("tracker")
    slots = (tracker.get("slots") if isinstance(tracker, Mapping) else None) or {}
    identity = {name: slots.get(name) for name in _IDENTITY_SLOTS}
    events = result.get("events")
    for event in events if isinstance(events, list) else ():
        if not isinstance(event, Mapping):
            continue
        if event.get("event") == "slot" and event.get("name") in _IDENTITY_SLOTS:
            identity[event["name"]] = event.get("value")
        elif event.get("event") in ("reset_slots", "restart", "session_started"):
            identity = dict.fromkeys(_IDENTITY_SLOTS)
    return Identity.from_slots(identity["customer_id"], identity["verified_by"]).verified


def mark_account_details(call: Mapping[str, Any], result: Any) -> Any:
    """``result`` with each reply marked ``ACCOUNT_DETAILS`` when the action leaves the
    conversation verified; anything else (not an action's answer) as it came."""
    if not isinstance(result, dict) or not isinstance(result.get("responses"), list):
        return result
    if verified_after(call, result):
        for reply in result["responses"]:
            if isinstance(reply, dict):
                reply[ACCOUNT_DETAILS] = True
    return result
