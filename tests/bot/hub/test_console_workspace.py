"""The console workspace's server side over HTTP: the list beside the chat (queue, mine,
recent, search), the event stream that pushes news to open consoles, and the context panel
in words. The same real hub, fake Rasa and journey database as tests/bot/hub/test_console.py
(its ``console`` fixture), and a hub of its own for the stop with a stream open.
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
import uuid
from datetime import timedelta

import requests
from sqlalchemy import insert

from bot.db.engine import make_engine
from bot.db.schema import journey_customers, touchpoints
from bot.hub import HubSettings, serve
from bot.hub.accounts import Accounts
from tests.bot.hub import test_console as base
from tests.bot.hub.test_console import XSS, call
from tests.bot.hub.test_hub import PASSWORD, sign_in
from tests.conftest import scratch_journey_url
from tests.fakes.rasa import FakeRasa

console = base.console  # the same fixture: a hub on a fake Rasa, a clock moved by hand
STREAM = "text/event-stream"


def listed(browser, url: str, view: str = "queue", **params) -> dict:
    r = call(browser, "GET", f"{url}/api/console/conversations", params={"view": view, **params})
    assert r.status_code == 200, r.text
    return r.json()


def touchpoint(console, conversation_id: str, customer_id: str | None, needs: list[str], **more):
    with console.engine.begin() as conn:
        conn.execute(
            insert(touchpoints).values(
                conversation_id=conversation_id, session_started_at=console.clock.now,
                customer_id=customer_id, channel=more.pop("channel", "socketio"),
                started_at=console.clock.now, last_activity_at=console.clock.now,
                outcome=more.pop("outcome", "escalated"), needs=json.dumps(needs), **more,
            )
        )  # fmt: skip


def customer(console, name: str) -> str:
    customer_id = "C" + uuid.uuid4().hex[:6]
    with console.engine.begin() as conn:
        conn.execute(
            insert(journey_customers).values(
                id=customer_id, name=name, created_at=console.clock.now
            )
        )
    return customer_id


# -- the list --------------------------------------------------------------------------------
def test_queue_cards_say_what_the_customer_needs_in_their_words(console):
    ana, _ = console.user("agent", "Ana")
    said_first = console.escalate(
        minutes_ago=70,
        signals={"frustration": 4, "told_you": 2},
        transcript=[
            "customer: I was charged twice",
            "assistant: Sorry",
            "customer: a person please",
        ],
        customer_said="a person please",
    )
    raised_first = console.escalate(customer={"id": "C001", "name": "Jane Doe", "tier": "gold"})
    touchpoint(console, raised_first, None, ["charged_twice", "request_human"])
    nothing_said = console.escalate()

    items = {i["conversation_id"]: i for i in listed(ana, console.url)["items"]}
    assert items[said_first]["headline"] == "“I was charged twice” (asked for a person)"
    assert items[raised_first]["headline"] == "I was charged twice (asked for a person)"
    assert items[nothing_said]["headline"] == "Asked for a person (hasn't said what about yet)"
    first = items[said_first]
    assert first["state"] == "waiting 1 h 10 min" and first["channel_label"] == "Website chat"
    assert first["urgent_because"] == ["very frustrated", "waiting past the 1 h promise"]
    assert items[raised_first]["urgent_because"] == ["gold customer"]
    assert items[raised_first]["name"] == "Jane Doe" and items[raised_first]["tier"] == "gold"
    shown = ("name", "headline", "state", "channel_label", "urgent_because")  # what a card shows
    text = json.dumps(
        [[items[c][k] for k in shown] for c in (said_first, raised_first, nothing_said)]
    )
    for code in ("socketio", "request_human", "told_you", "charged_twice"):
        assert code not in text


def test_mine_lists_the_chats_an_agent_holds_then_those_they_ended(console):
    ana, csrf = console.user("agent", "Ana")
    ben, _ = console.user("agent", "Ben")
    held, ended = console.escalate(), console.escalate()
    for conversation in (held, ended):
        api = f"{console.url}/api/console/conversations/{conversation}"
        assert call(ana, "POST", api + "/take", csrf).status_code == 200
    api = f"{console.url}/api/console/conversations/{ended}"
    assert call(ana, "POST", api + "/hand-back", csrf, {"note": "done"}).status_code == 200

    mine = listed(ana, console.url, "mine")
    states = {i["conversation_id"]: i["state"] for i in mine["items"]}
    assert states[held] == "with you" and states[ended] == "handed back"
    assert [i["conversation_id"] for i in mine["items"]].index(held) < [
        i["conversation_id"] for i in mine["items"]
    ].index(ended)
    assert held not in {i["conversation_id"] for i in listed(ben, console.url, "mine")["items"]}
    queue = {i["conversation_id"]: i for i in listed(ben, console.url)["items"]}
    assert queue[held]["state"] == "with Ana" and not queue[held]["waiting"]
    assert ended not in queue
    assert mine["waiting"] == sum(1 for i in queue.values() if i["waiting"])


def test_recent_and_search_find_conversations_by_name_words_and_id(console):
    ana, _ = console.user("agent", "Ana")
    name = f"Zoë {uuid.uuid4().hex[:5]}"
    someone = customer(console, name)
    chat = uuid.uuid4().hex
    touchpoint(console, chat, someone, ["order_late"], customer_text="my parcel is stuck in Leeds")

    recent = listed(ana, console.url, "recent")["items"]
    found = next(i for i in recent if i["conversation_id"] == chat)
    assert (found["name"], found["headline"], found["state"]) == (
        name,
        "My order is late",
        "escalated to a person",
    )
    for query in (name.split()[1], "STUCK IN LEEDS", chat[:12]):
        hits = listed(ana, console.url, "search", q=query)["items"]
        assert [i["conversation_id"] for i in hits] == [chat], query
    assert (
        listed(ana, console.url, "search", q="100%_off")["items"] == []
    )  # LIKE's wildcards are text
    for bad in (
        {"view": "everything"},
        {"view": "search", "q": " "},
        {"view": "search", "q": "x" * 101},
    ):
        r = call(ana, "GET", f"{console.url}/api/console/conversations", params=bad)
        assert r.status_code == 400 and r.json()["error"], bad


# -- push --------------------------------------------------------------------------------------
class Stream:
    """An open event stream, read on a thread: the events as they come."""

    def __init__(self, browser, url: str):
        self.response = browser.get(url, headers={"Accept": STREAM}, stream=True, timeout=(5, 30))
        assert self.response.status_code == 200, self.response.text
        assert self.response.headers["content-type"].startswith(STREAM)
        self.events: list[tuple[str, dict]] = []
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self) -> None:
        kind = None
        try:
            for raw in self.response.iter_lines(decode_unicode=True):
                if raw.startswith("event: "):
                    kind = raw[7:]
                elif raw.startswith("data: ") and kind:
                    self.events.append((kind, json.loads(raw[6:])))
                    kind = None
        except (requests.RequestException, AttributeError, ValueError):
            pass  # closed

    def wait_for(self, kind: str, timeout: float = 10.0, after: int = 0) -> dict:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = [data for k, data in self.events[after:] if k == kind]
            if found:
                return found[0]
            time.sleep(0.02)
        raise AssertionError(f"no {kind!r} event within {timeout} s: {self.events}")

    def close(self) -> None:
        # Shut the socket's reading side first (urllib3's shutdown): the reading thread sits
        # in recv() until the server says something (a keep-alive comment only every 15 s),
        # and close() would wait for it.
        with contextlib.suppress(ValueError, RuntimeError, OSError):
            self.response.raw.shutdown()
        self.response.close()


def test_the_stream_pushes_a_new_escalation_and_the_open_chats_news(console):
    ana, csrf = console.user("agent", "Ana")
    conversation = console.escalate()
    plain = call(ana, "GET", f"{console.url}/api/console/stream")
    assert plain.status_code == 406 and "text/event-stream" in plain.json()["error"]

    stream = Stream(ana, f"{console.url}/api/console/stream?conversation={conversation}")
    try:
        stream.wait_for("ready")
        seen = len(stream.events)
        console.escalate()  # written straight to the database, as the action server does
        stream.wait_for("queue", after=seen)  # (how fast: bench/console_push.py)

        seen = len(stream.events)
        console.rasa.customer_says(conversation, "are you there?")  # through Rasa only
        assert stream.wait_for("conversation", after=seen) == {"conversation_id": conversation}

        seen = len(stream.events)
        api = f"{console.url}/api/console/conversations/{conversation}"
        assert call(ana, "POST", api + "/take", csrf).status_code == 200
        assert stream.wait_for("conversation", after=seen) == {"conversation_id": conversation}
    finally:
        stream.close()


def test_the_stream_pushes_the_customer_starting_and_stopping_typing_to_that_chat_only(console):
    ana, _ = console.user("agent", "Ana")
    conversation, other = console.escalate(), console.escalate()
    stream = Stream(ana, f"{console.url}/api/console/stream?conversation={conversation}")
    try:
        stream.wait_for("ready")
        seen = len(stream.events)
        console.rasa.customer_typing.add(other)  # another chat's typing is not this console's
        console.rasa.customer_typing.add(conversation)
        assert stream.wait_for("typing", after=seen) == {
            "conversation_id": conversation,
            "customer_typing": True,
        }
        seen = len(stream.events)
        console.rasa.customer_typing.discard(conversation)
        assert stream.wait_for("typing", after=seen) == {
            "conversation_id": conversation,
            "customer_typing": False,
        }
        assert all(d["conversation_id"] == conversation for k, d in stream.events if k == "typing")
    finally:
        stream.close()


def test_a_hub_with_an_open_stream_stops_at_once(tmp_path):
    with scratch_journey_url("sqlite", tmp_path, "unused") as url, FakeRasa() as rasa:
        settings = HubSettings(journey_url=url, rasa_api_url=rasa.url, rasa_token=rasa.token)
        server = serve(settings, port=0)
        engine = make_engine(url)
        Accounts(engine).add("ana-stop", PASSWORD, "agent", "Ana")
        engine.dispose()
        browser, _ = sign_in(server.url, "ana-stop")
        stream = Stream(browser, f"{server.url}/api/console/stream")
        stream.wait_for("ready")
        started = time.monotonic()
        server.stop()
        assert time.monotonic() - started < 5.0
        stream.thread.join(5)
        assert not stream.thread.is_alive()  # the hub ended the stream


# -- the context panel ----------------------------------------------------------------------------
def test_the_context_panel_reads_in_words_and_links_past_conversations(console):
    ana, csrf = console.user("agent", "Ana")
    someone = customer(console, "Omar Said")
    earlier = uuid.uuid4().hex
    touchpoint(console, earlier, someone, ["order_late"], outcome="handed_off")
    conversation = console.escalate(
        customer={"id": someone, "name": "Omar Said"},
        need="request_human",
        preferred_channel="socketio",
        signals={"frustration": 2, "told_you": 0, "repeats": 1},
        transcript=[
            'customer: /choose_option{"option": "store_credit"}',
            f"customer: {XSS}",
            "assistant: Here's what we can do",
        ],
    )
    touchpoint(console, conversation, someone, ["request_human"])
    page = call(ana, "GET", f"{console.url}/console/conversations/{conversation}").text
    panel = call(ana, "GET", f"{console.url}/console/conversations/{conversation}?part=context")
    assert panel.status_code == 200 and panel.headers["content-type"].startswith("text/html")
    assert panel.text.lstrip().startswith("<div id='context'")
    for html in (page, panel.text):
        assert "Store credit instead" in html and "/choose_option" not in html
        assert "socketio" not in html and "request_human" not in html and "told_you" not in html
        assert "repeated themselves once" in html and "frustration 2 of 5" in html
        assert "Talk to a person" in html and "Website chat" in html
        assert f"href='/console/conversations/{earlier}'" in html  # a past chat is a link
        assert f"href='/console/conversations/{conversation}'" not in html  # this one isn't
        assert XSS not in html
    # After the hand back, the panel no longer lists the support handoff as open.
    api = f"{console.url}/api/console/conversations/{conversation}"
    support = call(ana, "GET", api).json()["handoffs"][-1]["id"]
    assert f"H-{support} · Support team · waiting" in panel.text
    assert call(ana, "POST", api + "/take", csrf).status_code == 200
    assert call(ana, "POST", api + "/hand-back", csrf, {"note": "ok"}).status_code == 200
    after = call(ana, "GET", f"{console.url}/console/conversations/{conversation}?part=context")
    assert f"H-{support}" not in after.text


def test_saved_replies_come_filled_on_the_page(console):
    ana, _ = console.user("agent", "Ana (admin)")
    conversation = console.escalate(customer={"id": "C001", "name": "Jane Doe"}, order_id="ORD-7")
    page = call(ana, "GET", f"{console.url}/console/conversations/{conversation}").text
    assert "Thanks Jane. I&#x27;m looking at order ORD-7 now" in page
    assert "Hi Jane, I&#x27;m Ana from the support team." in page  # never the role
    assert "{first_name}" not in page and "{order_id}" not in page
    # What the chat can't say is a visible blank.
    assert "Order ORD-7 ([items]) is [order status]." in page


def test_waits_are_counted_from_the_hubs_clock(console):
    ana, _ = console.user("agent", "Ana")
    conversation = console.escalate(minutes_ago=3)
    console.clock.t += timedelta(minutes=2).total_seconds()
    item = next(
        i for i in listed(ana, console.url)["items"] if i["conversation_id"] == conversation
    )
    assert item["state"] == "waiting 5 min"
