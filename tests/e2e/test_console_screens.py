"""Screenshots of the agent console's workspace, for people to look at: ``make screens``.

Written to ``$CX_SCREENS_DIR`` (reports/screens/) from the real servers in headless Chromium:
the queue beside an empty chat pane, a conversation open beside the list with its context
panel (packet, orders, journey), the saved replies, the shortcuts overlay, and the panel
after a hand back. Skipped unless ``CX_SCREENS_DIR`` is set: the behaviour in them is tested
in tests/e2e/test_console_workspace_browser.py.
"""

from __future__ import annotations

import os

import pytest
from playwright.sync_api import expect

from tests.e2e import test_widget_experience_browser as experience
from tests.e2e import test_widget_screens as screens
from tests.e2e.test_console_workspace_browser import Agent, escalated
from tests.e2e.test_widget_experience_browser import LIVE_MS, new_agent

pages = experience.pages
shoot = screens.shoot

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(
        not os.environ.get("CX_SCREENS_DIR"), reason="make screens sets CX_SCREENS_DIR"
    ),
]


def test_screens_of_the_console_workspace(pages, assistant, shoot):
    hub = assistant.settings.hub_url
    li = escalated(pages("Li"), hub, ("where's ORD-10005? it's li.wei@example.com", "Thanks, Li"))
    escalated(pages("visitor"), hub).say("I was charged twice last month")
    agent = Agent(pages("agent", viewport={"width": 1440, "height": 900}), hub, new_agent(assistant, "Ana Silva"))  # fmt: skip
    page = agent.page
    expect(agent.card(li.session_id, "#waiting")).to_be_visible(timeout=LIVE_MS)
    shoot(page, "20-console-queue")

    agent.open(li.session_id)
    expect(page.locator("#orders")).to_be_visible()
    page.get_by_role("button", name="Take over").click()
    expect(page.locator("#status")).to_contain_text("You have taken this conversation over")
    box = page.get_by_label("Message to the customer")
    box.fill("Hi Li, I'm Ana. I can see your headphones order here.")
    box.press("Enter")
    li.say("They stopped charging after a week")
    expect(page.locator("#transcript .line--customer").filter(has_text="stopped charging")).to_be_visible(timeout=LIVE_MS)  # fmt: skip
    shoot(page, "21-console-conversation-beside-the-list")

    box.press("/")
    expect(page.locator("#saved-menu")).to_be_visible()
    shoot(page, "22-console-saved-replies")
    page.keyboard.press("Escape")

    page.keyboard.press("Escape")
    page.keyboard.press("?")
    expect(page.get_by_role("dialog", name="Keyboard shortcuts")).to_be_visible()
    shoot(page, "23-console-keyboard-shortcuts")
    page.keyboard.press("Escape")

    page.get_by_label("Note for colleagues (internal)").fill("Offered a repair under warranty")
    page.get_by_role("button", name="Hand back to the assistant").click()
    expect(page.locator("#status")).to_contain_text("The assistant has this conversation", timeout=LIVE_MS)  # fmt: skip
    shoot(page, "24-console-after-hand-back")
