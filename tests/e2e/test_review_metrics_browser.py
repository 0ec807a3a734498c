"""The CX metrics page in headless Chromium, as an analyst uses it.

A real hub (in this process, on a free port) over the hand-built journey of
tests/bot/analytics/conftest.py, its clock at that journey's "now" (Wednesday 2025-03-12
10:00). The analyst signs in through the login form, lands on the metrics, reads the
table and the SVG charts, narrows the window and regroups by week through the form, and
downloads the CSV; the page's Content-Security-Policy must not refuse anything on the way.
"""

from __future__ import annotations

import re
import uuid
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from bot.analytics.export import as_csv
from bot.analytics.metrics import metrics_table
from bot.db.engine import make_engine
from bot.db.migrate import migrate
from bot.departments import load_departments
from bot.hub import HubSettings, serve
from bot.hub.accounts import Accounts
from tests.bot.analytics.conftest import NOW, SINCE, UNTIL, load
from tests.bot.hub.test_hub import PASSWORD
from tests.e2e.conftest import watch_problems

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def hub(tmp_path_factory):
    """(hub URL, its engine) over the hand-built journey on SQLite."""
    url = f"sqlite:///{tmp_path_factory.mktemp('metrics') / 'journey.db'}"
    engine = make_engine(url)
    migrate(engine)
    load(engine)
    server = serve(HubSettings(journey_url=url, clock=lambda: NOW.timestamp()), port=0)
    try:
        yield server.url, engine
    finally:
        server.stop()
        engine.dispose()


@pytest.fixture
def page(browser: Browser):
    """A page in a fresh context; console errors, CSP refusals and failed loads collected."""
    context = browser.new_context(viewport={"width": 1280, "height": 900}, accept_downloads=True)
    page = context.new_page()
    problems = watch_problems(page)
    page.problems = problems
    yield page
    context.close()


def sign_in_as_analyst(page: Page, hub_url: str, engine) -> None:
    username = f"analyst-{uuid.uuid4().hex[:8]}"
    Accounts(engine).add(username, PASSWORD, "analyst", "Ana Lyst")
    page.goto(f"{hub_url}/review")
    expect(page).to_have_url(re.compile(r"/login\?next=%2Freview$"))
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(f"{hub_url}/review")
    expect(page.get_by_role("heading", name="CX metrics")).to_be_visible()


def cell(page: Page, group: str, column: str):
    row = page.locator("#metrics tr", has=page.locator("th[scope=row]", has_text=group))
    return row.locator(f"td[data-column='{column}']")


def test_an_analyst_reads_regroups_and_downloads_the_metrics(page, hub, tmp_path):
    hub_url, engine = hub
    sign_in_as_analyst(page, hub_url, engine)

    # The last 30 days by default: a row per day, and the five charts, drawn.
    expect(page.locator("#metrics tbody tr")).to_have_count(30)
    expect(cell(page, "total", "conversations")).to_have_text("9")  # tp1..tp9
    charts = page.locator("svg.chart")
    expect(charts).to_have_count(5)
    for i in range(5):
        expect(charts.nth(i)).to_be_visible()
        assert charts.nth(i).bounding_box()["height"] > 100  # laid out, not collapsed
    expect(page.locator("#chart-volume rect.chart-bar").first).to_be_visible()
    expect(page.get_by_role("img", name="Conversations and handoffs per day")).to_be_visible()
    expect(page.locator("#chart-outcomes circle.chart-point").first).to_be_visible()

    # Monday and Tuesday by week, through the form. Editing a date picks "between the
    # dates" (the page's own script: it ran, under the CSP).
    page.get_by_label("From").fill(SINCE.date().isoformat())
    expect(page.get_by_label("Window")).to_have_value("dates")
    page.get_by_label("To (included)").fill("2025-03-11")
    page.get_by_label("Group by").select_option("week")
    page.get_by_role("button", name="Show").click()
    expect(page).to_have_url(re.compile(r"window=dates&since=2025-03-10&until=2025-03-11&by=week"))
    expect(page.locator("#metrics tbody th[scope=row]")).to_have_text(["2025-W11"])
    expect(cell(page, "total", "conversations")).to_have_text("7")
    expect(cell(page, "total", "escalation_rate")).to_have_text("33.3%")
    expect(
        page.locator("#chart-volume title", has_text="2025-W11 · conversations: 7")
    ).to_have_count(1)
    # The heading explains itself.
    expect(page.locator("th[data-column=self_service_rate] abbr")).to_have_attribute(
        "title", re.compile(r"^Self-service rate: of the conversations that have ended")
    )

    with page.expect_download() as download:
        page.get_by_role("link", name="Download CSV").click()
    assert download.value.suggested_filename == "cx-metrics-week-2025-03-10-2025-03-11.csv"
    saved = tmp_path / "metrics.csv"
    download.value.save_as(saved)
    expected = metrics_table(engine, SINCE, UNTIL, "week", departments=load_departments(), now=NOW)
    assert Path(saved).read_text() == as_csv(expected)

    assert page.problems == []
