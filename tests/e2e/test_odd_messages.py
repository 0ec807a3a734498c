"""Odd messages, end to end over the REST channel: answered in bounded time, stored safely,
and read back exactly (issue 9).

Each message goes to the real assistant; then the test reads it back from Rasa's tracker,
from the journey database (the touchpoint's ``customer_text``) and from the hub's CX review
(the JSON API and the HTML page), where markup must come back as text. The rules: NUL is
removed at the channel (PostgreSQL refuses it in text; the journey store removes it too),
and a message is cut at ``MAX_MESSAGE_CHARS`` (20,000 characters), so 100 KB of text is
answered like any other message instead of refused. The same writes on PostgreSQL are
tested at the store level in tests/bot/journey/test_journey_odd_text.py.
"""

from __future__ import annotations

import time
import uuid

import pytest
import requests
from sqlalchemy import select

from bot.db.engine import make_engine
from bot.db.schema import touchpoints
from bot.hub.accounts import Accounts
from bot.journey.store import CUSTOMER_TEXT_LIMIT
from bot.rasa.channels.rest import MAX_MESSAGE_CHARS

ANSWER_WITHIN = 10.0  # seconds
XSS = "<img src=x onerror=alert(1)>"
SQL = "'; DROP TABLE touchpoints; --"
LONG = ("My order ORD-10001 has not arrived and I would like to know where it is. " * 1400)[
    :100_000
]

# name -> (what the customer sends, what the assistant must have taken in)
ODD = {
    "nul": ("where is my\x00 order ORD-10001?", "where is my order ORD-10001?"),
    "zero-width": ("where\u200d is\u200b my\u2060 order ORD-10001?",) * 2,
    "arabic": ("أين طلبي؟ لم يصل بعد",) * 2,
    "hebrew": ("איפה ההזמנה שלי? היא עדיין לא הגיעה",) * 2,
    "rtl-override": ("refund \u202eORD-10003\u202c please",) * 2,
    "emoji-only": ("😡📦❓🙏🏽👨‍👩‍👧",) * 2,
    "sql": (SQL,) * 2,
    "html": (XSS,) * 2,
    "100kb": (LONG, LONG[:MAX_MESSAGE_CHARS]),
}


@pytest.fixture(scope="module")
def warm(assistant):
    """The assistant after a first order question, which loads the model's graph and the
    action server's services (seconds): the bound is on answering, not on starting up."""
    assistant.say(f"odd-warm-up-{uuid.uuid4().hex[:8]}", "where is my order ORD-10002?", 120)
    return assistant


@pytest.fixture(scope="module")
def analyst(assistant):
    """A signed-in CX analyst on the assistant's hub: (requests session, hub URL)."""
    settings = assistant.settings
    engine = make_engine(settings.journey_url)
    password = "odd-messages-password"
    Accounts(engine).add("odd-messages-analyst", password, "analyst", "Odd Messages")
    engine.dispose()
    browser = requests.Session()
    r = browser.post(
        f"{settings.hub_url}/login",
        data={"username": "odd-messages-analyst", "password": password},
        allow_redirects=False,
        timeout=10,
    )
    assert r.status_code == 303, r.text
    return browser, settings.hub_url


def touchpoint_of(assistant, sender: str):
    engine = make_engine(assistant.settings.journey_url)
    try:
        with engine.connect() as conn:
            return conn.execute(
                select(touchpoints.c.id, touchpoints.c.customer_text).where(
                    touchpoints.c.conversation_id == sender
                )
            ).one_or_none()
    finally:
        engine.dispose()


def strings_in(value) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for v in value.values() for s in strings_in(v)]
    if isinstance(value, list):
        return [s for v in value for s in strings_in(v)]
    return []


@pytest.mark.parametrize("name", list(ODD))
def test_an_odd_message_is_answered_stored_and_read_back_exactly(warm, analyst, name):
    assistant = warm
    sent, taken = ODD[name]
    sender = f"odd-{name}-{uuid.uuid4().hex[:8]}"

    started = time.monotonic()
    replies = assistant.say(sender, sent, timeout=60)
    took = time.monotonic() - started
    print(f"{name}: answered in {took:.2f} s")
    assert replies, f"no answer to the {name} message"
    assert took < ANSWER_WITHIN, f"the {name} message took {took:.1f} s"

    # Rasa took in exactly the cleaned text.
    user_texts = [e["text"] for e in assistant.tracker(sender)["events"] if e["event"] == "user"]
    assert user_texts == [taken]

    # The journey recorded the touchpoint, with the customer's words as they were taken in.
    row = touchpoint_of(assistant, sender)
    assert row is not None, f"no touchpoint for the {name} message"
    assert row.customer_text == taken[:CUSTOMER_TEXT_LIMIT]

    # CX review gives the words back exactly, as data and as text on the page.
    browser, hub = analyst
    data = browser.get(f"{hub}/api/review/conversations/{row.id}", timeout=10)
    assert data.status_code == 200, data.text[:300]
    assert any(taken[:200] in s for s in strings_in(data.json())), data.text[:300]
    page = browser.get(f"{hub}/review/conversations/{row.id}", timeout=10)
    assert page.status_code == 200
    if name == "html":
        assert "&lt;img src=x onerror=alert(1)&gt;" in page.text
        assert "<img src=x" not in page.text
    if name == "sql":
        assert "DROP TABLE touchpoints" in page.text


def test_markup_and_sql_are_searched_as_words_and_shown_as_text(assistant, analyst):
    """The CX log's search takes them as words (never as SQL or markup), its exports are
    data, and the page echoes the search as text."""
    browser, hub = analyst
    sender = f"odd-export-{uuid.uuid4().hex[:8]}"
    assistant.say(sender, f"{XSS} {SQL}")
    assert touchpoint_of(assistant, sender) is not None
    for search in (XSS, f'"{SQL}"'):
        for path in ("/review/log.csv", "/review/log.json"):
            r = browser.get(f"{hub}{path}", params={"q": search}, timeout=10)
            assert r.status_code == 200, r.text[:300]
            assert r.headers["X-Content-Type-Options"] == "nosniff"
            assert not r.headers["Content-Type"].startswith("text/html")
            assert sender in r.text, f"{path}?q={search}: {r.text[:300]}"
        page = browser.get(f"{hub}/review/log", params={"q": search}, timeout=10)
        assert page.status_code == 200
        assert sender in page.text
        assert "<img src=x" not in page.text
    assert (
        "onerror=alert(1)&gt;" in page.text
        or "onerror=alert(1)&gt;"
        in browser.get(f"{hub}/review/log", params={"q": XSS}, timeout=10).text
    )
