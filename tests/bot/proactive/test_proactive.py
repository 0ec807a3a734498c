"""Department events: checked on the way in, kept once, claimed once, told where the customer is.

The store runs on SQLite and PostgreSQL (``engine``); the deliverer talks HTTP to a fake
Rasa API and a fake Slack on real local sockets (the real Rasa is in tests/e2e/test_proactive.py).
"""

from __future__ import annotations

import threading
from datetime import datetime, timedelta

import pytest
from sqlalchemy import insert, select

from bot.agents.rasa_api import RasaApi
from bot.config import ConfigError
from bot.db.migrate import migrate
from bot.db.schema import journey_customers, proactive_events, takeovers, touchpoints, users
from bot.preferences import PreferenceStore
from bot.proactive import triggered_by_api
from bot.proactive.deliver import Deliverer
from bot.proactive.events import EventCatalogue, InvalidEvent
from bot.proactive.store import DELIVERED, PENDING, SENDING, TOLD, WAITING, ProactiveStore
from bot.rasa.channels.presence import WebPresence
from bot.rasa.channels.slack_api import SlackWebApi
from tests.fakes.clock import Clock
from tests.fakes.rasa import FakeRasa
from tests.fakes.slack import FakeSlack

CATALOGUE = EventCatalogue.load()
T0 = datetime(2026, 11, 24, 12, 0)


def delayed(event_id: str = "dlv-1", **extra) -> dict:
    return {"id": event_id, "type": "shipment.delayed", "order_id": "ORD-10001",
            "new_date": "2026-11-27", **extra}  # fmt: skip


# -- checking an event ------------------------------------------------------------------------


def test_a_well_formed_event_is_read_with_its_facts():
    event = CATALOGUE.check("delivery", delayed(reason="a storm at the hub"))
    assert (event.event_id, event.type.name, event.order_id) == (
        "dlv-1",
        "shipment.delayed",
        "ORD-10001",
    )
    assert event.details == {"new_date": "2026-11-27", "reason": "a storm at the hub"}
    assert event.type.options[0] == "keep_new_date"


@pytest.mark.parametrize(
    "body, department, words",
    [
        ([], "delivery", "JSON object"),
        (delayed(event_id=""), "delivery", "id must be"),
        (delayed(event_id="x" * 256), "delivery", "id must be"),
        ({**delayed(), "type": "parcel.lost"}, "delivery", "type must be one of"),
        (delayed(), "billing", "come from the delivery department"),
        ({**delayed(), "order_id": None}, "delivery", "needs order_id"),
        ({**delayed(), "order_id": "ORD 1; DROP"}, "delivery", "needs order_id"),
        ({**delayed(), "new_date": None}, "delivery", "needs new_date"),
        ({**delayed(), "new_date": "27/11/2026"}, "delivery", "new_date must be a date"),
        ({**delayed(), "new_date": 20261127}, "delivery", "new_date must be a date"),
        ({**delayed(), "reason": "x" * 501}, "delivery", "reason must be a text"),
        (
            {"id": "r1", "type": "refund.issued", "order_id": "ORD-1", "amount": "12"},
            "billing",
            "amount must be an amount",
        ),  # fmt: skip
        (
            {"id": "r1", "type": "refund.issued", "order_id": "ORD-1", "amount": True},
            "billing",
            "amount must be an amount",
        ),  # fmt: skip
        (
            {"id": "i1", "type": "invoice.failed", "order_id": "ORD-1"},
            "billing",
            "needs invoice_id",
        ),
    ],
)
def test_a_malformed_event_is_refused_saying_what_is_wrong(body, department, words):
    with pytest.raises(InvalidEvent, match=words):
        CATALOGUE.check(department, body)


def test_the_catalogue_refuses_options_the_desk_cannot_carry_out(tmp_path):
    path = tmp_path / "proactive.yml"
    path.write_text(
        "events:\n  x.y:\n    department: delivery\n    about: order\n    need: order_late\n"
        "    response: utter_x\n    options: [teleport]\n"
    )
    with pytest.raises(ConfigError, match="teleport.*not something the support desk"):
        EventCatalogue.load(path, known_options={"all_good"})
    path.write_text(path.read_text().replace("about: order", "about: planet"))
    with pytest.raises(ConfigError, match="about: expected one of"):
        EventCatalogue.load(path)


