"""The CX review's log, conversation and journey pages, their downloads and JSON API, over HTTP.

The review hub of tests/bot/hub/review/conftest.py (a real hub in this process, a fake Rasa
HTTP API, SQLite and PostgreSQL when TEST_POSTGRES_URL is set) holding the hand-built
journey of tests/bot/analytics/review_journey.py; browsers are ``requests`` sessions signed in
through the form.
"""

from __future__ import annotations

import csv
import io
import json
import re
from html import escape
from urllib.parse import quote

import pytest
import requests

from bot.analytics.log_export import EXPORT_COLUMNS, EXPORT_LIMIT
from tests.bot.analytics.review_journey import ANONYMOUS, XSS, load_journey, tracker_events

NEWEST_FIRST = ["anonymous", "xss_second", "omar_web", "xss_first", "omar_slack"]


@pytest.fixture(scope="module")
def hub(review_hub):
    """The review hub (tests/bot/hub/review/conftest.py) holding the hand-built journey."""
    review_hub.rasa.trackers["web-xss"] = tracker_events()
    return review_hub


@pytest.fixture(scope="module")
def ids(hub) -> dict[str, int]:
    """The hand-built journey's touchpoint ids, by key."""
    return load_journey(hub.engine)


@pytest.fixture(scope="module")
def analyst(hub, ids):
    browser, _ = hub.user("analyst", "Lea")
    yield browser
    browser.close()


def get(browser, url: str, **kw) -> requests.Response:
    return browser.get(url, allow_redirects=False, timeout=15, **kw)


def paths(ids) -> list[str]:
    """Every page and API of the log, conversation and journey views."""
    first = ids["xss_first"]
    return [
        "/review/log",
        "/review/log.csv",
        "/review/log.json",
        f"/review/conversations/{first}",
        "/review/customers/C-XSS",
        "/api/review/touchpoints",
        f"/api/review/conversations/{first}",
        "/api/review/customers/C-XSS",
    ]


def shown_ids(ids, html: str) -> list[str]:
    """The touchpoints of a page's table, by their key in the hand-built journey."""
    keys = {v: k for k, v in ids.items()}
    return [keys[int(i)] for i in re.findall(r"<tr data-touchpoint-id='(\d+)'>", html)]


def api_ids(hub, ids, browser, query: str = "") -> list[str]:
    keys = {v: k for k, v in ids.items()}
    r = get(browser, f"{hub.url}/api/review/touchpoints?{query}")
    assert r.status_code == 200, r.text
    return [keys[t["id"]] for t in r.json()["touchpoints"]]


# -- who may open them -------------------------------------------------------------------------
def test_without_a_session_pages_go_to_sign_in_and_apis_answer_401(hub, ids):
    for path in paths(ids):
        r = get(requests.Session(), hub.url + path)
        if path.startswith("/api/"):
            assert (r.status_code, r.json()["error"]) == (401, "sign in first"), path
        else:
            assert r.status_code == 303, path
            assert r.headers["location"] == "/login?next=" + quote(path, safe="")


@pytest.mark.parametrize("role", ["agent", "department"])
def test_agents_and_departments_get_403(hub, ids, role):
    browser, _ = hub.user(role, department="billing" if role == "department" else None)
    for path in paths(ids):
        r = get(browser, hub.url + path)
        assert r.status_code == 403, (path, r.status_code)
        assert "may not open this" in r.text


def test_analysts_and_admins_open_them(hub, ids):
    for role in ("analyst", "admin"):
        browser, _ = hub.user(role)
        for path in paths(ids):
            r = get(browser, hub.url + path)
            assert r.status_code == 200, (role, path, r.status_code)


