"""The agent console over HTTP: a real hub (in this process, on a free port) on a fresh journey
database (SQLite, and PostgreSQL when TEST_POSTGRES_URL is set), a fake Rasa HTTP API and a
fake Slack on real sockets, and browsers played by ``requests`` sessions signed in through
the login form.
"""

from __future__ import annotations

import json
import os
import re
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from html import escape

import pytest
import requests
from sqlalchemy import insert, select
from sqlalchemy.engine import Engine

from bot.db.engine import make_engine
from bot.db.schema import handoffs, journey_customers, takeovers, touchpoints
from bot.departments import load_departments
from bot.handoff import HandoffDesk, HandoffRequest
from bot.hub import HubSettings, create_app, serve
from bot.hub.accounts import Accounts
from tests.bot.hub.test_hub import PASSWORD, sign_in
from tests.conftest import DATABASES, scratch_journey_url
from tests.fakes.rasa import FakeRasa
from tests.fakes.slack import FakeSlack

PG_SCHEMA = f"cx_console_test_{os.getpid()}"  # apart from the other test modules' schemas
LEASE = 90.0
XSS = "<img src=x onerror=alert(1)>"


class Clock:
    """The hub's clock (unix seconds), moved by hand."""

    def __init__(self):
        self.t = datetime(2025, 3, 12, 10, 0).timestamp()  # a Wednesday: support is open

    def __call__(self) -> float:
        return self.t

    @property
    def now(self) -> datetime:
        return datetime.fromtimestamp(self.t)


@dataclass
class Console:
    url: str
    engine: Engine
    rasa: FakeRasa
    clock: Clock

    def user(self, role: str, name: str, department: str | None = None):
        """A new user with ``role``, signed in: (browser session, CSRF token)."""
        username = f"{role}-{uuid.uuid4().hex[:8]}"
        Accounts(self.engine).add(username, PASSWORD, role, name, department=department)
        return sign_in(self.url, username)

    def escalate(self, channel="socketio", minutes_ago=0, **packet) -> str:
        """A new conversation escalated to support, as the assistant leaves it."""
        conversation_id = uuid.uuid4().hex
        created = self.clock.now - timedelta(minutes=minutes_ago)
        HandoffDesk(self.engine, load_departments(), now=lambda: created).hand_off(
            HandoffRequest(
                department="support",
                need="request_human",
                conversation_id=conversation_id,
                summary="Customer asked for a person.",
                channel=channel,
                customer_id=(packet.get("customer") or {}).get("id"),
                context={"customer_said": "I want to talk to a person", **packet},
            )
        )
        self.rasa.customer_says(conversation_id, "I want to talk to a person", channel)
        return conversation_id


@pytest.fixture(scope="module", params=DATABASES)
def console(request, tmp_path_factory):
    clock = Clock()
    tmp = tmp_path_factory.mktemp("console")
    with (
        scratch_journey_url(request.param, tmp, PG_SCHEMA) as url,
        FakeRasa(clock=clock) as rasa,
        FakeSlack() as slack,
    ):
        settings = HubSettings(
            journey_url=url,
            rasa_api_url=rasa.url,
            rasa_token=rasa.token,
            clock=clock,
            takeover_lease_seconds=LEASE,
            secrets={"SLACK_BOT_TOKEN": slack.token, "SLACK_API_URL": slack.url},
        )
        server = serve(settings, port=0)
        engine = make_engine(url)
        try:
            yield Console(server.url, engine, rasa, clock)
        finally:
            server.stop()
            engine.dispose()


def console_routes() -> list[tuple[str, str]]:
    """Every (method, path) of the console, from the app itself: none can be forgotten."""
    app = create_app(HubSettings(journey_url="sqlite://"))
    found = sorted(
        (method, "/" + re.sub(r"<conversation_id(:\w+)?>", "some-chat", route.path))
        for route in app.router.routes
        for method in route.methods
        if route.path.startswith(("console", "api/console"))
    )
    # 14 before the workspace; + the list (GET /api/console/conversations) and the event
    # stream (GET /api/console/stream), both covered by the sign-in and role tests below.
    assert len(found) == 16, found
    return found


ROUTES = console_routes()


def with_scripts(browser, url: str) -> str:
    """A console page's HTML followed by its own script files' text (bot/hub/static/), which
    the page loads by URL now rather than inline."""
    page = browser.get(url, timeout=10).text
    files = re.findall(r"<script src='(/static/[^']+)'", page)
    return page + "".join(browser.get(url.split("/console")[0] + f, timeout=10).text for f in files)


