"""News told first, end to end: a department posts an event to the real hub, the hub's worker
triggers the real Rasa server, and the customer hears it where they are.

The shared assistant (tests/e2e/conftest.py: Rasa, action server, hub, dispatcher) and the
customers of the demo back office, one per test so no test's open chat steers another's
news: Omar (C002) in a real browser, Jane (C001) on Slack (the fake Slack Web API), Maria
(C005) in quiet hours, Li (C003) offline until her next greeting.
"""

from __future__ import annotations

import json
import time
import uuid
from datetime import datetime
from urllib.parse import urlencode

import pytest
import requests
from playwright.sync_api import expect
from sqlalchemy import select, update

from bot.db.engine import make_engine
from bot.db.schema import handoffs, proactive_events, routing_decisions, touchpoints
from bot.handoff.signing import signature_headers
from bot.local_setup import read_secrets
from bot.preferences import PreferenceStore
from bot.rasa.channels.tokens import mint_customer_token
from tests.e2e.test_slack_channel import new_ts, wait_for_reply, webhook
from tests.e2e.test_web_channel import WidgetClient
from tests.e2e.test_widget_browser import visitor  # noqa: F401 - the browser visitor fixture
from tests.fakes.slack import message_event

NEWS_SECONDS = 45  # hub worker -> Rasa -> action server -> channel, on a loaded machine


@pytest.fixture(scope="module")
def journey(assistant):
    engine = make_engine(assistant.settings.journey_url)
    yield engine
    engine.dispose()


def post_event(assistant, body: dict, department: str = "delivery", secret: str | None = None):
    """POST an event to the hub as the department's system does, signed with its secret."""
    secrets = read_secrets(assistant.settings.var_dir / "secrets.env")
    raw = json.dumps(body).encode()
    headers = signature_headers(
        secret or secrets[f"CX_WEBHOOK_SECRET_{department.upper()}"], raw, time.time()
    )
    return requests.post(
        f"{assistant.settings.hub_url}/api/departments/{department}/events",
        data=raw,
        headers={**headers, "Content-Type": "application/json"},
        timeout=15,
    )


def delayed_for_jane(eid: str) -> dict:
    """Jane's ORD-10001 is late: the delivery department's event."""
    return {
        "id": eid,
        "type": "shipment.delayed",
        "order_id": "ORD-10001",
        "new_date": "2026-12-01",
    }


def event_id() -> str:
    return f"evt-{uuid.uuid4().hex[:10]}"


def the_event(journey, eid: str):
    with journey.connect() as conn:
        return conn.execute(
            select(proactive_events).where(proactive_events.c.event_id == eid)
        ).one()


def wait_for_state(journey, eid: str, *states: str, timeout: float = NEWS_SECONDS):
    deadline = time.monotonic() + timeout
    while True:
        row = the_event(journey, eid)
        if row.state in states or time.monotonic() > deadline:
            assert row.state in states, f"event {eid} is {row.state}: {row.last_error}"
            return row
        time.sleep(0.2)


def test_a_delay_reaches_the_open_website_chat_and_the_choice_is_carried_out(
    visitor,  # noqa: F811
    assistant,
    journey,
):
    chat = visitor().visit(customer="C002").open()
    chat.say("hello")
    chat.expect_reply("Omar")
    eid = event_id()
    body = {"id": eid, "type": "shipment.delayed", "order_id": "ORD-10004",
            "new_date": "2026-12-02", "reason": "a storm at the hub"}  # fmt: skip
    posted = time.monotonic()
    assert post_event(assistant, body).status_code == 202
    chat.expect_reply(
        "Hi Omar, a quick note from our delivery team: your order ORD-10004 is running late"
    )
    print(f"\nnews on the website chat {time.monotonic() - posted:.2f} s after the event")
    for title in (
        "The new date is fine",
        "Cancel and refund me",
        "A discount for the wait",
        "Talk to a person",
    ):
        expect(chat.page.get_by_role("button", name=title)).to_be_visible()
    chat.page.get_by_role("button", name="The new date is fine").click()
    chat.expect_reply("Thank you for bearing with us. Your order ORD-10004 arrives")
    row = wait_for_state(journey, eid, "delivered")
    assert (row.channel, row.conversation_id) == ("socketio", chat.session_id)
    deadline = time.monotonic() + 15
    while the_event(journey, eid).choice is None and time.monotonic() < deadline:
        time.sleep(0.2)
    assert the_event(journey, eid).choice == "keep_new_date"
    with journey.connect() as conn:
        tp = conn.execute(select(touchpoints).where(touchpoints.c.id == row.touchpoint_id)).one()
    assert (tp.channel, tp.customer_id, json.loads(tp.departments)) == (
        "proactive",
        "C002",
        ["delivery"],
    )
    # The hub's trigger is not shown as something Omar typed, now or after a reload.
    assert chat.from_customer("EXTERNAL").count() == 0
    chat.page.reload()
    chat.wait_ready()  # it was open: it opens again
    expect(chat.from_assistant("running late").first).to_be_visible()
    assert chat.from_customer("EXTERNAL").count() == 0


