"""Bad input to every HTTP endpoint gets a clear 4xx, never a 500 (issue 9).

Each malformed body (``[]``, ``"x"``, ``{}``, ``null``, broken JSON, bytes that are not
UTF-8, an empty body, a wrong Content-Type) goes to each endpoint of the running assistant:
Rasa's REST, Slack and socket.io channels, ``/model/parse`` and the HTTP API with its
token, the action server's ``/webhook``, and every hub route that takes a body, found by
walking the hub's OpenAPI document so a new route is covered the day it is added. Requests
are signed and authenticated as their callers would be, so the body itself is what gets
judged. Bodies over each server's configured limit get 413.
"""

from __future__ import annotations

import json
import re
import socket
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from urllib.parse import urlsplit

import pytest
import requests
from sqlalchemy import insert

from bot.db.engine import make_engine
from bot.db.schema import handoffs, touchpoints
from bot.handoff.signing import signature_headers
from bot.hub.accounts import Accounts
from bot.hub.settings import MAX_BODY_BYTES as HUB_MAX_BODY
from bot.local_setup import read_secrets
from bot.processes import RASA_MAX_BODY_BYTES
from bot.rasa.action_server import DEFAULT_MAX_BODY_BYTES as ACTION_MAX_BODY
from bot.rasa.action_server import SECRET_HEADER as ACTION_SECRET_HEADER
from tests.fakes.slack import sign as slack_sign

JSON = "application/json"
ADMIN, ADMIN_PASSWORD = "bad-input-admin", "bad-input-password-1"


@dataclass(frozen=True)
class Bad:
    """One malformed request body and the Content-Type it is sent with."""

    name: str
    body: bytes | None  # None: the endpoint's own well-formed body (for a wrong type)
    content_type: str = JSON


BAD_BODIES = [
    Bad("list", b"[]"),
    Bad("string", b'"x"'),
    Bad("empty-object", b"{}"),
    Bad("null", b"null"),
    Bad("not-json", b"{this is not json"),
    Bad("not-utf8", b'{"message": "\xff\xfe"}'),
    Bad("empty-body", b""),
    Bad("text-plain", None, "text/plain"),
    Bad("form", b"message=hi&sender=x", "application/x-www-form-urlencoded"),
]


ANY_BUT_5XX = 0  # a body the endpoint may take (e.g. {} where every field is optional)
# Every bad body is named with a 400, a declared non-JSON body with 415.
JSON_API = {b.name: 400 for b in BAD_BODIES} | {"text-plain": 415, "form": 415}
# The hub's JSON APIs: the same, but an API whose fields are all optional takes {} (the
# review flag: a flag with no tags), or answers it by the conversation's state (409).
HUB_JSON_API = JSON_API | {"empty-object": ANY_BUT_5XX}
# A form route refuses every non-form body with 415. A form body, or none at all, is what
# it takes: it is judged by the route's own fields, so those two are not "bad" here.
FORM_ROUTE = {b.name: 415 for b in BAD_BODIES if b.body} | {
    "empty-body": ANY_BUT_5XX,
    "form": ANY_BUT_5XX,
}


@dataclass
class Endpoint:
    """An endpoint, how its caller authenticates, and a well-formed body for it."""

    name: str
    method: str
    url: str
    good_body: bytes = b"{}"
    sign: str = ""  # "", "slack" or a department name (the hub's HMAC)
    session: bool = False  # a signed-in admin with the CSRF token
    expected: dict[str, int] = field(default_factory=dict)  # bad body -> exact status
    limit: int = 0  # its body limit in bytes, if it has one of its own


