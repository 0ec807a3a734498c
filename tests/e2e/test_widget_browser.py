"""The website chat widget in headless Chromium, on the demo storefront, against the real servers.

Each test opens its own browser context (its own localStorage: a separate visitor) on the
hub's /demo page, which embeds bot/widget/widget.js with one script tag; the widget talks to
Rasa's socket.io channel (bot/rasa/channels/web.py). The widget's elements live in an open
shadow root, which Playwright's CSS selectors pierce. The widget names its conversation in
``data-session-id`` on ``#cx-support-widget``; tests use it to read the tracker through
Rasa's HTTP API and to push messages the way the agent console does.
"""

from __future__ import annotations

import base64
import json
import re
import sqlite3
import time

import pytest
import requests
from playwright.sync_api import Browser, Page, expect

from bot.rasa.channels.tokens import mint_customer_token

pytestmark = pytest.mark.e2e

REPLY_MS = 30_000  # the assistant's answer, through the action server
XSS = "<img src=x onerror=alert(1)>"
SOCKET_IO = re.compile(r"/socket\.io/")


class Chat:
    """One visitor's browser tab on the demo storefront, and its chat widget."""

    def __init__(self, page: Page, hub_url: str, problems: list[str]):
        self.page = page
        self.hub_url = hub_url
        self.problems = problems  # alert() dialogs and uncaught page errors, per visitor
        page.on("dialog", lambda d: (problems.append(f"dialog: {d.message}"), d.dismiss()))
        page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
        self.host = page.locator("#cx-support-widget")
        self.launcher = page.locator("#cx-support-widget .cx-launcher")
        self.panel = page.locator("#cx-support-widget .cx-panel")
        self.input = page.locator("#cx-support-widget .cx-input")
        self.messages = page.locator("#cx-support-widget .cx-msg")
        self.answers = page.locator("#cx-support-widget .cx-msg--assistant")
        self.status = page.locator("#cx-support-widget .cx-status")

    def another_tab(self) -> Chat:
        """The same visitor in a second tab (same browser storage)."""
        return Chat(self.page.context.new_page(), self.hub_url, self.problems)

    def visit(self, customer: str | None = None) -> Chat:
        self.page.goto(f"{self.hub_url}/demo" + (f"?as={customer}" if customer else ""))
        return self

    def open(self) -> Chat:
        self.launcher.click()
        self.wait_ready()
        return self

    def wait_ready(self) -> None:
        expect(self.host).to_have_attribute("data-state", "ready", timeout=15_000)

    @property
    def session_id(self) -> str:
        return self.host.get_attribute("data-session-id")

    @property
    def stored_token(self) -> str | None:
        stored = self.page.evaluate("localStorage.getItem('cx-support-widget')")
        return json.loads(stored)["token"] if stored else None

    def say(self, text: str) -> None:
        self.input.fill(text)
        self.input.press("Enter")

    def from_customer(self, text: str):
        return self.page.locator("#cx-support-widget .cx-msg--customer").filter(has_text=text)

    def from_assistant(self, text: str):
        return self.page.locator("#cx-support-widget .cx-msg--assistant").filter(has_text=text)

    def expect_reply(self, text: str) -> None:
        expect(self.from_assistant(text).last).to_be_visible(timeout=REPLY_MS)

    def in_shadow(self, selector: str) -> int:
        """How many elements inside the widget's shadow root match ``selector``."""
        return self.page.evaluate(
            "s => document.getElementById('cx-support-widget').shadowRoot.querySelectorAll(s).length",
            selector,
        )


@pytest.fixture
def visitor(browser: Browser, assistant):
    """Make a new visitor: a fresh browser context (storage, cookies) with one page."""
    contexts, problems = [], []

    def make(viewport: dict | None = None, stored_token: str | None = None) -> Chat:
        context = browser.new_context(viewport=viewport or {"width": 1280, "height": 800})
        contexts.append(context)
        if stored_token is not None:
            # As if this browser had kept that token from an earlier visit.
            value = json.dumps(json.dumps({"token": stored_token}))
            context.add_init_script(
                f"try {{ localStorage.setItem('cx-support-widget', {value}); }} catch (e) {{}}"
            )
        return Chat(context.new_page(), assistant.settings.hub_url, problems)

    yield make
    for context in contexts:
        context.close()
    assert not problems, problems


