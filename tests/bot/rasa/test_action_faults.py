"""bot/rasa/action_faults.py: Rasa's calls to a failing action server, against real local servers.

Every server here is a real socket: a port nobody listens on (killed), a socket that
accepts connections and never answers (hung), and an HTTP server answering 200/400/500.
The guarded endpoint is driven both directly and through Rasa's own ``RemoteAction.run``.
"""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
from collections.abc import Iterator
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from rasa.core.actions.action import ActionExecutionRejection, RemoteAction
from rasa.core.channels.channel import CollectingOutputChannel
from rasa.core.nlg import TemplatedNaturalLanguageGenerator
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import (
    ActionExecuted,
    ActiveLoop,
    BotUttered,
    SessionStarted,
    SlotSet,
    UserUttered,
)
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.shared.exceptions import RasaException
from rasa.utils.endpoints import EndpointConfig
from sqlalchemy import select

from bot.db.migrate import migrate
from bot.db.schema import touchpoints
from bot.journey.signals import UserMessage
from bot.journey.store import JourneyStore, Turn
from bot.rasa import action_faults
from bot.rasa.action_faults import (
    APOLOGY,
    HEALTH_TIMEOUT_SECONDS,
    METADATA_KEY,
    ActionFailure,
    ActionFaultSettings,
    FailureLog,
    GuardedActionEndpoint,
    failure_of,
    fallback_response,
)

FAST = ActionFaultSettings(timeout_seconds=1.0)
NOW = datetime(2026, 11, 24, 4, 0, 0)