# -- the log -----------------------------------------------------------------------------------
def test_the_log_lists_touchpoints_newest_first_with_their_links_and_markers(hub, ids, analyst):
    r = get(analyst, hub.url + "/review/log")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    assert shown_ids(ids, r.text) == NEWEST_FIRST
    first = ids["xss_first"]
    row = re.search(rf"<tr data-touchpoint-id='{first}'>(.*?)</tr>", r.text).group(1)
    assert f"href='/review/conversations/{first}'" in row
    assert "href='/review/customers/C-XSS'" in row
    assert "▲ frustrated (4)" in row and "⚑ flagged" in row
    assert ">handed off<" in row and "delivery" in row and "order_late" in row
    anonymous = re.search(rf"<tr data-touchpoint-id='{ids['anonymous']}'>(.*?)</tr>", r.text)
    assert f"href='/review/customers/{quote(ANONYMOUS, safe='')}'" in anonymous.group(1)
    assert "Anonymous visitor" in anonymous.group(1)
    # Omar's escalation is frustrated at exactly the rule's level (3); the rest are calm.
    assert r.text.count("▲ frustrated") == 2
    assert "id='next'" not in r.text  # five touchpoints fit on one page
    assert "href='/review/log.csv'" in r.text and "href='/review/log.json'" in r.text


@pytest.mark.parametrize(
    "query, expected",
    [
        ("channel=slack", ["omar_slack"]),
        ("stage=unknown", ["anonymous"]),
        ("stage=usage", ["xss_second", "xss_first"]),
        ("department=billing", ["xss_second", "omar_web"]),
        ("department=none", ["anonymous"]),
        ("outcome=escalated", ["omar_web"]),
        ("need=order_late", ["xss_first"]),
        ("customer=C2", ["omar_web", "omar_slack"]),
        ("since=2025-03-10&until=2025-03-11", ["xss_second", "omar_web", "xss_first"]),
        ("rating=1-2", ["omar_web", "xss_first"]),
        ("rating=unrated", ["anonymous", "omar_slack"]),
        ("frustrated=yes", ["omar_web", "xss_first"]),
        ("frustrated=no", ["anonymous", "xss_second", "omar_slack"]),
        ("policy=taken", ["xss_first"]),
        ("policy=not_taken", ["xss_second"]),
        ("policy=no", ["anonymous", "omar_web", "omar_slack"]),
        ("flagged=yes", ["xss_first"]),
        ("flagged=no", ["anonymous", "xss_second", "omar_web", "omar_slack"]),
        ("identity_failed=yes", ["xss_first"]),
        ("identity_failed=no", ["anonymous", "xss_second", "omar_web", "omar_slack"]),
        ("identity_failed=yes&stage=usage", ["xss_first"]),
        ("q=PARCEL", ["xss_first"]),
        ("q=100%25", ["xss_first"]),
        ("q=refund_", ["xss_second"]),
        ("q=it%27s", ["anonymous"]),
        ("q=%22quoted%22+text", ["anonymous"]),
        ("q=fed+parcel&rating=2", ["xss_first"]),
        ("q=zebra", []),
    ],
)
def test_every_filter_on_the_page_and_in_the_api(hub, ids, analyst, query, expected):
    page = get(analyst, f"{hub.url}/review/log?{query}")
    assert page.status_code == 200
    assert shown_ids(ids, page.text) == expected
    assert api_ids(hub, ids, analyst, query) == expected


def test_the_form_keeps_the_filters_and_a_search_shows_what_the_customer_said(hub, ids, analyst):
    r = get(analyst, f"{hub.url}/review/log?q=late&frustrated=yes&stage=usage")
    assert shown_ids(ids, r.text) == ["xss_first"]
    assert "<option value='usage' selected>" in r.text
    assert "<option value='yes' selected>" in r.text
    assert "name='q' id='f-q' value='late'" in r.text
    assert f"<div class='said'>I already told you: it is late {escape(XSS)}</div>" in r.text
    downloads = "href='/review/log.csv?stage=usage&amp;frustrated=yes&amp;q=late'"
    assert downloads in r.text


def test_pages_follow_the_cursor_through_every_touchpoint(hub, ids, analyst):
    seen, after = [], None
    while True:
        query = "limit=2" + (f"&after={quote(after)}" if after else "")
        data = get(analyst, f"{hub.url}/api/review/touchpoints?{query}").json()
        seen += [t["id"] for t in data["touchpoints"]]
        after = data["next_cursor"]
        if after is None:
            break
    assert seen == [ids[k] for k in NEWEST_FIRST]
    entry = get(analyst, f"{hub.url}/api/review/touchpoints?flagged=yes").json()["touchpoints"][0]
    assert entry["links"] == {
        "conversation": f"/review/conversations/{ids['xss_first']}",
        "journey": "/review/customers/C-XSS",
    }
    assert (entry["frustrated"], entry["flag"]["tags"], entry["customer_name"]) == (
        True,
        [f"tag {XSS}"],
        XSS,
    )


