"""The hub serves the chat widget's scripts and the demo storefront (a real hub, in-thread)."""

from __future__ import annotations

import re

import pytest
import requests

from bot.hub import HubSettings, serve
from bot.hub.widget import SOCKET_IO_JS
from bot.rasa.channels.tokens import verify_customer_token

SECRET = "d" * 32


@pytest.fixture(scope="module")
def hub(tmp_path_factory):
    db = tmp_path_factory.mktemp("hub") / "journey.db"
    settings = HubSettings(
        journey_url=f"sqlite:///{db}", widget_secret=SECRET, rasa_url="http://127.0.0.1:5999"
    )
    server = serve(settings, port=0)
    yield server.url
    server.stop()


def script_token(page: str) -> str:
    return re.search(r'data-customer-token="([^"]*)"', page).group(1)


def test_the_widget_script_is_served_as_javascript(hub):
    r = requests.get(f"{hub}/widget.js", timeout=10)
    assert r.status_code == 200
    assert r.headers["Content-Type"].startswith("application/javascript")
    assert r.headers["X-Content-Type-Options"] == "nosniff"
    assert "session_request" in r.text  # the widget's side of the channel's protocol


def test_the_socket_io_client_comes_from_the_npm_install(hub):
    r = requests.get(f"{hub}/widget/socket.io.min.js", timeout=10)
    assert SOCKET_IO_JS.exists(), "run `make setup` (npm ci in bot/widget)"
    assert r.status_code == 200 and r.content == SOCKET_IO_JS.read_bytes()


def test_the_demo_storefront_embeds_the_widget_for_a_guest(hub):
    r = requests.get(f"{hub}/demo", timeout=10)
    assert r.status_code == 200
    page = r.text
    assert f'src="{hub}/widget.js"' in page
    assert 'data-rasa-url="http://127.0.0.1:5999"' in page
    assert script_token(page) == ""


def test_the_demo_signs_in_as_a_demo_customer_with_a_valid_token(hub):
    page = requests.get(f"{hub}/demo", params={"as": "C001"}, timeout=10).text
    assert "Jane Doe" in page
    assert verify_customer_token([SECRET], script_token(page)) == "C001"


def test_the_demo_refuses_unknown_customers_and_other_hosts(hub):
    r = requests.get(f"{hub}/demo", params={"as": "C999"}, timeout=10)
    assert r.status_code == 404 and "C001" in r.json()["error"]
    r = requests.get(f"{hub}/demo", headers={"Host": "shop.example"}, timeout=10)
    assert r.status_code == 403


def test_the_demo_menu_marks_who_is_shopping(hub):
    page = requests.get(f"{hub}/demo", params={"as": "C001"}, timeout=10).text
    assert '<a href="/demo?as=C001" aria-current=page>Jane Doe</a>' in page
    assert '<a href="/demo">Guest</a>' in page
    guest = requests.get(f"{hub}/demo", timeout=10).text
    assert '<a href="/demo" aria-current=page>Guest</a>' in guest
    assert 'data-testid="customer-name">Guest</span>' in guest
