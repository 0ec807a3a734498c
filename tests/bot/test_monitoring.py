"""bot/monitoring.py: each metric family moves when its event happens, on real servers and
databases (a REST channel on Sanic, an action server over HTTP, department webhooks, the
journey store on SQLite and PostgreSQL), and each process serves them on loopback."""

from __future__ import annotations

import asyncio
import logging
import socket
from datetime import timedelta

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families
from rasa.utils.endpoints import EndpointConfig
from sqlalchemy import insert, text, update

from bot import monitoring
from bot.db.migrate import migrate
from bot.db.schema import handoffs, takeovers
from bot.db.schema import outbox as outbox_table
from bot.departments import load_departments
from bot.hub.accounts import Accounts
from bot.processes import metrics_urls, processes, scale_out_processes
from bot.rasa.action_faults import ActionFaultSettings, GuardedActionEndpoint
from bot.settings import ROOT, Settings
from tests.bot.handoff.test_dispatcher import (
    START,
    FakeClock,
    Receiver,
    Reply,
    dispatcher_for,
    hand_off,
)
from tests.bot.rasa.test_action_faults import action_server, call_of, free_port  # noqa: F401
from tests.e2e.conftest import free_ports
from tests.fakes.channel_server import ChannelServer

FAST = ActionFaultSettings(timeout_seconds=1.0)


def value(metric, sample: str, **labels: str) -> float:
    """The sum of ``metric``'s samples named ``sample`` whose labels include ``labels``."""
    return sum(
        s.value
        for family in metric.collect()
        for s in family.samples
        if s.name == sample and set(labels.items()) <= set(s.labels.items())
    )


@pytest.fixture
def db(journey_engine):
    return journey_engine


# -- the Rasa server: turns, their actions, failures -----------------------------------------


def test_a_turn_is_typed_by_the_custom_action_that_answered_not_by_bookkeeping():
    assert monitoring.turn_type(["action_session_start", "action_greet"]) == "action_greet"
    assert monitoring.turn_type(["action_note_need", "action_serve_need", "action_log_turn"]) == (
        "action_serve_need"
    )
    assert monitoring.turn_type(["action_session_start"]) == "none"
    assert monitoring.turn_type([]) == "none"


def test_a_rest_turn_is_counted_timed_with_its_remote_actions_and_served_on_loopback(
    action_server,  # noqa: F811 - the fixture imported above
    monkeypatch,
):
    """The REST channel on a real Sanic server; each message runs two actions over HTTP
    through the guarded endpoint, as Rasa's processor does."""
    from bot.rasa.channels.rest import CheckedRestInput

    action_server.body = {"events": [], "responses": [{"text": "Hi there"}]}
    endpoint = GuardedActionEndpoint(EndpointConfig(url=action_server.url), FAST)

    class TwoActionTurns(ChannelServer):
        async def _on_new_message(self, message) -> None:
            for action in ("action_session_start", "action_greet"):
                answer = await endpoint.request(json=call_of(action), method="post")
                for reply in answer["responses"]:
                    await message.output_channel.send_text_message(message.sender_id, reply["text"])

    monkeypatch.setenv("CX_METRICS_PORT", str(free_ports(4)))
    labels = {"turn_type": "action_greet", "channel": "rest"}
    turns = value(monitoring.TURNS, "cx_turns_total", **labels)
    timed = value(monitoring.TURN_SECONDS, "cx_turn_seconds_count", **labels)
    actions = value(
        monitoring.TURN_REMOTE_ACTIONS, "cx_turn_remote_actions_sum", turn_type="action_greet"
    )
    greets = value(monitoring.REMOTE_ACTIONS, "cx_remote_actions_total", action="action_greet")
    with TwoActionTurns(CheckedRestInput()) as server:
        answer = requests.post(
            f"{server.url}/webhooks/rest/webhook",
            json={"sender": "m-1", "message": "hi"},
            timeout=10,
        )
        assert [r["text"] for r in answer.json()] == ["Hi there", "Hi there"]
        port = monitoring._serving["rasa"]  # the listener the channel started with the server
        scraped = requests.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
    assert value(monitoring.TURNS, "cx_turns_total", **labels) == turns + 1
    assert value(monitoring.TURN_SECONDS, "cx_turn_seconds_count", **labels) == timed + 1
    assert (
        value(
            monitoring.TURN_REMOTE_ACTIONS, "cx_turn_remote_actions_sum", turn_type="action_greet"
        )
        == actions + 2
    )
    assert value(monitoring.REMOTE_ACTIONS, "cx_remote_actions_total", action="action_greet") == (
        greets + 1
    )
    served = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(scraped)
        for s in family.samples
    }
    assert served[("cx_turns_total", (("channel", "rest"), ("turn_type", "action_greet")))] >= 1
    assert not any(name.endswith("_created") for name, _ in served)
    assert not any(name.startswith("cx_journey_write") for name, _ in served)  # not Rasa's