def test_the_page_links_to_the_next_page_with_the_same_filters(hub, ids, analyst, monkeypatch):
    from bot.hub.review import log as log_page

    monkeypatch.setattr(log_page, "PAGE_SIZE", 2)
    first = get(analyst, f"{hub.url}/review/log?channel=socketio")
    assert shown_ids(ids, first.text) == ["xss_second", "omar_web"]
    link = re.search(r"<a id='next' rel='next' href='([^']+)'>Next page →</a>", first.text)
    second = get(analyst, hub.url + link.group(1).replace("&amp;", "&"))
    assert shown_ids(ids, second.text) == ["xss_first"]
    assert "id='newest'" in second.text and "id='next'" not in second.text


@pytest.mark.parametrize(
    "query, message",
    [
        ("stage=adult", "stage: 'adult' is not one of prospect"),
        ("rating=6", "rating: '6' is not 1 to 5"),
        ("since=2025-02-30", "since: '2025-02-30' is not a date"),
        ("since=2025-03-12&until=2025-03-01", "since (2025-03-12) is after until (2025-03-01)"),
        ("department=legal", "department: 'legal' is not one of delivery, billing"),
        ("after=yesterday~7", "not a page cursor: 'yesterday~7'"),
        ("q=" + "x" * 201, "q: search for at most 200 characters"),
        ("identity_failed=maybe", "identity_failed: 'maybe' is not yes or no"),
    ],
)
def test_bad_filters_are_400_saying_what_is_wrong(hub, analyst, query, message):
    page = get(analyst, f"{hub.url}/review/log?{query}")
    assert page.status_code == 400 and page.headers["content-type"].startswith("text/html")
    assert escape(message, quote=True) in page.text
    assert "<form class='filters'" in page.text  # the form is back, to fix the value
    api = get(analyst, f"{hub.url}/api/review/touchpoints?{query}")
    assert api.status_code == 400 and api.json()["error"].startswith(message)
    if not query.startswith("after"):
        for download in ("/review/log.csv", "/review/log.json"):
            r = get(analyst, f"{hub.url}{download}?{query}")
            assert r.status_code == 400 and escape(message, quote=True) in r.text


@pytest.mark.parametrize("limit", ["0", "501", "ten", "-1"])
def test_a_bad_page_size_is_400(hub, analyst, limit):
    r = get(analyst, f"{hub.url}/api/review/touchpoints?limit={limit}")
    assert r.status_code == 400 and r.json()["error"].startswith("limit:")


# -- identity checks: a security signal ----------------------------------------------------------
def test_the_log_marks_sessions_whose_identity_checks_failed_and_says_what_that_means(
    hub, ids, analyst
):
    r = get(analyst, hub.url + "/review/log")
    first = re.search(rf"<tr data-touchpoint-id='{ids['xss_first']}'>(.*?)</tr>", r.text).group(1)
    assert "identity checks failed: 2</span>" in first
    assert r.text.count("identity checks failed: ") == 2  # the row, and the help text
    help_text = re.search(r"<p class='hint' id='identity-help'>(.*?)</p>", r.text, re.S).group(1)
    assert "failed or were refused by the limits" in help_text
    assert "<select name='identity_failed' id='f-identity_failed'>" in r.text
    kept = get(analyst, hub.url + "/review/log?identity_failed=yes").text
    assert "<option value='yes' selected>some failed or refused</option>" in kept
    assert "href='/review/log.csv?identity_failed=yes'" in kept


