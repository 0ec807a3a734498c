"""The journey store: one customer across channels, a touchpoint per conversation, signals."""

from datetime import timedelta

import pytest
from sqlalchemy import text

from bot.db.migrate import current_revision, head_revision, migrate
from bot.journey.signals import UserMessage, read_signals
from bot.journey.store import JourneyStore, Turn
from tests.fakes.clock import WEDNESDAY_10AM, Clock

T0 = WEDNESDAY_10AM


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def journey(journey_engine, clock):
    return JourneyStore(journey_engine, now=clock)


def said(*texts_and_intents, start=T0):
    return tuple(
        UserMessage(t, i, start + timedelta(seconds=10 * n))
        for n, (t, i) in enumerate(texts_and_intents)
    )


def turn(conversation="web-1", channel="socketio", **kw):
    return Turn(conversation_id=conversation, channel=channel, session_started_at=T0, **kw)


def test_migrations_run_once_and_are_idempotent(engine):
    migrate(engine)
    migrate(engine)  # again: nothing to do
    with engine.connect() as conn:
        assert current_revision(conn) == head_revision()


def test_the_migrations_build_exactly_the_schema_the_code_declares(engine):
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    from bot.db.schema import metadata

    migrate(engine)
    with engine.connect() as conn:
        differences = compare_metadata(
            MigrationContext.configure(conn, opts={"compare_type": True}), metadata
        )
    assert differences == [], "schema.py changed without a migration: add one in migrations/"


def test_a_database_from_before_migrations_is_refused_with_what_to_do(tmp_path):
    from bot.db.engine import make_engine

    legacy = make_engine(f"sqlite:///{tmp_path / 'old.db'}")
    with legacy.begin() as conn:
        conn.execute(text("create table handoffs (id integer primary key)"))
    with pytest.raises(RuntimeError, match="move it aside"):
        migrate(legacy)


def test_an_anonymous_chat_becomes_the_customers_once_they_identify(journey):
    first = journey.record(turn(messages=said(("where is my order", "order_status"))))
    assert first.customer_id == "anon-socketio-web-1" and first.message_count == 1
    identified = journey.record(
        turn(
            messages=said(("where is my order", "order_status"), ("ORD-10001", "inform")),
            customer_id="C001",
            customer_name="Jane",
            tier="gold",
            email="Jane.Doe@example.com",
            need="order_status",
            department="delivery",
            stage="purchase",
            order_id="ORD-10001",
        )
    )
    assert identified.id == first.id and identified.customer_id == "C001"
    assert (identified.needs, identified.departments, identified.order_ids) == (
        ("order_status",),
        ("delivery",),
        ("ORD-10001",),
    )
    assert identified.stage == "purchase" and identified.message_count == 2
    assert journey.customer_of("socketio", "web-1") == "C001"
    assert journey.customer_of("email", "jane.doe@example.com") == "C001"


def test_one_customer_one_journey_across_channels(journey, clock):
    journey.record(turn("web-1", customer_id="C001", need="order_status", department="delivery"))
    clock.now = T0 + timedelta(days=1)
    journey.record(
        Turn(
            conversation_id="U0JANE_C1",
            channel="slack",
            session_started_at=clock.now,
            customer_id="C001",
            slack_user="U0JANE",
            need="request_invoice",
            department="billing",
        )
    )
    touchpoints = journey.journey("C001")
    assert [(t.channel, t.needs) for t in touchpoints] == [
        ("socketio", ("order_status",)),
        ("slack", ("request_invoice",)),
    ]
    assert journey.customer_of("slack", "U0JANE") == "C001"


def test_outcome_only_goes_up_while_the_chat_goes_on(journey):
    journey.record(turn(outcome="handed_off"))
    assert journey.record(turn(outcome=None)).outcome == "handed_off"
    assert journey.record(turn(outcome="escalated")).outcome == "escalated"
    assert journey.record(turn(outcome="handed_off")).outcome == "escalated"


def test_idle_chats_are_closed_as_abandoned_unless_resolved(journey, engine, clock):
    journey.record(turn("idle"))
    journey.record(turn("bye", ended=True))
    journey.record(turn("done"))
    with engine.begin() as conn:
        conn.execute(text("update touchpoints set outcome='resolved' where conversation_id='done'"))
    clock.now = T0 + timedelta(minutes=30)
    assert journey.close_idle(timedelta(minutes=60)) == 0
    clock.now = T0 + timedelta(minutes=61)
    assert journey.close_idle(timedelta(minutes=60)) == 2
    outcome = {c: journey.touchpoints_of(c)[0].outcome for c in ("idle", "bye", "done")}
    assert outcome == {"idle": "abandoned", "bye": "self_served", "done": "resolved"}
    assert all(journey.touchpoints_of(c)[0].ended_at for c in ("idle", "bye", "done"))