# -- real servers ---------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def hung_url() -> Iterator[str]:
    """A server that takes the connection (the kernel's backlog) and never answers."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen(16)
        yield f"http://127.0.0.1:{s.getsockname()[1]}/webhook"


class _Answer(BaseHTTPRequestHandler):
    status = 200
    body: dict = {}
    calls: list = []

    def do_POST(self) -> None:  # noqa: N802 - http.server's name
        length = int(self.headers.get("content-length") or 0)
        type(self).calls.append(json.loads(self.rfile.read(length) or b"{}"))
        payload = json.dumps(type(self).body).encode()
        self.send_response(type(self).status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def action_server():
    """An HTTP server on a free port; set ``.status`` and ``.body`` to choose its answer."""

    class Handler(_Answer):
        calls: list = []

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    Handler.url = f"http://127.0.0.1:{server.server_address[1]}/webhook"
    try:
        yield Handler
    finally:
        server.shutdown()
        server.server_close()


def call_of(action: str = "action_check_order_status", text: str = "where is ORD-10002?"):
    """The JSON Rasa sends to the action server (RemoteAction._action_call_format)."""
    started = NOW.timestamp() - 60
    return {
        "next_action": action,
        "sender_id": "c-1",
        "tracker": {
            "sender_id": "c-1",
            "latest_input_channel": "socketio",
            "latest_message": {"text": text},
            "events": [
                {"event": "action", "name": "action_session_start", "timestamp": started - 1},
                {"event": "session_started", "timestamp": started},
                {"event": "action", "name": "action_listen", "timestamp": started},
                {
                    "event": "user",
                    "text": text,
                    "timestamp": started + 30,
                    "parse_data": {"intent": {"name": "order_status"}},
                },
            ],
        },
    }


def guarded(url: str, settings=FAST, record=None) -> GuardedActionEndpoint:
    return GuardedActionEndpoint(EndpointConfig(url=url), settings, record)


def send(endpoint: EndpointConfig, call: dict):
    """One call as RemoteAction makes it (its 300 s timeout included)."""
    return endpoint.request(json=call, method="post", timeout=300, compress=False)


def run(coro):
    return asyncio.run(coro)


# -- settings -------------------------------------------------------------------------------


def test_timeout_comes_from_the_environment_with_a_short_default():
    assert ActionFaultSettings.from_env({}).timeout_seconds == 5.0
    assert ActionFaultSettings.from_env({"CX_ACTION_TIMEOUT_SECONDS": "2.5"}).timeout_seconds == 2.5


@pytest.mark.parametrize("raw", ["soon", "0", "-1", "nan", "inf"])
def test_a_bad_timeout_is_an_error_that_names_the_variable(raw):
    with pytest.raises(ValueError, match="CX_ACTION_TIMEOUT_SECONDS"):
        ActionFaultSettings.from_env({"CX_ACTION_TIMEOUT_SECONDS": raw})


# -- the guarded endpoint against real sockets ----------------------------------------------


def test_a_killed_action_server_gets_the_apology_at_once():
    failures: list[ActionFailure] = []
    endpoint = guarded(f"http://127.0.0.1:{free_port()}/webhook", record=failures.append)
    started = time.monotonic()
    answer = run(send(endpoint, call_of()))
    assert time.monotonic() - started < 1.0
    [reply] = answer["responses"]
    assert reply["text"] == APOLOGY
    assert reply["buttons"] == [
        {"title": "Try again", "payload": "where is ORD-10002?"},
        {"title": "Talk to a person", "payload": "/request_human"},
    ]
    assert reply[METADATA_KEY] == "action_check_order_status"
    assert answer["events"] == []
    [failure] = failures
    assert (failure.conversation_id, failure.channel, failure.reason) == (
        "c-1",
        "socketio",
        "unreachable",
    )


def test_a_hung_action_server_is_given_up_after_the_timeout_not_300_seconds(hung_url):
    failures: list[ActionFailure] = []
    endpoint = guarded(hung_url, ActionFaultSettings(timeout_seconds=1.5), failures.append)
    started = time.monotonic()
    answer = run(send(endpoint, call_of()))
    elapsed = time.monotonic() - started
    # The timeout, then a health check the hung server can't answer either.
    assert 1.4 + HEALTH_TIMEOUT_SECONDS < elapsed < 3.0 + HEALTH_TIMEOUT_SECONDS
    assert answer["responses"][0]["text"] == APOLOGY
    assert [f.reason for f in failures] == ["timeout"]


class _SlowButAlive(_Answer):
    """A busy action server: each call takes a while, /health answers at once."""

    delay = 2.5

    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        type(self).health_checks += 1
        self.send_response(200 if self.path == "/health" else 404)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def do_POST(self) -> None:  # noqa: N802
        time.sleep(type(self).delay)
        super().do_POST()


def test_a_busy_action_server_is_waited_for_not_apologised_for():
    class Handler(_SlowButAlive):
        calls: list = []
        health_checks = 0
        body = {"events": [], "responses": [{"text": "Your order ORD-10002 is on its way."}]}

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    failures: list[ActionFailure] = []
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/webhook"
        endpoint = guarded(url, ActionFaultSettings(timeout_seconds=1.0), failures.append)
        started = time.monotonic()
        answer = run(send(endpoint, call_of()))
        elapsed = time.monotonic() - started
    finally:
        server.shutdown()
        server.server_close()
    assert answer == Handler.body and failures == []
    assert Handler.health_checks >= 2 and 2.4 < elapsed < 4.0  # it asked, then kept waiting


def test_a_5xx_gets_the_apology(action_server):
    action_server.status, action_server.body = 500, {"error": "boom"}
    failures: list[ActionFailure] = []
    answer = run(send(guarded(action_server.url, record=failures.append), call_of()))
    assert answer["responses"][0]["text"] == APOLOGY
    assert [f.reason for f in failures] == ["http_500"]


def test_an_action_that_rejects_itself_is_still_rasas_to_handle(action_server):
    action_server.status = 400
    action_server.body = {"action_name": "validate_order_form", "error": "no"}
    failures: list[ActionFailure] = []
    endpoint = guarded(action_server.url, record=failures.append)
    action = RemoteAction("validate_order_form", endpoint)
    with pytest.raises(ActionExecutionRejection):
        run(action.run(CollectingOutputChannel(), nlg(), tracker(), Domain.empty()))
    assert failures == []


def test_a_working_action_server_is_untouched(action_server):
    action_server.body = {"events": [{"event": "slot", "name": "x", "value": 1}], "responses": []}
    answer = run(send(guarded(action_server.url), call_of()))
    assert answer == action_server.body
    assert action_server.calls[0]["next_action"] == "action_check_order_status"


def test_within_one_message_only_the_first_call_waits_and_the_customer_is_told_once(hung_url):
    failures: list[ActionFailure] = []
    endpoint = guarded(hung_url, ActionFaultSettings(timeout_seconds=1.0), failures.append)

    async def one_message():
        first = await send(endpoint, call_of())
        started = time.monotonic()
        second = await send(endpoint, call_of("action_log_turn"))
        return first, second, time.monotonic() - started

    first, second, waited = run(one_message())
    assert first["responses"][0]["text"] == APOLOGY
    assert second == {"events": [], "responses": []} and waited < 0.3
    assert [(f.action, f.reason) for f in failures] == [
        ("action_check_order_status", "timeout"),
        ("action_log_turn", "timeout"),
    ]

    async def next_message():  # the Rasa server starts each request with start_turn()
        action_faults.start_turn()
        started = time.monotonic()
        answer = await send(endpoint, call_of())
        return answer, time.monotonic() - started

    answer, waited = run(next_message())
    assert answer["responses"][0]["text"] == APOLOGY and waited >= 0.9  # it tried again
    assert waited >= 0.9 + HEALTH_TIMEOUT_SECONDS  # and asked /health before giving up


def test_a_failed_session_start_still_starts_the_session_and_the_next_action_apologises():
    endpoint = guarded(f"http://127.0.0.1:{free_port()}/webhook")

    async def first_message():
        start = await send(endpoint, call_of("action_session_start"))
        then = await send(endpoint, call_of())
        return start, then

    start, then = run(first_message())
    assert [e["event"] for e in start["events"]] == ["session_started", "action"]
    assert start["events"][1]["name"] == "action_listen" and start["responses"] == []
    assert then["responses"][0]["text"] == APOLOGY


def test_a_failed_form_validation_ends_the_form_instead_of_asking_on():
    for apologise in (True, False):
        answer = fallback_response(call_of("validate_need_form"), apologise=apologise, at=NOW)
        assert [(e["event"], e.get("name"), e.get("value")) for e in answer["events"]] == [
            ("active_loop", None, None),
            ("slot", "requested_slot", None),
        ]
        assert bool(answer["responses"]) is apologise


# -- through Rasa's own RemoteAction ---------------------------------------------------------


def nlg():
    return TemplatedNaturalLanguageGenerator({})


def tracker() -> DialogueStateTracker:
    return DialogueStateTracker.from_events(
        "c-1",
        [
            ActionExecuted("action_session_start"),
            SessionStarted(),
            ActionExecuted("action_listen"),
            UserUttered("where is ORD-10002?", {"name": "order_status", "confidence": 1.0}),
        ],
    )


def test_rasas_remote_action_utters_the_apology_instead_of_failing():
    url = f"http://127.0.0.1:{free_port()}/webhook"
    # Without the guard, Rasa raises and the processor drops the action: the customer hears nothing.
    with pytest.raises(RasaException):
        run(
            RemoteAction("action_check_order_status", EndpointConfig(url=url)).run(
                CollectingOutputChannel(), nlg(), tracker(), Domain.empty()
            )
        )
    action = RemoteAction("action_check_order_status", guarded(url))
    [event] = run(action.run(CollectingOutputChannel(), nlg(), tracker(), Domain.empty()))
    assert isinstance(event, BotUttered) and event.text == APOLOGY
    assert [b["title"] for b in event.data["buttons"]] == ["Try again", "Talk to a person"]
    assert event.metadata[METADATA_KEY] == "action_check_order_status"


FORM_DOMAIN = """
version: "3.1"
slots:
  order_id:
    type: text
    mappings: [{type: from_text, conditions: [{active_loop: need_form, requested_slot: order_id}]}]
  email:
    type: text
    mappings: [{type: from_text, conditions: [{active_loop: need_form, requested_slot: email}]}]
