"""One POST of an outbox row to a department's webhook, and what its answer means for the row.

Apart from bot/handoff/dispatcher.py because it is the HTTP side only: the headers a
department checks, which answers are delivered, worth retrying or refusals, and how long
a department asked us to wait. It touches no database; the dispatcher decides the row's
fate from the ``Outcome``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from email.utils import parsedate_to_datetime

import requests

from bot.handoff import signing

USER_AGENT = "cx-assistant-dispatcher/1"
ERROR_EXCERPT = 500  # characters of a refusing department's answer kept in last_error
RETRYABLE_STATUSES = frozenset({408, 429})  # plus every 5xx
RETRY_AFTER_STATUSES = frozenset({429, 503})


@dataclass(frozen=True)
class Outcome:
    """How one HTTP attempt ended."""

    status: int | None  # None: no HTTP answer (timeout, connection error)
    error: str | None  # None: delivered
    retry_after: float | None = None  # seconds the department asked us to wait
    retryable: bool = True


def delivery_headers(
    idempotency_key: str, department: str, secret: str, body: bytes, now: datetime
) -> dict[str, str]:
    """The headers of one delivery: the key departments deduplicate on, and the signature."""
    return {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        "Idempotency-Key": idempotency_key,
        "X-CX-Department": department,
        **signing.signature_headers(secret, body, now),
    }


def post_once(
    session: requests.Session,
    url: str,
    body: bytes,
    headers: dict[str, str],
    *,
    timeout: float,
    now: Callable[[], datetime],
) -> Outcome:
    """POST ``body`` once and classify the answer; ``now`` dates a ``Retry-After`` given as a date."""
    try:
        # No redirects: requests would turn a redirected POST into a GET and drop the body.
        response = session.post(
            url, data=body, headers=headers, timeout=timeout, allow_redirects=False
        )
    except requests.Timeout as e:
        # The department may have received it; the retry carries the same key.
        return Outcome(None, f"timed out after {timeout:g} s ({type(e).__name__})")
    except requests.ConnectionError as e:
        return Outcome(None, f"connection failed: {_first_line(e)}")
    except requests.RequestException as e:
        return Outcome(None, f"request failed: {_first_line(e)}")
    status = response.status_code
    if 200 <= status < 300:
        return Outcome(status, None)
    excerpt = response.content[:ERROR_EXCERPT].decode("utf-8", "replace")
    error = f"HTTP {status}: {excerpt}" if excerpt else f"HTTP {status}"
    if status in RETRYABLE_STATUSES or status >= 500:
        retry_after = None
        if status in RETRY_AFTER_STATUSES:
            retry_after = retry_after_seconds(response.headers.get("Retry-After"), now())
        return Outcome(status, error, retry_after)
    return Outcome(status, error, retryable=False)  # a refusal: sending it again won't help


def retry_after_seconds(value: str | None, now: datetime) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (seconds or an HTTP date); None if absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is not None:  # ``now`` is naive local time, like the database
        when = when.astimezone().replace(tzinfo=None)
    return max(0.0, (when - now).total_seconds())


def _first_line(error: Exception) -> str:
    return str(error).splitlines()[0][:ERROR_EXCERPT] if str(error) else type(error).__name__
