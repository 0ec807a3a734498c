"""Screenshots of the chat widget's states, for people to look at: ``make screens``.

Written to ``$CX_SCREENS_DIR`` (``make screens`` sets reports/screens/) from the real servers
in headless Chromium: the first screen, an answer, a person joining (header and event), the
person typing, "Seen" and "Delivered", the hand back, the unread badge, a phone, the focus
ring, and the console seeing the customer type. Skipped unless ``CX_SCREENS_DIR`` is set:
the behaviour in them is tested in tests/e2e/test_widget_experience_browser.py.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests.e2e import test_widget_experience_browser as experience
from tests.e2e.test_widget_browser import push
from tests.e2e.test_widget_experience_browser import LIVE_MS, Console, W, Widget, new_agent

pages = experience.pages  # the same fixture: a page per person, problems collected

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(
        not os.environ.get("CX_SCREENS_DIR"), reason="make screens sets CX_SCREENS_DIR"
    ),
]


@pytest.fixture
def shoot():
    folder = Path(os.environ.get("CX_SCREENS_DIR", "reports/screens"))
    folder.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []

    def take(page, name: str) -> None:
        page.wait_for_timeout(300)  # let the scroll and the fonts settle
        path = folder / f"{name}.png"
        page.screenshot(path=str(path))
        written.append(path)

    yield take
    for path in written:
        assert path.stat().st_size > 1000, path
        print(f"wrote {path}")


def test_screens_of_a_conversation_with_the_assistant_then_a_person(pages, assistant, shoot):
    hub = assistant.settings.hub_url
    agent = Console(pages("agent"), hub, new_agent(assistant, "Ana Silva"))
    chat = Widget(pages("customer", locale="en-GB"), hub).visit()
    shoot(chat.page, "01-launcher")
    chat.open()
    expect(chat.page.locator(f"{W} .cx-wait")).to_be_visible()
    shoot(chat.page, "02-first-screen")

    chat.page.get_by_role("button", name="Where's my order?").click()
    chat.expect_answer("Which order")
    shoot(chat.page, "03-assistant-answers")

    chat.say("I'd like to talk to a person")
    chat.expect_answer("right here in this chat")
    agent.take(chat.session_id)
    expect(chat.title).to_have_text("Ana Silva", timeout=LIVE_MS)
    shoot(chat.page, "04-a-person-joined")

    agent.box.press_sequentially("Hi, I'm Ana", delay=40)
    expect(chat.typing).to_be_visible(timeout=LIVE_MS)
    shoot(chat.page, "05-the-person-is-typing")
    agent.box.press_sequentially(". I'm looking at your order now.", delay=10)
    agent.box.press("Enter")
    expect(chat.page.locator(f"{W} .cx-msg--agent")).to_be_visible(timeout=LIVE_MS)

    chat.input.press_sequentially("Thanks! It's the standing desk", delay=40)
    expect(agent.page.locator("#customer-typing")).not_to_have_text("", timeout=LIVE_MS)
    shoot(agent.page, "06-console-sees-the-customer-typing")
    chat.input.press("Enter")
    expect(chat.mine("standing desk")).to_have_attribute("data-status", "seen", timeout=LIVE_MS)
    shoot(chat.page, "07-seen")

    agent.hand_back()
    expect(chat.title).to_have_text("Support assistant", timeout=LIVE_MS)
    shoot(chat.page, "08-handed-back")

    chat.launcher.click()  # closed; news arrives meanwhile and the launcher counts it
    push(assistant, chat.session_id, {"event": "bot", "text": "Your desk ships tomorrow."})
    expect(chat.page.locator(f"{W} .cx-badge")).to_have_text("1", timeout=LIVE_MS)
    shoot(chat.page, "09-closed-with-news")


def test_screens_on_a_phone_and_with_the_keyboard(pages, assistant, shoot):
    phone = Widget(
        pages("phone", viewport={"width": 390, "height": 760}, device_scale_factor=2),
        assistant.settings.hub_url,
    ).visit()
    phone.open()
    expect(phone.page.locator(f"{W} .cx-wait")).to_be_visible()
    shoot(phone.page, "10-phone-first-screen")
    phone.say("hello")
    phone.expect_answer("What can I do for you?")
    shoot(phone.page, "11-phone-conversation")

    desk = Widget(pages("keyboard"), assistant.settings.hub_url).visit()
    desk.launcher.focus()
    desk.page.keyboard.press("Enter")
    desk.wait_ready()
    shoot(desk.page, "12-focus-ring-on-the-message-box")
    desk.page.keyboard.press("Shift+Tab")
    shoot(desk.page, "13-focus-ring-on-a-starter")