forms:
  need_form:
    required_slots: [order_id, email]
actions: [validate_need_form]
responses:
  utter_ask_order_id: [{text: "Which order?"}]
  utter_ask_email: [{text: "What's your email?"}]
"""


def test_rasas_form_ends_with_the_apology_when_its_validation_fails():
    from rasa.core.actions.forms import FormAction

    domain = Domain.from_yaml(FORM_DOMAIN)
    form_tracker = DialogueStateTracker.from_events(
        "c-1",
        [
            ActionExecuted("action_listen"),
            ActiveLoop("need_form"),
            SlotSet("requested_slot", "order_id"),
            UserUttered("ORD-10002", {"name": "inform", "confidence": 1.0}),
            SlotSet("order_id", "ORD-10002"),
        ],
        slots=domain.slots,
    )
    form = FormAction("need_form", guarded(f"http://127.0.0.1:{free_port()}/webhook"))
    events = run(
        form.run(
            CollectingOutputChannel(),
            TemplatedNaturalLanguageGenerator(domain.responses),
            form_tracker,
            domain,
        )
    )
    said = [e.text for e in events if isinstance(e, BotUttered)]
    assert said == [APOLOGY]  # not "What's your email?" on top of it
    assert ActiveLoop(None) in events


def test_guard_replaces_the_endpoint_of_the_agent_and_its_processor_once():
    class Processor:
        action_endpoint = EndpointConfig(url="http://127.0.0.1:5055/webhook", token="t")

    class Agent:
        action_endpoint = Processor.action_endpoint
        processor = Processor()

    agent = Agent()
    action_faults.guard(agent, FAST)
    endpoint = agent.action_endpoint
    assert isinstance(endpoint, GuardedActionEndpoint)
    assert agent.processor.action_endpoint is endpoint
    assert (endpoint.url, endpoint.token) == ("http://127.0.0.1:5055/webhook", "t")
    agent.processor = Processor()  # a model loaded through the API: a new processor
    Processor.action_endpoint = endpoint
    action_faults.guard(agent, FAST)
    assert agent.action_endpoint is endpoint and agent.processor.action_endpoint is endpoint


# -- what the customer reads ----------------------------------------------------------------


def test_the_apology_is_no_bare_refusal_and_offers_what_we_can_do():
    from bot.policies.guard import RefusalGuard

    reply = fallback_response(call_of(), apologise=True, at=NOW)["responses"][0]
    verdict = RefusalGuard().check(reply["text"], has_buttons=bool(reply["buttons"]))
    assert not verdict.bare_refusal
    assert "/request_human" in [b["payload"] for b in reply["buttons"]]


def test_no_try_again_button_for_a_button_payload_or_a_huge_message():
    for text in ("/request_human", "x" * 600):
        buttons = fallback_response(call_of(text=text), apologise=True, at=NOW)["responses"][0][
            "buttons"
        ]
        assert [b["title"] for b in buttons] == ["Talk to a person"]


def test_failure_of_names_the_session_the_actions_log_it_on():
    failure = failure_of(call_of(), "timeout", NOW)
    assert failure.session_started_at == datetime.fromtimestamp(NOW.timestamp() - 60)
    assert [(m.text, m.intent) for m in failure.messages] == [
        ("where is ORD-10002?", "order_status")
    ]
    session_start = failure_of(call_of("action_session_start"), "timeout", NOW)
    assert session_start.session_started_at == NOW and session_start.messages == ()


# -- the journey store (SQLite, and PostgreSQL when TEST_POSTGRES_URL is set) ------------------


def test_failures_are_kept_on_the_conversations_touchpoint(engine):
    migrate(engine)
    store = JourneyStore(engine, now=lambda: NOW)
    started = datetime(2026, 11, 24, 3, 59, 0)
    existing = store.record(Turn("c-1", "rest", started, (UserMessage("hi", "greet", started),)))
    log = FailureLog(engine)
    failure = ActionFailure("c-1", "rest", started, (), "action_serve_need", "unreachable", NOW)
    assert log.record(failure) == existing.id
    assert log.record(failure_with(failure, reason="timeout")) == existing.id
    # A later turn, logged by the actions once the server is back, keeps the marks.
    store.record(Turn("c-1", "rest", started, (UserMessage("hi", "greet", started),)))
    with engine.connect() as conn:
        marks = conn.execute(
            select(touchpoints.c.action_failures).where(touchpoints.c.id == existing.id)
        ).scalar_one()
    assert json.loads(marks) == [
        {"action": "action_serve_need", "reason": "unreachable", "at": "2026-11-24T04:00:00"},
        {"action": "action_serve_need", "reason": "timeout", "at": "2026-11-24T04:00:00"},
    ]


def test_a_failure_before_anything_was_logged_creates_the_touchpoint(engine):
    migrate(engine)
    failure = failure_of(call_of(), "unreachable", NOW)
    touchpoint_id = FailureLog(engine).record(failure)
    [tp] = JourneyStore(engine).touchpoints_of("c-1")
    assert tp.id == touchpoint_id and tp.channel == "socketio" and tp.message_count == 1
    with engine.connect() as conn:
        row = conn.execute(select(touchpoints).where(touchpoints.c.id == tp.id)).one()
    assert row.session_started_at == failure.session_started_at
    assert [m["reason"] for m in json.loads(row.action_failures)] == ["unreachable"]


def test_only_the_newest_failures_are_kept(engine):
    migrate(engine)
    log = FailureLog(engine)
    failure = failure_of(call_of(), "timeout", NOW)
    for _ in range(action_faults.MAX_FAILURES_KEPT + 5):
        touchpoint_id = log.record(failure)
    with engine.connect() as conn:
        marks = conn.execute(
            select(touchpoints.c.action_failures).where(touchpoints.c.id == touchpoint_id)
        ).scalar_one()
    assert len(json.loads(marks)) == action_faults.MAX_FAILURES_KEPT


def failure_with(failure: ActionFailure, **changes) -> ActionFailure:
    return ActionFailure(**{**failure.__dict__, **changes})


# -- installed by the REST channel on a real Sanic server --------------------------------------


def test_the_rest_channel_guards_the_servers_agent_and_each_message_starts_afresh(monkeypatch):
    import requests

    from bot.rasa.channels.rest import CheckedRestInput
    from tests.fakes import channel_server

    unreachable = EndpointConfig(url=f"http://127.0.0.1:{free_port()}/webhook")
    agents = []

    class Agent(channel_server._Agent):
        """Rasa's agent as the guard sees it: an action endpoint, on it and its processor."""

        def __init__(self, handle_message):
            super().__init__(handle_message)
            self.action_endpoint = unreachable
            self.processor = type("Processor", (), {"action_endpoint": unreachable})()
            agents.append(self)

    class TwoActionTurns(channel_server.ChannelServer):
        """Each message runs two custom actions through the processor's endpoint."""

        async def _on_new_message(self, message) -> None:
            endpoint = agents[-1].processor.action_endpoint
            for action in ("action_note_need", "action_serve_need"):
                answer = await send(endpoint, call_of(action, message.text))
                for reply in answer["responses"]:
                    await message.output_channel.send_text_message(message.sender_id, reply["text"])

    monkeypatch.setattr(channel_server, "_Agent", Agent)
    monkeypatch.setenv("CX_ACTION_TIMEOUT_SECONDS", "1")
    with TwoActionTurns(CheckedRestInput()) as server, requests.Session() as http:
        for message in ("where is ORD-10002?", "and now?"):  # one kept-alive connection
            answer = http.post(
                f"{server.url}/webhooks/rest/webhook",
                json={"sender": "c-1", "message": message},
                timeout=10,
            )
            assert [r["text"] for r in answer.json()] == [APOLOGY]  # once per message
    [agent] = agents
    assert isinstance(agent.action_endpoint, GuardedActionEndpoint)
    assert agent.processor.action_endpoint is agent.action_endpoint
    assert agent.action_endpoint.settings.timeout_seconds == 1.0