@pytest.fixture(scope="module")
def world(assistant, fake_slack):
    """The running assistant with a hub admin signed in and a touchpoint and handoff to act on."""
    settings = assistant.settings
    engine = make_engine(settings.journey_url)
    Accounts(engine).add(ADMIN, ADMIN_PASSWORD, "admin", "Bad Input Admin")
    now = datetime.now()
    conversation = f"bad-input-{uuid.uuid4().hex[:8]}"
    with engine.begin() as conn:
        touchpoint_id = conn.execute(
            insert(touchpoints).values(
                conversation_id=conversation,
                session_started_at=now,
                channel="rest",
                outcome="handed_off",
                started_at=now,
                last_activity_at=now,
            )
        ).inserted_primary_key[0]
        handoff_id = conn.execute(
            insert(handoffs).values(
                created_at=now,
                department="billing",
                need="charged_twice",
                conversation_id=conversation,
                customer_id="C002",
                channel="rest",
                priority="high",
                summary="Charged twice",
                context=json.dumps({"transcript": []}),
                status="open",
            )
        ).inserted_primary_key[0]
    engine.dispose()
    browser = requests.Session()
    r = browser.post(
        f"{settings.hub_url}/login",
        data={"username": ADMIN, "password": ADMIN_PASSWORD},
        allow_redirects=False,
        timeout=10,
    )
    assert r.status_code == 303, r.text
    csrf = browser.get(f"{settings.hub_url}/api/session", timeout=10).json()["csrf_token"]
    return {
        "assistant": assistant,
        "fake_slack": fake_slack,
        "secrets": read_secrets(settings.var_dir / "secrets.env"),
        "browser": browser,
        "csrf": csrf,
        "params": {
            "name": "billing",
            "handoff_id": str(handoff_id),
            "touchpoint_id": str(touchpoint_id),
            "conversation_id": conversation,
            "customer_id": "C002",
            "example_id": "1",
        },
    }


def rasa_endpoints(world) -> list[Endpoint]:
    s = world["assistant"].settings
    rasa, token = s.rasa_url, s.rasa_token
    conv = f"{rasa}/conversations/bad-input-api"
    return [
        Endpoint(
            "rest",
            "POST",
            f"{rasa}/webhooks/rest/webhook",
            b'{"sender": "bad-input", "message": "hi"}',
            expected=JSON_API,
            limit=RASA_MAX_BODY_BYTES,
        ),
        # Signed as Slack signs, so the body (not the signature) is what gets judged. A form
        # is Slack's interactivity type: one without its 'payload' field is a 400.
        Endpoint(
            "slack",
            "POST",
            f"{rasa}/webhooks/slack/webhook",
            json.dumps({"type": "event_callback", "event": {}}).encode(),
            sign="slack",
            expected=JSON_API | {"form": 400},
            limit=RASA_MAX_BODY_BYTES,
        ),
        # Rasa's own HTTP API, with the token: bot/rasa/channels/api_guard.py checks the bodies.
        *(
            Endpoint(
                name,
                method,
                f"{url}?token={token}",
                good,
                # Replacing a tracker's events with none ([]) is a reset Rasa allows.
                expected=JSON_API | ({"list": ANY_BUT_5XX} if method == "PUT" else {}),
                limit=RASA_MAX_BODY_BYTES,
            )
            for name, method, url, good in (
                ("model-parse", "POST", f"{rasa}/model/parse", b'{"text": "hi"}'),
                ("api-messages", "POST", f"{conv}/messages", b'{"text": "hi", "sender": "user"}'),
                ("api-trigger-intent", "POST", f"{conv}/trigger_intent", b'{"name": "greet"}'),
                ("api-execute", "POST", f"{conv}/execute", b'{"name": "utter_greet"}'),
                ("api-append-events", "POST", f"{conv}/tracker/events", b'{"event": "restart"}'),
                ("api-replace-events", "PUT", f"{conv}/tracker/events", b'[{"event": "restart"}]'),
            )
        ),
        # The website chat's socket.io: a POST before the handshake (a GET) is refused by
        # python-engineio whatever its body.
        Endpoint(
            "socketio-polling",
            "POST",
            f"{rasa}/socket.io/?EIO=4&transport=polling",
            b"40",
            expected={b.name: 400 for b in BAD_BODIES},
            limit=RASA_MAX_BODY_BYTES,
        ),
        Endpoint(
            "action-server",
            "POST",
            s.action_url,
            json.dumps({"next_action": "action_listen", "tracker": {"sender_id": "x"}}).encode(),
            expected=JSON_API,
            limit=ACTION_MAX_BODY,
        ),
    ]


