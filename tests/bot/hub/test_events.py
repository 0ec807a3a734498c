"""Department events into the hub: signed, checked, kept once, and their state readable.

The real hub process (``python -m bot.hub``, tests/bot/hub/test_hub.py's fixture) on SQLite and
PostgreSQL. The customer of these events never chatted, so the delivery worker finds no
live channel and the news waits for their next contact (delivery itself is tested in
tests/bot/proactive/test_proactive.py and, with the real Rasa, tests/e2e/test_proactive.py).
"""

from __future__ import annotations

import json
import time
import uuid

import pytest
from sqlalchemy import select

from bot.db.schema import proactive_events
from tests.bot.hub.test_hub import hub  # noqa: F401 - the module-scoped hub process fixture


def post_event(hub, body, department="delivery", **kw):  # noqa: F811
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    return hub.signed(
        "POST",
        f"/api/departments/{department}/events",
        raw,
        department,
        headers={"Content-Type": "application/json"},
        **kw,
    )


def delayed(event_id=None, **extra):
    return {"id": event_id or f"dlv-{uuid.uuid4().hex[:8]}", "type": "shipment.delayed",
            "order_id": "ORD-10001", "new_date": "2026-11-27", **extra}  # fmt: skip


def rows(hub, event_id):  # noqa: F811
    with hub.engine.connect() as conn:
        return conn.execute(
            select(proactive_events).where(proactive_events.c.event_id == event_id)
        ).all()


def test_an_event_is_taken_in_once_and_its_repeat_is_recognised(hub):  # noqa: F811
    body = delayed()
    first = post_event(hub, body)
    assert first.status_code == 202, first.text
    assert first.json() == {"id": body["id"], "state": "pending", "duplicate": False}
    again = post_event(hub, body)
    assert again.status_code == 200 and again.json()["duplicate"] is True
    [row] = rows(hub, body["id"])
    assert (row.customer_id, row.order_id, row.department) == ("C001", "ORD-10001", "delivery")


def test_the_department_can_follow_its_event(hub):  # noqa: F811
    body = delayed()
    post_event(hub, body)
    deadline = time.monotonic() + 15
    while True:  # the worker looks for a live channel: Jane never chatted, so none
        state = hub.signed(
            "GET", f"/api/departments/delivery/events/{body['id']}", department="delivery"
        )
        assert state.status_code == 200, state.text
        if state.json()["state"] == "waiting" or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert state.json()["state"] == "waiting"
    assert state.json()["last_error"] == "no live channel: told at the next contact"
    # Another department can't read it, nor an unsigned caller.
    other = hub.signed("GET", f"/api/departments/billing/events/{body['id']}", department="billing")
    assert other.status_code == 404
    assert hub.signed("GET", f"/api/departments/delivery/events/{body['id']}", department="delivery",
                      secret="forged").status_code == 401  # fmt: skip


def test_a_forged_event_is_refused_and_nothing_is_kept(hub):  # noqa: F811
    body = delayed()
    answer = post_event(hub, body, secret="not-the-delivery-secret")
    assert answer.status_code == 401 and "bad signature" in answer.json()["error"]
    # Signed by billing, but posted as delivery: the URL's department must have signed it.
    assert post_event(hub, body, secret="test-secret-billing").status_code == 401
    assert rows(hub, body["id"]) == []


@pytest.mark.parametrize(
    "body, status, words",
    [
        (b"{not json", 400, "not valid JSON"),
        ({"id": "x", "type": "parcel.lost"}, 400, "type must be one of"),
        ({**delayed(), "new_date": "next week"}, 400, "new_date must be a date"),
        ({**delayed(), "order_id": "ORD-99999"}, 422, "no order 'ORD-99999' in the back office"),
        ({"id": "i", "type": "invoice.failed", "invoice_id": "INV-1"}, 400, "billing department"),
    ],
)
def test_a_bad_event_gets_a_clear_error(hub, body, status, words):  # noqa: F811
    answer = post_event(hub, body)
    assert answer.status_code == status, answer.text
    assert words in answer.json()["error"]


def test_each_event_type_names_what_it_is_about(hub):  # noqa: F811
    cases = [
        ("billing", {"type": "invoice.failed", "invoice_id": "INV-50005"}, "C003"),
        ("billing", {"type": "subscription.renewal_due", "customer_id": "C005"}, "C005"),
        ("billing", {"type": "refund.issued", "order_id": "ORD-10007", "amount": 89}, "C005"),
        ("delivery", {"type": "shipment.delivered", "order_id": "ORD-10003"}, "C001"),
    ]
    for department, body, customer in cases:
        body["id"] = f"e-{uuid.uuid4().hex[:8]}"
        answer = post_event(hub, body, department)
        assert answer.status_code == 202, answer.text
        assert rows(hub, body["id"])[0].customer_id == customer