def push(assistant, session_id: str, event: dict) -> None:
    """Add a bot event to a conversation and send it to the widget, as the agent console does."""
    r = requests.post(
        f"{assistant.url}/conversations/{session_id}/tracker/events",
        params={
            "token": assistant.settings.rasa_token,
            "execute_side_effects": "true",
            "output_channel": "socketio",
        },
        json=event,
        timeout=30,
    )
    r.raise_for_status()


def user_texts(assistant, session_id: str, expected: int = 0, timeout: float = 10) -> list[str]:
    """The customer's messages in the conversation's record, once there are ``expected`` of
    them (or ``timeout`` passed): Rasa sends a turn's answer before it saves the turn, so the
    answer on screen can come a moment before the record has the message."""
    deadline = time.monotonic() + timeout
    while True:
        events = assistant.tracker(session_id)["events"]
        texts = [e["text"] for e in events if e["event"] == "user"]
        if len(texts) >= expected or time.monotonic() > deadline:
            return texts
        time.sleep(0.1)


# The known trap (Rasa's own socket.io widget): with session persistence on, replies go to
# the conversation's room, and a socket that never really joined it (python-socketio made
# enter_room a coroutine) hears nothing. The first two tests fail if replies don't arrive.


def test_a_guest_says_hello_and_is_greeted(visitor, assistant):
    chat = visitor().visit()
    expect(chat.page.get_by_text("Shopping as Guest")).to_be_visible()
    expect(chat.panel).to_be_hidden()
    chat.open()
    expect(chat.panel.get_by_role("heading", name="Support")).to_be_visible()
    chat.say("hello")
    expect(chat.from_customer("hello")).to_be_visible()
    chat.expect_reply("What can I do for you?")
    tracker = assistant.tracker(chat.session_id)
    assert tracker["latest_input_channel"] == "socketio"
    assert user_texts(assistant, chat.session_id, expected=1) == ["hello"]


def test_a_signed_in_customer_asks_where_their_order_is(visitor, assistant):
    # Other tests talk about ORD-10001 too; a third chat about one order within a week goes
    # to a person (CX rule repeat_contact). Here it is Jane's first contact about it.
    journey = sqlite3.connect(assistant.settings.var_dir / "journey.db")
    journey.execute("delete from touchpoints where customer_id = 'C001'")
    journey.commit()

    chat = visitor().visit("C001")
    expect(chat.page.get_by_text("Shopping as Jane Doe")).to_be_visible()
    chat.open()
    # The site's signed customer token is how the assistant knows her, before any order id.
    chat.say("hi")
    chat.expect_reply("Hi Jane")
    chat.say("where is my order ORD-10001")
    answer = chat.from_assistant("ORD-10001").last
    expect(answer).to_be_visible(timeout=REPLY_MS)
    expect(answer).to_contain_text("DHL")
    expect(answer).to_contain_text("JD014600001")
    assert assistant.tracker(chat.session_id)["slots"]["customer_id"] == "C001"


def test_a_button_sends_its_payload_and_shows_its_title(visitor, assistant):
    chat = visitor().visit().open()
    chat.say("what's the weather like in Paris tomorrow?")
    chat.expect_reply("outside what I can help with")
    buttons = chat.page.locator("#cx-support-widget .cx-quick-reply")
    expect(buttons).to_have_text(["Where's my order?", "Billing question", "Talk to a person"])
    chat.page.get_by_role("button", name="Where's my order?").click()
    # The customer sees the title they chose; the assistant gets the payload behind it.
    expect(chat.from_customer("Where's my order?")).to_be_visible()
    chat.expect_reply("Which order")
    assert user_texts(assistant, chat.session_id, expected=2)[-1] == "/order_status"
    for i in range(3):
        expect(buttons.nth(i)).to_be_disabled()  # an answered question can't be answered again