def test_a_website_chat_message_is_a_turn_of_the_socketio_channel():
    """The widget's channel over real socket.io; this message runs no custom action."""
    from bot.rasa.channels.web import WebChatInput
    from tests.bot.rasa.channels.test_web_live import Widget

    labels = {"turn_type": "none", "channel": "socketio"}
    before = value(monitoring.TURNS, "cx_turns_total", **labels)
    channel = WebChatInput(Settings.from_env({"CX_WIDGET_SECRET": "w" * 32}))
    with ChannelServer(channel) as server:
        widget = Widget(server.url)
        try:
            assert widget.sio.call("user_uttered", {"message": "hello"}, timeout=10)["id"]
        finally:
            widget.close()
    assert value(monitoring.TURNS, "cx_turns_total", **labels) == before + 1


def test_an_action_server_that_is_down_counts_a_failure_by_action_and_reason():
    endpoint = GuardedActionEndpoint(
        EndpointConfig(url=f"http://127.0.0.1:{free_port()}/webhook"), FAST
    )
    labels = {"action": "action_check_order_status", "reason": "unreachable"}
    before = value(monitoring.ACTION_FAILURES, "cx_action_failures_total", **labels)
    answer = asyncio.run(endpoint.request(json=call_of(), method="post"))
    assert answer["responses"]  # the apology, answered for the action server
    assert value(monitoring.ACTION_FAILURES, "cx_action_failures_total", **labels) == before + 1


# -- the action server: journey-store writes ---------------------------------------------------


def test_journey_transactions_that_write_are_timed_to_their_commit_reads_and_rollbacks_not(
    engine,
):
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT)"))
    monitoring.time_journey_writes(engine)
    monitoring.time_journey_writes(engine)  # idempotent: each write still counted once

    def writes() -> float:
        return value(monitoring.JOURNEY_WRITE_SECONDS, "cx_journey_write_seconds_count")

    before = writes()
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO notes (id, body) VALUES (1, 'a')"))
        conn.execute(text("UPDATE notes SET body = 'b' WHERE id = 1"))
    assert writes() == before + 1
    with engine.begin() as conn:
        conn.execute(text("SELECT body FROM notes")).all()
    with engine.connect() as conn:
        conn.execute(text("INSERT INTO notes (id, body) VALUES (2, 'c')"))
        conn.rollback()
    assert writes() == before + 1
    with engine.connect() as conn:  # a connection kept over two transactions (the dispatcher)
        for n in (3, 4):
            conn.execute(text(f"INSERT INTO notes (id, body) VALUES ({n}, 'd')"))
            conn.commit()
    assert writes() == before + 3


# -- the dispatcher: deliveries and the outbox ----------------------------------------------------


@pytest.fixture
def receiver():
    department = Receiver(FakeClock())
    department.start()
    yield department
    department.stop()


def test_deliveries_are_counted_by_department_and_outcome(db, receiver):
    clock = FakeClock()

    def delivered(outcome: str) -> float:
        return value(
            monitoring.DELIVERIES, "cx_deliveries_total", department="billing", outcome=outcome
        )

    before = {o: delivered(o) for o in ("sent", "retry", "dead")}
    receiver.replies = [Reply(503), Reply(200), Reply(400)]
    with dispatcher_for(db, receiver, clock) as dispatcher:
        hand_off(db, clock, "c-retried-then-sent")
        dispatcher.run_once()  # 503: to be sent again
        clock.advance(dispatcher.max_delay + 1)
        dispatcher.run_once()  # 200
        hand_off(db, clock, "c-refused")
        dispatcher.run_once()  # 400: a refusal, dead at once
    assert {o: delivered(o) - before[o] for o in before} == {"sent": 1, "retry": 1, "dead": 1}


def gauges(collector) -> dict[tuple[str, tuple], float]:
    return {
        (s.name, tuple(s.labels.values())): s.value
        for family in collector.collect()
        for s in family.samples
    }


