"""Slack's request signature (v0): whether Slack sent a request, and sent it recently.

Apart from the channel because it is a small piece of cryptography with its own rules
(constant-time comparison as bytes, a replay window, a previous secret during rotation)
that is tested on its own, without Rasa or a server.
"""

from __future__ import annotations

import hashlib
import hmac

SLACK_TOLERANCE = 300  # seconds: Slack's advice, a request older than 5 minutes is a replay
UNSIGNED = (
    "The request is not signed by Slack: X-Slack-Signature does not match the body, "
    "or X-Slack-Request-Timestamp is more than 5 minutes away."
)


def slack_signature_ok(
    secrets: list[str],
    timestamp: str | None,
    body: bytes,
    signature: str | None,
    now: float,
    tolerance: int = SLACK_TOLERANCE,
) -> bool:
    """Whether ``signature`` is ``v0=`` HMAC-SHA256 of ``v0:{timestamp}:{body}`` under any of
    ``secrets``, with ``timestamp`` (unix seconds) within ``tolerance`` of ``now``.

    Every secret is tried and compared in constant time, as bytes: ``compare_digest`` on
    ``str`` raises for non-ASCII, and a header may hold anything.
    """
    if not secrets or not timestamp or not signature:
        return False
    if not (timestamp.isascii() and timestamp.isdigit()):
        return False
    if abs(now - int(timestamp)) > tolerance:
        return False
    message = b"v0:" + timestamp.encode("ascii") + b":" + body
    given = signature.encode("utf-8", "surrogateescape")
    matches = [
        hmac.compare_digest(
            b"v0=" + hmac.new(secret.encode("utf-8"), message, hashlib.sha256).hexdigest().encode(),
            given,
        )
        for secret in secrets
    ]
    return any(matches)
