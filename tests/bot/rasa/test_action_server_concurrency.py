"""bot/rasa/action_threads.py: one slow back office does not stall the action server's other calls.

The real action server (``python -m bot.rasa.action_server``, as bot/runner.py starts it) runs
against the back-office HTTP contract served by a real local server whose one order answers
after SLOW_SECONDS. While the action server waits on that order for one conversation, another
conversation's order status must be answered at once: with the actions run on the event loop
(rasa_sdk's own executor) the second call waited for the first.
"""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from bot.backoffice.http import serve_backoffice
from bot.backoffice.sql import SqlBackOffice, seed
from bot.db.engine import make_engine
from bot.rasa.action_server import SECRET_HEADER
from bot.settings import ROOT
from tests.bot.rasa.test_action_faults import free_port

SLOW_ORDER, SLOW_CUSTOMER = "ORD-10001", "C001"
FAST_ORDER, FAST_CUSTOMER = "ORD-10004", "C002"
SLOW_SECONDS = 1.5
# What Rasa sends of domain.yml that the need form's validation reads.
DOMAIN = {
    "forms": {
        "need_form": {
            "required_slots": ["order_id", "customer_id", "email", "new_address", "new_date"]
        }
    }
}


class SlowOrderBackOffice:
    """The demo back office, with SLOW_ORDER's record taking SLOW_SECONDS to read."""

    def __init__(self, backoffice: SqlBackOffice):
        self._backoffice = backoffice
        self.slow_started = threading.Event()

    def order(self, order_id: str):
        if order_id == SLOW_ORDER:
            self.slow_started.set()
            time.sleep(SLOW_SECONDS)
        return self._backoffice.order(order_id)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._backoffice, name)


class ActionServer:
    """``python -m bot.rasa.action_server`` on a free port, and a way to call it."""

    def __init__(self, port: int, secret: str):
        self.url = f"http://127.0.0.1:{port}"
        self.secret = secret

    def order_status(self, sender: str, order_id: str, customer_id: str) -> dict:
        """Rasa's call to serve a verified customer's "where is my order?"."""
        slots = {"need": "order_status", "order_id": order_id}
        slots.update(customer_id=customer_id, verified_by="website")
        return self.call("action_serve_need", sender, order_id, slots)

    def order_given(self, sender: str, order_id: str) -> dict:
        """Rasa's call to check the order number a visitor just gave the need form (an
        ``async def run``: rasa_sdk's form validation)."""
        slots = {"need": "order_status", "order_id": order_id, "requested_slot": "order_id"}
        fresh = [{"event": "slot", "name": "order_id", "value": order_id}]
        return self.call("validate_need_form", sender, order_id, slots, fresh, "need_form")

    def call(
        self,
        action: str,
        sender: str,
        text: str,
        slots: dict,
        fresh: list | None = None,
        form: str | None = None,
    ) -> dict:
        """POST /webhook as Rasa does, after the customer said ``text``."""
        latest = {
            "intent": {"name": "inform", "confidence": 0.9},
            "text": text,
            "entities": [],
            "intent_ranking": [{"name": "inform", "confidence": 0.9}],
            "metadata": {},
        }
        user = {"event": "user", "text": text, "parse_data": latest, "input_channel": "rest"}
        call = {
            "next_action": action,
            "sender_id": sender,
            "tracker": {
                "sender_id": sender,
                "slots": slots,
                "latest_message": latest,
                "events": [user, *(fresh or [])],
                "latest_input_channel": "rest",
                "active_loop": {"name": form} if form else {},
                "latest_action_name": "action_listen",
            },
            "domain": DOMAIN,
            "version": "3.6.21",
        }
        r = requests.post(
            f"{self.url}/webhook", json=call, headers={SECRET_HEADER: self.secret}, timeout=30
        )
        r.raise_for_status()
        return r.json()


@pytest.fixture(scope="module")
def slow_backoffice(tmp_path_factory) -> Iterator[tuple[SlowOrderBackOffice, str]]:
    engine = make_engine(f"sqlite:///{tmp_path_factory.mktemp('backoffice') / 'bo.db'}")
    seed(engine)
    slow = SlowOrderBackOffice(SqlBackOffice(engine))
    server = serve_backoffice(slow)  # a ThreadingHTTPServer: each request its own thread
    try:
        yield slow, f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        engine.dispose()


