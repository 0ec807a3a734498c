"""How sure we are who the customer is, in the words the agent console shows.

Every handoff's context packet carries ``identity`` (bot/support/serving.py: trust, verified_by,
how, claimed). Handoffs made before identity checks existed carry none: their customer is
"Not verified", unless the handoff names a customer and came from the website chat or
Slack, where only the channel could name one (a signed-in visitor, a mapped Slack user);
for those nothing is claimed either way and the console shows the customer as it did.
"""

from __future__ import annotations

from typing import Any

from bot.identity.trust import CLAIMED, LEVELS, METHOD_LABELS, UNKNOWN, VERIFIED

NOT_VERIFIED = "Not verified"
WARNING = "Check who this is before sharing account details"
# Channels whose customer id came from the channel itself before identity checks existed.
_CHANNEL_VOUCHED = ("socketio", "slack")


def trust_of(
    packet: dict[str, Any] | None, customer_id: str | None, channel: str | None
) -> dict[str, Any] | None:
    """The trust level of a handoff's customer as the console shows it, or None for an older
    handoff whose customer the channel named (shown as before, without a level).

    ``{"trust": "verified"|"claimed"|"unknown", "verified": bool, "label": "<words>"}``.
    """
    identity = (packet or {}).get("identity")
    if not isinstance(identity, dict):
        if customer_id and channel in _CHANNEL_VOUCHED:
            return None
        return _level(UNKNOWN, NOT_VERIFIED)
    trust = identity.get("trust")
    if trust == VERIFIED:
        how = METHOD_LABELS.get(str(identity.get("verified_by") or "")) or identity.get("how")
        return _level(VERIFIED, f"Verified ({how})" if how else "Verified")
    claimed = identity.get("claimed")
    if trust == CLAIMED and isinstance(claimed, str) and claimed.strip():
        return _level(CLAIMED, f"{NOT_VERIFIED}: says they are {claimed.strip()}")
    return _level(trust if trust in LEVELS else UNKNOWN, NOT_VERIFIED)


def _level(trust: str, label: str) -> dict[str, Any]:
    return {"trust": trust, "verified": trust == VERIFIED, "label": label}