def hub_endpoints(world) -> list[Endpoint]:
    """Every hub operation that takes a body, from /api/openapi.json."""
    hub = world["assistant"].settings.hub_url
    doc = requests.get(f"{hub}/api/openapi.json", timeout=10).json()
    found = []
    for path, operations in doc["paths"].items():
        for method, op in operations.items():
            content = (
                (op.get("requestBody") or {}).get("content", {}) if isinstance(op, dict) else {}
            )
            if not content:
                continue
            url = hub + re.sub(r"{(\w+)}", lambda m, p=path: _param(world, p, m[1]), path)
            signed = any("signature" in s for s in op.get("security") or [])
            if JSON in content:
                good, expected = b'{"resolution": "done", "handoff_id": 1}', HUB_JSON_API
                if (op.get("requestBody") or {}).get("required") is False:
                    # A body the route may go without (an acknowledge with nothing to add).
                    expected = expected | {"empty-body": ANY_BUT_5XX}
            else:  # a form route: anything but a form is refused before it is read
                good, expected = b"a=1", FORM_ROUTE
            found.append(
                Endpoint(
                    f"hub {method.upper()} {path}",
                    method.upper(),
                    url,
                    good,
                    sign="billing" if signed else "",
                    session=not signed,
                    expected=expected,
                    limit=HUB_MAX_BODY,
                )
            )
    assert len(found) >= 10, f"the OpenAPI walk found only {len(found)} routes with a body"
    return found


def _param(world, path: str, name: str) -> str:
    params = world["params"]
    assert name in params, f"{path}: give the path parameter {{{name}}} a value in this test"
    return params[name]


def send(world, ep: Endpoint, body: bytes, content_type: str | None, **kw) -> requests.Response:
    headers = {"Content-Type": content_type} if content_type else {}
    if ep.sign == "slack":
        headers.update(slack_sign(world["fake_slack"].signing_secret, body))
    elif ep.sign:
        secret = world["secrets"][f"CX_WEBHOOK_SECRET_{ep.sign.upper()}"]
        headers.update(signature_headers(secret, body, time.time()))
        headers["Idempotency-Key"] = uuid.uuid4().hex
    if ep.name == "action-server":
        headers[ACTION_SECRET_HEADER] = world["secrets"]["CX_ACTION_SECRET"]
    client = requests
    if ep.session:
        client = world["browser"]
        headers["X-CSRF-Token"] = world["csrf"]
        headers["Origin"] = world["assistant"].settings.hub_url
    return client.request(
        ep.method, ep.url, data=body, headers=headers, allow_redirects=False, timeout=30, **kw
    )


def says_what_is_wrong(r: requests.Response) -> str:
    """The reason the answer gives, whatever its format (JSON error, text, HTML)."""
    try:
        data = r.json()
    except ValueError:
        text = re.sub(r"(?s)<(head|style|script)\b.*?</\1>", " ", r.text)
        return " ".join(re.sub(r"<[^>]+>", " ", text).split())
    if isinstance(data, dict):
        return str(data.get("error") or data.get("message") or data.get("reason") or "")
    return data if isinstance(data, str) else ""


def test_every_endpoint_answers_every_bad_body_with_a_clear_4xx(world):
    problems = []
    table = []
    for ep in rasa_endpoints(world) + hub_endpoints(world):
        for bad in BAD_BODIES:
            body = ep.good_body if bad.body is None else bad.body
            r = send(world, ep, body, bad.content_type)
            reason = says_what_is_wrong(r)
            table.append(f"{ep.name:55} {bad.name:13} {r.status_code} {reason[:90]!r}")
            want = ep.expected.get(bad.name)
            if r.status_code >= 500 or (want == ANY_BUT_5XX and r.status_code < 400):
                if r.status_code >= 500:
                    problems.append(f"{ep.name} / {bad.name}: {r.status_code}: {r.text[:200]}")
                continue
            if want and r.status_code != want:
                problems.append(
                    f"{ep.name} / {bad.name}: {r.status_code}, wanted {want}: {r.text[:200]}"
                )
            elif not 400 <= r.status_code < 500:
                problems.append(f"{ep.name} / {bad.name}: {r.status_code}: {r.text[:200]}")
            elif not reason:
                problems.append(f"{ep.name} / {bad.name}: {r.status_code} without a reason")
    print("\n".join(table))
    assert not problems, "\n".join(problems)


