"""Secrets never in logs or error bodies (issue 9), on the real running system.

A short session over every door: a REST chat that ends in a handoff the dispatcher
delivers to billing's inbox (signed with billing's webhook secret), a message on Slack
(the bot token goes to the fake Slack Web API), a hub sign-in (a session key is minted) and
a failed one, and requests that fail: a wrong or right Rasa token with a bad body, a bad
department signature, a bad Slack signature, a malformed action call. Then every log file
the processes wrote (var/logs/*) and every error answer received must hold none of the
Rasa API token, the webhook signing secrets, the widget secret, the hub admin password,
the hub session key and CSRF token, the Slack bot token or signing secret. A card number
typed in the chat must not reach a log either (bot/redaction.py in every process).
"""

from __future__ import annotations

import json
import time
import uuid

import pytest
import requests

from bot.db.engine import make_engine
from bot.handoff.signing import signature_headers
from bot.hub.accounts import Accounts
from bot.hub.auth import COOKIE
from bot.local_setup import read_secrets
from tests.bot.hub.test_hub import PASSWORD, sign_in
from tests.fakes.slack import message_event

pytestmark = pytest.mark.e2e

CARD = "4111 1111 1111 1111"


class Errors:
    """Every answer of 400 or more this test received, to be searched for secrets."""

    def __init__(self) -> None:
        self.answers: list[tuple[str, int, str]] = []

    def keep(self, r: requests.Response) -> requests.Response:
        if r.status_code >= 400:
            headers = "\n".join(f"{k}: {v}" for k, v in r.headers.items())
            self.answers.append((f"{r.request.method} {r.url}", r.status_code, headers + r.text))
        return r


def _billing_handoff(assistant, reference: int, secret: str) -> dict:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        r = requests.get(
            f"{assistant.settings.hub_url}/api/departments/billing/handoffs",
            headers=signature_headers(secret, b"", time.time()),
            timeout=10,
        )
        r.raise_for_status()
        found = [h for h in r.json()["handoffs"] if h.get("handoff_id") == reference]
        if found:
            return found[0]
        time.sleep(0.5)
    pytest.fail("the billing handoff did not reach the billing inbox within 30 s")


def test_no_secret_in_any_log_or_error_body(assistant, fake_slack):
    settings = assistant.settings
    stored = read_secrets(settings.var_dir / "secrets.env")
    errors = Errors()
    rasa, hub = settings.rasa_url, settings.hub_url
    token = settings.rasa_token

    # A chat that ends in a handoff to billing, with a card number typed on the way.
    who = f"e2e-secrets-{uuid.uuid4().hex[:6]}"
    assistant.say(who, f"hi, you charged my card {CARD} twice")
    replies = assistant.verify_by_code(who, "omar@example.com")
    reply = "\n".join(r.get("text", "") for r in replies)
    assert "Your reference is H-" in reply, reply
    reference = int(reply.rsplit("Your reference is H-", 1)[1].split()[0].strip(" ."))
    handoff = _billing_handoff(assistant, reference, stored["CX_WEBHOOK_SECRET_BILLING"])
    assert CARD not in json.dumps(handoff)  # the department gets it redacted

    # Slack: an event in, a reply out through the Web API with the bot token.
    ts = f"{int(time.time())}.{uuid.uuid4().int % 10**6:06d}"
    delivered = fake_slack.deliver(
        f"{rasa}/webhooks/slack/webhook", message_event("where is ORD-10001", ts=ts), timeout=10
    )
    assert delivered.status_code == 200
    deadline = time.monotonic() + 60
    while not fake_slack.posts(thread_ts=ts) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert fake_slack.posts(thread_ts=ts), "no Slack reply"

    # The hub: a sign-in (a session key and CSRF token are minted), a failed one.
    username = f"secrets-{uuid.uuid4().hex[:6]}"
    engine = make_engine(settings.journey_url)
    try:
        Accounts(engine).add(username, PASSWORD, "agent", "Sam")
    finally:
        engine.dispose()
    browser, csrf = sign_in(hub, username)
    session_key = browser.cookies.get(COOKIE)
    assert session_key and csrf
    errors.keep(browser.get(f"{hub}/api/console/queue", timeout=10)).raise_for_status()
    errors.keep(
        requests.post(
            f"{hub}/login",
            data={"username": username, "password": "wrong " + PASSWORD},
            headers={"Origin": hub},
            allow_redirects=False,
            timeout=10,
        )
    )

    # Requests that fail, some carrying a secret themselves.
    tracker = f"{rasa}/conversations/{who}/tracker"
    errors.keep(requests.get(tracker, params={"token": "not-" + token}, timeout=10))
    errors.keep(requests.post(f"{rasa}/model/parse", params={"token": token}, json=[], timeout=10))
    errors.keep(
        requests.post(f"{tracker}/events", params={"token": token}, data=b"{broken", timeout=10)
    )
    errors.keep(requests.get(f"{rasa}/no/such/path", params={"token": token}, timeout=10))
    errors.keep(
        requests.get(
            f"{hub}/api/departments/billing/handoffs",
            headers=signature_headers("not-the-secret", b"", time.time()),
            timeout=10,
        )
    )
    errors.keep(
        requests.post(
            f"{hub}/api/departments/billing/handoffs",
            data=b'{"handoff_id": 1}',
            headers={"Content-Type": "application/json", "X-CX-Signature": "sha256=00"},
            timeout=10,
        )
    )
    errors.keep(
        fake_slack.deliver(
            f"{rasa}/webhooks/slack/webhook",
            message_event("hi"),
            headers={"X-Slack-Signature": "v0=" + "0" * 64},
            timeout=10,
        )
    )
    errors.keep(
        requests.post(f"http://{settings.host}:{settings.action_port}/webhook", json=[], timeout=10)
    )
    errors.keep(
        requests.post(
            f"{rasa}/webhooks/rest/webhook",
            data=b'{"sender": "x", "message": ',
            headers={"Content-Type": "application/json"},
            timeout=10,
        )
    )
    assert len(errors.answers) >= 8, [a[:2] for a in errors.answers]

    secrets = {
        "Rasa API token": token,
        "widget secret": settings.widget_secret,
        "hub admin password": stored["CX_HUB_ADMIN_PASSWORD"],
        "hub session key": session_key,
        "hub CSRF token": csrf,
        "hub user password": PASSWORD,
        "Slack bot token": fake_slack.token,
        "Slack signing secret": fake_slack.signing_secret,
        **{
            f"webhook secret {name}": value
            for name, value in stored.items()
            if name.startswith("CX_WEBHOOK_SECRET_")
        },
    }
    assert all(len(v) >= 16 for v in secrets.values()), "a secret too short to search for"

    time.sleep(1.0)  # the dispatcher and Rasa flush their last lines
    logs = sorted((settings.var_dir / "logs").glob("*"))
    names = {p.name for p in logs}
    assert {"rasa.log", "actions.log", "hub.log", "dispatcher.log"} <= names, names
    leaks = []
    for path in logs:
        text = path.read_text(encoding="utf-8", errors="replace")
        leaks += [f"{what} in {path.name}" for what, v in secrets.items() if v in text]
        if CARD in text or CARD.replace(" ", "") in text:
            leaks.append(f"a card number in {path.name}")
    for request, status, body in errors.answers:
        leaks += [
            f"{what} in the {status} to {request}" for what, v in secrets.items() if v in body
        ]
    assert leaks == []