def test_the_conversation_survives_a_page_reload(visitor, assistant):
    chat = visitor().visit().open()
    chat.say("hello")
    chat.expect_reply("What can I do for you?")
    session_id = chat.session_id

    chat.page.reload()
    chat.wait_ready()
    expect(chat.panel).to_be_visible()  # it was open: it opens again
    assert chat.session_id == session_id
    expect(chat.from_customer("hello")).to_be_visible()
    expect(chat.from_assistant("What can I do for you?")).to_be_visible()
    chat.say("thanks!")
    chat.expect_reply("welcome")
    assert user_texts(assistant, session_id, expected=2) == ["hello", "thanks!"]


def test_a_second_tab_shows_the_same_conversation(visitor):
    first = visitor().visit().open()
    first.say("hello")
    first.expect_reply("What can I do for you?")
    second = first.another_tab().visit()
    second.wait_ready()  # a stored token: it reconnects at once, even before it is opened
    assert second.session_id == first.session_id
    second.launcher.click()
    expect(second.from_customer("hello")).to_be_visible()
    # Typed in the first tab, seen in the second, and the answer reaches both.
    first.say("thank you")
    expect(second.from_customer("thank you")).to_be_visible(timeout=REPLY_MS)
    second.expect_reply("welcome")
    first.expect_reply("welcome")


def test_a_message_from_a_human_agent_shows_their_name(visitor, assistant):
    chat = visitor().visit("C002").open()
    chat.say("hello")  # an agent joins a conversation the customer started
    chat.expect_reply("What can I do for you?")
    chat.input.press("Escape")  # the customer closed the chat: the launcher counts what's new
    push(
        assistant,
        chat.session_id,
        {
            "event": "bot",
            "text": "An agent note",
            "data": {"custom": {"text": "Hi, I am Ana from support", "agent": "Ana"}},
        },
    )
    expect(chat.page.locator("#cx-support-widget .cx-badge")).to_have_text("1", timeout=10_000)
    expect(chat.launcher).to_have_attribute("aria-label", "Chat with support (1 new)")
    chat.launcher.click()
    expect(chat.page.locator("#cx-support-widget .cx-badge")).to_be_hidden()
    message = chat.page.locator("#cx-support-widget .cx-msg--agent").last
    expect(message).to_contain_text("Hi, I am Ana from support")
    expect(message.locator(".cx-msg__name")).to_have_text("Ana")
    expect(chat.from_assistant("An agent note")).to_have_count(0)
    # And it is still there, with her name, after a reload (from the history).
    chat.page.reload()
    chat.wait_ready()
    expect(chat.page.locator("#cx-support-widget .cx-msg--agent .cx-msg__name")).to_have_text("Ana")


