"""The customer's chat widget as a customer lives it, in headless Chromium, on the real servers.

Who they are talking to (the header follows a person joining and handing back), typing both
ways between the widget and the agent console, message times and "Delivered"/"Seen", the
first screen's starters and promised wait, and the keyboard and contrast a customer who
doesn't use a mouse, or doesn't see well, depends on. The agent works in the real console
(bot/hub/console.py) in a second browser context; the assistant is the shared e2e one
(tests/e2e/conftest.py). Waits are generous (`LIVE_MS`): nothing here times the servers.
"""

from __future__ import annotations

import re
import uuid
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
import requests
from playwright.sync_api import Browser, Page, expect

from bot.db.engine import make_engine
from bot.departments import load_departments
from bot.hub.accounts import Accounts
from tests.bot.hub.test_hub import PASSWORD
from tests.e2e.conftest import watch_problems
from tests.e2e.test_staff_look_browser import AXE, serious_axe_violations

pytestmark = pytest.mark.e2e

REPLY_MS = 30_000  # the assistant's answer, through the action server
LIVE_MS = 15_000  # the console polls every 1.5-2 s; a typing mark lapses after 6 s
W = "#cx-support-widget"
ZONE = "Asia/Tokyo"  # far from the servers' clock: times must be the visitor's local ones
STARTERS = {  # the first screen's starters, and what the assistant understands by each
    "Where's my order?": "order_status",
    "A question about my invoice": "request_invoice",
    "Talk to a person": "request_human",
}
OUT_OF_SCOPE = "outside what I can help with"


class Widget:
    """The customer's widget on the demo storefront."""

    def __init__(self, page: Page, hub_url: str):
        self.page = page
        self.hub_url = hub_url
        self.host = page.locator(W)
        self.launcher = page.locator(f"{W} .cx-launcher")
        self.panel = page.locator(f"{W} .cx-panel")
        self.title = page.locator(f"{W} .cx-title")
        self.avatar = page.locator(f"{W} .cx-header .cx-avatar")
        self.input = page.locator(f"{W} .cx-input")
        self.typing = page.locator(f"{W} .cx-typing")
        self.events = page.locator(f"{W} .cx-event")

    def visit(self) -> Widget:
        self.page.goto(f"{self.hub_url}/demo")
        return self

    def open(self) -> Widget:
        self.launcher.click()
        self.wait_ready()
        return self

    def wait_ready(self) -> None:
        expect(self.host).to_have_attribute("data-state", "ready", timeout=15_000)

    @property
    def session_id(self) -> str:
        return self.host.get_attribute("data-session-id")

    def say(self, text: str) -> None:
        self.input.fill(text)
        self.input.press("Enter")

    def mine(self, text: str):
        return self.page.locator(f"{W} .cx-msg--customer").filter(has_text=text)

    def answer(self, text: str):
        return self.page.locator(f"{W} .cx-msg--assistant").filter(has_text=text)

    def expect_answer(self, text: str, timeout: int = REPLY_MS) -> None:
        expect(self.answer(text).last).to_be_visible(timeout=timeout)

    def active(self) -> str:
        """What has the keyboard: 'widget:<class of the element>' inside the widget, or the
        page element's tag name outside it."""
        return self.page.evaluate(
            """() => {
              const a = document.activeElement;
              if (a && a.id === 'cx-support-widget') {
                const inner = a.shadowRoot.activeElement;
                return 'widget:' + (inner ? (inner.getAttribute('class') || inner.tagName) : '');
              }
              return a ? a.tagName.toLowerCase() : '';
            }"""
        )


class Console:
    """A support agent signed in to the agent console."""

    def __init__(self, page: Page, hub_url: str, username: str):
        self.page = page
        self.hub_url = hub_url
        page.goto(f"{hub_url}/console")
        page.get_by_label("Username").fill(username)
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Sign in").click()
        expect(page.get_by_role("heading", name="Escalations")).to_be_visible()
        self.transcript = page.locator("#transcript")
        self.box = page.get_by_label("Message to the customer")

    def take(self, conversation: str) -> None:
        self.page.goto(f"{self.hub_url}/console/conversations/{conversation}")
        self.page.get_by_role("button", name="Take over").click()
        expect(self.page.locator("#status")).to_contain_text(
            "You have taken this conversation over"
        )

    def customer_line(self, text: str):
        return self.transcript.locator(".line--customer").filter(has_text=text)

    def hand_back(self) -> None:
        self.page.get_by_text("Hand back, transfer or resolve").click()
        self.page.get_by_role("button", name="Hand back to the assistant").click()


