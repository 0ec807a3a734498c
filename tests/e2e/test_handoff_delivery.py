"""A handoff end to end: a chat, its touchpoint, and the handoff arriving signed at the
department's inbox (the hub's built-in one, over the real webhook path and dispatcher)."""

from __future__ import annotations

import json
import sqlite3
import time

import pytest
import requests

from bot.handoff.signing import signature_headers
from bot.local_setup import read_secrets

pytestmark = pytest.mark.e2e


def texts(replies: list[dict]) -> str:
    return "\n".join(r.get("text", "") for r in replies)


def billing_inbox(assistant) -> list[dict]:
    """The billing inbox as billing's own system reads it: a signed GET to the hub."""
    secret = read_secrets(assistant.settings.var_dir / "secrets.env")["CX_WEBHOOK_SECRET_BILLING"]
    r = requests.get(
        f"{assistant.settings.hub_url}/api/departments/billing/handoffs",
        headers=signature_headers(secret, b"", time.time()),
        timeout=10,
    )
    r.raise_for_status()
    return r.json()["handoffs"]


def test_a_double_charge_chat_reaches_billing_signed_with_its_transcript(assistant):
    who = "e2e-delivery-double"
    assistant.say(who, "hi, I think you charged me twice for my chair")
    # Omar verifies with the one-time code emailed to him (chats about his order in other
    # tests would make the order number a repeat contact, which brings a person in).
    reply = texts(assistant.verify_by_code(who, "omar@example.com"))
    reference = int(reply.rsplit("Your reference is H-", 1)[1].strip(" ."))

    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        arrived = [h for h in billing_inbox(assistant) if h.get("handoff_id") == reference]
        if arrived:
            break
        time.sleep(0.5)
    else:
        pytest.fail("the billing handoff did not reach the billing inbox within 30 s")
    [handoff] = arrived
    transcript = handoff["context"]["transcript"]
    assert "customer: hi, I think you charged me twice for my chair" in transcript
    assert handoff["context"]["customer"]["email"] == "omar@example.com"

    journey = sqlite3.connect(assistant.settings.var_dir / "journey.db")
    state, attempts = journey.execute(
        "select state, attempts from outbox where handoff_id = ?", (reference,)
    ).fetchone()
    assert state == "sent" and attempts >= 1
    needs, departments, outcome, customer = journey.execute(
        "select needs, departments, outcome, customer_id from touchpoints where conversation_id = ?",
        (who,),
    ).fetchone()
    assert json.loads(needs) == ["charged_twice"] and json.loads(departments) == ["billing"]
    assert (outcome, customer) == ("handed_off", "C002")
    # The inbox received it once, under the outbox row's idempotency key.
    [(deliveries,)] = journey.execute(
        "select deliveries from inbox where handoff_id = ?", (reference,)
    ).fetchall()
    assert deliveries == 1