def test_text_from_anyone_is_shown_as_text_never_run(visitor, assistant):
    chat = visitor().visit().open()
    chat.say(XSS)
    expect(chat.from_customer(XSS)).to_be_visible()
    expect(chat.answers.first).to_be_visible(timeout=REPLY_MS)  # whatever it makes of it
    push(
        assistant,
        chat.session_id,
        {
            "event": "bot",
            "text": f"{XSS} <script>alert(2)</script> javascript:alert(3) https://example.com/help.",
        },
    )
    push(
        assistant,
        chat.session_id,
        {
            "event": "bot",
            "text": "x",
            "data": {"custom": {"text": "<svg onload=alert(4)>", "agent": XSS}},
        },
    )
    push(
        assistant,
        chat.session_id,
        {
            "event": "bot",
            "text": "Pick one",
            "data": {
                "buttons": [
                    {"title": "Pay now", "payload": "javascript:alert(5)"},
                    {"title": "Also bad", "payload": "  JavaScript:alert(6)"},
                    {"title": XSS, "payload": "/greet"},
                ]
            },
        },
    )
    expect(chat.from_assistant("Pick one")).to_be_visible(timeout=10_000)
    pushed = chat.from_assistant("<script>alert(2)</script>")
    expect(pushed).to_contain_text(f"{XSS} <script>alert(2)</script> javascript:alert(3)")
    # Only the https address became a link, built as an element, opening safely.
    link = pushed.locator("a")
    expect(link).to_have_count(1)
    expect(link).to_have_attribute("href", "https://example.com/help")
    expect(link).to_have_attribute("rel", "noopener noreferrer")
    agent = chat.page.locator("#cx-support-widget .cx-msg--agent").last
    expect(agent.locator(".cx-msg__name")).to_have_text(XSS)
    expect(agent).to_contain_text("<svg onload=alert(4)>")
    # javascript: payloads are no buttons at all; the harmless one shows its title as text.
    buttons = chat.from_assistant("Pick one").locator(".cx-quick-reply")
    expect(buttons).to_have_text([XSS])
    assert chat.in_shadow("img, script, iframe, object, embed, [onerror], [onload]") == 0
    assert chat.in_shadow("a[href^='javascript' i]") == 0
    assert chat.page.evaluate("document.querySelectorAll('img, [onerror]').length") == 0
    buttons.click()  # its payload /greet is sent, as any button's
    chat.expect_reply("What can I do for you?")
    assert not chat.problems  # no alert() ran anywhere

    # Images only from http(s) addresses (this one is the hub's, so nothing leaves the machine).
    picture = f"{assistant.settings.hub_url}/no-such-picture.png"
    for src in ("javascript:alert(7)", "data:image/svg+xml,<svg onload=alert(8)>", picture):
        push(assistant, chat.session_id, {"event": "bot", "data": {"image": src}})
    # They arrive in order: once the good one is shown, the two before it were refused.
    images = chat.page.locator("#cx-support-widget img")
    expect(images).to_have_attribute("src", picture, timeout=10_000)
    expect(images).to_have_count(1)


def test_one_visitor_never_sees_another_ones_conversation(visitor, assistant):
    jane = visitor().visit("C001").open()
    jane.say("hello, my locker code is 7421")
    expect(jane.answers.first).to_be_visible(timeout=REPLY_MS)
    jane_session, jane_token = jane.session_id, jane.stored_token

    def fresh(chat: Chat) -> str:
        chat.wait_ready()
        assert chat.session_id != jane_session
        expect(chat.messages).to_have_count(0)
        # Her words nowhere: not in the page, not in the widget's shadow root (page.content()
        # leaves shadow roots out; "7421" alone may turn up in a hex session id).
        shown = chat.page.evaluate(
            "document.body.innerText + document.getElementById('cx-support-widget')"
            ".shadowRoot.textContent"
        )
        assert "locker code" not in shown and "locker code" not in chat.page.content()
        return chat.session_id

    omar = visitor().visit("C002").open()
    fresh(omar)
    # Jane's own token, in Jane's next browser, brings her conversation back...
    again = visitor(stored_token=jane_token).visit("C001").open()
    assert again.session_id == jane_session
    expect(again.from_customer("7421")).to_be_visible()
    # ...but not for someone else signed in on that computer, nor for a guest.
    fresh(visitor(stored_token=jane_token).visit("C002").open())
    fresh(visitor(stored_token=jane_token).visit().open())

    # A forged token: Jane's with its signature changed, or one with no signature at all.
    header, payload, signature = jane_token.split(".")
    swapped = signature[:10] + ("A" if signature[10] != "A" else "B") + signature[11:]
    unsigned = ".".join(
        base64.urlsafe_b64encode(json.dumps(part).encode()).decode().rstrip("=")
        for part in ({"alg": "none", "typ": "JWT"}, {"sub": jane_session, "cus": "C001"})
    )
    for forged in (f"{header}.{payload}.{swapped}", unsigned + ".", "not-a-token"):
        chat = visitor(stored_token=forged).visit("C001").open()
        fresh(chat)
        assert chat.stored_token not in (forged, jane_token)  # replaced by the new session's

    assert user_texts(assistant, jane_session, expected=1) == ["hello, my locker code is 7421"]


