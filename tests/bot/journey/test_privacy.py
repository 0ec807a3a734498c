"""A customer's data: export (access request), forget (erasure) and retention, on the journey
store (SQLite and PostgreSQL) and on a real Rasa SQL tracker store."""

from __future__ import annotations

import asyncio
import json
import os
import threading
import time
from dataclasses import replace
from datetime import datetime, timedelta

import pytest
from sqlalchemy import func, insert, select, text
from sqlalchemy.engine import make_url

from bot.__main__ import main
from bot.db.engine import make_engine, with_search_path
from bot.db.migrate import migrate
from bot.db.schema import (
    agent_notes,
    customer_preferences,
    feedback,
    guard_rewrites,
    handoffs,
    identities,
    identity_checks,
    inbox,
    journey_customers,
    one_time_codes,
    outbox,
    policy_moments,
    proactive_events,
    review_examples,
    review_flags,
    routing_decisions,
    takeovers,
    touchpoints,
    users,
)
from bot.identity.checks import address_key
from bot.journey.privacy import apply_retention, export_customer, forget_customer
from bot.journey.rasa_tracker import tracker_events_of, tracker_store_url
from bot.journey.signals import UserMessage
from bot.journey.store import JourneyStore, Turn
from bot.settings import Settings
from tests.conftest import DATABASES

T0 = datetime(2025, 3, 12, 10, 0)
TRACKER_SCHEMA = f"cx_tracker_test_{os.getpid()}"  # apart from the journey store's schema
# Every table that can hold something of a customer, by its export key.
HELD = {
    "customers": journey_customers,
    "identities": identities,
    "touchpoints": touchpoints,
    "handoffs": handoffs,
    "outbox": outbox,
    "inbox": inbox,
    "routing_decisions": routing_decisions,
    "policy_moments": policy_moments,
    "guard_rewrites": guard_rewrites,
    "feedback": feedback,
    "takeovers": takeovers,
    "agent_notes": agent_notes,
    "review_flags": review_flags,
    "review_examples": review_examples,
    "customer_preferences": customer_preferences,
    "proactive_events": proactive_events,
    "identity_checks": identity_checks,
    "one_time_codes": one_time_codes,
}


@pytest.fixture
def journey(engine):
    migrate(engine)
    with engine.begin() as conn:
        conn.execute(
            insert(users).values(
                id=1, username="ana", display_name="Ana", role="agent",
                password_hash="x", created_at=T0,
            )
        )  # fmt: skip
    return engine


@pytest.fixture(params=DATABASES)
def tracker(request, tmp_path):
    """A real Rasa SQLTrackerStore (an SQLite file, or a scratch PostgreSQL schema), and an
    engine on the same database."""
    from rasa.core.tracker_store import SQLTrackerStore

    if request.param == "sqlite":
        path = tmp_path / "tracker.db"
        store = SQLTrackerStore(dialect="sqlite", db=str(path))
        eng = make_engine(f"sqlite:///{path}")
        yield store, eng
        eng.dispose()
        return
    url = make_url(os.environ["TEST_POSTGRES_URL"])
    admin = make_engine(str(url))
    with admin.begin() as conn:
        conn.execute(text(f"DROP SCHEMA IF EXISTS {TRACKER_SCHEMA} CASCADE"))
        conn.execute(text(f"CREATE SCHEMA {TRACKER_SCHEMA}"))
    store = SQLTrackerStore(
        dialect="postgresql",
        host=url.host,
        port=url.port,
        db=url.database,
        username=url.username,
        password=url.password,
        query={"options": f"-csearch_path={TRACKER_SCHEMA}"},
    )
    eng = make_engine(with_search_path(str(url), TRACKER_SCHEMA))
    yield store, eng
    eng.dispose()
    store.engine.dispose()
    with admin.begin() as conn:
        conn.execute(text(f"DROP SCHEMA IF EXISTS {TRACKER_SCHEMA} CASCADE"))
    admin.dispose()


