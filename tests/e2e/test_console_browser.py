"""The agent console and the customer's chat widget, side by side in headless Chromium.

Two browser contexts at once against the real Rasa server and hub: the customer on the
demo storefront (/demo, the widget in its shadow root) and a support agent signed in to
the console. The customer asks for a person; the escalation appears in the agent's queue
without a reload; the agent takes over, they chat both ways, the agent hands back, and
the assistant answers the customer again. The same from the console for a Slack customer,
whose thread is the fake Slack's (tests/fakes/slack.py).
"""

from __future__ import annotations

import re
import uuid

import pytest
from playwright.sync_api import Browser, Page, expect

from bot.db.engine import make_engine
from bot.hub.accounts import Accounts
from tests.bot.hub.test_hub import PASSWORD
from tests.e2e.test_slack_channel import new_ts, sender, wait_for_reply, webhook
from tests.fakes.slack import message_event

pytestmark = pytest.mark.e2e

REPLY_MS = 30_000  # the assistant's answer, through the action server
LIVE_MS = 15_000  # the console polls every 2-3 s
QUIET_MS = 6_000  # long enough for an answer, had the assistant answered
XSS = "<img src=x onerror=alert(1)>"


@pytest.fixture
def pages(browser: Browser, assistant):
    """A new page in its own context (cookies, storage) per call; problems are collected."""
    contexts, problems = [], []

    def open_page(who: str) -> Page:
        context = browser.new_context(viewport={"width": 1280, "height": 900})
        contexts.append(context)
        page = context.new_page()
        page.on("dialog", lambda d: (problems.append(f"{who} dialog: {d.message}"), d.dismiss()))
        page.on("pageerror", lambda e: problems.append(f"{who} page error: {e}"))
        # A Content-Security-Policy violation is logged as a console error; failed loads are
        # checked by their response (the sign-in page has no favicon: not a problem).
        page.on(
            "console",
            lambda m: (
                problems.append(f"{who} console: {m.text}")
                if m.type == "error" and not m.text.startswith("Failed to load resource")
                else None
            ),
        )
        page.on(
            "response",
            lambda r: (
                problems.append(f"{who} got {r.status} for {r.url}")
                if r.status >= 400 and not r.url.endswith("/favicon.ico")
                else None
            ),
        )
        return page

    yield open_page, problems
    for context in contexts:
        context.close()


class Widget:
    """The customer's chat widget on the demo storefront."""

    def __init__(self, page: Page, hub_url: str):
        self.page = page
        page.goto(f"{hub_url}/demo")
        self.host = page.locator("#cx-support-widget")
        page.locator("#cx-support-widget .cx-launcher").click()
        expect(self.host).to_have_attribute("data-state", "ready", timeout=15_000)
        self.input = page.locator("#cx-support-widget .cx-input")
        self.assistant = page.locator("#cx-support-widget .cx-msg--assistant")
        self.agent = page.locator("#cx-support-widget .cx-msg--agent")
        self.events = page.locator("#cx-support-widget .cx-event")  # a person joined or left

    @property
    def session_id(self) -> str:
        return self.host.get_attribute("data-session-id")

    def say(self, text: str) -> None:
        self.input.fill(text)
        self.input.press("Enter")

    def expect_reply(self, text: str, timeout: int = REPLY_MS) -> None:
        expect(self.assistant.filter(has_text=text).last).to_be_visible(timeout=timeout)

    def expect_event(self, text: str, timeout: int = REPLY_MS) -> None:
        expect(self.events.filter(has_text=text).last).to_be_visible(timeout=timeout)


def agent_user(assistant) -> str:
    username = f"agent-{uuid.uuid4().hex[:8]}"
    engine = make_engine(assistant.settings.journey_url)
    try:
        Accounts(engine).add(username, PASSWORD, "agent", "Ana")
    finally:
        engine.dispose()
    return username


def sign_in(page: Page, hub_url: str, username: str) -> None:
    page.goto(f"{hub_url}/console")
    expect(page).to_have_url(re.compile(r"/login\?next=%2Fconsole$"))
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(f"{hub_url}/console")
    expect(page.get_by_role("heading", name="Escalations")).to_be_visible()


