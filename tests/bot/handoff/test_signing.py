import asyncio
import hashlib
import hmac
import json
from datetime import datetime, timedelta

import pytest
import requests
from sanic.compat import Header
from sanic.request import Request

from bot.db.engine import make_engine
from bot.db.migrate import migrate
from bot.departments import MissingSecretError, load_departments
from bot.handoff.signing import sign, signature_headers, verify, verify_any
from bot.hub.app import serve
from bot.hub.settings import HubSettings
from bot.rasa.channels.slack import ThreadedSlackInput
from bot.rasa.channels.slack_signing import slack_signature_ok
from tests.fakes.slack import sign as slack_sign

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


# --- a rotated secret: receivers accept the previous one while it is configured -------------

OLD, NEW = "secret-before", "secret-after"


def test_verify_any_accepts_the_current_or_the_previous_secret_and_nothing_else():
    for secret in (NEW, OLD):
        header = "sha256=" + sign(secret, TS, BODY)
        assert verify_any([NEW, OLD], TS, BODY, header, now=NOW)
    assert not verify_any([NEW], TS, BODY, "sha256=" + sign(OLD, TS, BODY), now=NOW)
    assert not verify_any([NEW, OLD], TS, BODY, "sha256=" + sign("third", TS, BODY), now=NOW)
    with pytest.raises(ValueError, match="no webhook signing secret"):
        verify_any([], TS, BODY, "sha256=00", now=NOW)


def test_verify_any_rejects_a_stale_timestamp_whichever_secret_signed_it():
    for secret in (NEW, OLD):
        header = "sha256=" + sign(secret, TS, BODY)
        assert verify_any([NEW, OLD], TS, BODY, header, now=NOW + timedelta(seconds=300))
        assert not verify_any([NEW, OLD], TS, BODY, header, now=NOW + timedelta(seconds=301))
        assert not verify_any([NEW, OLD], TS, BODY, header, now=NOW - timedelta(seconds=301))


def test_signatures_are_compared_in_constant_time(monkeypatch):
    calls = []
    real = hmac.compare_digest

    def spy(a, b):
        calls.append((type(a), type(b)))
        return real(a, b)

    monkeypatch.setattr(hmac, "compare_digest", spy)
    header = "sha256=" + sign(OLD, TS, BODY)
    assert verify_any([NEW, OLD], TS, BODY, header, now=NOW)
    # Both secrets tried, whichever matched: the time taken does not tell which one did.
    assert calls == [(bytes, bytes)] * 2
    calls.clear()
    slack = slack_sign(NEW, BODY, int(TS))
    assert slack_signature_ok(
        [NEW, OLD], slack["X-Slack-Request-Timestamp"], BODY, slack["X-Slack-Signature"], float(TS)
    )
    assert calls == [(bytes, bytes)] * 2


def test_a_departments_previous_secret_comes_from_its_variable_with_PREVIOUS():
    billing = load_departments()["billing"]
    assert billing.secret_env == "CX_WEBHOOK_SECRET_BILLING"
    assert billing.previous_secret_env == "CX_WEBHOOK_SECRET_BILLING_PREVIOUS"
    env = {"CX_WEBHOOK_SECRET_BILLING": NEW}
    assert billing.webhook_secrets(env) == (NEW,)
    env["CX_WEBHOOK_SECRET_BILLING_PREVIOUS"] = OLD
    assert billing.webhook_secrets(env) == (NEW, OLD)  # the current one first
    assert billing.webhook_secret(env) == NEW  # what the dispatcher signs with
    assert billing.webhook_secrets({**env, "CX_WEBHOOK_SECRET_BILLING_PREVIOUS": NEW}) == (NEW,)
    with pytest.raises(
        MissingSecretError, match="set the environment variable CX_WEBHOOK_SECRET_BILLING"
    ):
        billing.webhook_secrets({"CX_WEBHOOK_SECRET_BILLING_PREVIOUS": OLD})


# --- the hub's department intake, on a simulated clock --------------------------------------


class SimulatedClock:
    """Unix seconds that only move when the test moves them (the hub's ``clock``)."""

    def __init__(self, now: float):
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def journey_url(tmp_path) -> str:
    url = f"sqlite:///{tmp_path / 'journey.db'}"
    migrate(make_engine(url))
    return url


def deliver(hub_url: str, secret: str, at: float, key: str) -> requests.Response:
    body = json.dumps({"handoff_id": 7, "department": "billing"}).encode()
    # No keep-alive: the hub is stopped between parts, with no connection left open.
    headers = {"Content-Type": "application/json", "Idempotency-Key": key, "Connection": "close"}
    return requests.post(
        f"{hub_url}/api/departments/billing/handoffs",
        data=body,
        headers={**headers, **signature_headers(secret, body, at)},
        timeout=10,
    )