def call(browser, method, url, csrf=None, body=None, **kw):
    headers = kw.pop("headers", {})
    if csrf:
        headers["X-CSRF-Token"] = csrf
    return browser.request(
        method,
        url,
        json=body if body is not None else ({} if method == "POST" else None),
        headers=headers,
        allow_redirects=False,
        timeout=15,
        **kw,
    )


# -- who may use it ----------------------------------------------------------------------------
@pytest.mark.parametrize("method, path", ROUTES)
def test_without_a_session_pages_go_to_sign_in_and_apis_answer_401(console, method, path):
    r = call(requests.Session(), method, console.url + path)
    if path.startswith("/api/"):
        assert (r.status_code, r.json()["error"]) == (401, "sign in first")
    else:
        assert r.status_code == 303
        assert r.headers["location"] == "/login?next=" + requests.utils.quote(path, safe="")


@pytest.mark.parametrize("role", ["department", "analyst"])
def test_other_roles_get_403_on_every_console_page_and_api(console, role):
    browser, csrf = console.user(
        role, "Someone", department="billing" if role == "department" else None
    )
    for method, path in ROUTES:
        r = call(browser, method, console.url + path, csrf)
        assert r.status_code == 403, (method, path, r.status_code)
        assert "may not open this" in r.text


def test_every_change_needs_the_sessions_csrf_token_and_this_site(console):
    browser, csrf = console.user("agent", "Ana")
    conversation = console.escalate()
    for method, path in ROUTES:
        if method != "POST":
            continue
        url = console.url + path.replace("some-chat", conversation)
        for headers in ({}, {"X-CSRF-Token": "not-the-token"}):
            r = call(browser, method, url, headers=headers)
            assert r.status_code == 403 and "CSRF token" in r.json()["error"], (path, headers)
        r = call(browser, method, url, csrf, headers={"Origin": "http://evil.example"})
        assert (r.status_code, r.json()["error"]) == (403, "cross-site request refused")
    assert not console.rasa.paused(conversation)
    with console.engine.connect() as conn:
        assert (
            conn.execute(
                select(takeovers.c.id).where(takeovers.c.conversation_id == conversation)
            ).all()
            == []
        )


def test_agents_and_admins_open_the_console(console):
    for role in ("agent", "admin"):
        browser, _ = console.user(role, role.title())
        page = browser.get(console.url + "/console", timeout=10)
        assert page.status_code == 200 and "Escalations" in page.text
        assert call(browser, "GET", console.url + "/api/console/queue").status_code == 200


# -- the queue ---------------------------------------------------------------------------------
def test_the_queue_is_ordered_by_frustration_then_tier_then_waiting(console):
    browser, _ = console.user("agent", "Ana")
    old = console.escalate(minutes_ago=40, customer={"id": "C004", "tier": "standard"})
    gold = console.escalate(minutes_ago=5, customer={"id": "C001", "tier": "gold"})
    angry = console.escalate(minutes_ago=1, signals={"frustration": 4})
    newer = console.escalate(minutes_ago=20, customer={"id": "C002", "tier": "standard"})
    ours = {old, gold, angry, newer}
    queue = call(browser, "GET", console.url + "/api/console/queue").json()
    order = [e["conversation_id"] for e in queue["escalations"] if e["conversation_id"] in ours]
    assert order == [angry, gold, old, newer]
    assert queue["lease_seconds"] == LEASE
    first = next(e for e in queue["escalations"] if e["conversation_id"] == angry)
    assert (first["frustration"], first["taken_by"], first["waiting_seconds"]) == (4, None, 60)


def test_two_agents_cannot_take_the_same_conversation(console):
    ana, ana_csrf = console.user("agent", "Ana")
    ben, ben_csrf = console.user("agent", "Ben")
    conversation = console.escalate()
    api = f"{console.url}/api/console/conversations/{conversation}"

    taken = call(ana, "POST", api + "/take", ana_csrf)
    assert taken.status_code == 200 and taken.json()["takeover"]["mine"]
    refused = call(ben, "POST", api + "/take", ben_csrf)
    assert refused.status_code == 409
    assert refused.json() == {
        "error": "Ana has already taken this conversation over",
        "taken_by": "Ana",
    }
    assert call(ben, "POST", api + "/messages", ben_csrf, {"text": "hi"}).status_code == 409
    queue = call(ben, "GET", console.url + "/api/console/queue").json()["escalations"]
    item = next(e for e in queue if e["conversation_id"] == conversation)
    assert item["taken_by"]["display_name"] == "Ana" and not item["mine"]