def test_an_agent_takes_over_a_web_chat_chats_and_hands_back(pages, assistant):
    open_page, problems = pages
    hub = assistant.settings.hub_url
    console = open_page("agent")
    sign_in(console, hub, agent_user(assistant))  # the console is open before anyone asks

    chat = Widget(open_page("customer"), hub)
    chat.say("I want to talk to a person")
    chat.expect_reply("right here in this chat")
    conversation = chat.session_id

    # The escalation arrives in the open queue by itself: no reload.
    item = console.locator(f"#waiting li[data-conversation-id='{conversation}']")
    expect(item).to_be_visible(timeout=LIVE_MS)
    item.get_by_role("link").click()
    expect(console).to_have_url(f"{hub}/console/conversations/{conversation}")
    transcript = console.locator("#transcript")
    expect(
        transcript.locator(".line--customer").filter(has_text="I want to talk to a person")
    ).to_be_visible(timeout=LIVE_MS)

    console.get_by_role("button", name="Take over").click()
    expect(console.locator("#status")).to_contain_text("You have taken this conversation over")
    chat.expect_event("Ana from our support team has joined", timeout=10_000)

    console.get_by_label("Message to the customer").fill("Hi, I'm Ana. How can I help?")
    console.get_by_label("Message to the customer").press("Enter")
    from_ana = chat.agent.filter(has_text="Hi, I'm Ana. How can I help?")
    expect(from_ana).to_be_visible(timeout=10_000)
    expect(from_ana.locator(".cx-msg__name")).to_have_text("Ana")
    expect(transcript.locator(".line--agent").filter(has_text="Hi, I'm Ana.")).to_be_visible()

    answers_before = chat.assistant.count()
    chat.say(f"My parcel is late {XSS}")
    customer_line = transcript.locator(".line--customer").filter(has_text="My parcel is late")
    expect(customer_line).to_be_visible(timeout=LIVE_MS)
    expect(customer_line.locator(".text")).to_have_text(f"My parcel is late {XSS}")  # as text
    console.wait_for_timeout(QUIET_MS)
    expect(chat.assistant).to_have_count(answers_before)  # paused: the assistant said nothing
    assert console.evaluate("document.querySelectorAll('img, [onerror]').length") == 0

    console.get_by_label("Add a note").fill("Courier to be chased tomorrow")
    console.get_by_role("button", name="Add note").click()
    expect(console.locator("#notes")).to_contain_text("Courier to be chased tomorrow")

    console.get_by_text("Hand back, transfer or resolve").click()
    console.get_by_label("Note for colleagues (internal)").fill("Explained the delay")
    console.get_by_role("button", name="Hand back to the assistant").click()
    chat.expect_event("handed you back to me", timeout=10_000)
    expect(console.locator("#status")).to_contain_text("The assistant has this conversation")
    expect(console.get_by_role("button", name="Take over")).to_be_hidden()
    expect(console.locator("#history")).to_contain_text("handed back")

    chat.say("hello")
    chat.expect_reply("What can I do for you?")
    expect(
        transcript.locator(".line--assistant").filter(has_text="What can I do for you?")
    ).to_be_visible(timeout=LIVE_MS)
    assert "Courier to be chased" not in chat.page.content()  # internal notes stay internal
    assert not problems, problems


def test_an_agent_takes_over_a_slack_thread_from_the_console(pages, assistant, fake_slack):
    open_page, problems = pages
    hub = assistant.settings.hub_url
    console = open_page("agent")
    sign_in(console, hub, agent_user(assistant))

    ts = new_ts()
    conversation = sender(ts)
    fake_slack.deliver(webhook(assistant), message_event("I want to talk to a person", ts=ts))
    wait_for_reply(fake_slack, ts, "right here in this chat")
    item = console.locator(f"#waiting li[data-conversation-id='{conversation}']")
    expect(item).to_be_visible(timeout=LIVE_MS)
    expect(item).to_contain_text("Jane Doe")
    expect(item).to_contain_text("gold tier")
    item.get_by_role("link").click()
    expect(console.locator("h1")).to_contain_text("on Slack")

    console.get_by_role("button", name="Take over").click()
    wait_for_reply(fake_slack, ts, "Ana from our support team has joined")
    console.get_by_label("Message to the customer").fill("Hi Jane, Ana here <3")
    console.get_by_role("button", name="Send").click()
    posts = wait_for_reply(fake_slack, ts, "Ana here")
    assert posts[-1].text == "*Ana* (support team): Hi Jane, Ana here &lt;3"
    assert {(p.channel, p.thread_ts) for p in posts} == {("D0JANE", ts)}

    before = len(fake_slack.posts(thread_ts=ts))
    reply = message_event("The box arrived crushed", ts=new_ts(), thread_ts=ts)
    fake_slack.deliver(webhook(assistant), reply, timeout=10)
    transcript = console.locator("#transcript")
    expect(
        transcript.locator(".line--customer").filter(has_text="The box arrived crushed")
    ).to_be_visible(timeout=LIVE_MS)
    console.wait_for_timeout(QUIET_MS)
    assert len(fake_slack.posts(thread_ts=ts)) == before  # the assistant stayed quiet

    console.get_by_text("Hand back, transfer or resolve").click()
    console.get_by_role("button", name="Hand back to the assistant").click()
    wait_for_reply(fake_slack, ts, "handed you back to me")
    again = message_event("hello", ts=new_ts(), thread_ts=ts)
    fake_slack.deliver(webhook(assistant), again, timeout=10)
    wait_for_reply(fake_slack, ts, "Hi Jane")
    assert not problems, problems


def test_the_console_needs_a_signed_in_agent(pages, assistant):
    open_page, problems = pages
    page = open_page("visitor")
    page.goto(f"{assistant.settings.hub_url}/console/conversations/anything")
    expect(page).to_have_url(re.compile(r"/login\?next=%2Fconsole%2Fconversations%2Fanything$"))
    assert not problems, problems