def test_the_exports_and_the_api_count_failed_identity_checks(hub, ids, analyst):
    expected = {ids["xss_first"]: 2, ids["xss_second"]: 0, ids["anonymous"]: 0}
    rows = list(csv.DictReader(io.StringIO(get(analyst, f"{hub.url}/review/log.csv").text)))
    counted = {int(r["id"]): int(r["identity_checks_failed"]) for r in rows}
    assert counted.items() >= expected.items()
    data = get(analyst, f"{hub.url}/review/log.json?identity_failed=yes").json()
    assert data["filters"] == {"identity_failed": True}
    assert [(t["id"], t["identity_checks_failed"]) for t in data["touchpoints"]] == [
        (ids["xss_first"], 2)
    ]
    api = get(analyst, f"{hub.url}/api/review/touchpoints").json()["touchpoints"]
    assert {t["id"]: t["identity_checks_failed"] for t in api}.items() >= expected.items()


def test_a_conversation_page_lists_the_sessions_identity_checks(hub, ids, analyst):
    page = get(analyst, f"{hub.url}/review/conversations/{ids['xss_first']}").text
    checks = section(page, "identity-checks")
    assert "<h2 id='identity-checks-heading'>Identity checks</h2>" in checks
    rows = re.findall(r"<tr class='check[^']*'>(.*?)</tr>", checks)
    assert len(rows) == 2  # the code that passed was in the next session
    assert "Mon 10 Mar 09:04</time>" in rows[0] and "Order number and the email on it" in rows[0]
    assert "<strong class='identity-failed'>failed</strong>" in rows[0]
    assert escape(f"ORD-9{XSS}") in rows[0] and escape(f"10.0.0.7{XSS}") in rows[0]
    assert "One-time code typed in" in rows[1] and "refused: over the limit" in rows[1]
    assert "2 of 2 failed or were refused by a limit." in checks
    second = get(analyst, f"{hub.url}/review/conversations/{ids['xss_second']}").text
    passed = section(second, "identity-checks")
    assert "One-time code typed in" in passed and "<td>passed</td>" in passed
    assert "identity-failed" not in passed
    data = get(analyst, f"{hub.url}/api/review/conversations/{ids['xss_first']}").json()
    assert [(c["kind"], c["outcome"], c["at"]) for c in data["identity_checks"]] == [
        ("order_email", "failed", "2025-03-10T09:04:00"),
        ("code", "limited", "2025-03-10T09:06:00"),
    ]
    calm = get(analyst, f"{hub.url}/review/conversations/{ids['omar_web']}").text
    assert "No identity check in this session." in section(calm, "identity-checks")


# -- downloads ---------------------------------------------------------------------------------
def test_the_csv_download_holds_the_filtered_log(hub, ids, analyst):
    query = "frustrated=yes"
    r = get(analyst, f"{hub.url}/review/log.csv?{query}")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    assert (
        r.headers["content-disposition"] == 'attachment; filename="touchpoints-20250312-1000.csv"'
    )
    assert r.headers["x-cx-export-limit"] == str(EXPORT_LIMIT)
    rows = list(csv.DictReader(io.StringIO(r.text)))
    api = get(analyst, f"{hub.url}/api/review/touchpoints?{query}").json()["touchpoints"]
    assert [int(row["id"]) for row in rows] == [t["id"] for t in api]
    assert list(rows[0]) == list(EXPORT_COLUMNS)
    for row, entry in zip(rows, api, strict=True):
        assert row["customer_name"] == entry["customer_name"]  # the XSS name, as plain text
        assert row["needs"] == ";".join(entry["needs"])
        assert int(row["frustration"]) == entry["frustration"]
    everything = list(csv.DictReader(io.StringIO(get(analyst, f"{hub.url}/review/log.csv").text)))
    assert [int(row["id"]) for row in everything] == [ids[k] for k in NEWEST_FIRST]


def test_the_json_download_holds_the_filtered_log(hub, ids, analyst):
    query = "department=billing&q=refund"
    r = get(analyst, f"{hub.url}/review/log.json?{query}")
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/json")
    assert r.headers["content-disposition"].startswith("attachment; filename=")
    data = r.json()
    assert data["filters"] == {"department": "billing", "text": "refund"}
    assert (data["limit"], data["count"], data["truncated"]) == (EXPORT_LIMIT, 1, False)
    api = get(analyst, f"{hub.url}/api/review/touchpoints?{query}").json()["touchpoints"]
    assert [t["id"] for t in data["touchpoints"]] == [t["id"] for t in api] == [ids["xss_second"]]
    assert data["exported_at"] == "2025-03-12T10:00:00"