def test_an_abandoned_takeover_returns_to_the_queue_after_the_lease(console):
    ana, ana_csrf = console.user("agent", "Ana")
    ben, ben_csrf = console.user("agent", "Ben")
    conversation = console.escalate()
    api = f"{console.url}/api/console/conversations/{conversation}"
    assert call(ana, "POST", api + "/take", ana_csrf).status_code == 200
    console.clock.t += LEASE / 2
    assert call(ana, "POST", api + "/heartbeat", ana_csrf).status_code == 200
    console.clock.t += LEASE / 2 + 5  # renewed: still Ana's
    assert call(ben, "POST", api + "/take", ben_csrf).status_code == 409

    console.clock.t += LEASE  # Ana's tab is gone: no heartbeat
    queue = call(ben, "GET", console.url + "/api/console/queue").json()["escalations"]
    assert next(e for e in queue if e["conversation_id"] == conversation)["taken_by"] is None
    assert not console.rasa.paused(conversation)  # the assistant answers meanwhile
    lapsed = call(ana, "POST", api + "/heartbeat", ana_csrf)
    assert lapsed.status_code == 409 and "queue" in lapsed.json()["error"]
    assert call(ben, "POST", api + "/take", ben_csrf).status_code == 200
    assert console.rasa.paused(conversation)


# -- a whole takeover ---------------------------------------------------------------------------
def test_take_chat_note_and_hand_back_through_the_api(console):
    ana, csrf = console.user("agent", "Ana")
    conversation = console.escalate(customer={"id": "C001", "name": "Jane Doe", "tier": "gold"})
    api = f"{console.url}/api/console/conversations/{conversation}"
    assert call(ana, "POST", api + "/take", csrf).status_code == 200
    assert console.rasa.paused(conversation)

    sent = call(ana, "POST", api + "/messages", csrf, {"text": "Hi Jane, Ana here"})
    assert sent.status_code == 201
    assert console.rasa.sent_to(conversation)[-1].custom == {
        "text": "Hi Jane, Ana here",
        "agent": "Ana",
    }
    console.rasa.customer_says(conversation, XSS)  # nothing answers: paused
    note = call(ana, "POST", api + "/notes", csrf, {"text": "VIP, be quick"})
    assert note.status_code == 201 and note.json()["note"]["author"] == "Ana"
    assert call(ana, "POST", api + "/messages", csrf, {"text": ""}).status_code == 400
    assert call(ana, "POST", api + "/messages", csrf, body=None, data="nope").status_code == 400

    view = call(ana, "GET", api).json()
    assert view["takeover"]["mine"] and view["paused"] is True
    assert [(t["sender"], t["text"]) for t in view["transcript"]][-2:] == [
        ("agent", "Hi Jane, Ana here"),
        ("customer", XSS),
    ]
    assert [n["text"] for n in view["notes"]] == ["VIP, be quick"]
    assert view["packet"]["customer"]["name"] == "Jane Doe"
    assert view["journey"]["customer"]["id"] == "C001"
    polled = call(ana, "GET", api + "?journey=0").json()
    assert polled["journey"] is None and polled["transcript"] == view["transcript"]

    back = call(ana, "POST", api + "/hand-back", csrf, {"note": "All answered"})
    assert back.status_code == 200 and back.json()["takeover"]["status"] == "handed_back"
    assert not console.rasa.paused(conversation)
    console.rasa.customer_says(conversation, "one more question")
    assert console.rasa.sent_to(conversation)[-1].text == "The assistant answers: one more question"
    assert "VIP" not in json.dumps(console.rasa.events(conversation))
    queue = call(ana, "GET", console.url + "/api/console/queue").json()["escalations"]
    assert conversation not in {e["conversation_id"] for e in queue}


