import hashlib
import hmac
from datetime import datetime, timedelta

import pytest

from bot.handoff.signing import sign, signature_headers, verify

SECRET = "s3cret"
BODY = b'{"department":"billing","handoff_id":1}'
NOW = datetime(2025, 3, 12, 10, 0)  # naive: local time, like the journey database
TS = str(int(NOW.timestamp()))


def test_sign_is_hex_hmac_sha256_over_timestamp_dot_body():
    expected = hmac.new(b"s3cret", TS.encode() + b"." + BODY, hashlib.sha256).hexdigest()
    assert sign(SECRET, TS, BODY) == expected
    assert sign(SECRET.encode(), TS, BODY) == expected  # str and bytes secrets agree


def test_headers_carry_unix_seconds_and_the_sha256_scheme():
    headers = signature_headers(SECRET, BODY, NOW)
    assert headers == {"X-CX-Timestamp": TS, "X-CX-Signature": "sha256=" + sign(SECRET, TS, BODY)}
    assert signature_headers(SECRET, BODY, float(TS) + 0.9)["X-CX-Timestamp"] == TS


def test_verify_accepts_a_fresh_correct_signature():
    header = "sha256=" + sign(SECRET, TS, BODY)
    assert verify(SECRET, TS, BODY, header, now=NOW)
    assert verify(SECRET.encode(), TS, BODY, header, now=float(TS) + 299)


@pytest.mark.parametrize(
    "secret, timestamp, body, header",
    [
        ("wrong", TS, BODY, None),  # another department's secret
        (SECRET, TS, BODY + b" ", None),  # body changed by one byte
        (SECRET, str(int(TS) + 1), BODY, None),  # timestamp changed, signature replayed
        (SECRET, TS, BODY, "sha1=" + sign(SECRET, TS, BODY)),  # wrong scheme
        (SECRET, TS, BODY, sign(SECRET, TS, BODY)),  # scheme missing
        (SECRET, TS, BODY, ""),
        (SECRET, "", BODY, None),
        (SECRET, "12.5", BODY, None),
        (SECRET, "-" + TS, BODY, None),
        (SECRET, TS, BODY, "sha256=é" + "0" * 63),  # non-ASCII must not raise
    ],
)
def test_verify_rejects_anything_not_signed_as_sent(secret, timestamp, body, header):
    if header is None:
        header = "sha256=" + sign(SECRET, TS, BODY)
    assert not verify(secret, timestamp, body, header, now=NOW)


def test_verify_rejects_stale_and_future_timestamps():
    header = "sha256=" + sign(SECRET, TS, BODY)
    assert verify(SECRET, TS, BODY, header, now=NOW + timedelta(seconds=300))
    assert not verify(SECRET, TS, BODY, header, now=NOW + timedelta(seconds=301))
    assert not verify(SECRET, TS, BODY, header, now=NOW - timedelta(seconds=301))
    assert verify(SECRET, TS, BODY, header, now=NOW + timedelta(seconds=900), tolerance=900)


def test_an_empty_secret_is_a_configuration_error():
    with pytest.raises(ValueError, match="secret is empty"):
        sign("", TS, BODY)
    with pytest.raises(ValueError, match="secret is empty"):
        verify(b"", TS, BODY, "sha256=00", now=NOW)
