"""Flagging a conversation and turning its messages into NLU data, through a real hub."""

from __future__ import annotations

import uuid

import pytest
import yaml
from sqlalchemy import insert, select

from bot.db.schema import review_examples, review_flags, touchpoints
from tests.bot.hub.review.conftest import WEDNESDAY_10AM

XSS = "<img src=x onerror=alert(1)>"


@pytest.fixture
def touchpoint(review_hub) -> int:
    """A new touchpoint whose customer wrote two messages (one of them an XSS attempt)."""
    with review_hub.engine.begin() as conn:
        result = conn.execute(
            insert(touchpoints).values(
                conversation_id=uuid.uuid4().hex, session_started_at=WEDNESDAY_10AM,
                channel="socketio", needs="[]", departments="[]", order_ids="[]",
                outcome="self_served", signals="{}", message_count=2,
                started_at=WEDNESDAY_10AM, last_activity_at=WEDNESDAY_10AM,
                customer_text=f"my parcel never came\n{XSS}",
            )
        )  # fmt: skip
    return result.inserted_primary_key[0]


def test_an_analyst_flags_labels_and_exports_nlu_yaml(review_hub, touchpoint):
    browser, csrf = review_hub.user("analyst", name="Ana")
    r = review_hub.post_form(
        browser,
        csrf,
        f"/review/touchpoints/{touchpoint}/flag",
        tags="misunderstood, Late",
        note=XSS,
    )
    assert r.status_code == 303 and r.headers["Location"].startswith(
        f"/review/conversations/{touchpoint}"
    )
    flag = browser.get(f"{review_hub.url}/api/review/touchpoints/{touchpoint}/flag").json()
    assert flag["flagged"] and flag["flag"]["tags"] == ["misunderstood", "late"]
    assert flag["flag"]["note"] == XSS and flag["flag"]["flagged_by"] == "Ana"

    page = browser.get(f"{review_hub.url}/review/flagged")
    assert page.status_code == 200
    assert "my parcel never came" in page.text
    assert XSS not in page.text and "&lt;img src=x onerror=alert(1)&gt;" in page.text
    assert "<option>order_status</option>" in page.text  # the domain's intents to pick from

    r = review_hub.post_form(
        browser, csrf, "/review/examples", touchpoint_id=str(touchpoint),
        text="my parcel never came", intent="order_late",
    )  # fmt: skip
    assert r.status_code == 303, r.text
    assert "order_late" in browser.get(f"{review_hub.url}/review/flagged").text

    export = browser.get(f"{review_hub.url}/review/examples.yml")
    assert export.status_code == 200
    assert export.headers["Content-Disposition"].startswith("attachment;")
    data = yaml.safe_load(export.text)
    assert {"intent": "order_late", "examples": "- my parcel never came\n"} in data["nlu"]

    # Unflagging keeps the kept example; removing the example takes it out of the export.
    assert (
        review_hub.post_form(browser, csrf, f"/review/touchpoints/{touchpoint}/unflag").status_code
        == 303
    )
    with review_hub.engine.connect() as conn:
        assert (
            conn.execute(
                select(review_flags).where(review_flags.c.touchpoint_id == touchpoint)
            ).first()
            is None
        )
        example_id = conn.execute(
            select(review_examples.c.id).where(review_examples.c.touchpoint_id == touchpoint)
        ).scalar_one()
    r = browser.delete(
        f"{review_hub.url}/api/review/examples/{example_id}",
        headers={"X-CSRF-Token": csrf, "Origin": review_hub.url},
    )
    assert r.status_code == 200
    assert "my parcel never came" not in browser.get(f"{review_hub.url}/review/examples.yml").text


def test_the_json_api_flags_and_checks_what_it_is_given(review_hub, touchpoint):
    browser, csrf = review_hub.user("admin")
    url = f"{review_hub.url}/api/review/touchpoints/{touchpoint}/flag"
    headers = {"X-CSRF-Token": csrf, "Origin": review_hub.url}
    r = browser.put(
        url, json={"tags": ["rude reply"], "note": "check the wording"}, headers=headers
    )
    assert r.status_code == 200 and r.json()["flag"]["tags"] == ["rude reply"]

    for body, status in (
        ("not json", 400),
        ("[]", 400),
        ('{"tags": "x"}', 400),
        ('{"tags": [1]}', 400),
        ('{"note": 5}', 400),
    ):
        r = browser.put(url, data=body, headers={**headers, "Content-Type": "application/json"})
        assert r.status_code == status, (body, r.text)
        assert "error" in r.json()
    missing = browser.put(
        f"{review_hub.url}/api/review/touchpoints/999999/flag", json={}, headers=headers
    )
    assert missing.status_code == 404

    examples = f"{review_hub.url}/api/review/examples"
    bad_intent = browser.post(
        examples,
        json={"touchpoint_id": touchpoint, "text": "hi", "intent": "nope"},
        headers=headers,
    )
    assert bad_intent.status_code == 400 and "not an intent" in bad_intent.json()["error"]
    kept = browser.post(
        examples,
        json={"touchpoint_id": touchpoint, "text": "hi", "intent": "greet"},
        headers=headers,
    )
    assert kept.status_code == 201 and kept.json()["intent"] == "greet"
    assert any(e["text"] == "hi" for e in browser.get(examples).json()["examples"])

    assert browser.delete(url, headers=headers).json() == {"flagged": False, "removed": True}


def test_only_signed_in_analysts_and_admins_with_a_csrf_token_may_flag(review_hub, touchpoint):
    agent, agent_csrf = review_hub.user("agent")
    assert agent.get(f"{review_hub.url}/review/flagged").status_code == 403
    r = review_hub.post_form(agent, agent_csrf, f"/review/touchpoints/{touchpoint}/flag", tags="x")
    assert r.status_code == 403

    analyst, _ = review_hub.user("analyst")
    r = review_hub.post_form(analyst, "forged", f"/review/touchpoints/{touchpoint}/flag", tags="x")
    assert r.status_code == 403

    import requests

    anonymous = requests.get(f"{review_hub.url}/review/flagged", allow_redirects=False, timeout=10)
    assert anonymous.status_code in (302, 303) and "/login" in anonymous.headers["Location"]
    assert requests.get(
        f"{review_hub.url}/review/examples.yml", timeout=10, allow_redirects=False
    ).status_code in (302, 303)
    with review_hub.engine.connect() as conn:
        assert (
            conn.execute(
                select(review_flags).where(review_flags.c.touchpoint_id == touchpoint)
            ).first()
            is None
        )