def _declared_too_large(
    url: str, method: str, path_and_query: str, size: int, extra: str = ""
) -> tuple[int, str]:
    """Send only the headers of a ``size``-byte request and read the answer.

    A server refuses such a body on its Content-Length alone, before any of it arrives;
    sending the bytes too would only race the server's close.
    """
    parts = urlsplit(url)
    with socket.create_connection((parts.hostname, parts.port), timeout=10) as conn:
        conn.sendall(
            f"{method} {path_and_query} HTTP/1.1\r\nHost: {parts.netloc}\r\n"
            f"Content-Type: {JSON}\r\nContent-Length: {size}\r\n{extra}\r\n".encode()
        )
        answer = b""
        while b"\r\n\r\n" not in answer:
            chunk = conn.recv(65536)
            if not chunk:
                break
            answer += chunk
        head, _, rest = answer.partition(b"\r\n\r\n")
        status = int(head.split()[1])
        return status, (rest or conn.recv(65536)).decode("utf-8", "replace")


def test_a_body_over_each_servers_limit_gets_413(world):
    problems = []
    for ep in rasa_endpoints(world) + hub_endpoints(world):
        parts = urlsplit(ep.url)
        target = parts.path + (f"?{parts.query}" if parts.query else "")
        # Without Rasa's secret the action server refuses before the size matters (401).
        extra = (
            f"{ACTION_SECRET_HEADER}: {world['secrets']['CX_ACTION_SECRET']}\r\n"
            if ep.name == "action-server"
            else ""
        )
        status, text = _declared_too_large(ep.url, ep.method, target, ep.limit + 1, extra)
        if status != 413:
            problems.append(f"{ep.name}: {status} for {ep.limit + 1} bytes: {text[:200]}")
    assert not problems, "\n".join(problems)


def test_the_action_server_takes_calls_only_from_rasa(world):
    """Rasa's calls carry the shared secret (the conversations above work); others get 401."""
    url = world["assistant"].settings.action_url
    call = {"next_action": "action_greet", "tracker": {"sender_id": "intruder", "events": []}}
    for headers in ({}, {ACTION_SECRET_HEADER: "guess"}, {ACTION_SECRET_HEADER: ""}):
        r = requests.post(url, json=call, headers=headers, timeout=10)
        assert r.status_code == 401, (headers, r.text)
        assert ACTION_SECRET_HEADER in r.json()["error"] and "intruder" not in r.text
    actions_list = url.rsplit("/", 1)[0] + "/actions"
    assert requests.get(actions_list, timeout=10).status_code == 401
    assert requests.get(url.rsplit("/", 1)[0] + "/health", timeout=10).ok
    good = {ACTION_SECRET_HEADER: world["secrets"]["CX_ACTION_SECRET"]}
    assert requests.get(actions_list, headers=good, timeout=10).ok


def test_a_real_over_limit_message_gets_413_from_the_rest_channel(world):
    """The bytes really sent, not only declared: the REST channel stops at Rasa's limit."""
    ep = rasa_endpoints(world)[0]
    body = json.dumps({"sender": "bad-input-big", "message": "x" * (RASA_MAX_BODY_BYTES)})
    try:
        r = send(world, ep, body.encode(), JSON)
    except requests.ConnectionError:
        pytest.fail("Rasa closed the connection instead of answering 413")
    assert r.status_code == 413, r.text[:200]


def test_nul_and_odd_senders_are_refused_by_what_integrations_call(world):
    """Customers' NUL characters are removed (tests/e2e/test_odd_messages.py); an
    integration sending one to Rasa's API, or a sender id no store can key on, gets a 400."""
    s = world["assistant"].settings
    r = requests.post(
        f"{s.rasa_url}/conversations/bad-input-nul/messages?token={s.rasa_token}",
        json={"text": "a\x00b", "sender": "user"},
        timeout=10,
    )
    assert r.status_code == 400 and "NUL" in r.json()["message"], r.text
    rest = f"{s.rasa_url}/webhooks/rest/webhook"
    for sender, why in (
        ("bad\x00sender", "control"),
        ("bad\u202esender", "control"),
        ("", "empty"),
        ("x" * 256, "longer than 255"),
        (True, "must be a string"),
    ):
        r = requests.post(rest, json={"sender": sender, "message": "hi"}, timeout=10)
        assert r.status_code == 400 and why in r.json()["message"], (sender, r.text)