def new_agent(assistant, name: str) -> str:
    username = f"agent-{uuid.uuid4().hex[:8]}"
    engine = make_engine(assistant.settings.journey_url)
    try:
        Accounts(engine).add(username, PASSWORD, "agent", name)
    finally:
        engine.dispose()
    return username


@pytest.fixture
def pages(browser: Browser):
    """New pages, each in its own context (a separate person); what goes wrong on any of them
    (script errors, CSP refusals, 4xx/5xx answers) fails the test."""
    contexts, watched = [], []

    def open_page(who: str, **options) -> Page:
        options.setdefault("viewport", {"width": 1280, "height": 900})
        context = browser.new_context(**options)
        contexts.append(context)
        page = context.new_page()
        watched.append((who, watch_problems(page)))
        return page

    yield open_page
    for context in contexts:
        context.close()
    problems = [f"{who}: {p}" for who, found in watched for p in found if "favicon" not in p]
    assert not problems, problems


def test_a_person_joining_and_handing_back_changes_who_the_header_shows(pages, assistant):
    hub = assistant.settings.hub_url
    agent = Console(pages("agent"), hub, new_agent(assistant, "Ana Silva (agent)"))
    chat = Widget(pages("customer"), hub).visit().open()
    expect(chat.title).to_have_text("Support assistant")
    expect(chat.host).to_have_attribute("data-talking-to", "assistant")

    chat.say("I want to talk to a person")
    chat.expect_answer("right here in this chat")
    agent.take(chat.session_id)

    # The header: her name and initials, never her role; the join is an event, not a bubble.
    expect(chat.title).to_have_text("Ana Silva", timeout=LIVE_MS)
    expect(chat.avatar).to_have_text("AS")
    expect(chat.host).to_have_attribute("data-talking-to", "agent")
    joined = chat.events.filter(has_text="Ana Silva joined the chat")
    expect(joined).to_be_visible()
    expect(joined).to_have_attribute("data-system", "joined")
    expect(chat.answer("has joined")).to_have_count(0)
    assert "(agent)" not in chat.panel.inner_text()

    # Still her after a reload (from the conversation's record).
    chat.page.reload()
    chat.wait_ready()
    expect(chat.title).to_have_text("Ana Silva")
    expect(chat.events.filter(has_text="Ana Silva joined the chat")).to_have_count(1)

    agent.hand_back()
    expect(chat.title).to_have_text("Support assistant", timeout=LIVE_MS)
    expect(chat.host).to_have_attribute("data-talking-to", "assistant")
    back = chat.page.locator(f"{W} .cx-event[data-system='handed_back']")
    expect(back).to_contain_text("handed you back to me")
    expect(chat.answer("handed you back")).to_have_count(0)
    chat.say("hello")
    chat.expect_answer("What can I do for you?")


