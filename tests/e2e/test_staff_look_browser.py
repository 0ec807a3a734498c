"""The staff pages' one look, in headless Chromium (issue 24 items 3 and 4, issue 23 item 1).

A real hub (in this process, on a free port) over the hand-built journey of
tests/bot/analytics/conftest.py (SQLite), its clock at that journey's "now" (Wednesday
2025-03-12 10:00). People sign in through the login form as each role and see:

- the same frame on every page (staff.css, the top bar), the navigation their role may
  use and nothing else, and who they are said once ("Alex" and an "Admin" badge);
- the key colours' contrast, computed from the page's own styles, passing WCAG AA;
- the metrics page readable: empty days folded, charts over the days with data, each rate
  with its n, the table inside 1280 px with columns the reader may hide, and no sideways
  scroll on a phone;
- no serious or critical axe-core violation on any page (axe-core pinned in
  tests/e2e/axe/package.json; `make test` installs it from the npm registry).

With ``CX_SCREENS_DIR`` set (``make screens``) each page is also saved as a screenshot.
"""

from __future__ import annotations

import os
import re
import uuid
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect
from sqlalchemy import insert, select, update

from bot.db.engine import make_engine
from bot.db.migrate import migrate
from bot.db.schema import handoffs, inbox
from bot.hub import HubSettings, serve
from bot.hub.accounts import Accounts
from tests.bot.analytics.conftest import NOW, load
from tests.bot.hub.test_hub import PASSWORD
from tests.e2e.conftest import watch_problems

pytestmark = pytest.mark.e2e

AXE = Path(__file__).parent / "axe" / "node_modules" / "axe-core" / "axe.min.js"
SCREENS = os.environ.get("CX_SCREENS_DIR")


@pytest.fixture(scope="module")
def hub(tmp_path_factory):
    """(hub URL, its engine) over the hand-built journey on SQLite, two handoffs waiting."""
    url = f"sqlite:///{tmp_path_factory.mktemp('look') / 'journey.db'}"
    engine = make_engine(url)
    migrate(engine)
    load(engine)
    with engine.begin() as conn:  # the journey's billing handoffs wait in the billing inbox
        billing = handoffs.c.department == "billing"
        conn.execute(
            update(handoffs)
            .where(billing)
            .values(status="open", acknowledged_at=None, resolved_at=None, priority="urgent",
                    need="charged_twice", summary="Charged twice for ORD-1")
        )  # fmt: skip
        waiting = conn.execute(select(handoffs.c.id, handoffs.c.created_at).where(billing)).all()
        conn.execute(
            insert(inbox),
            [
                {"idempotency_key": f"look-{i}", "department": "billing", "handoff_id": i,
                 "received_at": created, "deliveries": 1, "body": "{}"}
                for i, created in waiting
            ],
        )  # fmt: skip
    server = serve(HubSettings(journey_url=url, clock=lambda: NOW.timestamp()), port=0)
    try:
        yield server.url, engine
    finally:
        server.stop()
        engine.dispose()


def open_page(browser: Browser, width: int = 1280, height: int = 900) -> Page:
    context = browser.new_context(viewport={"width": width, "height": height})
    page = context.new_page()
    page.problems = watch_problems(page)
    return page


def sign_in(page: Page, hub, role: str, name: str, department: str | None = None) -> None:
    hub_url, engine = hub
    username = f"{role}-{uuid.uuid4().hex[:8]}"
    Accounts(engine).add(username, PASSWORD, role, name, department=department)
    page.goto(f"{hub_url}/login")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page).not_to_have_url(re.compile(r"/login"))


def nav_links(page: Page) -> list[str]:
    return page.get_by_role("navigation", name="Staff areas").get_by_role("link").all_inner_texts()


def shoot(page: Page, name: str, full_page: bool = True) -> None:
    if SCREENS:
        Path(SCREENS).mkdir(parents=True, exist_ok=True)
        page.wait_for_timeout(200)
        page.screenshot(path=str(Path(SCREENS) / f"staff-{name}.png"), full_page=full_page)


# -- one frame, navigation by role, the person said once --------------------------------------
ROLES = [
    # role, department, where they land, the links they see
    ("analyst", None, "/review", ["CX review"]),
    ("department", "billing", "/departments/billing", ["Billing inbox"]),
    ("admin", None, "/console", ["Console", "Delivery inbox", "Billing inbox", "Sales inbox",
                                 "CX review"]),
]  # fmt: skip


