"""The CX review's touchpoint log, a journey and an export, as an analyst uses them in Chromium.

The hub runs in this process on SQLite holding the hand-built journey of
tests/bot/analytics/review_journey.py, with a fake Rasa HTTP API: no Rasa server is needed.
Headless Chromium (the ``browser`` fixture of tests/e2e/conftest.py) signs in through the
form, filters the log, follows a customer to their journey and a mark to its
conversation, and downloads the filtered log as CSV and JSON. Any script error, Content-
Security-Policy violation, dialog (a customer's ``<img onerror>`` running) or failed
request fails the test.
"""

from __future__ import annotations

import csv
import json
import re
import uuid

import pytest
from playwright.sync_api import Browser, Page, expect

from bot.db.engine import make_engine
from bot.db.migrate import migrate
from bot.hub import HubSettings, serve
from bot.hub.accounts import Accounts
from tests.bot.analytics.review_journey import load_journey, tracker_events
from tests.bot.hub.test_hub import PASSWORD
from tests.e2e.conftest import watch_problems
from tests.fakes.clock import WEDNESDAY_10AM
from tests.fakes.rasa import FakeRasa


class Hub:
    """The running hub, its database and the journey's touchpoint ids."""

    def __init__(self, url: str, engine, ids: dict[str, int]):
        self.url, self.engine, self.ids = url, engine, ids

    def analyst(self) -> str:
        """A new analyst's username (the password is PASSWORD)."""
        username = f"analyst-{uuid.uuid4().hex[:8]}"
        Accounts(self.engine).add(username, PASSWORD, "analyst", "Lea")
        return username


@pytest.fixture(scope="module")
def hub(tmp_path_factory):
    url = f"sqlite:///{tmp_path_factory.mktemp('review-browser') / 'journey.db'}"
    engine = make_engine(url)
    migrate(engine)
    ids = load_journey(engine)
    clock = WEDNESDAY_10AM.timestamp
    with FakeRasa(clock=clock) as rasa:
        rasa.trackers["web-xss"] = tracker_events()
        settings = HubSettings(
            journey_url=url, rasa_api_url=rasa.url, rasa_token=rasa.token, clock=clock
        )
        server = serve(settings, port=0)
        try:
            yield Hub(server.url, engine, ids)
        finally:
            server.stop()
            engine.dispose()


@pytest.fixture
def analyst(browser: Browser, hub):
    """A page signed in as a new analyst, on the touchpoint log; problems are collected."""
    context = browser.new_context(viewport={"width": 1280, "height": 900}, accept_downloads=True)
    page = context.new_page()
    problems = watch_problems(page)
    page.goto(f"{hub.url}/review/log")
    expect(page).to_have_url(re.compile(r"/login\?next=%2Freview%2Flog$"))
    page.get_by_label("Username").fill(hub.analyst())
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(f"{hub.url}/review/log")
    yield page, problems
    context.close()
    assert problems == []


def rows(page: Page):
    return page.locator("#log tbody tr")


def test_the_log_filters_and_leads_to_a_journey_and_a_conversation(analyst, hub):
    page, _ = analyst
    expect(page.get_by_role("heading", name="Touchpoint log")).to_be_visible()
    expect(rows(page)).to_have_count(5)
    expect(page.locator("#log-status")).to_have_text("5 touchpoints, newest first; no more.")

    # Frustrated customers who wrote "late": one conversation.
    page.get_by_label("Frustration").select_option("yes")
    page.get_by_label("Customer's words").fill("late")
    page.get_by_role("button", name="Apply filters").click()
    expect(page).to_have_url(re.compile(r"/review/log\?.*frustrated=yes.*q=late"))
    expect(rows(page)).to_have_count(1)
    row = rows(page).first
    expect(row).to_contain_text("▲ frustrated (4)")
    expect(row).to_contain_text("⚑ flagged")
    # The customer's name is a would-be script, shown as the characters they typed.
    expect(row.get_by_role("link", name="<img src=x onerror=alert(1)>")).to_be_visible()
    expect(row.locator(".said")).to_have_text(
        "I already told you: it is late <img src=x onerror=alert(1)>"
    )

    # From a clean form, another filter: the Slack conversations.
    page.get_by_role("link", name="Clear").click()
    page.get_by_label("Channel").select_option("slack")
    page.get_by_role("button", name="Apply filters").click()
    expect(rows(page)).to_have_count(1)
    expect(rows(page).first).to_contain_text("ask_pricing")

    # The customer's name leads to their journey: a timeline with a mark per touchpoint.
    rows(page).first.get_by_role("link", name="Omar").click()
    expect(page.get_by_role("heading", name="Journey of Omar")).to_be_visible()
    timeline = page.locator("svg#timeline")
    expect(timeline).to_be_visible()
    expect(timeline.locator("a.mark")).to_have_count(2)
    expect(page.locator("#journey-summary")).to_contain_text("stages purchase → renewal")
    expect(page.locator("#journey-touchpoints tbody tr")).to_have_count(2)
    box = timeline.bounding_box()
    assert box and box["width"] > 600  # drawn across the page, not a thumbnail

    # A mark opens its conversation: the escalated renewal chat on the website.
    timeline.locator(f"a.mark[data-touchpoint-id='{hub.ids['omar_web']}']").click()
    expect(page).to_have_url(f"{hub.url}/review/conversations/{hub.ids['omar_web']}")
    expect(page.get_by_role("heading", name=re.compile("Conversation with Omar"))).to_be_visible()
    expect(page.locator("#facts")).to_contain_text("cancel_subscription")


def test_a_conversation_shows_its_transcript_and_history(analyst, hub):
    page, _ = analyst
    page.goto(f"{hub.url}/review/conversations/{hub.ids['xss_first']}")
    transcript = page.locator("#transcript li")
    expect(transcript).to_have_count(5)
    expect(transcript.nth(1)).to_have_text(
        re.compile(r"AssistantIt is on its way <img src=x onerror=alert\(1\)>")
    )
    expect(page.locator("#handoffs")).to_contain_text("after 5 attempts; last answer: HTTP 500")
    expect(page.locator("#policy")).to_contain_text("took store_credit")
    expect(page.get_by_role("heading", name="Review flag")).to_be_visible()


def test_the_filtered_log_downloads_as_csv_and_json(analyst, hub):
    page, _ = analyst
    page.goto(f"{hub.url}/review/log?department=billing")
    expect(rows(page)).to_have_count(2)
    shown = [int(i) for i in rows(page).evaluate_all("rs => rs.map(r => r.dataset.touchpointId)")]

    with page.expect_download() as download:
        page.get_by_role("link", name="CSV").click()
    assert download.value.suggested_filename == "touchpoints-20250312-1000.csv"
    with open(download.value.path(), encoding="utf-8") as f:
        exported = list(csv.DictReader(f))
    assert [int(r["id"]) for r in exported] == shown
    assert {r["departments"] for r in exported} == {"billing"}

    with page.expect_download() as download:
        page.get_by_role("link", name="JSON").click()
    with open(download.value.path(), encoding="utf-8") as f:
        data = json.load(f)
    assert [t["id"] for t in data["touchpoints"]] == shown
    assert data["filters"] == {"department": "billing"} and data["truncated"] is False