def chat(store, sender: str, text: str, at: datetime | None = None) -> None:
    """Save a conversation to Rasa's tracker store the way Rasa does."""
    from rasa.shared.core.events import ActionExecuted, BotUttered, UserUttered
    from rasa.shared.core.trackers import DialogueStateTracker

    stamp = (at or datetime.now()).timestamp()
    events = [
        ActionExecuted("action_listen", timestamp=stamp),
        UserUttered(text, {"name": "greet", "confidence": 1.0}, timestamp=stamp),
        BotUttered(f"you said {text}", timestamp=stamp),
    ]
    asyncio.run(store.save(DialogueStateTracker.from_events(sender, events)))


def fill(engine, customer: str, conversation: str, channel: str = "socketio", at=T0) -> None:
    """A customer with a row in every table: through the journey store, then the rest."""
    JourneyStore(engine, now=lambda: at).record(
        Turn(
            conversation_id=conversation,
            channel=channel,
            session_started_at=at,
            messages=(UserMessage(f"{customer} wants a refund", "refund_request", at),),
            customer_id=None if customer.startswith("anon") else customer,
            customer_name=f"name of {customer}",
            email=None if customer.startswith("anon") else f"{customer.lower()}@example.com",
            slack_user=None if customer.startswith("anon") else f"U{customer}",
            need="refund_request",
            department="billing",
            ended=True,
        )
    )
    with engine.begin() as conn:
        tp = conn.execute(
            select(touchpoints.c.id, touchpoints.c.customer_id).where(
                touchpoints.c.conversation_id == conversation
            )
        ).one()
        conn.execute(update_ended(tp.id, at))
        ids = []
        for n, state in enumerate(("pending", "sent")):
            hid = conn.execute(
                insert(handoffs).values(
                    created_at=at, department="billing", need="refund_request",
                    conversation_id=conversation, touchpoint_id=tp.id,
                    customer_id=tp.customer_id, channel=channel, priority="normal",
                    summary=f"refund for {customer}",
                    context=json.dumps({"customer": customer, "said": "refund please"}),
                    status="open",
                )
            ).inserted_primary_key[0]  # fmt: skip
            ids.append(hid)
            conn.execute(
                insert(outbox).values(
                    handoff_id=hid, conversation_id=conversation, department="billing",
                    idempotency_key=f"{conversation}-{n}", body=json.dumps({"handoff": hid}),
                    created_at=at, state=state, attempts=n, next_attempt_at=at,
                )
            )  # fmt: skip
        conn.execute(
            insert(inbox).values(
                idempotency_key=f"{conversation}-1", department="billing", handoff_id=ids[1],
                received_at=at, body=json.dumps({"customer": customer}),
            )
        )  # fmt: skip
        conn.execute(
            insert(routing_decisions).values(
                created_at=at, touchpoint_id=tp.id, conversation_id=conversation,
                need="refund_request", department="billing", priority="normal",
                rule="intent_map", reason="billing owns refunds",
            )
        )  # fmt: skip
        conn.execute(
            insert(policy_moments).values(
                created_at=at, conversation_id=conversation, customer_id=tp.customer_id,
                need="refund_request", policy="refund_window", reason="45 days",
                offered='["store_credit"]',
            )
        )  # fmt: skip
        conn.execute(
            insert(guard_rewrites).values(
                created_at=at, conversation_id=conversation, need="refund_request",
                response="utter_x", text="we can't", offered='["store_credit"]',
            )
        )  # fmt: skip
        conn.execute(
            insert(feedback).values(
                created_at=at, touchpoint_id=tp.id, conversation_id=conversation, rating=4
            )
        )
        conn.execute(
            insert(takeovers).values(
                conversation_id=conversation, channel=channel, handoff_id=ids[0], agent_id=1,
                status="resolved", started_at=at, lease_expires_at=at, ended_at=at,
                note=f"sorted {customer}",
            )
        )  # fmt: skip
        conn.execute(
            insert(agent_notes).values(
                conversation_id=conversation, author_id=1, text=f"{customer} is upset",
                created_at=at,
            )
        )  # fmt: skip
        conn.execute(
            insert(review_flags).values(
                touchpoint_id=tp.id, conversation_id=conversation, tags='["wrong intent"]',
                flagged_by=1, flagged_at=at,
            )
        )  # fmt: skip
        conn.execute(
            insert(review_examples).values(
                touchpoint_id=tp.id, text=f"{customer} wants a refund", text_sha256="a" * 64,
                predicted_intent="greet", intent="refund_request", labelled_by=1,
                labelled_at=at,
            )
        )  # fmt: skip
        for kind, outcome in (("order_email", "failed"), ("code_sent", "ok"), ("code", "ok")):
            conn.execute(
                insert(identity_checks).values(
                    conversation_id=conversation, channel=channel, address="203.0.113.7",
                    kind=kind, outcome=outcome, order_id=f"ORD-{customer}",
                    customer_id=tp.customer_id if outcome == "ok" else None, at=at,
                )
            )  # fmt: skip
        conn.execute(
            insert(one_time_codes).values(
                conversation_id=conversation, customer_id=tp.customer_id, code_hash="b" * 64,
                created_at=at, expires_at=at + timedelta(minutes=10), tries=1, used_at=at,
            )
        )  # fmt: skip
        stated = conn.execute(
            select(customer_preferences.c.customer_id).where(
                customer_preferences.c.customer_id == tp.customer_id
            )
        ).first()
        if stated is None:  # one row per customer, however many chats they had
            conn.execute(
                insert(customer_preferences).values(
                    customer_id=tp.customer_id, name=f"nick of {customer}", channel="slack",
                    quiet_from="21:00", quiet_until="08:00", updated_at=at,
                )
            )  # fmt: skip
        conn.execute(
            insert(proactive_events).values(
                event_id=f"evt-{conversation}", type="shipment.delayed", department="delivery",
                received_at=at, customer_id=tp.customer_id, order_id=f"ORD-{customer}",
                details=json.dumps({"new_date": "2025-03-20"}), state="told",
                deliver_after=at, attempts=1, held_for_quiet_hours=False,
                conversation_id=conversation, channel=channel, delivered_at=at,
                touchpoint_id=tp.id,
            )
        )  # fmt: skip