def test_a_slack_customer_hears_it_in_their_thread_once_and_a_choice_is_carried_out(
    assistant, fake_slack, journey
):
    ts = new_ts()
    fake_slack.deliver(webhook(assistant), message_event("hi", ts=ts), timeout=10)
    wait_for_reply(fake_slack, ts, "Hi Jane")
    PreferenceStore(journey).update("C001", channel="slack")  # Slack first, whatever else is open
    eid = event_id()
    body = delayed_for_jane(eid)
    posted = time.monotonic()
    assert post_event(assistant, body).status_code == 202
    assert post_event(assistant, body).json()["duplicate"] is True  # the system sent it twice
    posts = wait_for_reply(fake_slack, ts, "running late")
    print(f"\nnews in the Slack thread {time.monotonic() - posted:.2f} s after the event")
    news = [p for p in posts if "running late" in p.text]
    assert len(news) == 1 and (news[0].channel, news[0].thread_ts) == ("D0JANE", ts)
    buttons = {b["text"]["text"]: b["value"] for b in news[0].fields["blocks"][1]["elements"]}
    assert list(buttons)[-1] == "Talk to a person"
    # Jane clicks "A discount for the wait" in Slack.
    click = {
        "type": "block_actions",
        "user": {"id": "U0JANE"},
        "channel": {"id": "D0JANE"},
        "message": {"ts": news[0].ts, "thread_ts": ts, "user": "U0BOT"},
        "actions": [
            {"type": "button", "value": buttons["A discount for the wait"], "action_id": "a"}
        ],
    }
    raw = urlencode({"payload": json.dumps(click)}).encode()
    headers = {
        **fake_slack.signed_headers(raw),
        "Content-Type": "application/x-www-form-urlencoded",
    }
    assert (
        requests.post(webhook(assistant), data=raw, headers=headers, timeout=10).status_code == 200
    )
    wait_for_reply(fake_slack, ts, "take 15% off your next order")
    time.sleep(2)  # a second delivery of the same event would have arrived by now
    assert len([p for p in fake_slack.posts(thread_ts=ts) if "running late" in p.text]) == 1
    with journey.connect() as conn:
        [handoff] = conn.execute(
            select(handoffs).where(handoffs.c.conversation_id == f"U0JANE_D0JANE_{ts}")
        ).all()
    # Billing applies it; the CX rules may bring a person in first when Jane has had several
    # chats about this order this week (earlier e2e tests), and that decision says so.
    with journey.connect() as conn:
        reason = conn.execute(
            select(routing_decisions.c.reason).where(
                routing_decisions.c.conversation_id == handoff.conversation_id
            )
        ).scalar()
    assert handoff.department == "billing" or "about the same order" in reason, reason
    packet = json.loads(handoff.context)
    assert (packet["option"], packet["percent"]) == ("delay_discount", 15)
    assert the_event(journey, eid).choice == "delay_discount"


def test_quiet_hours_hold_the_news_until_they_are_over(assistant, journey):
    maria = WidgetClient(
        assistant.url, customer=mint_customer_token(assistant.settings.widget_secret, "C005")
    )
    try:
        maria.say("hi")
        maria.answers()
        now = datetime.now()
        quiet_from, quiet_until = f"{(now.hour - 1) % 24:02d}:00", f"{(now.hour + 2) % 24:02d}:00"
        PreferenceStore(journey).update("C005", quiet_from=quiet_from, quiet_until=quiet_until)
        eid = event_id()
        body = {"id": eid, "type": "subscription.renewal_due", "customer_id": "C005"}
        assert post_event(assistant, body, "billing").status_code == 202
        deadline = time.monotonic() + 20
        while not the_event(journey, eid).held_for_quiet_hours and time.monotonic() < deadline:
            time.sleep(0.2)
        held = the_event(journey, eid)
        assert held.state == "pending" and held.held_for_quiet_hours
        assert held.deliver_after.strftime("%H:%M") == quiet_until
        with pytest.raises(AssertionError):
            maria.next("bot_uttered", timeout=3)  # nothing reaches her meanwhile
        # The evening is over (the clock moved on): her quiet hours ended, and the news is due.
        PreferenceStore(journey).update("C005", quiet_from=None, quiet_until=None)
        with journey.begin() as conn:
            conn.execute(
                update(proactive_events)
                .where(proactive_events.c.event_id == eid)
                .values(deliver_after=datetime.now())
            )
        news = maria.next("bot_uttered", timeout=NEWS_SECONDS)
        assert "Business plan renews" in news["text"] and "Hi Maria" in news["text"]
        assert wait_for_state(journey, eid, "delivered").held_for_quiet_hours
    finally:
        maria.close()


def test_an_offline_customer_is_told_at_their_next_greeting(assistant, journey):
    token = mint_customer_token(assistant.settings.widget_secret, "C003")
    li = WidgetClient(assistant.url, customer=token)
    li.say("hi")
    li.answers()
    session = li.session["token"]
    li.close()  # she closed the tab
    eid = event_id()
    body = {"id": eid, "type": "invoice.failed", "invoice_id": "INV-50005"}
    assert post_event(assistant, body, "billing").status_code == 202
    assert wait_for_state(journey, eid, "waiting").channel is None
    back = WidgetClient(assistant.url, session=session, customer=token)
    try:
        back.say("hello")
        texts = [a["text"] for a in back.answers()]
        assert texts[0].startswith("Hi Li")
        assert texts[1].startswith("Before anything else, Li: the payment for invoice INV-50005")
        row = the_event(journey, eid)
        assert (row.state, row.conversation_id) == ("told", back.session["session_id"])
        back.say("hello again")
        assert not any("INV-50005" in a["text"] for a in back.answers())  # told once
    finally:
        back.close()


def test_a_forged_event_is_refused_and_nobody_is_told(assistant, journey):
    eid = event_id()
    body = delayed_for_jane(eid)
    answer = post_event(assistant, body, secret="a-secret-someone-guessed")
    assert answer.status_code == 401
    with journey.connect() as conn:
        assert (
            conn.execute(select(proactive_events).where(proactive_events.c.event_id == eid)).first()
            is None
        )