def test_the_outbox_is_read_at_each_scrape_with_each_departments_service_level(db):
    clock = FakeClock()
    departments = load_departments()
    sla = {name: d.sla_hours * 3600.0 for name, d in departments.items()}
    now = [START]
    collector = monitoring.OutboxCollector(db, sla, now=lambda: now[0])
    assert gauges(collector)[("cx_outbox_pending", ("billing",))] == 0
    assert gauges(collector)[("cx_outbox_oldest_age_seconds", ("billing",))] == 0

    hand_off(db, clock, "c-1")
    clock.advance(600)
    hand_off(db, clock, "c-2")
    dead = hand_off(db, clock, "c-3", department="sales")
    with db.begin() as conn:
        conn.execute(
            update(outbox_table)
            .where(outbox_table.c.idempotency_key == dead)
            .values(state="dead", dead_at=clock())
        )
    now[0] = START + timedelta(hours=2)
    read = gauges(collector)  # fresh from the database, no restart
    assert read[("cx_outbox_pending", ("billing",))] == 2
    assert read[("cx_outbox_oldest_age_seconds", ("billing",))] == 7200
    assert read[("cx_outbox_dead_letters", ("sales",))] == 1
    assert read[("cx_outbox_pending", ("sales",))] == 0
    assert (
        read[("cx_department_sla_seconds", ("support",))] == departments["support"].sla_hours * 3600
    )


def test_a_journey_store_that_fails_costs_its_gauges_not_the_scrape(tmp_path, caplog):
    from bot.db.engine import make_engine

    broken = make_engine(f"sqlite:///{tmp_path / 'never-migrated.db'}")  # no outbox table
    with caplog.at_level(logging.WARNING, logger="bot.monitoring"):
        assert list(monitoring.OutboxCollector(broken, {}).collect()) == []
    assert "could not read the outbox" in caplog.text


# -- the hub: takeovers and the queue ----------------------------------------------------------


def test_takeovers_and_the_queue_are_read_at_each_scrape(db):
    def support_handoff(conversation_id: str, minutes_ago: int, status: str = "open") -> int:
        with db.begin() as conn:
            return conn.execute(
                insert(handoffs).values(
                    created_at=START - timedelta(minutes=minutes_ago),
                    department="support",
                    need="request_human",
                    conversation_id=conversation_id,
                    channel="rest",
                    priority="normal",
                    summary="wants a person",
                    context="{}",
                    status=status,
                )
            ).inserted_primary_key[0]

    collector = monitoring.TakeoverCollector(db, now=lambda: START)
    assert gauges(collector) == {
        ("cx_takeovers_open", ()): 0,
        ("cx_queue_waiting", ()): 0,
        ("cx_queue_oldest_wait_seconds", ()): 0,
    }
    support_handoff("c-waiting", 5)
    support_handoff("c-waiting", 1)  # the same conversation: one place in the queue
    taken = support_handoff("c-taken", 30)
    support_handoff("c-resolved", 60, status="resolved")
    agent = Accounts(db).add("ana", "a long password 1", "agent", "Ana")
    with db.begin() as conn:
        conn.execute(
            insert(takeovers).values(
                conversation_id="c-taken",
                channel="rest",
                handoff_id=taken,
                agent_id=agent.id,
                status="active",
                started_at=START,
                lease_expires_at=START + timedelta(minutes=1),
            )
        )
    assert gauges(collector) == {
        ("cx_takeovers_open", ()): 1,
        ("cx_queue_waiting", ()): 1,
        ("cx_queue_oldest_wait_seconds", ()): 300,
    }


# -- the listeners ---------------------------------------------------------------------------


def test_each_process_has_its_own_port_from_one_setting_and_zero_turns_them_off():
    settings = Settings.from_env({"CX_METRICS_PORT": "9500"})
    ports = {
        role: settings.metrics_port_of(role) for role in ("rasa", "actions", "hub", "dispatcher")
    }
    assert ports == {"rasa": 9500, "actions": 9501, "hub": 9502, "dispatcher": 9503}
    assert Settings.from_env({}).metrics_port_of("hub") == 9402  # on by default, on loopback
    assert Settings.from_env({}).metrics_host == "127.0.0.1"
    own = Settings.from_env({"CX_METRICS_PORT": "9500", "CX_METRICS_OWN_PORT": "9517"})
    assert own.metrics_port_of("actions") == 9517
    for off in ("0", ""):
        assert Settings.from_env({"CX_METRICS_PORT": off}).metrics_port_of("rasa") is None
    with pytest.raises(ValueError, match="CX_METRICS_PORT"):
        Settings.from_env({"CX_METRICS_PORT": "lots"})


