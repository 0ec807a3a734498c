"""The hub's pages and APIs against hostile input (issue 9), on SQLite and PostgreSQL.

- Every HTML page the OpenAPI document lists (and the error pages) carries a
  Content-Security-Policy that runs no inline script without the page's nonce and lets no
  site frame it, and ``X-Content-Type-Options: nosniff``.
- A NUL character, which PostgreSQL refuses in text, gets a 400 wherever it comes in
  (path, query, form, JSON), never a 500.
- Markup and SQL in notes are stored as text, given back exactly, and shown as text.
"""

from __future__ import annotations

import re
import uuid
from datetime import datetime

import pytest
from sqlalchemy import insert

from bot.db.schema import journey_customers, touchpoints
from tests.bot.hub.review.conftest import review_hub  # noqa: F401 - the fixture, on both databases

XSS = "<img src=x onerror=alert(1)>"
HOSTILE = f"{XSS} '; DROP TABLE touchpoints; -- \u202eevil\u202c איפה 😡"


@pytest.fixture(scope="module")
def world(review_hub):  # noqa: F811
    """An admin signed in, and a touchpoint whose pages can be opened."""
    browser, csrf = review_hub.user("admin", name="Alex")
    conversation = f"sec-{uuid.uuid4().hex[:8]}"
    now = datetime.now()
    customer = f"C-SEC-{uuid.uuid4().hex[:6]}"
    with review_hub.engine.begin() as conn:
        conn.execute(insert(journey_customers).values(id=customer, created_at=now, name=HOSTILE))
        touchpoint_id = conn.execute(
            insert(touchpoints).values(
                conversation_id=conversation,
                session_started_at=now,
                channel="rest",
                outcome="self_served",
                started_at=now,
                last_activity_at=now,
                customer_id=customer,
            )
        ).inserted_primary_key[0]
    params = {
        "name": "billing",
        "conversation_id": conversation,
        "touchpoint_id": str(touchpoint_id),
        "customer_id": customer,
    }
    return review_hub, browser, csrf, params


def html_pages(hub, params) -> list[str]:
    """The path of every GET route whose answer is an HTML page, from /api/openapi.json."""
    import requests

    doc = requests.get(f"{hub.url}/api/openapi.json", timeout=10).json()
    paths = []
    for path, operations in doc["paths"].items():
        get = operations.get("get")
        if not get or "text/html" not in get["responses"].get("200", {}).get("content", {}):
            continue
        missing = set(re.findall(r"{(\w+)}", path)) - set(params)
        assert not missing, f"{path}: give {missing} a value in this test"
        paths.append(re.sub(r"{(\w+)}", lambda m: params[m[1]], path))
    return paths


def check_headers(r, where: str) -> list[str]:
    problems = []
    policy = r.headers.get("Content-Security-Policy", "")
    directives = dict((d.strip().split(" ", 1) + [""])[:2] for d in policy.split(";") if d.strip())
    if not policy:
        problems.append(f"{where}: no Content-Security-Policy")
    if directives.get("frame-ancestors") != "'none'":
        problems.append(f"{where}: frame-ancestors is {directives.get('frame-ancestors')!r}")
    scripts = directives.get("script-src", directives.get("default-src", ""))
    if "'unsafe-inline'" in scripts or "'unsafe-eval'" in scripts or "*" in scripts.split():
        problems.append(f"{where}: script-src allows inline scripts: {scripts!r}")
    if r.headers.get("X-Content-Type-Options") != "nosniff":
        problems.append(f"{where}: no X-Content-Type-Options: nosniff")
    nonces = set(re.findall(r"'nonce-([^']+)'", scripts))
    for tag in re.findall(r"<script\b[^>]*>", r.text):
        nonce = re.search(r"nonce=['\"]([^'\"]+)", tag)
        if "src=" not in tag and not (nonce and nonce[1] in nonces):
            problems.append(f"{where}: an inline script the policy does not allow: {tag}")
    if re.search(r"<[^>]+\son[a-z]+\s*=", r.text):
        problems.append(f"{where}: an inline event handler attribute")
    return problems