def test_typing_shows_both_ways_and_messages_are_delivered_then_seen(pages, assistant):
    hub = assistant.settings.hub_url
    agent = Console(pages("agent"), hub, new_agent(assistant, "Ben"))
    chat = Widget(pages("customer"), hub).visit().open()
    chat.say("Can I talk to a person?")
    chat.expect_answer("right here in this chat")
    agent.take(chat.session_id)
    expect(chat.title).to_have_text("Ben", timeout=LIVE_MS)
    expect(chat.typing).to_be_hidden()

    # The agent types: the widget shows it, and it ends with the message.
    agent.box.press_sequentially("Hello, I'm looking", delay=50)
    expect(chat.typing).to_be_visible(timeout=LIVE_MS)
    expect(chat.typing).to_have_attribute("data-who", "agent")
    expect(chat.typing).to_contain_text("Ben is typing")
    agent.box.press_sequentially(" into it now.", delay=20)
    agent.box.press("Enter")
    expect(chat.page.locator(f"{W} .cx-msg--agent").filter(has_text="into it now")).to_be_visible(
        timeout=LIVE_MS
    )
    expect(chat.typing).to_be_hidden()

    # Typing that stops without a message clears by itself after a few quiet seconds.
    agent.box.press_sequentially("One more", delay=50)
    expect(chat.typing).to_be_visible(timeout=LIVE_MS)
    expect(chat.typing).to_be_hidden(timeout=LIVE_MS)
    agent.box.fill("")

    # The customer types: the console shows it, pushed on its event stream (it asks for it
    # only while the stream is down); nothing is sent until they do.
    expect(agent.page.locator("body")).to_have_attribute("data-push", "live", timeout=LIVE_MS)
    asked = []
    agent.page.on("request", lambda r: asked.append(r.url) if r.url.endswith("/live") else None)
    customer_typing = agent.page.locator("#customer-typing")
    expect(customer_typing).to_have_text("")
    chat.input.press_sequentially("It's the blue", delay=60)
    expect(customer_typing).to_have_text("The customer is typing…", timeout=LIVE_MS)
    chat.input.press_sequentially(" chair", delay=60)
    chat.input.press("Enter")
    expect(agent.customer_line("It's the blue chair")).to_be_visible(timeout=LIVE_MS)
    expect(customer_typing).to_have_text("", timeout=LIVE_MS)
    assert asked == [], f"the console polled for typing while its stream was up: {asked}"

    # Sent to a person: no assistant dots meanwhile; delivered, then seen once the console
    # (visible, held) has shown it.
    sent = chat.mine("It's the blue chair")
    expect(sent).to_have_attribute("data-status", "seen", timeout=LIVE_MS)
    expect(sent.locator(".cx-msg__status")).to_have_text("Seen")
    expect(chat.typing).to_be_hidden()
    earlier = chat.mine("Can I talk to a person?")
    expect(earlier).not_to_have_attribute("data-status", re.compile("."))  # the assistant had it

    # A console that is not looking (another tab in front) does not make it seen.
    agent.page.evaluate("Object.defineProperty(document, 'visibilityState', {get: () => 'hidden'})")
    chat.say("Also the armrest")
    later = chat.mine("Also the armrest")
    expect(later).to_have_attribute("data-status", "delivered", timeout=LIVE_MS)
    expect(later.locator(".cx-msg__status")).to_have_text("Delivered")
    expect(agent.customer_line("Also the armrest")).to_be_visible(timeout=LIVE_MS)
    agent.page.wait_for_timeout(3000)  # a few polls: still not seen
    expect(later).to_have_attribute("data-status", "delivered")

    # After a reload the states come back from the record (and the channel's seen mark).
    chat.page.reload()
    chat.wait_ready()
    expect(chat.mine("It's the blue chair")).to_have_attribute("data-status", "seen")
    expect(chat.mine("Also the armrest")).to_have_attribute("data-status", "delivered")
    agent.hand_back()
    expect(chat.title).to_have_text("Support assistant", timeout=LIVE_MS)


def test_every_message_shows_its_local_time(pages, assistant):
    chat = Widget(pages("customer", locale="en-GB", timezone_id=ZONE), assistant.settings.hub_url)
    chat.visit().open()
    chat.say("hello")
    chat.expect_answer("What can I do for you?")

    def check_times() -> None:
        times = chat.page.locator(f"{W} .cx-msg .cx-time")
        expect(times).to_have_count(2)
        for i in range(2):
            shown = times.nth(i)
            expect(shown).to_have_text(re.compile(r"^\d{2}:\d{2}$"))
            at = datetime.fromisoformat(shown.get_attribute("datetime").replace("Z", "+00:00"))
            assert abs(at - datetime.now(timezone.utc)) < timedelta(minutes=5)
            assert shown.inner_text() == at.astimezone(ZoneInfo(ZONE)).strftime("%H:%M")

    check_times()
    chat.page.reload()  # from the conversation's record, with the server's times
    chat.wait_ready()
    check_times()