def test_hub_intake_accepts_old_and_new_secret_during_the_overlap_and_refuses_stale(journey_url):
    clock = SimulatedClock(float(TS))
    overlap = {"CX_WEBHOOK_SECRET_BILLING": NEW, "CX_WEBHOOK_SECRET_BILLING_PREVIOUS": OLD}
    hub = serve(HubSettings(journey_url=journey_url, secrets=overlap, clock=clock), port=0)
    try:
        signed_at = clock.now
        assert deliver(hub.url, OLD, signed_at, "k-old").status_code == 200
        assert deliver(hub.url, NEW, signed_at, "k-new").status_code == 200
        assert deliver(hub.url, "third", signed_at, "k-third").status_code == 401
        clock.now += 300  # still fresh for the hub: accepted
        assert deliver(hub.url, NEW, signed_at, "k-late").status_code == 200
        clock.now += 1  # now five minutes and a second old: a replay
        stale = deliver(hub.url, OLD, signed_at, "k-stale")
        assert stale.status_code == 401 and "away from the hub's clock" in stale.json()["error"]
        future = deliver(hub.url, NEW, clock.now + 301, "k-future")
        assert future.status_code == 401
    finally:
        hub.stop()

    # The overlap over (the _PREVIOUS variable removed): the old secret is refused.
    rotated = {"CX_WEBHOOK_SECRET_BILLING": NEW}
    hub = serve(HubSettings(journey_url=journey_url, secrets=rotated, clock=clock), port=0)
    try:
        assert deliver(hub.url, OLD, clock.now, "k-old-2").status_code == 401
        assert deliver(hub.url, NEW, clock.now, "k-new-2").status_code == 200
    finally:
        hub.stop()


# --- Slack's v0 signature -------------------------------------------------------------------

SLACK_OLD, SLACK_NEW = "slack-signing-before", "slack-signing-after"


def slack_request(body: bytes, headers: dict[str, str]) -> Request:
    """A request as Rasa's server hands it to the channel."""
    headers = {"content-type": "application/json", **headers}
    req = Request(b"/webhooks/slack/webhook", Header(headers), "1.1", "POST", None, None)
    req.body = body
    return req


def answer(channel: ThreadedSlackInput, req: Request):
    async def on_new_message(message):  # a url_verification starts no turn
        raise AssertionError(f"no turn expected, got {message}")

    return asyncio.run(channel.handle(req, on_new_message))


@pytest.fixture
def slack_env(monkeypatch):
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-test")
    monkeypatch.setenv("SLACK_SIGNING_SECRET", SLACK_NEW)
    monkeypatch.setenv("SLACK_SIGNING_SECRET_PREVIOUS", SLACK_OLD)


def test_slack_channel_accepts_both_secrets_during_a_rotation_on_its_clock(slack_env):
    channel = ThreadedSlackInput.from_credentials({})
    assert channel.previous_signing_secret == SLACK_OLD  # from SLACK_SIGNING_SECRET_PREVIOUS
    clock = SimulatedClock(float(TS))
    channel.clock = clock
    body = json.dumps({"type": "url_verification", "challenge": "c-123"}).encode()
    for secret in (SLACK_NEW, SLACK_OLD):
        r = answer(channel, slack_request(body, slack_sign(secret, body, int(TS))))
        assert r.status == 200 and json.loads(r.body) == {"challenge": "c-123"}
    assert answer(channel, slack_request(body, slack_sign("third", body, int(TS)))).status == 401
    clock.now += 300
    assert answer(channel, slack_request(body, slack_sign(SLACK_OLD, body, int(TS)))).status == 200
    clock.now += 1  # over five minutes: a replay, whichever secret signed it
    for secret in (SLACK_NEW, SLACK_OLD):
        assert answer(channel, slack_request(body, slack_sign(secret, body, int(TS)))).status == 401


def test_slack_channel_without_a_previous_secret_refuses_the_old_one(slack_env, monkeypatch):
    monkeypatch.delenv("SLACK_SIGNING_SECRET_PREVIOUS")
    channel = ThreadedSlackInput.from_credentials({})
    channel.clock = SimulatedClock(float(TS))
    body = b'{"type":"url_verification","challenge":"c"}'
    assert answer(channel, slack_request(body, slack_sign(SLACK_OLD, body, int(TS)))).status == 401
    assert answer(channel, slack_request(body, slack_sign(SLACK_NEW, body, int(TS)))).status == 200


@pytest.mark.parametrize(
    "timestamp, signature",
    [
        (None, None),
        (TS, None),
        (None, "v0=" + "0" * 64),
        ("", "v0=" + "0" * 64),
        ("12.5", "v0=" + "0" * 64),
        ("-" + TS, "v0=" + "0" * 64),
        ("١٢٣", "v0=" + "0" * 64),  # digits, but not ASCII ones
        (TS, "v0=é" + "0" * 63),  # non-ASCII must not raise (stock's str compare_digest does)
        (TS, "v1=" + "0" * 64),
    ],
)
def test_slack_signature_refuses_malformed_headers_without_raising(timestamp, signature):
    assert not slack_signature_ok([SLACK_NEW, SLACK_OLD], timestamp, BODY, signature, float(TS))


def test_slack_signature_scheme_is_v0_over_timestamp_and_body():
    headers = slack_sign(SLACK_NEW, BODY, int(TS))
    args = (headers["X-Slack-Request-Timestamp"], BODY, headers["X-Slack-Signature"])
    assert slack_signature_ok([SLACK_NEW], *args, now=float(TS))
    assert not slack_signature_ok([SLACK_NEW], args[0], BODY + b" ", args[2], now=float(TS))
    assert not slack_signature_ok([], *args, now=float(TS))
    assert not slack_signature_ok([SLACK_NEW], *args, now=float(TS) - 301)