def test_signals_of_effort_and_frustration(journey, clock):
    messages = said(
        ("where is my order", "order_status"),
        ("ORD-10002", "inform"),
        ("where is my order", "order_status"),
        ("I already told you the number, this is ridiculous", "inform"),
    )
    tp = journey.record(turn(messages=messages, customer_id="C001", order_id="ORD-10002"))
    assert tp.signals["repeats"] == 1
    assert tp.signals["told_you"] == 1 and tp.signals["negative_words"] == 1
    assert tp.signals["frustration"] == 4
    # Another chat about the same order within 7 days is a repeat contact; after 7, not.
    clock.now = T0 + timedelta(days=2)
    again = Turn("web-2", "socketio", clock.now, customer_id="C001", order_id="ORD-10002")
    assert journey.record(again).signals["contacts_about_order"] == 1
    clock.now = T0 + timedelta(days=8)
    late = Turn("web-3", "socketio", clock.now, customer_id="C001", order_id="ORD-10002")
    assert journey.record(late).signals["contacts_about_order"] == 1  # web-2 is 6 days old, web-1 8


def test_calm_conversations_show_no_signals():
    calm = read_signals(
        said(("hi", "greet"), ("where's ORD-10001?", "order_status"), ("thanks!", "thank"))
    )
    assert calm.frustration == 0 and calm.repeats == 0
    assert read_signals(said(("for the third time: it's broken", "complain"))).told_you == 1


def test_ratings(journey, engine):
    journey.record(turn("rated"))
    journey.rate("rated", 4, "quick and kind")
    assert journey.touchpoints_of("rated")[0].rating == 4
    with engine.connect() as conn:
        rows = conn.execute(text("select rating, comment from feedback")).all()
    assert [tuple(r) for r in rows] == [(4, "quick and kind")]
    with pytest.raises(ValueError):
        journey.rate("rated", 6)
    with pytest.raises(LookupError):
        journey.rate("nobody", 3)


def test_an_effort_answer_lands_on_the_newest_touchpoint_and_in_the_effort_score(journey, engine):
    from bot.analytics.metrics import effort_score

    journey.record(turn("sorted"))
    later = Turn(
        conversation_id="sorted", channel="socketio", session_started_at=T0 + timedelta(hours=2)
    )
    journey.record(later)  # a second session of the same conversation
    assert effort_score(engine) is None
    journey.rate_effort("sorted", 4)
    first, second = journey.touchpoints_of("sorted")
    assert (first.effort, second.effort) == (None, 4)
    assert effort_score(engine) == 4.0  # what CX metrics read (bot/analytics/metrics.py)
    for invalid in (0, 6, -1, "5", 4.5, True, None):
        with pytest.raises(ValueError):
            journey.rate_effort("sorted", invalid)
    assert journey.touchpoints_of("sorted")[1].effort == 4
    with pytest.raises(LookupError):
        journey.rate_effort("nobody", 3)


def test_processes_starting_together_can_all_migrate(tmp_path):
    """The hub, the dispatcher and the action server each migrate when they start."""
    import subprocess
    import sys

    from bot.db.engine import make_engine

    url = f"sqlite:///{tmp_path / 'race.db'}"
    code = "import sys; from bot.db.engine import make_engine; from bot.db.migrate import migrate; migrate(make_engine(sys.argv[1]))"
    procs = [
        subprocess.Popen([sys.executable, "-c", code, url], stderr=subprocess.PIPE)
        for _ in range(4)
    ]
    failures = [p.stderr.read().decode()[-500:] for p in procs if p.wait(timeout=120) != 0]
    assert failures == []
    with make_engine(url).connect() as conn:
        assert current_revision(conn) == head_revision()


# -- repeat contacts, marked as touchpoints are written (touchpoints.came_back) ---------------


def came_back(engine) -> dict[str, bool | None]:
    """Each conversation's (first) touchpoint's mark, by conversation id."""
    with engine.connect() as conn:
        rows = conn.execute(
            text("select conversation_id, came_back from touchpoints order by id")
        ).all()
    return {r[0]: None if r[1] is None else bool(r[1]) for r in rows}


