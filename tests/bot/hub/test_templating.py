"""bot/hub/templating.py: static files with caching headers, escaping, times in human form,
and the navigation by role, through a real hub where a request is involved."""

from __future__ import annotations

import re
from datetime import datetime

import pytest
import requests

from bot.hub import HubSettings, serve
from bot.hub.accounts import Session, User
from bot.hub.templating import human_time, navigation, render_fragment, signed_in, static_url

NOW = datetime(2025, 3, 12, 10, 0)


@pytest.fixture(scope="module")
def hub(tmp_path_factory):
    url = f"sqlite:///{tmp_path_factory.mktemp('static') / 'journey.db'}"
    server = serve(HubSettings(journey_url=url), port=0)
    try:
        yield server.url
    finally:
        server.stop()


def test_a_hashed_static_url_is_cached_for_a_year_and_revalidates_by_etag(hub):
    url = static_url("staff.css")
    assert re.fullmatch(r"/static/staff\.css\?v=[0-9a-f]{12}", url)
    first = requests.get(hub + url, timeout=10)
    assert first.status_code == 200 and first.headers["content-type"].startswith("text/css")
    assert first.headers["cache-control"] == "public, max-age=31536000, immutable"
    assert first.headers["x-content-type-options"] == "nosniff"
    assert "--text" in first.text  # the design system's tokens
    etag = first.headers["etag"]
    again = requests.get(hub + url, headers={"If-None-Match": etag}, timeout=10)
    assert again.status_code == 304 and again.content == b""
    # Without the hash (or with a stale one) the browser must ask each time.
    plain = requests.get(f"{hub}/static/staff.css?v=old", timeout=10)
    assert plain.headers["cache-control"] == "no-cache" and plain.headers["etag"] == etag
    script = requests.get(hub + static_url("metrics.js"), timeout=10)
    assert script.headers["content-type"].startswith("application/javascript")


@pytest.mark.parametrize(
    "path",
    ["/static/nothing.css", "/static/../templating.py", "/static/%2e%2e/app.py",
     "/static/templates/layout.html", "/static/.hidden.css", "/static/staff.css.bak"],
)  # fmt: skip
def test_only_files_of_the_static_folder_are_served(hub, path):
    r = requests.get(hub + path, timeout=10)
    assert r.status_code == 404, (path, r.status_code)
    assert "import" not in r.text and "{%" not in r.text


def test_templates_escape_as_html_escape_does_quotes_included():
    body = render_fragment(
        "error.html", nonce="n", csrf="", nav=[], person=None, area="", code=400,
        message="not 'month' <b>\"x\"</b>", back="/", back_label="Back",
    )  # fmt: skip
    assert "not &#x27;month&#x27; &lt;b&gt;&quot;x&quot;&lt;/b&gt;" in body
    assert "<b>" not in body


def test_times_are_said_as_people_say_them():
    assert human_time(datetime(2025, 3, 12, 9, 59, 40), NOW) == "just now"
    assert human_time(datetime(2025, 3, 12, 9, 48), NOW) == "12 min ago"
    assert human_time(datetime(2025, 3, 12, 8, 5), NOW) == "today 08:05"
    assert human_time("2025-03-11T17:30:12.123456", NOW) == "yesterday 17:30"
    assert human_time(datetime(2025, 3, 10, 9, 4), NOW) == "Mon 10 Mar 09:04"
    assert human_time(datetime(2024, 12, 24, 9, 4), NOW) == "24 Dec 2024"
    assert human_time(None, NOW) == ""


def session(role: str, name: str, department: str | None = None) -> Session:
    return Session(User(1, "u", name, role, department), "csrf", NOW)


DEPARTMENTS = {"delivery": None, "billing": None, "sales": None, "support": None}


def test_each_role_gets_the_areas_it_may_open():
    def labels(s: Session, **kw) -> list[str]:
        return [link.label for link in navigation(s, DEPARTMENTS, **kw)]

    assert labels(session("agent", "Sam")) == ["Console"]
    assert labels(session("analyst", "Ana")) == ["CX review"]
    assert labels(session("department", "Bea", "billing")) == ["Billing inbox"]
    # Support's handoffs are the console's queue, not an inbox.
    assert labels(session("admin", "Alex")) == [
        "Console", "Delivery inbox", "Billing inbox", "Sales inbox", "CX review",
    ]  # fmt: skip
    current = navigation(session("admin", "Alex"), DEPARTMENTS, "review", "/review")
    assert [link.label for link in current if link.current] == ["CX review"]
    assert navigation(None, DEPARTMENTS) == []


def test_the_signed_in_person_is_said_once():
    assert signed_in(session("admin", "Alex (admin)")) == {
        "name": "Alex", "role": "Admin", "department": None,
    }  # fmt: skip
    assert signed_in(session("department", "Bea", "billing"))["role"] == "Department"