def update_ended(touchpoint_id: int, at: datetime):
    from sqlalchemy import update

    return update(touchpoints).where(touchpoints.c.id == touchpoint_id).values(ended_at=at)


def counts(engine) -> dict[str, int]:
    with engine.connect() as conn:
        return {
            name: conn.execute(select(func.count()).select_from(table)).scalar_one()
            for name, table in HELD.items()
        }


def test_export_holds_every_piece_of_the_customer_and_nothing_of_others(journey, tracker):
    store, tracker_engine = tracker
    fill(journey, "C001", "web-jane")
    fill(journey, "C002", "web-omar")
    chat(store, "web-jane", "jane's words")
    chat(store, "web-omar", "omar's words")

    doc = export_customer(journey, "C001", tracker_engine)

    for key in HELD:
        assert doc[key], f"nothing exported from {key}"
    text = json.dumps(doc)
    assert "C002" not in text and "omar" not in text.lower()
    assert doc["customers"][0]["name"] == "name of C001"
    assert {(i["kind"], i["value"]) for i in doc["identities"]} == {
        ("socketio", "web-jane"),
        ("email", "c001@example.com"),
        ("slack", "UC001"),
    }
    assert doc["touchpoints"][0]["customer_text"] == "C001 wants a refund"
    assert doc["handoffs"][0]["context"] == {"customer": "C001", "said": "refund please"}
    assert doc["takeovers"][0]["agent_name"] == "Ana"
    assert doc["agent_notes"][0]["text"] == "C001 is upset"
    said = [e.get("text") for e in doc["rasa_tracker_events"]["web-jane"]]
    assert "jane's words" in said and "you said jane's words" in said
    assert list(doc["rasa_tracker_events"]) == ["web-jane"]
    # The same customer is found by any of their identities.
    for who in ("c001@example.com", "C001@EXAMPLE.COM", "UC001", "web-jane"):
        assert export_customer(journey, who, tracker_engine)["customer_ids"] == ["C001"]
    assert export_customer(journey, "C999", tracker_engine) is None


