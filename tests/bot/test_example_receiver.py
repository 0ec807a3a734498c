"""The example department receiver (examples/department_receiver.py) against the real
dispatcher over a real socket: a handoff and the update of a later contact arrive, signed,
each taken once however often it is delivered; a forged request is refused."""

from __future__ import annotations

import importlib.util
import json
import threading
import time
from dataclasses import replace
from datetime import datetime

import pytest
import requests
from sqlalchemy import update

from bot.db.migrate import migrate
from bot.db.schema import outbox
from bot.departments import load_departments
from bot.handoff import HandoffDesk, HandoffRequest
from bot.handoff.dispatcher import Dispatcher
from bot.settings import ROOT

SECRET = "example-receiver-secret"


def load_example():
    path = ROOT / "examples" / "department_receiver.py"
    spec = importlib.util.spec_from_file_location("department_receiver", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def receiver():
    example = load_example()
    tickets = example.Tickets()
    server = example.make_server("127.0.0.1", 0, SECRET, tickets)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/handoffs", tickets, example
    server.shutdown()
    server.server_close()


def request(conversation: str, said: str) -> HandoffRequest:
    return HandoffRequest(
        department="delivery",
        need="order_late",
        conversation_id=conversation,
        summary="ORD-10002 is late: chase the carrier.",
        customer_id="C001",
        priority="high",
        context={"customer_said": said},
        order_id="ORD-10002",
    )


def test_a_handoff_and_its_update_arrive_once_each(engine, receiver):
    url, tickets, _ = receiver
    migrate(engine)
    delivery = replace(load_departments()["delivery"], webhook_url=url)
    departments = {"delivery": delivery}
    desk = HandoffDesk(engine, departments, now=datetime.now)
    first = desk.hand_off(request("web-1", "where is my desk?"))
    joined = desk.hand_off(request("slack-1", "still nothing, it's been a week"))
    assert joined.id == first.id and joined.joined
    with Dispatcher(engine, departments, secrets={delivery.secret_env: SECRET}) as dispatcher:
        assert dispatcher.run_once().sent == 2
        [ticket] = tickets.by_handoff.values()
        assert ticket["handoff"]["type"] == "handoff.created"
        [upd] = ticket["updates"]
        assert (upd["type"], upd["customer_said"], upd["contacts"]) == (
            "handoff.update",
            "still nothing, it's been a week",
            2,
        )
        # The answer to the update was lost: sent again with the same key, taken once.
        with engine.begin() as conn:
            conn.execute(update(outbox).values(state="pending", sent_at=None))
        assert dispatcher.run_once().sent == 2
    assert len(tickets.by_handoff[first.id]["updates"]) == 1 and len(tickets.keys) == 2


def test_the_example_refuses_a_forged_or_stale_signature(receiver):
    url, tickets, example = receiver
    body = json.dumps({"type": "handoff.created", "handoff_id": 1}).encode()
    stale = str(int(time.time()) - 3600)
    for timestamp, sig in (
        (str(int(time.time())), "sha256=" + "0" * 64),
        (stale, example.signature(SECRET, stale, body)),
    ):
        answer = requests.post(
            url,
            data=body,
            headers={"X-CX-Timestamp": timestamp, "X-CX-Signature": sig, "Idempotency-Key": "k"},
            timeout=5,
        )
        assert answer.status_code == 401
    assert tickets.keys == set()