def test_the_runner_hands_each_process_its_metrics_port(tmp_path):
    settings = Settings.from_env(
        {"CX_VAR_DIR": str(tmp_path), "CX_METRICS_PORT": "9600", "CX_METRICS_HOST": "127.0.0.1"}
    )
    procs = {p.name: p for p in processes(settings, model="models")}
    assert all(p.env["CX_METRICS_PORT"] == "9600" for p in procs.values())
    assert metrics_urls(settings) == {
        "Rasa server": "http://127.0.0.1:9600/metrics",
        "action server": "http://127.0.0.1:9601/metrics",
        "hub": "http://127.0.0.1:9602/metrics",
        "handoff dispatcher": "http://127.0.0.1:9603/metrics",
    }
    scaled = scale_out_processes(
        settings, rasa_ports=[5101], action_ports=[5201, 5202], dispatchers=2, model="models"
    )
    urls = metrics_urls(settings, scaled)
    assert set(urls) == {
        "action server 1",
        "action server 2",
        "Rasa server 1",
        "hub",
        "handoff dispatcher 1",
        "handoff dispatcher 2",
    }
    assert len(set(urls.values())) == len(urls)  # one port each
    assert all(p.env.get("CX_METRICS_OWN_PORT") for p in scaled if p.name in urls)


def test_a_taken_port_is_logged_and_the_process_carries_on(caplog, tmp_path):
    from bot.db.engine import make_engine

    db = make_engine(f"sqlite:///{tmp_path / 'journey.db'}")
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        settings = Settings.from_env({"CX_METRICS_PORT": "1", "CX_METRICS_OWN_PORT": str(port)})
        with caplog.at_level(logging.ERROR, logger="bot.monitoring"):
            assert monitoring.serve("hub", [monitoring.TakeoverCollector(db)], settings) is None
        assert "cannot listen" in caplog.text
    assert "hub" not in monitoring._serving
    assert monitoring.serve("hub", settings=Settings.from_env({"CX_METRICS_PORT": "0"})) is None


# -- deploy/: the dashboard and the alert rules ----------------------------------------------


def served_names(tmp_path) -> set[str]:
    """Every sample name the processes serve (bot/monitoring.py), collectors included."""
    from bot.db.engine import make_engine

    journey = make_engine(f"sqlite:///{tmp_path / 'journey.db'}")
    migrate(journey)
    collectors = [
        *(m for owned in monitoring.OWNED.values() for m in owned),
        monitoring.OutboxCollector(journey, {"billing": 3600.0}),
        monitoring.TakeoverCollector(journey),
    ]
    names = set()
    for collector in collectors:
        for family in collector.collect():
            names.add(family.name)
            if family.type == "counter":
                names.add(f"{family.name}_total")
            if family.type == "histogram":
                names.update(f"{family.name}_{s}" for s in ("bucket", "sum", "count"))
    return names


def test_the_dashboard_and_the_alert_rules_use_only_metrics_the_processes_serve(tmp_path):
    import json
    import re

    import yaml

    dashboard = json.loads((ROOT / "deploy/grafana/cx-dashboard.json").read_text())
    charted = " ".join(
        t["expr"] for p in dashboard["panels"] if p["type"] != "row" for t in p["targets"]
    )
    rules = yaml.safe_load((ROOT / "deploy/prometheus/alerts.yml").read_text())
    alerted = " ".join(r["expr"] for g in rules["groups"] for r in g["rules"])
    served = served_names(tmp_path)
    used = set(re.findall(r"\bcx_[a-z_]+", charted + " " + alerted))
    assert used and used <= served, used - served
    # Every family is on the dashboard, and the three things that need a person are alerts.
    families = {
        n.removesuffix("_total") for n in served if not n.endswith(("_bucket", "_sum", "_count"))
    }
    assert {
        re.sub(r"_(bucket|sum|count|total)$", "", n) for n in re.findall(r"\bcx_[a-z_]+", charted)
    } >= (
        families - {"cx_remote_actions"}  # the failure ratio's denominator (alerts.yml)
    )
    for needed in (
        "cx_outbox_dead_letters",
        "cx_outbox_oldest_age_seconds",
        "cx_action_failures_total",
    ):
        assert needed in alerted
