"""The widget in headless Chromium when the website chat's rate limits say no.

The hub's demo page embeds the real widget; socket.io is served by the real channel
(bot/rasa/channels/web.py) in a channel server without Rasa's model (tests/fakes/channel_server.py),
so the limits can be small without slowing the session's shared assistant.
"""

from __future__ import annotations

import pytest
from playwright.sync_api import Browser, expect

from bot.hub import HubSettings, serve
from bot.rasa.channels.web import WebChatInput
from bot.ratelimit import Rate, RateLimits
from bot.settings import Settings
from tests.e2e.conftest import free_port
from tests.e2e.test_web_channel import WidgetClient
from tests.fakes.channel_server import ChannelServer

pytestmark = pytest.mark.e2e

SECRET = "w" * 32


@pytest.fixture
def site(tmp_path):
    """Start a hub and a website-chat channel with ``limits``; yields the demo page's URL."""
    started = []

    def start(**limits) -> tuple[str, ChannelServer]:
        hub_port = free_port()
        channel = WebChatInput(
            Settings.from_env(
                {"CX_WIDGET_SECRET": SECRET, "CX_WIDGET_ORIGINS": f"http://127.0.0.1:{hub_port}"}
            ),
            limits=RateLimits(**limits),
        )
        chat = ChannelServer(channel).__enter__()
        started.append(chat.__exit__)
        hub = serve(
            HubSettings(
                journey_url=f"sqlite:///{tmp_path / 'journey.db'}",
                rasa_url=chat.url,
                widget_secret=SECRET,
            ),
            port=hub_port,
        )
        started.append(lambda *_: hub.stop())
        return f"{hub.url}/demo", chat

    yield start
    for stop in reversed(started):
        stop(None, None, None)


def test_a_visitor_over_the_message_limit_is_told_to_wait(browser: Browser, site):
    demo, _chat = site(conversation=Rate(1, 60))
    page = browser.new_context().new_page()
    page.goto(demo)
    widget = page.locator("#cx-support-widget")
    widget.locator(".cx-launcher").click()
    expect(widget).to_have_attribute("data-state", "ready", timeout=15_000)
    box = widget.locator(".cx-input")
    box.fill("one")
    box.press("Enter")
    expect(widget.locator(".cx-msg--assistant")).to_contain_text("you said: one")
    box.fill("two")
    box.press("Enter")
    expect(widget).to_contain_text("faster than we can read them", timeout=10_000)
    page.context.close()


def test_a_network_over_the_connection_limit_is_asked_to_wait(browser: Browser, site):
    demo, chat = site(connect_ip=Rate(1, 60))
    WidgetClient(chat.url).close()  # the address's one connection this minute
    page = browser.new_context().new_page()
    page.goto(demo)
    widget = page.locator("#cx-support-widget")
    widget.locator(".cx-launcher").click()
    expect(widget).to_have_attribute("data-state", "refused", timeout=15_000)
    expect(widget).to_contain_text("Too many chats are opening from your network")
    page.context.close()