def test_transfer_and_resolve_through_the_api(console):
    ana, csrf = console.user("agent", "Ana")
    first, second = console.escalate(), console.escalate()
    for conversation in (first, second):
        api = f"{console.url}/api/console/conversations/{conversation}"
        assert call(ana, "POST", api + "/take", csrf).status_code == 200

    api = f"{console.url}/api/console/conversations/{first}"
    bad = call(ana, "POST", api + "/transfer", csrf, {"department": "marketing", "note": "x"})
    assert bad.status_code == 400 and "transfer to one of" in bad.json()["error"]
    moved = call(
        ana, "POST", api + "/transfer", csrf, {"department": "delivery", "note": "Late parcel"}
    )
    assert moved.status_code == 200
    handoff = moved.json()["handoff"]
    assert handoff["department"] == "delivery" and handoff["reference"] == f"H-{handoff['id']}"
    with console.engine.connect() as conn:
        row = conn.execute(select(handoffs).where(handoffs.c.id == handoff["id"])).one()
    assert json.loads(row.context)["agent_note"] == "Late parcel"

    api = f"{console.url}/api/console/conversations/{second}"
    assert call(ana, "POST", api + "/resolve", csrf, {"summary": " "}).status_code == 400
    done = call(ana, "POST", api + "/resolve", csrf, {"summary": "Password reset"})
    assert done.status_code == 200 and done.json()["takeover"]["note"] == "Password reset"
    assert not console.rasa.paused(second)


# -- live signals (bot/hub/console_live.py) ----------------------------------------------------
def test_the_holding_agents_typing_and_seen_reach_the_website_channel(console):
    alex, csrf = console.user("agent", "Alex (admin)")
    ben, ben_csrf = console.user("agent", "Ben")
    conversation = console.escalate()
    api = f"{console.url}/api/console/conversations/{conversation}"
    # Nobody holds it yet: nothing is relayed.
    assert call(alex, "POST", api + "/typing", csrf, {"typing": True}).status_code == 409
    assert call(alex, "POST", api + "/take", csrf).status_code == 200

    assert call(alex, "POST", api + "/typing", csrf, {"typing": True}).json() == {"relayed": True}
    assert call(alex, "POST", api + "/typing", csrf, {"typing": False}).status_code == 200
    assert call(alex, "POST", api + "/seen", csrf, {"message_id": "m1"}).status_code == 200
    assert [(c, b) for c, b in console.rasa.live if c == conversation] == [
        (conversation, {"type": "agent_typing", "agent": "Alex", "typing": True}),  # no role
        (conversation, {"type": "agent_typing", "agent": "Alex", "typing": False}),
        (conversation, {"type": "seen", "message_id": "m1"}),
    ]
    # Only the agent holding it; only well-formed.
    assert call(ben, "POST", api + "/typing", ben_csrf, {"typing": True}).status_code == 409
    assert call(ben, "POST", api + "/seen", ben_csrf, {"message_id": "m1"}).status_code == 409
    assert call(alex, "POST", api + "/typing", csrf, {"typing": "yes"}).status_code == 400
    for bad in ({}, {"message_id": ""}, {"message_id": "x" * 65}, {"message_id": 7}):
        assert call(alex, "POST", api + "/seen", csrf, bad).status_code == 400, bad
    assert len([c for c, _ in console.rasa.live if c == conversation]) == 3

    assert call(ben, "GET", api + "/live").json() == {"customer_typing": False}
    console.rasa.customer_typing.add(conversation)
    assert call(ben, "GET", api + "/live").json() == {"customer_typing": True}


def test_on_slack_there_is_no_typing_to_show(console):
    ana, csrf = console.user("agent", "Ana")
    conversation = console.escalate(channel="slack")
    api = f"{console.url}/api/console/conversations/{conversation}"
    assert call(ana, "POST", api + "/take", csrf).status_code == 200
    assert call(ana, "POST", api + "/typing", csrf, {"typing": True}).json() == {"relayed": False}
    assert call(ana, "POST", api + "/seen", csrf, {"message_id": "m1"}).json() == {"relayed": False}
    assert [c for c, _ in console.rasa.live if c == conversation] == []


def test_when_the_website_channel_is_unreachable_live_signals_answer_502(console):
    ana, csrf = console.user("agent", "Ana")
    conversation = console.escalate()
    api = f"{console.url}/api/console/conversations/{conversation}"
    assert call(ana, "POST", api + "/take", csrf).status_code == 200
    console.rasa.fail(500, method="GET")
    r = call(ana, "GET", api + "/live")
    assert r.status_code == 502 and "answered 500" in r.json()["error"]


def test_the_conversation_page_marks_customer_lines_and_carries_the_live_script(console):
    ana, _ = console.user("agent", "Ana")
    conversation = console.escalate()
    page = with_scripts(ana, f"{console.url}/console/conversations/{conversation}")
    assert '"data-message-id": l.id || null' in page  # what "seen" names
    assert "customer-typing" in page and "/typing" in page and "/seen" in page
    assert len(re.findall(r"<script[^>]*>", page)) == 1  # still the page's one script


