"""Proactive beats reactive: department events told to customers before they ask.

- ``events``: the event types (bot/config/proactive.yml) and checking an incoming event;
- ``store``: the events in the journey database, from intake to the customer's choice;
- ``deliver``: the worker that tells each event on the customer's live channel, at a time
  they accept, through Rasa's HTTP API (trigger_intent), or leaves it for their next contact.

The words and the options are the support desk's (bot/support/proactive.py).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

# Rasa's text for an intent triggered through its HTTP API (UserUttered.create_external).
EXTERNAL_PREFIX = "EXTERNAL: "


def triggered_by_api(event: Mapping[str, Any]) -> bool:
    """Whether a tracker's user event is an intent the hub triggered, not the customer's words."""
    return event.get("event") == "user" and str(event.get("text") or "").startswith(EXTERNAL_PREFIX)
