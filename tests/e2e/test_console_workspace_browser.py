"""The agent console as a two-pane workspace, in headless Chromium, on the real servers.

A customer in the website widget (one browser context) and a support agent in the console
(another), against the shared e2e Rasa server, action server and hub
(tests/e2e/conftest.py). What is proven here: a new escalation reaches an open console by
push (server-sent events, no reload and no polling) and is announced; the list stays beside
the open chat while the agent switches chats; the console works from the keyboard alone,
with its shortcuts listed in a help overlay; a saved reply is filled with the customer's
name and order; and after a hand back nothing on the page still shows the handoff open.
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from tests.bot.hub.test_hub import PASSWORD
from tests.e2e import test_widget_experience_browser as experience
from tests.e2e.test_widget_experience_browser import LIVE_MS, Widget, new_agent

pages = experience.pages  # a page per person; script errors, CSP refusals and 4xx/5xx fail

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def assistant(own_assistant):
    """A system of its own: in the shared one, Li's ORD-10005 has been through other
    modules' chats (tests/e2e/test_one_truth.py resolves a handoff of hers into an open
    widget), after which the saved-reply menu's second pick here came back empty; this
    module's console checks must not depend on what ran before them."""
    return own_assistant


PUSH_MS = 10_000  # generous on 2 loaded cores; the bench (bench/console_push.py) times it
QUIET_MS = 6_000  # polling every 2.5 s would read the list at least twice in this window
# Records each desktop notification the page shows (Chromium's own, called through).
NOTIFICATION_SPY = """
window.__notified = [];
const Real = window.Notification;
if (Real) {
  const Spy = function (title, options) { window.__notified.push(title); return new Real(title, options); };
  Object.defineProperty(Spy, "permission", { get: () => Real.permission });
  Spy.requestPermission = (...a) => Real.requestPermission(...a);
  window.Notification = Spy;
}
"""


class Agent:
    """A support agent in the console workspace."""

    def __init__(self, page: Page, hub_url: str, username: str):
        self.page = page
        self.hub = hub_url
        page.goto(f"{hub_url}/console")
        page.get_by_label("Username").fill(username)
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_label("Password").press("Enter")
        expect(page.get_by_role("heading", name="Escalations")).to_be_visible()
        self.live()

    def live(self) -> None:
        """The page listens to the hub's event stream."""
        expect(self.page.locator("body")).to_have_attribute("data-push", "live", timeout=LIVE_MS)

    def card(self, conversation_id: str, where: str = "#worklist"):
        return self.page.locator(f"{where} li[data-conversation-id='{conversation_id}']")

    def open(self, conversation_id: str) -> None:
        self.page.goto(f"{self.hub}/console/conversations/{conversation_id}")
        self.live()

    def view(self, conversation_id: str) -> dict:
        """The console's JSON view of the conversation, read through the page's session."""
        return self.page.evaluate(
            "id => fetch('/api/console/conversations/' + encodeURIComponent(id))"
            ".then(r => r.json())",
            conversation_id,
        )


def escalated(page: Page, hub: str, *before: tuple[str, str]) -> Widget:
    """A website customer who said each (message, answer) of ``before``, then asked for a person."""
    chat = Widget(page, hub).visit().open()
    for text, answer in before:
        chat.say(text)
        chat.expect_answer(answer)
    chat.say("I want to talk to a person")
    chat.expect_answer("right here in this chat")
    return chat