@pytest.mark.parametrize("role, department, home, links", ROLES, ids=[r[0] for r in ROLES])
def test_each_role_sees_its_own_navigation_and_its_name_once(
    browser, hub, role, department, home, links
):
    page = open_page(browser)
    sign_in(page, hub, role, f"Alex ({role})", department)
    hub_url = hub[0]
    # The admin lands on the console (tested with the console); look at an inbox and the review.
    for path in ["/departments/billing", "/review"] if role == "admin" else [home]:
        page.goto(hub_url + path)
        assert nav_links(page) == links
        person = page.locator("#signed-in")
        expect(person.locator("strong")).to_have_text("Alex")  # the role is not in the name
        expect(person.locator(".badge")).to_have_text(role.capitalize())
        assert f"({role})" not in page.locator("header.topbar").inner_text()
        current = page.locator("nav[aria-label='Staff areas'] a[aria-current=page]")
        expect(current).to_have_count(1)
    # A link of the navigation goes where it says.
    page.get_by_role("navigation", name="Staff areas").get_by_role("link").last.click()
    expect(page).to_have_url(re.compile(re.escape(hub_url) + r"/(review|departments/\w+)$"))
    assert page.problems == []
    page.context.close()


def test_login_inbox_and_review_share_one_style_sheet_and_frame(browser, hub):
    hub_url = hub[0]
    page = open_page(browser)
    looks = {}

    def look() -> dict:
        return page.evaluate(
            """() => {
              const s = getComputedStyle(document.body);
              return {font: s.fontFamily, bg: s.backgroundColor, color: s.color,
                      sheets: [...document.styleSheets].map(x => (x.href || "inline").split("?")[0])};
            }"""
        )

    page.goto(f"{hub_url}/login")
    looks["login"] = look()
    shoot(page, "login")
    sign_in(page, hub, "admin", "Alex (admin)")
    for name, path in (("inbox", "/departments/billing"), ("metrics", "/review"),
                       ("log", "/review/log")):  # fmt: skip
        page.goto(hub_url + path)
        looks[name] = look()
        expect(page.locator("header.topbar")).to_be_visible()
    first = looks["login"]
    assert first["sheets"] == [f"{hub_url}/static/staff.css"]  # no inline style anywhere
    for name, seen in looks.items():
        assert seen == first, name
    assert page.problems == []
    page.context.close()


def test_the_inbox_shows_times_in_human_form_and_priorities_as_badges(browser, hub):
    page = open_page(browser)
    sign_in(page, hub, "department", "Bea", "billing")
    expect(page.get_by_role("heading", name="Billing inbox")).to_be_visible()
    card = page.locator("article.handoff-card").first
    when = card.locator("header time")
    # The journey's billing handoff came on Monday 2025-03-10; the hub's now is Wednesday.
    expect(when).to_have_text(re.compile(r"^Mon 10 Mar \d\d:\d\d$"))
    assert re.fullmatch(r"2025-03-10T\d\d:\d\d:\d\d", when.get_attribute("datetime"))
    expect(card.locator(".badge", has_text="open")).to_be_visible()
    assert not re.search(r"\d{2}:\d{2}:\d{2}\.\d+", page.locator("main").inner_text())
    shoot(page, "inbox")
    assert page.problems == []
    page.context.close()


# -- contrast of the key colours -------------------------------------------------------------
CONTRAST_JS = """(pairs) => pairs.map(([selector, which]) => {
  const el = document.querySelector(selector);
  if (!el) return [selector, null, null];
  const s = getComputedStyle(el);
  let bg = null;
  for (let e = el; e && !bg; e = e.parentElement) {
    const c = getComputedStyle(e).backgroundColor;
    if (c && c !== "rgba(0, 0, 0, 0)" && c !== "transparent") bg = c;
  }
  const fg = which === "border" ? s.borderTopColor : s.color;
  return [selector, fg, bg || "rgb(255, 255, 255)"];
})"""


def _luminance(rgb: str) -> float:
    r, g, b = (int(x) for x in re.findall(r"\d+", rgb)[:3])

    def channel(c: int) -> float:
        c = c / 255
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4

    return 0.2126 * channel(r) + 0.7152 * channel(g) + 0.0722 * channel(b)