def test_every_html_page_has_a_strict_policy_and_nosniff(world):
    hub, browser, _csrf, params = world
    pages = html_pages(hub, params)
    assert len(pages) >= 8, pages
    problems = []
    for path in pages:
        r = browser.get(f"{hub.url}{path}", allow_redirects=False, timeout=10)
        assert r.status_code == 200 and r.headers["Content-Type"].startswith("text/html"), (
            f"{path}: {r.status_code} {r.text[:200]}"
        )
        problems += check_headers(r, path)
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize(
    "path",
    [
        "/login",  # signed out
        "/departments/nowhere",  # the inbox's error page
        "/console/conversations/no-such-conversation",
        "/review/customers/NO-SUCH-CUSTOMER",
        "/review/conversations/999999",
        "/review/log?rating=eleven",  # a 400 on a review page
    ],
)
def test_error_and_sign_in_pages_have_the_same_headers(world, path):
    hub, browser, _csrf, _params = world
    client = browser if path != "/login" else __import__("requests")
    r = client.get(f"{hub.url}{path}", allow_redirects=False, timeout=10)
    assert r.headers["Content-Type"].startswith("text/html"), (r.status_code, r.text[:200])
    assert not check_headers(r, path)


def test_json_answers_say_nosniff_too(world):
    hub, browser, _csrf, _params = world
    for path in ("/api/openapi.json", "/api/session", "/no/such/route"):
        r = browser.get(f"{hub.url}{path}", timeout=10)
        assert r.headers.get("X-Content-Type-Options") == "nosniff", path


def test_nul_anywhere_in_a_request_is_a_400_never_a_500(world):
    hub, browser, csrf, params = world
    json_headers = {"X-CSRF-Token": csrf, "Origin": hub.url}
    tp = params["touchpoint_id"]
    conversation = params["conversation_id"]
    import requests

    attempts = {
        "login form": lambda: requests.post(
            f"{hub.url}/login", data={"username": "ana\x00", "password": "x" * 12}, timeout=10
        ),
        "query": lambda: browser.get(f"{hub.url}/review/log", params={"text": "a\x00b"}),
        "path": lambda: browser.get(f"{hub.url}/review/customers/C%00001"),
        "api query": lambda: browser.get(
            f"{hub.url}/api/review/touchpoints", params={"customer": "C\x00"}
        ),
        "review form": lambda: hub.post_form(
            browser, csrf, f"/review/touchpoints/{tp}/flag", note="bad\x00note"
        ),
        "flag json": lambda: browser.put(
            f"{hub.url}/api/review/touchpoints/{tp}/flag",
            json={"note": "bad\x00note", "tags": ["x"]},
            headers=json_headers,
        ),
        "example json": lambda: browser.post(
            f"{hub.url}/api/review/examples",
            json={"touchpoint_id": int(tp), "text": "hi\x00", "intent": "greet"},
            headers=json_headers,
        ),
        "console note": lambda: browser.post(
            f"{hub.url}/api/console/conversations/{conversation}/notes",
            json={"text": "a\x00b"},
            headers=json_headers,
        ),
    }
    problems = []
    for name, attempt in attempts.items():
        r = attempt()
        if r.status_code != 400 or "NUL" not in r.text:
            problems.append(f"{name}: {r.status_code} {r.text[:200]}")
    assert not problems, "\n".join(problems)


def test_markup_and_sql_in_a_note_are_kept_exactly_and_shown_as_text(world):
    hub, browser, csrf, params = world
    tp = params["touchpoint_id"]
    url = f"{hub.url}/api/review/touchpoints/{tp}/flag"
    headers = {"X-CSRF-Token": csrf, "Origin": hub.url}
    r = browser.put(url, json={"note": HOSTILE, "tags": ["xss"]}, headers=headers, timeout=10)
    assert r.status_code == 200, r.text
    assert browser.get(url, timeout=10).json()["flag"]["note"] == HOSTILE
    # The note on the conversation page, and the customer's name (the same text) on both.
    for path in (f"/review/conversations/{tp}", f"/review/customers/{params['customer_id']}"):
        page = browser.get(f"{hub.url}{path}", timeout=10)
        assert page.status_code == 200, path
        assert "&lt;img src=x onerror=alert(1)&gt;" in page.text, path
        assert XSS not in page.text, path