@pytest.mark.parametrize("starter", list(STARTERS))
def test_the_first_screen_starters_send_their_words_and_get_an_answer(pages, assistant, starter):
    chat = Widget(pages("customer"), assistant.settings.hub_url).visit().open()
    welcome = chat.page.locator(f"{W} .cx-welcome")
    expect(welcome).to_be_visible()
    expect(welcome).to_contain_text("Hi there!")
    expect(chat.page.locator(f"{W} .cx-starter")).to_have_text(list(STARTERS))
    # The wait is the support team's own promise (departments.yml), as the handoff says it.
    support = load_departments()["support"]
    promised = {f"A person from our team replies {support.promise(datetime.now())}."}
    wait = chat.page.locator(f"{W} .cx-wait")
    expect(wait).to_be_visible()
    promised.add(f"A person from our team replies {support.promise(datetime.now())}.")
    assert wait.inner_text() in promised

    chat.page.get_by_role("button", name=starter).click()
    expect(chat.mine(starter)).to_be_visible()
    expect(welcome).to_be_hidden()
    expect(chat.page.locator(f"{W} .cx-msg--assistant").first).to_be_visible(timeout=REPLY_MS)
    expect(chat.answer(OUT_OF_SCOPE)).to_have_count(0)
    # Sent as the customer's own words, and understood as meant.
    tracker = assistant.tracker(chat.session_id)
    said = [e for e in tracker["events"] if e["event"] == "user"]
    assert [e["text"] for e in said] == [starter]
    assert said[0]["parse_data"]["intent"]["name"] == STARTERS[starter]
    parsed = requests.post(
        f"{assistant.url}/model/parse",
        params={"token": assistant.settings.rasa_token},
        json={"text": starter},
        timeout=30,
    ).json()
    assert parsed["intent"]["name"] == STARTERS[starter]


def test_keyboard_only_on_a_phone_open_trapped_and_escape_also_after_a_reload(pages, assistant):
    page = pages("customer", viewport={"width": 375, "height": 700})
    chat = Widget(page, assistant.settings.hub_url).visit()
    for _ in range(80):  # Tab through the shop to the launcher
        page.keyboard.press("Tab")
        if chat.active() == "widget:cx-launcher":
            break
    assert chat.active() == "widget:cx-launcher"
    expect(chat.launcher).to_have_attribute("aria-expanded", "false")
    page.keyboard.press("Enter")
    chat.wait_ready()
    expect(chat.panel).to_be_visible()
    expect(chat.panel).to_have_attribute("role", "dialog")
    expect(chat.panel).to_have_attribute("aria-modal", "true")  # full-screen: modal
    expect(chat.input).to_be_focused()

    seen = set()
    for key in ["Tab"] * 12 + ["Shift+Tab"] * 12:
        page.keyboard.press(key)
        where = chat.active()
        assert where.startswith("widget:") and "cx-launcher" not in where, (key, where)
        seen.add(where)
    assert {"widget:cx-close", "widget:cx-input", "widget:cx-starter"} <= seen, seen

    page.keyboard.press("Escape")
    expect(chat.panel).to_be_hidden()
    assert chat.active() == "widget:cx-launcher"
    page.keyboard.press("Enter")
    expect(chat.panel).to_be_visible()

    page.reload()  # it was open: it opens again, as a modal with the keyboard in it
    chat.wait_ready()
    expect(chat.panel).to_be_visible()
    expect(chat.panel).to_have_attribute("aria-modal", "true")
    page.keyboard.press("Tab")
    assert chat.active().startswith("widget:")
    page.keyboard.press("Escape")
    expect(chat.panel).to_be_hidden()
    assert chat.active() == "widget:cx-launcher"


def test_on_a_wide_screen_the_launcher_closes_it_and_escape_works_after_a_reload(pages, assistant):
    chat = Widget(pages("customer"), assistant.settings.hub_url).visit().open()
    expect(chat.panel).not_to_have_attribute("aria-modal", "true")  # beside the page
    expect(chat.launcher).to_have_attribute("aria-label", "Close chat")
    expect(chat.launcher).to_have_attribute("aria-expanded", "true")
    chat.launcher.click()
    expect(chat.panel).to_be_hidden()
    expect(chat.launcher).to_have_attribute("aria-label", "Chat with support")
    chat.launcher.click()
    chat.wait_ready()
    chat.page.reload()
    chat.wait_ready()
    expect(chat.panel).to_be_visible()
    assert chat.active() == "body"  # reopened beside the page: the page keeps the keyboard
    chat.page.keyboard.press("Escape")
    expect(chat.panel).to_be_hidden()