def contrast(fg: str, bg: str) -> float:
    high, low = sorted((_luminance(fg), _luminance(bg)), reverse=True)
    return (high + 0.05) / (low + 0.05)


def test_the_key_colours_pass_wcag_aa(browser, hub):
    hub_url = hub[0]
    page = open_page(browser)
    sign_in(page, hub, "admin", "Alex")
    checks = {
        "/review": [
            ("main h1", "text", 4.5),
            ("main p.hint", "text", 4.5),  # muted text
            ("main a#download-csv", "text", 4.5),  # links
            ("header.topbar a.brand", "text", 4.5),  # white on the brand green
            ("header.topbar .person .badge", "text", 4.5),
            ("form.filters button.btn--primary", "text", 4.5),  # white on blue
            ("form.filters select", "border", 3.0),  # a control's edge (WCAG 1.4.11)
            (".subnav a[aria-current=page]", "text", 4.5),
            (".subnav a:not([aria-current])", "text", 4.5),
            ("#metrics thead th", "text", 4.5),
        ],
        "/departments/billing": [
            (".handoff-card .badge--danger, .handoff-card .badge--warning", "text", 4.5),
            ("#inbox-summary .badge--info", "text", 4.5),
            (".handoff-card dt", "text", 4.5),
            (".handoff-card textarea", "border", 3.0),
            (".handoff-card button.btn--primary", "text", 4.5),
        ],
    }
    failures = []
    for path, pairs in checks.items():
        page.goto(hub_url + path)
        for selector, fg, bg in page.evaluate(CONTRAST_JS, [[s, w] for s, w, _ in pairs]):
            needed = next(n for s, _, n in pairs if s == selector)
            assert fg is not None, f"{path}: nothing matches {selector}"
            ratio = contrast(fg, bg)
            if ratio < needed:
                failures.append(f"{path} {selector}: {fg} on {bg} is {ratio:.2f}:1 < {needed}")
    # The focus ring: 3 px, at least 3:1 against the page.
    page.goto(hub_url + "/review")
    page.locator("#window").focus()
    ring = page.evaluate("() => getComputedStyle(document.activeElement).outlineColor")
    page_bg = page.evaluate("() => getComputedStyle(document.body).backgroundColor")
    if contrast(ring, page_bg) < 3:
        failures.append(f"focus ring {ring} on {page_bg}")
    assert not failures, "\n".join(failures)
    page.context.close()


# -- the metrics page reads well ---------------------------------------------------------------
def test_the_metrics_fold_empty_days_show_n_and_fit_1280(browser, hub):
    page = open_page(browser, 1280, 900)
    sign_in(page, hub, "analyst", "Ana")
    expect(page.get_by_role("heading", name="CX metrics")).to_be_visible()
    rows = page.locator("#metrics tbody tr")
    expect(rows).to_have_count(30)  # every day is still in the table...
    visible = page.locator("#metrics tbody tr:visible")
    # ...but 2025-02-11 .. 2025-03-05 (23 days without a conversation) show as one row: the
    # journey's days with data are Mar 6 (Thu) .. Mar 12, with one quiet day in between.
    shown = visible.locator("th[scope=row]").all_inner_texts()
    assert len(shown) < 12, shown
    expect(visible.first.locator("th")).to_contain_text(
        re.compile(r"2025-02-11\s*to 2025-03-0\d: \d+ days without conversations")
    )
    expect(page.locator("#empty-runs")).to_contain_text("without conversations")

    # Each rate shows its base: Monday+Tuesday total is 6 ended conversations, 33.3% escalated.
    def n_of(group: str, column: str) -> str:
        cell = page.locator(
            f"#metrics tr:has(th[scope=row]:text-is('{group}')) td[data-column='{column}']"
        )
        return cell.evaluate("td => getComputedStyle(td, '::after').content")

    assert n_of("total", "escalation_rate") == '"n=7"'  # tp1..tp9 in 30 days: 7 have ended
    assert n_of("total", "conversations") == "none"  # a count has no base

    # The charts span the days with data, not the 30 days of the window.
    tips = page.locator("#chart-volume title").all_text_contents()[1:]
    days = {t.split(" · ")[0] for t in tips}
    assert "2025-02-11" not in days and "2025-03-11" in days and len(days) <= 8, days
    expect(page.locator("#chart-range")).to_contain_text("the days with conversations")

    # The table fits the page at 1280 px: no scrolling sideways to reach its last column.
    fit = page.evaluate(
        """() => { const s = document.getElementById('metrics-scroll');
                   return [s.scrollWidth, s.clientWidth, document.documentElement.scrollWidth,
                           window.innerWidth]; }"""
    )
    assert fit[0] <= fit[1] and fit[2] <= fit[3], fit
    shoot(page, "metrics")

    # The reader chooses the columns: a group hidden stays hidden after a reload.
    page.locator("#column-choice summary").click()
    page.get_by_label("Handoffs by department").uncheck()
    expect(page.locator("#metrics [data-column=handoffs_billing]").first).to_be_hidden()
    expect(page.locator("#metrics th[data-column=handoffs]")).to_be_visible()
    page.reload()
    expect(page.locator("#metrics th[data-column=handoffs_billing]")).to_be_hidden()
    page.locator("#column-choice summary").click()
    page.get_by_label("Handoffs by department").check()
    expect(page.locator("#metrics th[data-column=handoffs_billing]")).to_be_visible()

    # Unfold, and every day is back.
    page.locator("#show-empty").click()
    expect(page.locator("#metrics tbody tr:visible")).to_have_count(30)
    assert page.problems == []
    page.context.close()