def test_forget_erases_every_table_and_the_tracker_and_is_idempotent(journey, tracker):
    store, tracker_engine = tracker
    fill(journey, "C001", "web-jane")
    fill(journey, "C002", "web-omar")
    chat(store, "web-jane", "jane's words")
    chat(store, "web-omar", "omar's words")
    before = counts(journey)
    omar_before = export_customer(journey, "C002", tracker_engine)

    erased = forget_customer(journey, "C001", tracker_engine)

    assert erased.customer_ids == ["C001"]
    assert erased.tracker_events == 3
    assert erased.cancelled_handoffs and erased.delivered_handoffs
    after = counts(journey)
    for name in HELD:
        assert after[name] == before[name] // 2, name  # C002's half is all that is left
    with journey.connect() as conn:
        for name, table in HELD.items():
            for column in ("customer_id", "conversation_id"):
                if column in table.c:
                    left = conn.execute(
                        select(func.count())
                        .select_from(table)
                        .where(table.c[column].in_(["C001", "web-jane"]))
                    ).scalar_one()
                    assert left == 0, f"{name}.{column}"
    assert tracker_events_of(tracker_engine, ["web-jane"]) == {}
    omar_after = export_customer(journey, "C002", tracker_engine)
    assert {k: v for k, v in omar_after.items() if k != "exported_at"} == {
        k: v for k, v in omar_before.items() if k != "exported_at"
    }
    again = forget_customer(journey, "C001", tracker_engine)
    assert again.total == 0 and again.customer_ids == []
    assert export_customer(journey, "C001", tracker_engine) is None


def test_a_returning_channel_id_is_not_linked_to_the_forgotten_customer(journey, tracker):
    fill(journey, "C001", "web-jane")
    forget_customer(journey, "UC001", tracker[1])  # by their Slack user id
    JourneyStore(journey, now=lambda: T0).record(
        Turn(conversation_id="web-jane", channel="socketio", session_started_at=T0)
    )
    with journey.connect() as conn:
        assert conn.execute(select(journey_customers.c.id)).scalars().all() == [
            "anon-socketio-web-jane"
        ]


def test_an_anonymous_visitor_is_forgotten_by_their_chat_id(journey, tracker):
    store, tracker_engine = tracker
    fill(journey, "C002", "web-omar")
    omar = counts(journey)
    fill(journey, "anon-socketio-visitor-7f3a", "visitor-7f3a")
    chat(store, "visitor-7f3a", "hello")
    assert all(counts(journey)[name] > omar[name] for name in HELD)

    erased = forget_customer(journey, "visitor-7f3a", tracker_engine)

    assert erased.customer_ids == ["anon-socketio-visitor-7f3a"]
    assert erased.tracker_events == 3
    assert counts(journey) == omar