# -- a conversation ----------------------------------------------------------------------------
def section(html: str, key: str) -> str:
    return re.search(rf"<section id='{key}'.*?</section>", html, re.S).group(0)


def test_a_conversation_page_shows_its_session(hub, ids, analyst):
    r = get(analyst, f"{hub.url}/review/conversations/{ids['xss_first']}")
    assert r.status_code == 200
    page = r.text
    transcript = re.search(r"<ol id='transcript'.*?</ol>", page, re.S).group(0)
    assert "where is my parcel" in transcript and "Ana (agent)" in transcript
    assert escape(f"It is on its way {XSS}") in transcript
    assert "refund_now" not in transcript  # the conversation's next session
    assert "This conversation had 2 sessions" in page
    assert f"href='/review/conversations/{ids['xss_second']}'" in page
    routing = section(page, "routing")
    assert "frustrated_customer" in routing and escape(f"is frustrated {XSS}") in routing
    handoffs = section(page, "handoffs")
    assert re.search(
        r"Delivered <time[^>]*>Mon 10 Mar 09:03</time> after 2 attempts; last answer: HTTP 200",
        handoffs,
    )
    assert re.search(
        r"Given up <time[^>]*>Mon 10 Mar 10:00</time> after 5 attempts; last answer: HTTP 500 · refused &lt;img",
        handoffs,
    )
    assert "acknowledged <time" in handoffs and "none yet (open)" in handoffs
    agents = section(page, "takeovers")
    assert "handed back to the assistant" in agents and escape(f"sorted the parcel {XSS}") in agents
    notes = section(page, "notes")
    assert escape(f"first session note {XSS}") in notes and "second session note" not in notes
    policy = section(page, "policy")
    assert "took <strong>store_credit</strong>" in policy and "repair_service" not in policy
    assert "▲ frustrated (4)" in page and escape(f"slow {XSS}") in page
    # The flag panel (bot/hub/review/flags.py) with its tags.
    assert "Review flag" in page and escape(f"tag {XSS}") in page


def test_the_second_session_and_its_json(hub, ids, analyst):
    second = ids["xss_second"]
    page = get(analyst, f"{hub.url}/review/conversations/{second}").text
    assert "can I get a refund_now?" in page and "where is my parcel" not in page
    assert "Nothing was handed off." in page and "nothing taken" in section(page, "policy")
    data = get(analyst, f"{hub.url}/api/review/conversations/{second}").json()
    assert [line["text"] for line in data["transcript"]] == [
        "can I get a refund_now?",
        "Here's what we can do",
    ]
    assert data["flag"] is None and [n["text"] for n in data["notes"]] == ["second session note"]


def test_when_rasa_fails_the_page_says_so_and_shows_the_rest(hub, ids, analyst):
    hub.rasa.fail(500, times=1)
    r = get(analyst, f"{hub.url}/review/conversations/{ids['xss_first']}")
    assert r.status_code == 200
    assert "The transcript could not be loaded from Rasa" in r.text
    assert "id='transcript'" not in r.text
    assert "H-" in section(r.text, "handoffs") and "first session note" in r.text
    hub.rasa.fail(500, times=1)
    data = get(analyst, f"{hub.url}/api/review/conversations/{ids['xss_first']}").json()
    assert data["transcript"] is None and "500" in data["transcript_error"]


def test_an_unknown_conversation_is_404(hub, analyst):
    page = get(analyst, f"{hub.url}/review/conversations/999999")
    assert page.status_code == 404 and "no touchpoint 999999" in page.text
    api = get(analyst, f"{hub.url}/api/review/conversations/999999")
    assert api.status_code == 404 and api.json()["error"] == "no touchpoint 999999 in the journey"