def test_when_rasa_fails_the_agent_is_told_and_nothing_is_taken(console):
    ana, csrf = console.user("agent", "Ana")
    conversation = console.escalate()
    console.rasa.fail(500, method="POST")
    r = call(ana, "POST", f"{console.url}/api/console/conversations/{conversation}/take", csrf)
    assert r.status_code == 502
    assert "could not take over; the assistant goes on answering" in r.json()["error"]
    queue = call(ana, "GET", console.url + "/api/console/queue").json()["escalations"]
    assert next(e for e in queue if e["conversation_id"] == conversation)["taken_by"] is None


def test_unknown_conversations_are_404_as_json_and_as_a_page(console):
    ana, csrf = console.user("agent", "Ana")
    api = call(ana, "GET", console.url + "/api/console/conversations/nope")
    assert api.status_code == 404 and "no conversation 'nope'" in api.json()["error"]
    page = ana.get(console.url + "/console/conversations/nope", timeout=10)
    assert page.status_code == 404 and page.headers["content-type"].startswith("text/html")
    assert "Back to the queue" in page.text
    taken = call(ana, "POST", console.url + "/api/console/conversations/nope/take", csrf)
    assert taken.status_code == 404


def test_the_conversation_page_shows_everything_as_text_and_runs_only_its_own_script(console):
    ana, _ = console.user("agent", "Ana")
    conversation = console.escalate(
        customer={"id": "C009", "name": f"Eve {XSS}", "tier": "gold"},
        customer_said=f"<script>alert(2)</script>{XSS}",
        order_id="ORD-1<b>",
    )
    page = ana.get(f"{console.url}/console/conversations/{conversation}", timeout=10)
    assert page.status_code == 200
    assert XSS not in page.text and "<script>alert(2)" not in page.text
    assert "Eve &lt;img src=x onerror=alert(1)&gt;" in page.text
    assert "ORD-1&lt;b&gt;" in page.text
    policy = page.headers["content-security-policy"]
    nonce = re.search(r"script-src 'nonce-([^']+)'", policy).group(1)
    scripts = re.findall(r"<script[^>]*>", page.text)
    # Its one script is the hub's own file (bot/hub/static/console.js, allowed as 'self'):
    # no inline script, so nothing the page shows can run.
    assert len(scripts) == 1, scripts
    assert re.fullmatch(r"<script src='/static/console\.js\?v=\w+' defer>", scripts[0])
    assert f"script-src 'nonce-{nonce}' 'self';" in policy
    assert "frame-ancestors 'none'" in policy and page.headers["cache-control"] == "no-store"
    assert f'data-conversation-id="{conversation}"' in page.text


def test_settings_read_rasas_api_its_token_and_the_lease_from_the_environment():
    default = HubSettings.from_env({})
    assert (default.rasa_api_url, default.rasa_token, default.takeover_lease_seconds) == (
        "http://127.0.0.1:5005",
        "",
        90.0,
    )
    custom = HubSettings.from_env(
        {
            "CX_RASA_PORT": "5105",
            "CX_RASA_TOKEN": "t0ken",
            "CX_TAKEOVER_LEASE_SECONDS": "30",
        }
    )
    assert (custom.rasa_api_url, custom.rasa_token, custom.takeover_lease_seconds) == (
        "http://127.0.0.1:5105",
        "t0ken",
        30.0,
    )
    behind = HubSettings.from_env({"CX_RASA_API_URL": "http://rasa.internal:5005"})
    assert behind.rasa_api_url == "http://rasa.internal:5005"
    for bad in ("soon", "0", "-5"):
        with pytest.raises(ValueError, match="CX_TAKEOVER_LEASE_SECONDS"):
            HubSettings.from_env({"CX_TAKEOVER_LEASE_SECONDS": bad})


# -- who the customer is: the trust level on every card and in the packet ----------------------
def identity(trust, verified_by=None, claimed=None):
    """A packet's ``identity``, as bot/support/desk.py writes it."""
    how = {"website": "signed in on the website", "order_email": "order number and the email on it"}
    return {"trust": trust, "verified_by": verified_by, "how": how.get(verified_by or ""), "claimed": claimed}  # fmt: skip