def test_retention_deletes_only_conversations_that_ended_before_the_cutoff(journey, tracker):
    store, tracker_engine = tracker
    now = datetime.now().replace(microsecond=0)
    fill(journey, "C001", "old-chat", at=now - timedelta(days=40))
    fill(journey, "C002", "new-chat", at=now - timedelta(days=5))
    chat(store, "old-chat", "old words", at=now - timedelta(days=40))
    chat(store, "new-chat", "new words", at=now - timedelta(days=5))
    before = counts(journey)

    dry = apply_retention(journey, 30, tracker_engine, now=now, dry_run=True)
    assert counts(journey) == before
    assert dry.tracker_events == 3

    done = apply_retention(journey, 30, tracker_engine, now=now)

    assert done.rows == dry.rows
    assert counts(journey) == {name: before[name] // 2 for name in HELD}
    assert export_customer(journey, "C001", tracker_engine) is None
    kept = export_customer(journey, "C002", tracker_engine)
    assert all(kept[key] for key in HELD)
    assert list(kept["rasa_tracker_events"]) == ["new-chat"]
    assert apply_retention(journey, 30, tracker_engine, now=now).total == 0


def test_retention_keeps_a_customer_with_a_recent_conversation(journey, tracker):
    now = datetime.now().replace(microsecond=0)
    fill(journey, "C001", "old-chat", at=now - timedelta(days=40))
    fill(journey, "C001", "new-chat", at=now - timedelta(days=2))
    apply_retention(journey, 30, tracker[1], now=now)
    doc = export_customer(journey, "C001", tracker[1])
    assert [t["conversation_id"] for t in doc["touchpoints"]] == ["new-chat"]
    assert doc["customers"] and doc["identities"]
    assert {h["conversation_id"] for h in doc["handoffs"]} == {"new-chat"}


def test_the_upkeep_worker_sweeps_retention(journey, tracker, tmp_path):
    from bot.journey.upkeep import sweep_retention

    now = datetime.now()
    fill(journey, "C001", "old-chat", at=now - timedelta(days=40))
    settings = Settings.from_env(
        {"CX_JOURNEY_URL": journey.url.render_as_string(hide_password=False),
         "CX_TRACKER_URL": tracker[1].url.render_as_string(hide_password=False),
         "CX_RETENTION_DAYS": "30"}
    )  # fmt: skip
    assert settings.retention_days == 30
    stop = threading.Event()
    worker = threading.Thread(target=sweep_retention, args=(settings, stop))
    worker.start()
    try:
        deadline = time.monotonic() + 20
        while counts(journey)["touchpoints"] and time.monotonic() < deadline:
            time.sleep(0.1)
    finally:
        stop.set()
        worker.join(timeout=10)
    assert counts(journey)["touchpoints"] == 0


@pytest.mark.parametrize("raw", ["0", "-3", "thirty"])
def test_a_bad_retention_setting_is_refused_with_its_name(raw):
    with pytest.raises(ValueError, match="CX_RETENTION_DAYS"):
        Settings.from_env({"CX_RETENTION_DAYS": raw})
    assert Settings.from_env({}).retention_days is None


def test_the_tracker_store_url_follows_endpoints_yml(tmp_path):
    settings = Settings.from_env({"CX_VAR_DIR": str(tmp_path)})
    assert tracker_store_url(settings) == f"sqlite:///{tmp_path / 'tracker.db'}"
    assert tracker_store_url(replace(settings, tracker_url="postgresql://x/y")) == (
        "postgresql://x/y"
    )
    other = Settings.from_env({"CX_ROOT": str(tmp_path)})
    (tmp_path / "endpoints.yml").write_text(
        "tracker_store:\n  type: SQL\n  dialect: postgresql\n  url: db.internal\n"
        "  port: 5433\n  db: rasa\n  username: rasa\n  password: s3cret\n"
    )
    assert tracker_store_url(other) == "postgresql://rasa:s3cret@db.internal:5433/rasa"
    (tmp_path / "endpoints.yml").write_text("tracker_store:\n  type: redis\n")
    assert tracker_store_url(other) is None


# -- the command line --------------------------------------------------------------------


@pytest.fixture
def cli_env(tmp_path, monkeypatch, tracker):
    url = f"sqlite:///{tmp_path / 'journey.db'}"
    monkeypatch.setenv("CX_JOURNEY_URL", url)
    monkeypatch.setenv("CX_TRACKER_URL", tracker[1].url.render_as_string(hide_password=False))
    monkeypatch.delenv("CX_RETENTION_DAYS", raising=False)
    engine = make_engine(url)
    migrate(engine)
    with engine.begin() as conn:
        conn.execute(
            insert(users).values(
                id=1, username="ana", display_name="Ana", role="agent",
                password_hash="x", created_at=T0,
            )
        )  # fmt: skip
    fill(engine, "C001", "web-jane")
    fill(engine, "C002", "web-omar")
    chat(tracker[0], "web-jane", "jane's words")
    yield engine
    engine.dispose()


def test_cli_export_forget_and_forget_again(cli_env, tmp_path, capsys):
    out = tmp_path / "c001.json"
    assert main(["export", "C001", "--out", str(out)]) == 0
    doc = json.loads(out.read_text())
    assert out.stat().st_mode & 0o777 == 0o600  # personal data: its owner only
    assert doc["customer_ids"] == ["C001"] and doc["rasa_tracker_events"]["web-jane"]
    assert main(["export", "C999"]) == 1
    assert "no data held about 'C999'" in capsys.readouterr().err

    assert main(["forget", "jane-typo@example.com", "--yes"]) == 0
    assert "nothing to erase" in capsys.readouterr().out
    assert main(["forget", "c001@example.com", "--yes"]) == 0
    said = capsys.readouterr().out
    assert "erased c001@example.com: customer(s) C001, 1 conversation(s)" in said
    assert "touchpoints" in said and "Rasa tracker events       3" in said
    assert "cancelled before delivery" in said and "H-1 (billing)" in said
    assert "already delivered" in said and "H-2 (billing)" in said
    assert main(["forget", "C001", "--yes"]) == 0
    assert "nothing to erase" in capsys.readouterr().out
    assert counts(cli_env)["customers"] == 1  # C002 is still there


def test_cli_forget_asks_first(cli_env, monkeypatch, capsys):
    monkeypatch.setattr("builtins.input", lambda prompt: "n")
    assert main(["forget", "C001"]) == 1
    assert "nothing erased" in capsys.readouterr().out
    assert counts(cli_env)["customers"] == 2
    monkeypatch.setattr("builtins.input", lambda prompt: "y")
    assert main(["forget", "C001"]) == 0
    assert counts(cli_env)["customers"] == 1


def test_cli_forget_refuses_when_the_tracker_store_is_out_of_reach(
    cli_env, tmp_path, monkeypatch, capsys
):
    root = tmp_path / "root"
    root.mkdir()
    (root / "endpoints.yml").write_text("tracker_store:\n  type: redis\n")
    monkeypatch.setenv("CX_ROOT", str(root))
    monkeypatch.delenv("CX_TRACKER_URL")
    assert main(["forget", "C001", "--yes"]) == 1
    assert "CX_TRACKER_URL" in capsys.readouterr().err
    assert counts(cli_env)["customers"] == 2


def test_cli_retention(cli_env, capsys):
    assert main(["retention"]) == 2
    assert "CX_RETENTION_DAYS" in capsys.readouterr().err
    assert main(["retention", "--days", "30", "--dry-run"]) == 0
    assert "would delete" in capsys.readouterr().out
    assert counts(cli_env)["touchpoints"] == 2
    assert main(["retention", "--days", "30"]) == 0  # T0 (2025) is long ago
    assert counts(cli_env)["touchpoints"] == 0


# -- preferences and department events (bot/preferences.py, bot/proactive/) ----------------


def test_preferences_stated_before_identifying_are_forgotten_with_the_customer(journey, tracker):
    """A visitor says "call me Sam" anonymously, then identifies: their anonymous record
    (with the preferences kept on it) stays behind, and is erased with the customer."""
    from bot.preferences import PreferenceStore

    store = JourneyStore(journey, now=lambda: T0)
    anonymous = store.record(
        Turn(conversation_id="web-sam", channel="socketio", session_started_at=T0)
    )
    PreferenceStore(journey, now=lambda: T0).update(anonymous.customer_id, name="Sam")
    store.record(
        Turn(
            conversation_id="web-sam",
            channel="socketio",
            session_started_at=T0,
            customer_id="C001",
            email="c001@example.com",
        )
    )
    fill(journey, "C002", "web-omar")

    erased = forget_customer(journey, "C001", tracker[1])

    assert erased.customer_ids == ["C001", "anon-socketio-web-sam"]
    assert erased.rows["customer_preferences"] == 1
    with journey.connect() as conn:
        left = conn.execute(select(customer_preferences.c.customer_id)).scalars().all()
    assert left == ["C002"]


def test_department_events_of_a_customer_who_never_chatted_are_forgotten(journey, tracker):
    fill(journey, "C002", "web-omar")
    with journey.begin() as conn:
        conn.execute(
            insert(proactive_events).values(
                event_id="evt-never-chatted", type="shipment.delayed", department="delivery",
                received_at=T0, customer_id="C007", details="{}", state="pending",
                deliver_after=T0, attempts=0, held_for_quiet_hours=False,
            )
        )  # fmt: skip

    doc = export_customer(journey, "C007", tracker[1])
    assert [e["event_id"] for e in doc["proactive_events"]] == ["evt-never-chatted"]
    assert doc["proactive_events"][0]["details"] == {}
    erased = forget_customer(journey, "C007", tracker[1])

    assert erased.rows["proactive_events"] == 1
    with journey.connect() as conn:
        assert conn.execute(select(proactive_events.c.customer_id)).scalars().all() == ["C002"]


def test_identity_checks_naming_a_customer_from_another_chat_go_with_them(journey, tracker):
    """A code sent to C001's email from a stranger's chat is C001's data: exported without
    where it came from, and erased with them; the stranger's own checks stay."""
    fill(journey, "C001", "web-jane")
    with journey.begin() as conn:
        for customer_id in ("C001", None):
            conn.execute(
                insert(identity_checks).values(
                    conversation_id="stranger-chat", channel="rest", address="198.51.100.9",
                    address_key=address_key("198.51.100.9"), kind="code_sent", outcome="ok",
                    customer_id=customer_id, at=T0,
                )
            )  # fmt: skip
        conn.execute(
            insert(one_time_codes).values(
                conversation_id="stranger-chat", customer_id="C001", code_hash="c" * 64,
                created_at=T0, expires_at=T0 + timedelta(minutes=10), tries=0,
            )
        )  # fmt: skip

    doc = export_customer(journey, "C001", tracker[1])

    from_stranger = [c for c in doc["identity_checks"] if c["conversation_id"] is None]
    assert len(from_stranger) == 1 and from_stranger[0]["address"] is None
    assert "198.51.100.9" not in json.dumps(doc) and "stranger-chat" not in json.dumps(doc)
    assert address_key("198.51.100.9") not in json.dumps(doc)  # nor what it is counted by
    assert {c["address"] for c in doc["identity_checks"]} == {"203.0.113.7", None}
    assert all("code_hash" not in c for c in doc["one_time_codes"])
    assert len(doc["one_time_codes"]) == 2

    erased = forget_customer(journey, "C001", tracker[1])

    assert erased.rows["identity_checks"] == 4 and erased.rows["one_time_codes"] == 2
    with journey.connect() as conn:
        left = conn.execute(
            select(identity_checks.c.conversation_id, identity_checks.c.customer_id)
        ).all()
        assert [tuple(r) for r in left] == [("stranger-chat", None)]
        assert conn.execute(select(func.count()).select_from(one_time_codes)).scalar_one() == 0


def test_retention_drops_old_identity_checks_of_chats_that_left_no_touchpoint(journey, tracker):
    now = datetime.now().replace(microsecond=0)
    with journey.begin() as conn:
        for conversation, days in (("old-prober", 40), ("new-prober", 2)):
            at = now - timedelta(days=days)
            conn.execute(
                insert(identity_checks).values(
                    conversation_id=conversation, channel="rest", address="198.51.100.9",
                    kind="lookup", outcome="limited", order_id="ORD-1", at=at,
                )
            )  # fmt: skip
            conn.execute(
                insert(one_time_codes).values(
                    conversation_id=conversation, customer_id="C001", code_hash="d" * 64,
                    created_at=at, expires_at=at + timedelta(minutes=10), tries=0,
                )
            )  # fmt: skip

    done = apply_retention(journey, 30, tracker[1], now=now)

    assert done.rows["identity_checks"] == 1 and done.rows["one_time_codes"] == 1
    with journey.connect() as conn:
        assert conn.execute(select(identity_checks.c.conversation_id)).scalars().all() == [
            "new-prober"
        ]
        assert conn.execute(select(one_time_codes.c.conversation_id)).scalars().all() == [
            "new-prober"
        ]