def test_the_metrics_page_works_on_a_phone(browser, hub):
    hub_url = hub[0]
    page = open_page(browser, 390, 844)
    sign_in(page, hub, "analyst", "Ana")
    page.goto(f"{hub_url}/review")
    widths = page.evaluate(
        """() => { const h = document.querySelector('header.topbar');
                   return [document.documentElement.scrollWidth, window.innerWidth,
                           h.scrollWidth, h.clientWidth]; }"""
    )
    page_width, viewport, header, header_box = widths
    assert page_width <= viewport, widths  # the page never scrolls sideways
    assert header <= header_box, widths  # the header's pieces wrap, none overflows
    for name in ("Window", "Group by"):
        box = page.get_by_label(name).bounding_box()
        assert box["x"] >= 0 and box["x"] + box["width"] <= viewport, name
    expect(page.get_by_role("button", name="Sign out")).to_be_in_viewport()
    shoot(page, "metrics-phone", full_page=False)
    page.context.close()


# -- accessibility: axe-core on every converted page ------------------------------------------
PAGES = [
    ("login", None, None, "/login"),
    ("inbox", "department", "billing", "/departments/billing"),
    ("metrics", "analyst", None, "/review"),
    ("log", "analyst", None, "/review/log"),
    ("flagged", "analyst", None, "/review/flagged"),
    ("journey", "analyst", None, "/review/customers/C2"),
    ("conversation", "analyst", None, "/review/conversations/1"),
    ("error", "analyst", None, "/review/conversations/999999"),
    # The agent console: the queue and the two handoffs waiting (its open chat, with a live
    # customer, is checked in tests/e2e/test_widget_experience_browser.py).
    ("console", "admin", None, "/console"),
]


def serious_axe_violations(page: Page) -> list[str]:
    """axe-core's serious and critical violations on ``page`` as it is now (shadow DOM, such as
    the chat widget's, included), one line each."""
    page.evaluate(AXE.read_text())  # evaluated, not a <script>: the page's CSP stays as it is
    result = page.evaluate(
        """async () => {
          const r = await axe.run(document, {resultTypes: ["violations"]});
          return r.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,
                                         nodes: v.nodes.slice(0, 3).map(n => n.target.join(" "))}));
        }"""
    )
    return [
        f"{v['impact']} {v['id']}: {v['help']} at {v['nodes']}"
        for v in result
        if v["impact"] in ("serious", "critical")
    ]


@pytest.mark.skipif(not AXE.exists(), reason="axe-core not installed: make test installs it")
@pytest.mark.parametrize("name, role, department, path", PAGES, ids=[p[0] for p in PAGES])
def test_no_serious_or_critical_accessibility_violation(browser, hub, name, role, department, path):
    hub_url = hub[0]
    page = open_page(browser)
    if role:
        sign_in(page, hub, role, "Ana", department)
    page.goto(hub_url + path)
    bad = serious_axe_violations(page)
    if name in ("log", "flagged", "journey", "conversation", "error"):
        shoot(page, name)
    assert not bad, "\n".join(bad)
    page.context.close()