def _luminance(rgb: tuple[float, float, float]) -> float:
    def channel(c: float) -> float:
        c /= 255
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (channel(c) for c in rgb)
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast(a: str, b: str) -> float:
    """WCAG contrast ratio of two opaque CSS colours as getComputedStyle gives them."""
    la, lb = (_luminance(_rgb(c)) for c in (a, b))
    return (max(la, lb) + 0.05) / (min(la, lb) + 0.05)


def _rgb(css: str) -> tuple[float, float, float]:
    parts = re.match(r"rgba?\(([\d.]+),\s*([\d.]+),\s*([\d.]+)(?:,\s*([\d.]+))?\)", css)
    assert parts, css
    assert parts.group(4) in (None, "1"), f"{css} is not opaque"
    return tuple(float(parts.group(i)) for i in (1, 2, 3))


STYLE_OF = """([selector, under]) => {
  const root = document.getElementById('cx-support-widget').shadowRoot;
  const node = root.querySelector(selector);
  const style = getComputedStyle(node);
  let back = root.querySelector(under);
  return {
    border: style.borderTopColor, borderWidth: style.borderTopWidth,
    outline: style.outlineColor, outlineStyle: style.outlineStyle, outlineWidth: style.outlineWidth,
    background: getComputedStyle(back).backgroundColor,
  };
}"""


def test_the_input_border_and_focus_rings_contrast_three_to_one(pages, assistant):
    chat = Widget(pages("customer"), assistant.settings.hub_url).visit()
    chat.launcher.focus()
    chat.page.keyboard.press("Enter")
    chat.wait_ready()
    expect(chat.input).to_be_focused()

    # The focus ring of the message box, against the white it sits on.
    focused = chat.page.evaluate(STYLE_OF, [".cx-input", ".cx-composer"])
    assert focused["outlineStyle"] != "none" and float(focused["outlineWidth"][:-2]) >= 2
    assert contrast(focused["outline"], focused["background"]) >= 3, focused

    # The close button, on the blue header: its ring against the header.
    for _ in range(6):  # back past the starters to the close button
        chat.page.keyboard.press("Shift+Tab")
        if chat.active() == "widget:cx-close":
            break
    assert chat.active() == "widget:cx-close"
    close = chat.page.evaluate(STYLE_OF, [".cx-close", ".cx-header"])
    assert close["outlineStyle"] != "none", close
    assert contrast(close["outline"], close["background"]) >= 3, close

    # The message box's border when it is not focused: where to type must be seen too.
    field = chat.page.evaluate(STYLE_OF, [".cx-input", ".cx-composer"])
    assert float(field["borderWidth"][:-2]) >= 1
    assert contrast(field["border"], field["background"]) >= 3, field

    # A starter: its border and its ring, on the white panel.
    chat.page.keyboard.press("Tab")
    chat.page.keyboard.press("Tab")
    assert chat.active() == "widget:cx-starter"
    starter = chat.page.evaluate(STYLE_OF, [".cx-starter", ".cx-body"])
    assert contrast(starter["border"], "rgb(255, 255, 255)") >= 3, starter
    assert contrast(starter["outline"], "rgb(255, 255, 255)") >= 3, starter


@pytest.mark.skipif(not AXE.exists(), reason="axe-core not installed: make test installs it")
def test_no_serious_or_critical_accessibility_violation_in_the_widget_or_the_open_chat(
    pages, assistant
):
    """axe-core on the widget (its first screen, then a conversation with buttons) and on the
    console with that live chat open: the pages a customer and an agent use most."""
    chat = Widget(pages("customer"), assistant.settings.hub_url).visit().open()
    assert serious_axe_violations(chat.page) == []
    chat.say("I want to talk to a person")
    chat.expect_answer("")
    chat.page.wait_for_timeout(500)
    assert serious_axe_violations(chat.page) == []
    console = Console(pages("agent"), assistant.settings.hub_url, new_agent(assistant, "Sam"))
    console.page.goto(f"{assistant.settings.hub_url}/console/conversations/{chat.session_id}")
    expect(console.customer_line("talk to a person")).to_be_visible(timeout=LIVE_MS)
    assert serious_axe_violations(console.page) == []
