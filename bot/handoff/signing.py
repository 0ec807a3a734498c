"""HMAC signatures for webhooks between the assistant and departments, in both directions.

The signed message is ``<timestamp>.<body>``: the unix-seconds timestamp sent in
``X-CX-Timestamp`` and the raw request body, byte for byte. The signature travels as
``X-CX-Signature: sha256=<hex>``. Signing the timestamp lets a receiver reject replays of
an old, captured request; comparing in constant time keeps the secret from leaking
through response timing.

Rotating a secret: the sender signs with the current secret only; a receiver accepts the
current or the previous one (``verify_any``) for as long as both are configured, so
requests signed just before the switch, or by a peer that has not switched yet, still pass.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable
from datetime import datetime

SIGNATURE_HEADER = "X-CX-Signature"
TIMESTAMP_HEADER = "X-CX-Timestamp"
SCHEME = "sha256="
DEFAULT_TOLERANCE = 300  # seconds a signed request stays valid, either side of the receiver's clock


def sign(secret: bytes | str, timestamp: str, body: bytes) -> str:
    """The hex HMAC-SHA256 of ``timestamp + "." + body`` under ``secret``."""
    message = timestamp.encode("ascii") + b"." + body
    return hmac.new(_key(secret), message, hashlib.sha256).hexdigest()


def signature_headers(secret: bytes | str, body: bytes, now: float | datetime) -> dict[str, str]:
    """The ``X-CX-Timestamp`` and ``X-CX-Signature`` headers for sending ``body`` at ``now``."""
    timestamp = str(int(_unix_seconds(now)))
    return {
        TIMESTAMP_HEADER: timestamp,
        SIGNATURE_HEADER: SCHEME + sign(secret, timestamp, body),
    }


def verify(
    secret: bytes | str,
    timestamp: str | None,
    body: bytes,
    signature_header: str | None,
    now: float | datetime,
    tolerance: int = DEFAULT_TOLERANCE,
) -> bool:
    """Whether ``signature_header`` signs ``body`` at ``timestamp`` and the timestamp is fresh.

    ``now`` is unix seconds or a datetime (naive means local time, as in ``datetime.timestamp``,
    like every time in the journey database); a timestamp more than
    ``tolerance`` seconds away from it, in the past or the future, is rejected.
    """
    _key(secret)  # an empty secret is a configuration error even for a request that fails anyway
    if not timestamp or not signature_header or not timestamp.isascii() or not timestamp.isdigit():
        return False
    if abs(_unix_seconds(now) - int(timestamp)) > tolerance:
        return False
    if not signature_header.startswith(SCHEME):
        return False
    expected = SCHEME + sign(secret, timestamp, body)
    # Bytes, because compare_digest refuses non-ASCII str and a header may hold anything.
    return hmac.compare_digest(expected.encode("ascii"), signature_header.encode("utf-8"))


def verify_any(
    secrets: Iterable[bytes | str],
    timestamp: str | None,
    body: bytes,
    signature_header: str | None,
    now: float | datetime,
    tolerance: int = DEFAULT_TOLERANCE,
) -> bool:
    """Whether any of ``secrets`` (current first, then the previous one) verifies the request.

    Every secret is tried, even after a match, so the time taken does not say which one matched.
    """
    keys = list(secrets)
    if not keys:
        raise ValueError("no webhook signing secret to verify with")
    results = [verify(key, timestamp, body, signature_header, now, tolerance) for key in keys]
    return any(results)


def _key(secret: bytes | str) -> bytes:
    key = secret.encode("utf-8") if isinstance(secret, str) else secret
    if not key:
        # An empty key signs nothing anyone could not forge: a configuration error, not a request error.
        raise ValueError("webhook signing secret is empty")
    return key


def _unix_seconds(moment: float | datetime) -> float:
    return moment.timestamp() if isinstance(moment, datetime) else float(moment)