def test_a_touchpoint_is_marked_when_its_customer_comes_back_about_it_within_7_days(
    journey, engine, clock
):
    from bot.analytics.filters import Filters
    from bot.analytics.metrics import repeat_contact_rate

    def contact(conversation, at, **kw):
        clock.now = at
        return journey.record(
            Turn(
                conversation_id=conversation,
                channel="rest",
                session_started_at=at,
                customer_id="C001",
                **kw,
            )
        )

    day = timedelta(days=1)
    contact("a", T0, need="order_status", order_id="ORD-1")
    contact("b", T0 + 2 * day, need="order_late", order_id="ORD-1")  # same order as a
    contact("c", T0 + 3 * day, need="ask_pricing")
    contact("d", T0 + 9 * day, need="order_late")  # b's need, exactly 7 days after b
    contact("e", T0 + 16 * day + timedelta(minutes=1), need="order_late")  # d's + 7 days 1 min
    contact("hello", T0 + 17 * day)  # about nothing
    assert came_back(engine) == {
        "a": True, "b": True, "c": False, "d": False, "e": False, "hello": False,
    }  # fmt: skip
    # c's chat goes on (same session) and raises order_late: d, 6 days later, repeats it now.
    clock.now = T0 + 17 * day
    journey.record(
        Turn(
            conversation_id="c",
            channel="rest",
            session_started_at=T0 + 3 * day,
            customer_id="C001",
            need="order_late",
        )
    )
    assert came_back(engine)["c"] is True
    # The metric reads the marks: 3 of the 5 conversations about something came back.
    assert repeat_contact_rate(engine, Filters()) == pytest.approx(3 / 5)


def test_repeat_marks_follow_a_visitor_who_identifies_or_a_chat_that_changes_hands(
    journey, engine, clock
):
    def record(conversation, at, customer=None, started=None):
        clock.now = at
        journey.record(
            Turn(
                conversation_id=conversation,
                channel="socketio",
                session_started_at=started or at,
                customer_id=customer,
                need="ask_pricing",
            )
        )

    record("earlier", T0, customer="C002")
    record("visitor", T0 + timedelta(days=2))  # anonymous: not C002's repeat, yet
    assert came_back(engine)["earlier"] is False
    # The visitor identifies as C002: their chat joins C002's journey, and repeats "earlier".
    record("visitor", T0 + timedelta(days=2, minutes=5), "C002", T0 + timedelta(days=2))
    assert came_back(engine)["earlier"] is True
    # Someone else (C003) signs in on that same chat: it is theirs now, no longer C002's.
    record("visitor", T0 + timedelta(days=2, minutes=9), "C003", T0 + timedelta(days=2))
    assert came_back(engine)["earlier"] is False


def test_the_migration_marks_the_repeat_contacts_already_in_the_store(engine):
    import json

    from alembic import command
    from sqlalchemy import insert

    from bot.db.migrate import alembic_config
    from bot.db.schema import journey_customers, touchpoints

    with engine.begin() as conn:  # the store as it was before migration 0006
        config = alembic_config()
        config.attributes["connection"] = conn
        command.upgrade(config, "0005")
    when = T0.replace(microsecond=123456)

    def row(id, customer, started, needs=(), orders=()):
        return {
            "id": id, "conversation_id": f"c{id}", "session_started_at": started,
            "customer_id": customer, "channel": "rest", "needs": json.dumps(list(needs)),
            "departments": "[]", "order_ids": json.dumps(list(orders)),
            "outcome": "self_served", "signals": "{}", "message_count": 1,
            "started_at": started, "last_activity_at": started,
        }  # fmt: skip

    week = timedelta(days=7)
    with engine.begin() as conn:
        conn.execute(insert(journey_customers), [{"id": c, "created_at": T0} for c in ("C1", "C2")])
        conn.execute(
            insert(touchpoints).values(
                [
                    row(1, "C1", when, ["order_status"], ["ORD-1"]),  # repeated by 2 (order)
                    row(2, "C1", when + week, ["order_late"], ["ORD-1"]),  # to the microsecond
                    row(3, "C1", when + week, ["order_late"]),  # as 2 starts: neither repeats
                    row(4, "C1", when + 2 * week + timedelta(microseconds=1), ["order_late"]),
                    row(5, "C2", when, ["order_late"]),  # another customer's
                    row(6, "C2", when + timedelta(hours=1)),  # about nothing
                ]
            )
        )
    migrate(engine)
    with engine.connect() as conn:
        marks = dict(conn.execute(text("select id, came_back from touchpoints order by id")).all())
    assert {k: bool(v) for k, v in marks.items()} == {
        1: True, 2: False, 3: False, 4: False, 5: False, 6: False,
    }  # fmt: skip


def test_an_email_a_visitor_only_typed_links_nobody(journey):
    """A stranger types Jane's email before Jane has ever chatted: the email stays no identity
    of the stranger's record, so Jane's journey, export and erasure never take in their chat."""
    journey.record(turn("web-stranger", email="jane.doe@example.com", need="order_status"))
    assert journey.customer_of("email", "jane.doe@example.com") is None
    journey.record(turn("web-jane", customer_id="C001", email="jane.doe@example.com"))
    assert journey.customer_of("email", "jane.doe@example.com") == "C001"
    assert journey.customer_of("socketio", "web-stranger") != "C001"