# -- a journey ---------------------------------------------------------------------------------
def marks(html: str) -> list[tuple[str, str]]:
    """(touchpoint id, the shape drawn) of each mark on the timeline, left to right."""
    return re.findall(
        r"<a href='/review/conversations/\d+' class='mark' data-touchpoint-id='(\d+)'.*?</title>"
        r"<(circle|rect|polygon)",
        html,
    )


def test_a_journey_page_draws_the_timeline_and_lists_the_touchpoints(hub, ids, analyst):
    r = get(analyst, f"{hub.url}/review/customers/C2")
    assert r.status_code == 200
    page = r.text
    assert "<h1>Journey of Omar</h1>" in page
    svg = re.search(r"<svg id='timeline'.*?</svg>", page, re.S).group(0)
    slack, web = str(ids["omar_slack"]), str(ids["omar_web"])
    assert marks(svg) == [(slack, "rect"), (web, "circle")]  # Slack square, website circle
    # Colours by outcome: resolved (sky blue), escalated (vermillion).
    assert "fill='#56B4E9'" in svg and "fill='#D55E00'" in svg
    # Lanes: purchase is above renewal, so the Slack mark sits higher than the web one.
    y = dict(
        re.findall(r"data-touchpoint-id='(\d+)'.*?<(?:rect|circle)[^>]* (?:y|cy)='([\d.]+)'", svg)
    )
    assert float(y[slack]) < float(y[web])
    for lane in ("prospect", "purchase", "onboarding", "usage", "renewal", "leaving"):
        assert f"class='lane'>{lane}</text>" in svg
    assert svg.count("class='department-tick'") == 2  # sales, then billing
    assert "aria-describedby='journey-summary'" in svg
    summary = re.search(r"<p id='journey-summary'>(.*?)</p>", page).group(1)
    assert summary == (
        "2 touchpoints from 2025-03-09 16:00 to 2025-03-11 09:00 on Slack and Website chat; "
        "stages purchase → renewal; departments billing and sales; 1 resolved, 1 escalated."
    )
    assert "id='timeline-legend'" in page and "self-served" in page and "Slack" in page
    assert shown_ids(ids, page) == ["omar_slack", "omar_web"]
    assert f"href='/review/conversations/{web}'" in page
    assert "href='/review/log?customer=C2'" in page


def test_a_journey_shows_flags_and_an_anonymous_visitors_id_travels_in_the_url(hub, analyst):
    page = get(analyst, f"{hub.url}/review/customers/C-XSS").text
    svg = re.search(r"<svg id='timeline'.*?</svg>", page, re.S).group(0)
    assert svg.count("stroke='#111' stroke-width='3'") == 1  # the flagged touchpoint
    assert "flagged" in svg
    anonymous = get(analyst, f"{hub.url}/review/customers/{quote(ANONYMOUS, safe='')}")
    assert anonymous.status_code == 200 and "Journey of Anonymous visitor" in anonymous.text
    assert "no stage</text>" in anonymous.text  # its touchpoint had no stage: a lane for it
    data = get(analyst, f"{hub.url}/api/review/customers/{quote(ANONYMOUS, safe='')}").json()
    assert data["customer"]["id"] == ANONYMOUS and len(data["touchpoints"]) == 1


def test_an_unknown_customer_is_404(hub, analyst):
    assert get(analyst, f"{hub.url}/review/customers/C404").status_code == 404
    api = get(analyst, f"{hub.url}/api/review/customers/C404")
    assert api.status_code == 404 and api.json()["error"] == "no customer 'C404' in the journey"


# -- what a customer or an agent typed is text, everywhere ---------------------------------------
def test_typed_text_is_shown_as_text_on_every_page(hub, ids, analyst):
    for path in ("/review/log", "/review/log?q=late", f"/review/conversations/{ids['xss_first']}",
                 "/review/customers/C-XSS"):  # fmt: skip
        r = get(analyst, hub.url + path)
        assert XSS not in r.text, path
        assert escape(XSS) in r.text, path
        assert "script-src 'nonce-" in r.headers["content-security-policy"]
    data = get(analyst, f"{hub.url}/api/review/touchpoints?customer=C-XSS").json()
    assert data["touchpoints"][0]["customer_name"] == XSS  # JSON carries it as data
    assert json.loads(json.dumps(data)) == data