def test_an_intent_the_hub_triggered_is_not_a_customer_message():
    assert triggered_by_api({"event": "user", "text": "EXTERNAL: proactive_news"})
    assert not triggered_by_api({"event": "user", "text": "where is my parcel?"})
    assert not triggered_by_api({"event": "bot", "text": "EXTERNAL: x"})


# -- the store ---------------------------------------------------------------------------------


@pytest.fixture
def journey(engine):
    migrate(engine)
    return engine


def test_an_event_is_kept_once_however_often_it_comes(journey):
    store = ProactiveStore(journey, Clock(T0))
    first, new = store.take_in(CATALOGUE.check("delivery", delayed()), "C001")
    again, new_again = store.take_in(CATALOGUE.check("delivery", delayed(reason="changed")), "C001")
    assert (new, new_again) == (True, False)
    assert again.id == first.id and again.details == {"new_date": "2026-11-27"}
    assert (first.state, first.customer_id, first.department) == (PENDING, "C001", "delivery")


def test_the_same_event_arriving_twice_at_once_is_kept_once(journey):
    store = ProactiveStore(journey, Clock(T0))
    event = CATALOGUE.check("delivery", delayed())
    results, start = [], threading.Barrier(8)

    def take():
        start.wait()
        results.append(store.take_in(event, "C001")[1])

    threads = [threading.Thread(target=take) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == [False] * 7 + [True]
    with journey.connect() as conn:
        assert len(conn.execute(select(proactive_events)).all()) == 1


def test_workers_side_by_side_each_claim_an_event_once(journey):
    clock = Clock(T0)
    store = ProactiveStore(journey, clock)
    for i in range(30):
        store.take_in(CATALOGUE.check("delivery", delayed(f"dlv-{i}")), "C001")
    claimed: list[int] = []
    start = threading.Barrier(4)

    def work():
        start.wait()
        worker = ProactiveStore(journey, clock)
        while batch := worker.claim_due(limit=3):
            claimed.extend(e.id for e in batch)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(claimed) == sorted(set(claimed)) and len(claimed) == 30


def test_a_claim_lapses_when_its_worker_dies_and_another_takes_over(journey):
    clock = Clock(T0)
    store = ProactiveStore(journey, clock)
    store.take_in(CATALOGUE.check("delivery", delayed()), "C001")
    [event] = store.claim_due()
    assert event.state == SENDING and store.claim_due() == []
    clock.now += timedelta(minutes=3)  # the first worker never came back
    [again] = store.claim_due()
    assert again.id == event.id


def test_held_events_wait_for_their_time(journey):
    clock = Clock(T0)
    store = ProactiveStore(journey, clock)
    store.take_in(CATALOGUE.check("delivery", delayed()), "C001")
    [event] = store.claim_due()
    store.hold(event.id, T0 + timedelta(hours=9), quiet_hours=True)
    assert store.claim_due() == []
    clock.now = T0 + timedelta(hours=9)
    [again] = store.claim_due()
    assert again.held_for_quiet_hours and again.attempts == 0


def test_news_told_at_a_contact_cannot_also_go_out_live(journey):
    store = ProactiveStore(journey, Clock(T0))
    event, _ = store.take_in(CATALOGUE.check("delivery", delayed()), "C001")
    [claimed] = store.claim_due()
    store.wait_for_contact(claimed.id, "no live channel")
    assert [e.id for e in store.news_for("C001")] == [event.id]
    assert store.claim_for_contact(event.id, "conv-1", "rest") is True
    assert store.claim_for_contact(event.id, "conv-2", "rest") is False
    assert store.claim_due() == [] and store.news_for("C001") == []
    told = store.get(event.id)
    assert (told.state, told.conversation_id) == (TOLD, "conv-1")


# -- the deliverer ------------------------------------------------------------------------------


@pytest.fixture
def rasa():
    with FakeRasa() as fake:
        yield fake


@pytest.fixture
def slack():
    with FakeSlack() as fake:
        yield fake


def deliverer(journey, rasa, slack=None, clock=None) -> Deliverer:
    api = SlackWebApi(slack.token, slack.url) if slack else None
    return Deliverer(journey, RasaApi(rasa.url, rasa.token), api, now=clock or Clock(T0))


def chatted(journey, conversation_id: str, channel: str, at: datetime, customer: str = "C001"):
    """The customer had a conversation on ``channel`` (its touchpoint, last active ``at``)."""
    with journey.begin() as conn:
        if (
            conn.execute(
                select(journey_customers).where(journey_customers.c.id == customer)
            ).first()
            is None
        ):
            conn.execute(
                insert(journey_customers).values(id=customer, created_at=at, name="Jane Doe")
            )
        conn.execute(
            insert(touchpoints).values(
                conversation_id=conversation_id, session_started_at=at, customer_id=customer,
                channel=channel, needs="[]", departments="[]", order_ids="[]",
                outcome="self_served", signals="{}", message_count=1, started_at=at,
                last_activity_at=at,
            )
        )  # fmt: skip


def an_event(journey, clock, event_id="dlv-1"):
    return ProactiveStore(journey, clock).take_in(
        CATALOGUE.check("delivery", delayed(event_id)), "C001"
    )[0]


def test_an_open_website_chat_gets_the_news_through_rasas_socketio_output(journey, rasa):
    clock = Clock(T0)
    chatted(journey, "web-1", "socketio", T0 - timedelta(hours=1))
    WebPresence(journey, clock).connected("sid-1", "web-1")
    event = an_event(journey, clock)
    report = deliverer(journey, rasa, clock=clock).run_once()
    assert report.delivered == 1
    [(conversation, request, channel)] = rasa.triggered
    assert (conversation, channel) == ("web-1", "socketio")
    assert request == {"name": "proactive_news", "entities": {"proactive_event": str(event.id)}}
    told = ProactiveStore(journey, clock).get(event.id)
    assert (told.state, told.conversation_id, told.channel) == (DELIVERED, "web-1", "socketio")


def test_a_closed_website_chat_leaves_the_news_for_the_next_contact(journey, rasa):
    clock = Clock(T0)
    chatted(journey, "web-1", "socketio", T0 - timedelta(hours=1))
    presence = WebPresence(journey, clock)
    presence.connected("sid-1", "web-1")
    presence.disconnected("sid-1")
    event = an_event(journey, clock)
    assert deliverer(journey, rasa, clock=clock).run_once().waiting == 1
    assert rasa.triggered == []
    assert ProactiveStore(journey, clock).get(event.id).state == WAITING


def test_slack_news_goes_into_the_customers_own_thread_with_its_buttons(journey, rasa, slack):
    clock = Clock(T0)
    thread = "U0JANE_D0JANE_1741773601.000200"
    chatted(journey, thread, "slack", T0 - timedelta(days=2))
    event = an_event(journey, clock)
    assert deliverer(journey, rasa, slack, clock).run_once().delivered == 1
    [(_, _, channel)] = rasa.triggered
    assert channel == "collector"  # Rasa's own Slack output would post to the default channel
    [post] = slack.posts()
    assert (post.channel, post.thread_ts) == ("D0JANE", "1741773601.000200")
    assert str(event.id) in post.text
    [button] = post.fields["blocks"][1]["elements"]
    assert (button["text"]["text"], button["value"]) == ("All good", "/choose_option")


def test_slack_news_in_a_shared_channel_goes_to_the_verified_customer_alone(journey, rasa, slack):
    # Jane wrote in a channel others read: her order's news is posted for her eyes only.
    clock = Clock(T0)
    thread = "U0JANE_C0SHOP_1741773601.000300"
    chatted(journey, thread, "slack", T0 - timedelta(days=2))
    rasa.trackers[thread] = [
        {"event": "slot", "name": "customer_id", "value": "C001"},
        {"event": "slot", "name": "verified_by", "value": "slack"},
    ]
    event = an_event(journey, clock)
    assert deliverer(journey, rasa, slack, clock).run_once().delivered == 1
    assert slack.posts(channel="C0SHOP") == []
    [private] = slack.ephemerals(user="U0JANE")
    assert (private.channel, private.thread_ts) == ("C0SHOP", "1741773601.000300")
    assert str(event.id) in private.text


def test_the_preferred_channel_comes_before_the_last_used_one(journey, rasa, slack):
    clock = Clock(T0)
    chatted(journey, "U0JANE_D0JANE_1.1", "slack", T0 - timedelta(days=3))
    chatted(journey, "web-1", "socketio", T0 - timedelta(hours=1))
    WebPresence(journey, clock).connected("sid-1", "web-1")
    an_event(journey, clock)
    PreferenceStore(journey, clock).update("C001", channel="slack")
    deliverer(journey, rasa, slack, clock).run_once()
    assert [(c, ch) for c, _, ch in rasa.triggered] == [("U0JANE_D0JANE_1.1", "collector")]


def test_quiet_hours_hold_the_news_until_they_end(journey, rasa):
    clock = Clock(datetime(2026, 11, 24, 22, 30))
    chatted(journey, "web-1", "socketio", clock.now - timedelta(minutes=5))
    WebPresence(journey, clock).connected("sid-1", "web-1")
    PreferenceStore(journey, clock).update("C001", quiet_from="21:00", quiet_until="08:00")
    event = an_event(journey, clock)
    worker = deliverer(journey, rasa, clock=clock)
    assert worker.run_once().held == 1 and rasa.triggered == []
    held = ProactiveStore(journey, clock).get(event.id)
    assert held.deliver_after == datetime(2026, 11, 25, 8, 0) and held.held_for_quiet_hours
    clock.now = datetime(2026, 11, 25, 7, 59)
    assert worker.run_once().delivered == 0
    clock.now = datetime(2026, 11, 25, 8, 0)
    assert worker.run_once().delivered == 1 and len(rasa.triggered) == 1


def test_rasa_down_means_later_with_a_growing_delay_then_the_next_contact(journey, rasa):
    clock = Clock(T0)
    chatted(journey, "web-1", "socketio", T0 - timedelta(hours=1))
    WebPresence(journey, clock).connected("sid-1", "web-1")
    event = an_event(journey, clock)
    worker = deliverer(journey, rasa, clock=clock)
    store = ProactiveStore(journey, clock)
    rasa.fail(500, times=2)
    assert worker.run_once().retried == 1
    first = store.get(event.id)
    assert (
        first.deliver_after == T0 + timedelta(seconds=30) and "injected failure" in first.last_error
    )
    clock.now = first.deliver_after
    assert worker.run_once().retried == 1
    assert store.get(event.id).deliver_after == clock.now + timedelta(seconds=60)
    clock.now += timedelta(hours=25)  # still failing a day later: never lost, told next time
    rasa.fail(500, times=1)
    assert worker.run_once().waiting == 1
    assert store.get(event.id).state == WAITING


def test_a_chat_a_person_has_taken_over_is_not_interrupted(journey, rasa):
    clock = Clock(T0)
    chatted(journey, "web-1", "socketio", T0 - timedelta(minutes=5))
    WebPresence(journey, clock).connected("sid-1", "web-1")
    with journey.begin() as conn:
        agent = conn.execute(
            insert(users).values(username="ana", display_name="Ana", role="agent",
                                 password_hash="x", created_at=T0)
        ).inserted_primary_key[0]  # fmt: skip
        conn.execute(
            insert(takeovers).values(conversation_id="web-1", channel="socketio", agent_id=agent,
                                     status="active", started_at=T0, lease_expires_at=T0)
        )  # fmt: skip
    an_event(journey, clock)
    assert deliverer(journey, rasa, clock=clock).run_once().waiting == 1
    assert rasa.triggered == []


def test_stale_presence_rows_are_not_trusted(journey):
    clock = Clock(T0)
    presence = WebPresence(journey, clock)
    presence.connected("sid-1", "web-1")
    assert presence.online("web-1")
    clock.now += timedelta(hours=13)  # a Rasa server killed outright never said goodbye
    assert not presence.online("web-1")