def test_a_new_escalation_reaches_an_open_console_by_push_and_is_announced(pages, assistant):
    hub = assistant.settings.hub_url
    page = pages("agent", permissions=["notifications"])
    page.add_init_script(NOTIFICATION_SPY)
    agent = Agent(page, hub, new_agent(assistant, "Ana"))
    page.get_by_text("Announce new escalations").click()
    page.get_by_label("Desktop notification").check()
    expect(page.get_by_label("Count in the tab's title")).to_be_checked()
    page.evaluate("window.__sameDocument = true")

    # Nothing changes: the page asks the hub nothing (a polling page would have, twice).
    reads: list[str] = []
    page.on(
        "request", lambda r: reads.append(r.url) if "/api/console/conversations" in r.url else None
    )
    page.wait_for_timeout(QUIET_MS)
    assert len(reads) <= 1, reads  # at most one read, on news pushed by something else

    chat = escalated(pages("customer"), hub)
    card = agent.card(chat.session_id, "#waiting")
    expect(card).to_be_visible(timeout=PUSH_MS)
    assert page.evaluate("window.__sameDocument") is True  # no reload
    # In plain words: what the customer wants, where, how long; no codes.
    expect(card).to_contain_text("Website chat")
    expect(card).to_contain_text("waiting")
    expect(card).to_contain_text("Asked for a person")
    for code in ("socketio", "request_human", "told_you"):
        expect(card).not_to_contain_text(code)
    # Announced: the count in the title, a desktop notification.
    expect(page).to_have_title(re.compile(r"^\(\d+\) "))
    assert int(page.evaluate("document.body.dataset.announced || '0'")) >= 1
    for _ in range(LIVE_MS // 100):  # polled from here: the page's policy runs no eval
        if page.evaluate("window.__notified.length"):
            break
        page.wait_for_timeout(100)
    assert page.evaluate("window.__notified")[0].startswith(("New escalation", "2 new", "3 new"))


def test_the_list_stays_beside_the_open_chat_while_switching_chats(pages, assistant):
    hub = assistant.settings.hub_url
    first = escalated(pages("first customer"), hub)
    first.say("The parcel never came")
    second = escalated(pages("second customer"), hub)
    second.say("My invoice is wrong")
    agent = Agent(pages("agent"), hub, new_agent(assistant, "Ben"))
    page = agent.page

    agent.open(first.session_id)
    worklist, pane = page.locator("#worklist"), page.locator("#conversation")
    expect(worklist).to_be_visible()
    expect(pane).to_be_visible()
    expect(page.locator("#context")).to_be_visible()
    left, middle = worklist.bounding_box(), pane.bounding_box()
    assert left["x"] + left["width"] <= middle["x"] + 1  # side by side, list first
    assert left["y"] < middle["y"] + middle["height"] and middle["y"] < left["y"] + left["height"]
    expect(agent.card(first.session_id).locator("a")).to_have_attribute("aria-current", "page")
    expect(page.locator("#transcript .line--customer").filter(has_text="parcel never came")).to_be_visible(timeout=LIVE_MS)  # fmt: skip

    agent.card(second.session_id, "#waiting").get_by_role("link").click()
    expect(page).to_have_url(f"{hub}/console/conversations/{second.session_id}")
    agent.live()
    expect(page.locator("#worklist")).to_be_visible()
    expect(agent.card(second.session_id).locator("a")).to_have_attribute("aria-current", "page")
    expect(agent.card(first.session_id).locator("a")).not_to_have_attribute("aria-current", "page")
    lines = page.locator("#transcript .line--customer")
    expect(lines.filter(has_text="My invoice is wrong")).to_be_visible(timeout=LIVE_MS)
    expect(lines.filter(has_text="parcel never came")).to_have_count(0)


def test_the_console_works_from_the_keyboard_alone_with_a_shortcut_overlay(pages, assistant):
    hub = assistant.settings.hub_url
    chat = escalated(pages("customer"), hub)
    agent = Agent(pages("agent"), hub, new_agent(assistant, "Cleo"))
    page, keys = agent.page, agent.page.keyboard
    expect(agent.card(chat.session_id, "#waiting")).to_be_visible(timeout=PUSH_MS)

    keys.press("?")
    overlay = page.get_by_role("dialog", name="Keyboard shortcuts")
    expect(overlay).to_be_visible()
    expect(overlay).to_have_attribute("aria-modal", "true")
    expect(overlay).to_contain_text("Take over the open conversation")
    expect(page.locator("#shortcuts-close")).to_be_focused()
    keys.press("Tab")  # the focus stays in the dialog
    expect(page.locator("#shortcuts-close")).to_be_focused()
    keys.press("Escape")
    expect(overlay).to_be_hidden()

    # j walks the list, Enter opens the card that has the focus.
    for _ in range(40):
        keys.press("j")
        focused = page.evaluate(
            "(document.activeElement.closest('li[data-conversation-id]') || {dataset: {}})"
            ".dataset.conversationId"
        )
        if focused == chat.session_id:
            break
    assert focused == chat.session_id
    keys.press("Enter")
    expect(page).to_have_url(f"{hub}/console/conversations/{chat.session_id}")
    agent.live()
    expect(page.locator("#status")).to_contain_text("Waiting for a person", timeout=LIVE_MS)

    keys.press("t")
    expect(page.locator("#status")).to_contain_text("You have taken this conversation over")
    expect(chat.events.filter(has_text="Cleo from our support team has joined")).to_be_visible(timeout=LIVE_MS)  # fmt: skip
    keys.press("Escape")  # out of the message box the take put the focus in
    keys.press("r")
    expect(page.locator("#message")).to_be_focused()
    keys.type("Hello from the keyboard")
    keys.press("Enter")
    expect(chat.page.locator(f"{experience.W} .cx-msg--agent").filter(has_text="Hello from the keyboard")).to_be_visible(timeout=LIVE_MS)  # fmt: skip

    expect(page.locator("#finish")).to_be_visible()  # the actions of the chat this agent holds
    keys.press("Alt+h")
    expect(page.locator("#hand-back-note")).to_be_focused()
    keys.type("Said hello, nothing else needed")
    keys.press("Enter")
    expect(chat.events.filter(has_text="handed you back to me")).to_be_visible(timeout=LIVE_MS)
    expect(page.locator("#status")).to_contain_text("The assistant has this conversation")
    expect(page.locator("#history")).to_contain_text("Said hello, nothing else needed")


def test_a_saved_reply_is_filled_with_the_customers_name_and_order(pages, assistant):
    hub = assistant.settings.hub_url
    chat = escalated(
        pages("customer"), hub, ("where's ORD-10005? it's li.wei@example.com", "Thanks, Li")
    )
    agent = Agent(pages("agent"), hub, new_agent(assistant, "Dev"))
    page = agent.page
    agent.open(chat.session_id)
    expect(page.locator("h1")).to_contain_text("Li Wei")
    # The order the chat is about, with its status, items and value.
    order = page.locator("#orders li[data-order-id='ORD-10005']")
    expect(order).to_contain_text("Noise-cancelling headphones")
    expect(order).to_contain_text("$")
    expect(order).to_contain_text("this chat")
    expect(order.locator(".badge").first).not_to_be_empty()

    page.get_by_role("button", name="Take over").click()
    box = page.get_by_label("Message to the customer")
    expect(box).to_be_focused()
    box.press("/")  # in an empty box: the saved replies
    expect(page.locator("#saved-menu")).to_be_visible()
    page.keyboard.type("looking")
    page.keyboard.press("Enter")
    text = "Thanks Li. I'm looking at order ORD-10005 now: one moment, please."
    expect(box).to_have_value(text)
    expect(box).to_be_focused()
    box.press("Enter")
    expect(chat.page.locator(f"{experience.W} .cx-msg--agent").filter(has_text=text)).to_be_visible(timeout=LIVE_MS)  # fmt: skip

    # Picked with the mouse this time, into the emptied box.
    page.get_by_role("button", name="Saved replies").click()
    expect(page.locator("#saved-menu")).to_be_visible()  # open before we type into it
    page.keyboard.type("greeting")
    page.keyboard.press("Enter")
    # The box is filled by the page's script: wait for it rather than read it at once.
    expect(box).to_have_value(re.compile(r"^Hi Li, I'm Dev from the support team\."))
    value = box.input_value()
    assert value.startswith("Hi Li, I'm Dev from the support team.")
    assert "{" not in value


def test_after_a_hand_back_nothing_still_shows_the_handoff_open(pages, assistant):
    hub = assistant.settings.hub_url
    chat = escalated(
        pages("customer"), hub, ("where is ORD-10003? jane.doe@example.com", "Thanks, Jane")
    )
    agent = Agent(pages("agent"), hub, new_agent(assistant, "Eli"))
    page = agent.page
    agent.open(chat.session_id)
    support = [h for h in agent.view(chat.session_id)["handoffs"] if h["department"] == "support"]
    reference = f"H-{support[-1]['id']}"
    open_list = page.locator("#open-handoffs")
    expect(open_list).to_contain_text(reference)
    expect(open_list).to_contain_text("Support team · waiting")

    page.get_by_role("button", name="Take over").click()
    expect(open_list).to_contain_text("Support team · picked up", timeout=LIVE_MS)
    expect(agent.card(chat.session_id, "#taken")).to_contain_text("with you", timeout=LIVE_MS)

    page.get_by_label("Note for colleagues (internal)").fill("All sorted")
    page.get_by_role("button", name="Hand back to the assistant").click()
    expect(chat.events.filter(has_text="handed you back to me")).to_be_visible(timeout=LIVE_MS)
    # Without a reload: no open handoff, no card, the assistant has it.
    expect(page.locator("#context")).not_to_contain_text(reference, timeout=LIVE_MS)
    expect(page.locator("#status")).to_contain_text("The assistant has this conversation")
    expect(page.get_by_role("button", name="Take over")).to_be_hidden()
    expect(agent.card(chat.session_id, "#queue-view")).to_have_count(0)
    assert [h["status"] for h in agent.view(chat.session_id)["handoffs"] if h["id"] == support[-1]["id"]] == ["resolved"]  # fmt: skip
    # And a reload shows the same.
    page.reload()
    expect(page.locator("#journey-heading")).to_be_visible()
    expect(page.locator("#context")).not_to_contain_text(reference)