@pytest.fixture(scope="module")
def action_server(tmp_path_factory, slow_backoffice) -> Iterator[ActionServer]:
    _, backoffice_url = slow_backoffice
    var = tmp_path_factory.mktemp("actions")
    port, secret = free_port(), secrets.token_urlsafe(16)
    env = {
        **os.environ,
        "CX_VAR_DIR": str(var),
        "CX_JOURNEY_URL": f"sqlite:///{var / 'journey.db'}",
        "CX_BACKOFFICE_API_URL": backoffice_url,
        "CX_ACTION_SECRET": secret,
        "CX_METRICS_PORT": "0",
        "CX_IDENTITY_ADDRESS_LIMITS": "off",
        "CX_ACTION_THREADS": "4",
    }
    argv = [
        sys.executable,
        "-m",
        "bot.rasa.action_server",
        "--actions",
        "actions",
        "--port",
        str(port),
    ]
    log = open(var / "actions.log", "wb")  # noqa: SIM115 - the child writes it until it exits
    popen = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    server = ActionServer(port, secret)
    try:
        deadline = time.monotonic() + 90
        while True:
            assert popen.poll() is None, (var / "actions.log").read_text()
            try:
                if requests.get(f"{server.url}/health", timeout=1).ok:
                    break
            except requests.RequestException:
                pass
            assert time.monotonic() < deadline, "the action server did not start"
            time.sleep(0.1)
        yield server
    finally:
        popen.terminate()
        try:
            popen.wait(10)
        except subprocess.TimeoutExpired:
            popen.kill()
            popen.wait()
        log.close()


@pytest.mark.parametrize("slow_call", ["action_serve_need", "validate_need_form"])
def test_a_slow_back_office_order_does_not_hold_up_another_conversation(
    action_server, slow_backoffice, slow_call
):
    """The slow call is a synchronous action (serving a need) or rasa_sdk's asynchronous
    form validation checking an order number; the other conversation's order status is
    answered while it waits."""
    slow_backoffice_, _ = slow_backoffice
    slow_backoffice_.slow_started.clear()
    # The fast customer asks once first, so what the desk reads once (their stage, cached a
    # minute) is not part of the fast call timed below.
    action_server.order_status("warm-up", FAST_ORDER, FAST_CUSTOMER)

    finished: dict[str, float] = {}
    answers: dict[str, dict] = {}

    def slow() -> None:
        if slow_call == "action_serve_need":
            answers["slow"] = action_server.order_status("conv-slow", SLOW_ORDER, SLOW_CUSTOMER)
        else:
            answers["slow"] = action_server.order_given("conv-slow-form", SLOW_ORDER)
        finished["slow"] = time.monotonic()

    started = time.monotonic()
    slow_thread = threading.Thread(target=slow)
    slow_thread.start()
    assert slow_backoffice_.slow_started.wait(10), "the slow order was never asked for"
    fast_started = time.monotonic()
    answers["fast"] = action_server.order_status("conv-fast", FAST_ORDER, FAST_CUSTOMER)
    finished["fast"] = time.monotonic()
    slow_thread.join(30)

    fast_took = finished["fast"] - fast_started
    assert finished["fast"] < finished["slow"], "the fast call waited for the slow one"
    assert fast_took < SLOW_SECONDS / 2, f"the fast call took {fast_took:.2f}s"
    assert finished["slow"] - started >= SLOW_SECONDS
    # Both got their real answers: the slow one was not dropped or answered for.
    assert FAST_ORDER in str(answers["fast"]["responses"]), answers["fast"]
    if slow_call == "action_serve_need":
        assert SLOW_ORDER in str(answers["slow"]["responses"]), answers["slow"]
    else:  # the order exists: the form keeps it and needs nothing more
        assert {"event": "slot", "name": "order_id", "value": SLOW_ORDER} in [
            {k: e.get(k) for k in ("event", "name", "value")} for e in answers["slow"]["events"]
        ], answers["slow"]