TRUST_CASES = {
    # key: (channel, packet, what the agent reads, verified)
    "website": (
        "socketio",
        {"customer": {"id": "C001", "name": "Jane"}, "identity": identity("verified", "website")},
        "Verified (signed in on the website)",
        True,
    ),
    "order_email": (
        "rest",
        {"customer": {"id": "C002"}, "identity": identity("verified", "order_email")},
        "Verified (order number and the email on it)",
        True,
    ),
    "claimed": (
        "socketio",
        {
            "customer": {"email": f"jane@example.com{XSS}"},
            "identity": identity("claimed", claimed=f"jane@example.com{XSS}"),
        },  # fmt: skip
        f"Not verified: says they are jane@example.com{XSS}",
        False,
    ),
    "unknown": ("socketio", {"identity": identity("unknown")}, "Not verified", False),
    # Handoffs from before identity checks: no ``identity`` in the packet.
    "older, anonymous": ("socketio", {}, "Not verified", False),
    "older, customer named over REST": (
        "rest",
        {"customer": {"id": "C003"}},
        "Not verified",
        False,
    ),  # fmt: skip
}


@pytest.mark.parametrize("key", TRUST_CASES)
def test_every_queue_card_and_packet_says_how_sure_we_are_who_it_is(console, key):
    channel, packet, label, verified = TRUST_CASES[key]
    ana, _ = console.user("agent", "Ana")
    conversation = console.escalate(channel=channel, **packet)

    queue = call(ana, "GET", console.url + "/api/console/queue").json()["escalations"]
    card = next(e for e in queue if e["conversation_id"] == conversation)
    trust = "unknown" if key.startswith("older") else packet["identity"]["trust"]
    assert card["identity"] == {"trust": trust, "verified": verified, "label": label}
    view = call(ana, "GET", f"{console.url}/api/console/conversations/{conversation}").json()
    assert view["identity"] == card["identity"]

    page = ana.get(f"{console.url}/console/conversations/{conversation}", timeout=10).text
    badge = re.search(r"<p id='identity' class='trust trust--(\w+)'>(.*?)</p>", page, re.S)
    assert badge.group(1) == trust
    assert f"<span class='trust-label'>{escape(label)}</span>" in badge.group(2)
    assert XSS not in page
    warning = "Check who this is before sharing account details."
    assert (warning in page) is not verified
    if not verified:  # beside the customer's details, first thing in the packet
        assert re.search(
            r"</p><p id='identity-warning' class='identity-warning' role='note'>", page
        )
    assert '"identity"' not in page and "&quot;trust&quot;" not in page  # not dumped as JSON


def test_an_older_handoff_whose_customer_the_channel_named_shows_as_before(console):
    """Before identity checks, only a signed-in widget or a mapped Slack user named the
    customer on those channels: no level is claimed, no warning, the customer as before."""
    ana, _ = console.user("agent", "Ana")
    conversation = console.escalate(channel="slack", customer={"id": "C004", "name": "Omar"})
    queue = call(ana, "GET", console.url + "/api/console/queue").json()["escalations"]
    assert next(e for e in queue if e["conversation_id"] == conversation)["identity"] is None
    page = ana.get(f"{console.url}/console/conversations/{conversation}", timeout=10).text
    assert "id='identity'" not in page and "Check who this is" not in page
    assert "<dt>Customer</dt><dd>Omar · C004</dd>" in page


def test_the_journey_of_a_customer_not_verified_carries_the_warning_too(console):
    ana, _ = console.user("agent", "Ana")
    conversation = console.escalate(
        channel="rest", customer={"id": "C005"}, identity=identity("claimed", claimed="C005")
    )
    with console.engine.begin() as conn:
        conn.execute(
            insert(journey_customers).values(
                id="C005", name="Someone", created_at=console.clock.now
            )
        )
        conn.execute(
            insert(touchpoints).values(
                conversation_id=conversation, session_started_at=console.clock.now,
                customer_id="C005", channel="rest", started_at=console.clock.now,
                last_activity_at=console.clock.now, outcome="escalated",
            )
        )  # fmt: skip
    page = ana.get(f"{console.url}/console/conversations/{conversation}", timeout=10).text
    journey = re.search(r"<h2 id=\"journey-heading\">Journey</h2>(.*?)</section>", page, re.S)
    assert "<p id='journey-warning' class='identity-warning' role='note'>" in journey.group(1)
    assert "Someone" in journey.group(1)


def test_the_queue_script_draws_the_trust_badge_from_the_queue(console):
    ana, _ = console.user("agent", "Ana")
    page = with_scripts(ana, console.url + "/console")
    assert 'el("span", { class: "trust trust--" + e.identity.trust }' in page
    assert "e.identity.label" in page
