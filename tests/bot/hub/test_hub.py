"""The hub as a department and a browser meet it: a real server process on a free port.

The hub runs as ``python -m bot.hub`` against a fresh journey database (SQLite, and
PostgreSQL too when TEST_POSTGRES_URL is set), with test signing secrets in its
environment; the tests speak HTTP to it with ``requests`` and look at the database rows.
"""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import pytest
import requests
from sqlalchemy import func, insert, select
from sqlalchemy.engine import Engine

from bot.db.engine import make_engine
from bot.db.schema import handoffs, inbox, touchpoints
from bot.departments import load_departments
from bot.handoff.signing import signature_headers
from bot.hub import HubSettings, create_app, serve
from bot.hub.accounts import Accounts
from bot.hub.openapi import document
from bot.routing import RoutingMap
from bot.settings import ROOT
from tests.conftest import DATABASES, scratch_journey_url

PG_SCHEMA = (
    f"cx_hub_test_{os.getpid()}"  # apart from tests/conftest.py's cx_test: both may run at once
)
DEPARTMENTS = load_departments()
# Every department gets a secret except support, to show what a missing secret does.
SECRETS = {name: f"test-secret-{name}" for name in DEPARTMENTS if name != "support"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Hub:
    """The running hub and a connection to its database."""

    url: str
    engine: Engine

    def signed(self, method, path, body=b"", department="billing", *, secret=None, at=None, **kw):
        headers = signature_headers(
            secret or SECRETS[department], body, time.time() if at is None else at
        )
        headers.update(kw.pop("headers", {}))
        return requests.request(
            method, self.url + path, data=body, headers=headers, timeout=10, **kw
        )

    def deliver(self, department, payload, key=None, **kw):
        body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        headers = {"Content-Type": "application/json"}
        if key is not False:
            headers["Idempotency-Key"] = key or uuid.uuid4().hex
        return self.signed(
            "POST",
            f"/api/departments/{department}/handoffs",
            body,
            department,
            headers=headers,
            **kw,
        )

    def browser(self, role: str = "department", department: str | None = None):
        """A requests session signed in as a new user with ``role``, and its CSRF token."""
        username = f"{role}-{uuid.uuid4().hex[:8]}"
        Accounts(self.engine).add(username, PASSWORD, role, department=department)
        return sign_in(self.url, username)

    def inbox_rows(self, key: str) -> list:
        with self.engine.connect() as conn:
            return conn.execute(select(inbox).where(inbox.c.idempotency_key == key)).all()

    def handoff(self, handoff_id: int):
        with self.engine.connect() as conn:
            return conn.execute(select(handoffs).where(handoffs.c.id == handoff_id)).one()


@pytest.fixture(scope="module", params=DATABASES)
def hub(request, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("hub")
    with scratch_journey_url(request.param, tmp, PG_SCHEMA) as url:
        yield from _hub_process(url, tmp)


def _hub_process(url: str, tmp: Path):
    """The hub as ``python -m bot.hub`` serving ``url``, as ``make run`` starts it."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("CX_")}
    env |= {
        "CX_VAR_DIR": str(tmp),
        "CX_JOURNEY_URL": url,
        "CX_HUB_PORT": str(port),
    }
    env |= {DEPARTMENTS[name].secret_env: secret for name, secret in SECRETS.items()}
    log = tmp / "hub.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "bot.hub"], cwd=ROOT, env=env, stdout=out, stderr=out
        )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90  # a loaded 2-core machine starts it slowly
        while True:
            if proc.poll() is not None:
                pytest.fail(f"the hub exited with {proc.returncode}:\n{log.read_text()}")
            try:
                if requests.get(base + "/health", timeout=2).ok:
                    break
            except requests.RequestException:  # refused, or too slow to answer yet
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"the hub did not answer within 90 s:\n{log.read_text()}")
            time.sleep(0.1)
        engine = make_engine(url)
        yield Hub(base, engine)
        engine.dispose()
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


PASSWORD = "a long enough test password"


def sign_in(url: str, username: str, password: str = PASSWORD):
    """Sign in through the login form as a browser would: (session, its CSRF token)."""
    browser = requests.Session()
    r = browser.post(
        f"{url}/login",
        data={"username": username, "password": password},
        headers={"Origin": url},
        allow_redirects=False,
        timeout=10,
    )
    assert r.status_code == 303, r.text
    me = browser.get(f"{url}/api/session", timeout=10)
    me.raise_for_status()
    return browser, me.json()["csrf_token"]


def add_handoff(hub: Hub, conversation_id=None, department="billing", **values) -> int:
    """A handoff row as the assistant's HandoffDesk writes it."""
    row = {
        "created_at": datetime.now(),
        "department": department,
        "need": "charged_twice",
        "conversation_id": conversation_id or uuid.uuid4().hex,
        "customer_id": "C002",
        "channel": "rest",
        "priority": "high",
        "summary": "Charged twice for invoice INV-50004",
        "context": json.dumps(
            {
                "customer": {"id": "C002", "name": "Maria Garcia", "tier": "gold"},
                "invoice_id": "INV-50004",
                "transcript": ["customer: I was charged twice", "assistant: Sorry about that"],
            }
        ),
        "status": "open",
    } | values
    with hub.engine.begin() as conn:
        return conn.execute(insert(handoffs).values(**row)).inserted_primary_key[0]


def add_touchpoint(hub: Hub, conversation_id: str, started: datetime) -> int:
    with hub.engine.begin() as conn:
        return conn.execute(
            insert(touchpoints).values(
                conversation_id=conversation_id,
                session_started_at=started,
                channel="rest",
                outcome="handed_off",
                started_at=started,
                last_activity_at=started,
            )
        ).inserted_primary_key[0]


def outcome(hub: Hub, touchpoint_id: int) -> str:
    with hub.engine.connect() as conn:
        return conn.execute(
            select(touchpoints.c.outcome).where(touchpoints.c.id == touchpoint_id)
        ).scalar_one()


# -- the webhook receiver -------------------------------------------------------------------
def test_health(hub):
    r = requests.get(hub.url + "/health", timeout=5)
    assert (r.status_code, r.json()) == (200, {"ok": True})


def test_a_signed_delivery_is_stored_once_per_key(hub):
    handoff_id = add_handoff(hub)
    key = uuid.uuid4().hex
    body = json.dumps({"handoff_id": handoff_id, "summary": "Charged twice"}).encode()

    first = hub.deliver("billing", body, key)
    again = hub.deliver("billing", body, key)

    assert first.status_code == 200 and first.json()["received"] is True
    assert first.json()["duplicate"] is False
    assert again.status_code == 200 and again.json()["duplicate"] is True
    (row,) = hub.inbox_rows(key)
    assert (row.department, row.handoff_id, row.deliveries) == ("billing", handoff_id, 2)
    assert row.body == body.decode()  # byte for byte, as sent


def test_a_key_reused_for_another_delivery_is_refused(hub):
    key = uuid.uuid4().hex
    assert hub.deliver("billing", {"handoff_id": 1}, key).status_code == 200
    r = hub.deliver("billing", {"handoff_id": 2}, key)
    assert r.status_code == 409 and "Idempotency-Key" in r.json()["error"]
    (row,) = hub.inbox_rows(key)
    assert (row.handoff_id, row.deliveries) == (1, 1)


@pytest.mark.parametrize(
    "how",
    ["wrong secret", "another department's secret", "no signature", "stale", "future", "tampered"],
)
def test_a_badly_signed_delivery_is_refused(hub, how):
    key = uuid.uuid4().hex
    body = json.dumps({"handoff_id": 1}).encode()
    kw: dict = {}
    if how == "wrong secret":
        kw["secret"] = "not-the-secret"
    elif how == "another department's secret":
        kw["secret"] = SECRETS["delivery"]
    elif how == "stale":
        kw["at"] = time.time() - 301 - 5
    elif how == "future":
        kw["at"] = time.time() + 301 + 5
    if how == "no signature":
        r = requests.post(
            hub.url + "/api/departments/billing/handoffs",
            data=body,
            headers={"Idempotency-Key": key},
            timeout=10,
        )
    elif how == "tampered":
        headers = signature_headers(SECRETS["billing"], body, time.time())
        r = requests.post(
            hub.url + "/api/departments/billing/handoffs",
            data=json.dumps({"handoff_id": 2}).encode(),
            headers=headers | {"Idempotency-Key": key},
            timeout=10,
        )
    else:
        r = hub.deliver("billing", body, key, **kw)
    assert r.status_code == 401, r.text
    assert r.json()["error"].startswith("bad signature")
    assert hub.inbox_rows(key) == []


def test_a_delivery_without_idempotency_key_is_refused(hub):
    r = hub.deliver("billing", {"handoff_id": 1}, key=False)
    assert r.status_code == 400 and "Idempotency-Key" in r.json()["error"]


@pytest.mark.parametrize(
    "body",
    [b'{"handoff_id": 1', b"\xff\xfe", b"[1, 2]", b'{"summary": "x"}', b'{"handoff_id": "7"}'],
)
def test_a_delivery_that_is_not_a_handoff_is_refused(hub, body):
    key = uuid.uuid4().hex
    r = hub.deliver("billing", body, key)
    assert r.status_code == 400 and r.json()["error"]
    assert hub.inbox_rows(key) == []


def test_a_delivery_to_an_unknown_department_is_404(hub):
    r = hub.signed("POST", "/api/departments/marketing/handoffs", b'{"handoff_id": 1}')
    assert r.status_code == 404 and "marketing" in r.json()["error"]


def test_a_body_over_one_mebibyte_is_413_and_one_just_under_is_stored(hub):
    def body_of(size: int) -> bytes:
        head = b'{"handoff_id": 1, "pad": "'
        return head + b"x" * (size - len(head) - 2) + b'"}'

    r = hub.deliver("billing", body_of(1024 * 1024 + 1))
    assert r.status_code == 413 and "limit" in r.json()["error"]
    key = uuid.uuid4().hex
    assert hub.deliver("billing", body_of(1024 * 1024), key).status_code == 200
    assert len(hub.inbox_rows(key)) == 1


def test_a_department_without_a_secret_cannot_be_delivered_to(hub):
    r = hub.deliver("support", {"handoff_id": 1}, secret="anything")
    assert r.status_code == 503
    assert DEPARTMENTS["support"].secret_env in r.json()["error"]


# -- the inbox API --------------------------------------------------------------------------
def test_the_inbox_lists_deliveries_newest_first_with_their_handoff(hub):
    older, newer = add_handoff(hub, department="sales"), add_handoff(hub, department="sales")
    done = add_handoff(hub, department="sales", status="resolved")
    for handoff_id in (older, newer, done):
        assert hub.deliver("sales", {"handoff_id": handoff_id}).status_code == 200

    r = hub.signed("GET", "/api/departments/sales/handoffs?status=open", department="sales")

    assert r.status_code == 200, r.text
    assert r.json()["department"] == "sales"
    items = r.json()["handoffs"]
    assert [i["handoff_id"] for i in items][:2] == [newer, older]
    assert done not in [i["handoff_id"] for i in items]
    item = items[0]
    assert item["status"] == "open" and item["priority"] == "high"
    assert item["summary"] == "Charged twice for invoice INV-50004"
    assert item["context"]["invoice_id"] == "INV-50004"  # parsed, not a string
    assert datetime.fromisoformat(item["received_at"])
    everything = hub.signed("GET", "/api/departments/sales/handoffs", department="sales").json()
    assert done in [i["handoff_id"] for i in everything["handoffs"]]


def test_the_inbox_is_only_for_its_department(hub):
    path = "/api/departments/sales/handoffs"
    assert requests.get(hub.url + path, timeout=5).status_code == 401
    assert hub.signed("GET", path, department="billing").status_code == 401
    assert hub.signed("GET", path + "?status=lost", department="sales").status_code == 400


# -- acknowledge and resolve ----------------------------------------------------------------
def test_acknowledge_then_resolve_the_last_handoff_resolves_the_touchpoint(hub):
    conversation = uuid.uuid4().hex
    now = datetime.now().replace(microsecond=0)
    earlier = add_touchpoint(hub, conversation, now - timedelta(days=1))
    newest = add_touchpoint(hub, conversation, now)
    first = add_handoff(hub, conversation, department="billing")
    second = add_handoff(hub, conversation, department="delivery", need="order_late")

    r = hub.signed("POST", f"/api/handoffs/{first}/acknowledge")
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "acknowledged" and r.json()["acknowledged_at"]
    assert hub.handoff(first).status == "acknowledged"

    body = json.dumps({"resolution": "Refunded the duplicate charge"}).encode()
    r = hub.signed("POST", f"/api/handoffs/{first}/resolve", body)
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "resolved"
    assert r.json()["resolution"] == "Refunded the duplicate charge"
    row = hub.handoff(first)
    assert row.status == "resolved" and row.resolved_at and row.acknowledged_at
    assert outcome(hub, newest) == "handed_off"  # the delivery handoff is still open

    body = json.dumps({"resolution": "Sent by express"}).encode()
    r = hub.signed("POST", f"/api/handoffs/{second}/resolve", body, department="delivery")
    assert r.status_code == 200, r.text
    assert outcome(hub, newest) == "resolved"
    assert outcome(hub, earlier) == "handed_off"


def test_impossible_moves_are_409(hub):
    handoff_id = add_handoff(hub)
    body = json.dumps({"resolution": "done"}).encode()
    assert hub.signed("POST", f"/api/handoffs/{handoff_id}/resolve", body).status_code == 200

    twice = hub.signed("POST", f"/api/handoffs/{handoff_id}/resolve", body)
    late_ack = hub.signed("POST", f"/api/handoffs/{handoff_id}/acknowledge")

    assert twice.status_code == 409 and twice.json()["status"] == "resolved"
    assert late_ack.status_code == 409 and "resolved" in late_ack.json()["error"]
    assert hub.handoff(handoff_id).resolution == "done"


def test_acknowledging_twice_is_409(hub):
    handoff_id = add_handoff(hub)
    assert hub.signed("POST", f"/api/handoffs/{handoff_id}/acknowledge").status_code == 200
    r = hub.signed("POST", f"/api/handoffs/{handoff_id}/acknowledge")
    assert r.status_code == 409 and r.json()["status"] == "acknowledged"


def test_only_the_handoffs_department_can_move_it(hub):
    handoff_id = add_handoff(hub, department="billing")
    for kw in ({"department": "delivery"}, {"secret": "guess"}, {"at": time.time() - 1000}):
        r = hub.signed("POST", f"/api/handoffs/{handoff_id}/acknowledge", **kw)
        assert r.status_code == 401, kw
    assert hub.handoff(handoff_id).status == "open"


def test_resolving_needs_a_resolution_and_a_known_handoff(hub):
    handoff_id = add_handoff(hub)
    for body in (b"", b"{}", b'{"resolution": "  "}', b"not json"):
        r = hub.signed("POST", f"/api/handoffs/{handoff_id}/resolve", body)
        assert r.status_code == 400, body
    assert hub.handoff(handoff_id).status == "open"
    assert hub.signed("POST", "/api/handoffs/99999999/acknowledge").status_code == 404


# -- routing and the OpenAPI document -------------------------------------------------------
def test_the_routing_map_is_served_as_data(hub):
    r = requests.get(hub.url + "/api/routing", timeout=5)
    assert r.status_code == 200
    routing = RoutingMap.load()
    assert r.json()["intents"] == routing.as_dict()
    assert r.json()["intents"]["charged_twice"] == {
        "department": "billing",
        "stage": "from_customer",
    }
    assert r.json()["department_threshold"] == routing.department_threshold


def test_the_openapi_document_describes_every_route_and_only_those(hub, tmp_path):
    served = requests.get(hub.url + "/api/openapi.json", timeout=5).json()
    assert served["openapi"].startswith("3.0")
    assert served == document(sorted(DEPARTMENTS))

    app = create_app(HubSettings(journey_url=f"sqlite:///{tmp_path / 'unused.db'}"))
    routes = {
        (method.lower(), "/" + re.sub(r"<(\w+)(?::[^>]*)?>", r"{\1}", route.path))
        for route in app.router.routes
        for method in route.methods
    }
    described = {
        (method, path)
        for path, item in served["paths"].items()
        for method in item
        if method in ("get", "post", "put", "patch", "delete")
    }
    assert routes == described
    for path, item in served["paths"].items():
        for method, operation in item.items():
            if method == "parameters":
                continue
            assert operation["responses"], (method, path)
            if path.startswith(("/api/departments", "/api/handoffs")):
                assert operation["security"] == [{"signature": [], "timestamp": []}]
    schemes = served["components"]["securitySchemes"]
    assert {s["name"] for s in schemes.values()} == {"X-CX-Signature", "X-CX-Timestamp"}


# -- the built-in inbox page ----------------------------------------------------------------
def test_the_inbox_page_lists_escapes_and_acknowledges(hub):
    handoff_id = add_handoff(
        hub, department="delivery", need="order_late", summary="<script>alert(1)</script> late"
    )
    assert hub.deliver("delivery", {"handoff_id": handoff_id}).status_code == 200
    staff, csrf = hub.browser("department", "delivery")

    page = staff.get(hub.url + "/departments/delivery", timeout=5)

    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    card = re.search(rf"<article[^>]*id='handoff-{handoff_id}'.*?</article>", page.text, re.S)
    assert card, page.text
    card = card.group(0)
    assert "<script>" not in page.text
    assert "&lt;script&gt;alert(1)&lt;/script&gt; late" in card
    for shown in ("Maria Garcia", "order_late", "high", "customer: I was charged twice"):
        assert shown in card
    action = re.search(r"<form method='post' action='([^']+/acknowledge)'>", card).group(1)

    origin = {"Origin": hub.url}  # what a browser sends with the form
    r = staff.post(
        hub.url + action,
        data={"csrf_token": csrf},
        headers=origin,
        allow_redirects=False,
        timeout=5,
    )

    assert r.status_code == 303 and r.headers["location"] == "/departments/delivery"
    assert hub.handoff(handoff_id).status == "acknowledged"
    page = staff.get(hub.url + "/departments/delivery", timeout=5).text
    card = re.search(rf"id='handoff-{handoff_id}'.*?</article>", page, re.S).group(0)
    assert "/acknowledge" not in card and "/resolve" in card


def test_the_inbox_page_shows_a_later_contact_that_joined_the_handoff(hub):
    # Issue 21: the customer came back about the same late order; the department gets an
    # update on the handoff it has (not a new one) and reads it on the same card.
    handoff_id = add_handoff(hub, department="delivery", need="order_late", summary="late")
    assert hub.deliver("delivery", {"handoff_id": handoff_id}).status_code == 200
    update = {
        "type": "handoff.update",
        "handoff_id": handoff_id,
        "customer_said": "still nothing, <b>where is it?</b>",
        "channel": "socketio",
        "contacts": 2,
    }
    assert hub.deliver("delivery", update).status_code == 200
    staff, _ = hub.browser("department", "delivery")
    page = staff.get(hub.url + "/departments/delivery", timeout=5).text
    cards = re.findall(rf"<article[^>]*id='handoff-{handoff_id}'.*?</article>", page, re.S)
    assert len(cards) == 1  # one card for the handoff, the update on it
    assert "The customer came back about it" in cards[0]
    assert "(contact 2): still nothing, &lt;b&gt;where is it?&lt;/b&gt;" in cards[0]
    # Then the customer adds something for the team: it says so, and the API names its kind.
    addition = {**update, "customer_said": "the box was left at number 12", "contacts": 2}
    addition["update_kind"] = "addition"
    assert hub.deliver("delivery", addition).status_code == 200
    page = staff.get(hub.url + "/departments/delivery", timeout=5).text
    assert ", added for you: the box was left at number 12" in page
    api = hub.signed("GET", "/api/departments/delivery/handoffs", department="delivery").json()
    [item] = [i for i in api["handoffs"] if i["handoff_id"] == handoff_id]
    assert [u["update_kind"] for u in item["updates"]] == [None, "addition"]


def test_the_inbox_page_resolves_with_what_was_done(hub):
    handoff_id = add_handoff(hub, department="delivery")
    assert hub.deliver("delivery", {"handoff_id": handoff_id}).status_code == 200
    action = f"{hub.url}/departments/delivery/handoffs/{handoff_id}/resolve"
    staff, csrf = hub.browser("department", "delivery")

    def resolve(resolution):
        data = {"resolution": resolution, "csrf_token": csrf}
        return staff.post(action, data=data, allow_redirects=False, timeout=5)

    empty, done, again = resolve(" "), resolve("Re-sent"), resolve("Re-sent")

    assert empty.status_code == 400 and empty.headers["content-type"].startswith("text/html")
    assert done.status_code == 303
    assert again.status_code == 409 and "already resolved" in again.text
    row = hub.handoff(handoff_id)
    assert (row.status, row.resolution) == ("resolved", "Re-sent")
    page = staff.get(hub.url + "/departments/delivery", timeout=5).text
    assert f"id='handoff-{handoff_id}'" not in page


def test_the_inbox_page_needs_a_signed_in_member_of_the_department(hub):
    inbox = hub.url + "/departments/delivery"
    r = requests.get(inbox, allow_redirects=False, timeout=5)
    assert r.status_code == 303
    assert r.headers["location"] == "/login?next=%2Fdepartments%2Fdelivery"
    for role, department in (("department", "billing"), ("agent", None), ("analyst", None)):
        browser, _ = hub.browser(role, department)
        assert browser.get(inbox, timeout=5).status_code == 403, role
    admin, _ = hub.browser("admin")
    assert admin.get(inbox, timeout=5).status_code == 200


@pytest.mark.parametrize(
    "form, headers",
    [
        ({}, {}),  # no CSRF token
        ({"csrf_token": "forged"}, {}),
        ("own", {"Origin": "http://evil.example"}),
        ("own", {"Origin": "null"}),
    ],
)
def test_the_inbox_forms_need_the_sessions_csrf_token_and_this_site(hub, form, headers):
    handoff_id = add_handoff(hub, department="delivery")
    action = f"{hub.url}/departments/delivery/handoffs/{handoff_id}/acknowledge"
    staff, csrf = hub.browser("department", "delivery")
    data = {"csrf_token": csrf} if form == "own" else form
    r = staff.post(action, data=data, headers=headers, allow_redirects=False, timeout=5)
    assert r.status_code == 403
    assert hub.handoff(handoff_id).status == "open"
    anonymous = requests.post(action, data=data, allow_redirects=False, timeout=5)
    assert anonymous.status_code == 303 and anonymous.headers["location"].startswith("/login")
    assert hub.handoff(handoff_id).status == "open"


def test_the_inbox_page_acts_only_on_its_own_handoffs(hub):
    handoff_id = add_handoff(hub, department="billing")
    staff, csrf = hub.browser("department", "delivery")
    r = staff.post(
        f"{hub.url}/departments/delivery/handoffs/{handoff_id}/acknowledge",
        data={"csrf_token": csrf},
        allow_redirects=False,
        timeout=5,
    )
    assert r.status_code == 404
    admin, _ = hub.browser("admin")
    assert admin.get(hub.url + "/departments/marketing", timeout=5).status_code == 404
    assert hub.handoff(handoff_id).status == "open"


# -- settings and embedding -----------------------------------------------------------------
def test_settings_default_to_loopback_port_8000_and_read_the_environment():
    default = HubSettings.from_env({})
    assert (default.host, default.port) == ("127.0.0.1", 8000)
    assert default.journey_url.endswith("var/journey.db")
    custom = HubSettings.from_env({"CX_HUB_PORT": "8100", "CX_JOURNEY_URL": "sqlite://"})
    assert (custom.port, custom.journey_url) == (8100, "sqlite://")
    with pytest.raises(ValueError, match="CX_HUB_PORT"):
        HubSettings.from_env({"CX_HUB_PORT": "eighty"})


def test_serve_runs_two_hubs_in_one_process(tmp_path):
    servers = [
        serve(HubSettings(journey_url=f"sqlite:///{tmp_path / f'j{i}.db'}"), port=0)
        for i in range(2)
    ]
    try:
        assert servers[0].url != servers[1].url
        for server in servers:
            assert requests.get(server.url + "/health", timeout=5).json() == {"ok": True}
    finally:
        for server in servers:
            server.stop()
    with pytest.raises(requests.ConnectionError):
        requests.get(servers[0].url + "/health", timeout=2)
    with make_engine(f"sqlite:///{tmp_path / 'j0.db'}").connect() as conn:
        assert conn.execute(select(func.count()).select_from(inbox)).scalar_one() == 0
