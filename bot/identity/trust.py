"""Trust levels and the identity of a conversation's customer."""

from __future__ import annotations

from dataclasses import dataclass

UNKNOWN, CLAIMED, VERIFIED = "unknown", "claimed", "verified"
LEVELS = (UNKNOWN, CLAIMED, VERIFIED)

# How a customer was verified: by the channel (the website's signed token, a Slack user
# mapped to the customer) or by a check passed in the chat.
BY_WEBSITE, BY_SLACK = "website", "slack"
BY_ORDER_EMAIL, BY_CODE = "order_email", "one_time_code"
CHANNEL_METHODS = (BY_WEBSITE, BY_SLACK)
CHAT_METHODS = (BY_ORDER_EMAIL, BY_CODE)
METHODS = CHANNEL_METHODS + CHAT_METHODS

# Words for people (the console, CX review, the README).
METHOD_LABELS = {
    BY_WEBSITE: "signed in on the website",
    BY_SLACK: "their Slack account",
    BY_ORDER_EMAIL: "order number and the email on it",
    BY_CODE: "a code sent to their email",
}


@dataclass(frozen=True)
class Identity:
    """Who the conversation's customer is and how sure we are.

    ``customer_id`` is set only when verified; ``claimed`` is what was typed (an email or an
    order number), never taken as an identity.
    """

    trust: str = UNKNOWN
    customer_id: str | None = None
    verified_by: str | None = None
    claimed: str | None = None

    @classmethod
    def from_slots(
        cls,
        customer_id: str | None,
        verified_by: str | None,
        email: str | None = None,
        order_id: str | None = None,
    ) -> Identity:
        """The identity a conversation's slots describe.

        A ``customer_id`` without a known ``verified_by`` (a conversation from before
        verification existed) is only a claim.
        """
        if customer_id and verified_by in METHODS:
            return cls(VERIFIED, customer_id, verified_by)
        claim = email or order_id or customer_id
        return cls(CLAIMED, claimed=claim) if claim else cls()

    @property
    def verified(self) -> bool:
        return self.trust == VERIFIED

    def as_dict(self) -> dict[str, str | None]:
        """What the handoff packet and the console show."""
        return {
            "trust": self.trust,
            "verified_by": self.verified_by,
            "how": METHOD_LABELS.get(self.verified_by or ""),
            "claimed": self.claimed,  # what the visitor typed, unchecked
        }