def test_a_rejected_customer_token_gets_a_friendly_message(visitor):
    chat = visitor()
    forged = mint_customer_token("a-key-that-is-not-the-widget-secret", "C001")
    # The page says it is Jane, with a token signed by someone else. (Set on the script tag
    # as the parser builds it, before the deferred widget runs: a page fulfilled by the test
    # itself would not count as a local page, and Chromium would block its calls to Rasa.)
    chat.page.add_init_script(
        "new MutationObserver((_, seen) => {"
        "  const tag = document.querySelector('script[data-customer-token]');"
        f"  if (tag) {{ tag.dataset.customerToken = {json.dumps(forged)}; seen.disconnect(); }}"
        "}).observe(document, {childList: true, subtree: true});"
    )
    chat.visit("C001").launcher.click()
    expect(chat.host).to_have_attribute("data-state", "refused", timeout=15_000)
    expect(chat.panel).to_contain_text("couldn't confirm that you're signed in")
    assert chat.host.get_attribute("data-session-id") is None


def test_typing_indicator_until_the_answer_arrives(visitor):
    chat = visitor()
    held: list[str] = []
    page_side = []

    def hold_answers(ws):
        # Everything is forwarded, except the assistant's answers: kept back until released.
        server = ws.connect_to_server()
        page_side.append(ws)
        server.on_message(
            lambda m: held.append(m) if isinstance(m, str) and "bot_uttered" in m else ws.send(m)
        )

    chat.page.route_web_socket(SOCKET_IO, hold_answers)
    chat.visit().open()
    typing = chat.page.locator("#cx-support-widget .cx-typing")
    expect(typing).to_be_hidden()
    chat.say("hello")
    expect(typing).to_be_visible()
    expect(typing).to_have_text("The assistant is typing")
    for _ in range(REPLY_MS // 100):  # until the answer is in (held back)
        if held:
            break
        chat.page.wait_for_timeout(100)
    assert held, "the assistant never answered"
    expect(typing).to_be_visible()
    for message in held:
        page_side[-1].send(message)
    chat.expect_reply("What can I do for you?")
    expect(typing).to_be_hidden()


def test_it_reconnects_by_itself(visitor):
    chat = visitor()
    blocked = False
    sockets = []

    def websocket(ws):
        if blocked:
            ws.close()  # the server is unreachable
            return
        ws.connect_to_server()
        sockets.append(ws)

    chat.page.route_web_socket(SOCKET_IO, websocket)
    chat.page.route(
        SOCKET_IO, lambda route: route.abort() if blocked else route.fallback()
    )  # long-polling too
    chat.visit().open()
    chat.say("hello")
    chat.expect_reply("What can I do for you?")
    session_id = chat.session_id

    blocked = True
    sockets[-1].close()
    expect(chat.host).to_have_attribute("data-state", "reconnecting")
    expect(chat.status).to_have_text("Reconnecting…")
    blocked = False
    chat.wait_ready()
    expect(chat.status).to_have_text("")
    assert chat.session_id == session_id
    expect(chat.messages).to_have_count(2)  # re-rendered from the history, not doubled
    chat.say("thanks!")
    chat.expect_reply("welcome")


def test_usable_on_a_phone_with_the_keyboard(visitor):
    chat = visitor(viewport={"width": 375, "height": 700}).visit()
    box = chat.launcher.bounding_box()
    assert box["x"] > 375 / 2 and box["y"] > 700 / 2  # bottom right
    chat.open()
    panel = chat.panel.bounding_box()
    assert panel["x"] >= 0 and panel["x"] + panel["width"] <= 375
    assert panel["y"] >= 0 and panel["y"] + panel["height"] <= 700
    expect(chat.input).to_be_focused()
    expect(chat.input).to_have_attribute("maxlength", "5000")
    expect(chat.page.locator("#cx-support-widget .cx-messages")).to_have_attribute(
        "aria-live", "polite"
    )
    chat.say("   ")  # whitespace is not sent
    chat.say("hello")
    chat.expect_reply("What can I do for you?")
    expect(chat.messages.first.locator(".cx-msg__bubble")).to_have_text("hello")
    chat.input.press("Escape")
    expect(chat.panel).to_be_hidden()
    expect(chat.launcher).to_be_focused()
