"""Replies written once the conversation is verified are marked as carrying account details
(bot/identity/disclosure.py)."""

from __future__ import annotations

from bot.identity.disclosure import ACCOUNT_DETAILS, mark_account_details, verified_after


def call(**slots) -> dict:
    return {"next_action": "action_serve_need", "tracker": {"sender_id": "s", "slots": slots}}


def slot(name: str, value) -> dict:
    return {"event": "slot", "name": name, "value": value}


VERIFYING = [slot("customer_id", "C001"), slot("verified_by", "order_email")]


def test_the_action_that_verifies_marks_its_replies():
    result = {
        "events": VERIFYING,
        "responses": [{"text": "Thanks, Jane"}, {"text": "To 12 Oak St"}],
    }
    marked = mark_account_details(call(), result)
    assert [r.get(ACCOUNT_DETAILS) for r in marked["responses"]] == [True, True]


def test_replies_in_a_conversation_verified_before_are_marked():
    result = {"events": [], "responses": [{"text": "Invoice INV-2001"}]}
    marked = mark_account_details(call(customer_id="C001", verified_by="slack"), result)
    assert marked["responses"][0][ACCOUNT_DETAILS] is True


def test_replies_to_an_unverified_visitor_are_not_marked():
    # A typed customer id is a claim, not an identity; an order looked up is not either.
    for before, events in [
        ({}, []),
        ({"customer_id": "C001"}, []),
        ({}, [slot("order_id", "ORD-10001")]),
    ]:
        result = {"events": events, "responses": [{"text": "It left on Monday"}]}
        assert ACCOUNT_DETAILS not in mark_account_details(call(**before), result)["responses"][0]


def test_an_identity_reset_by_the_action_is_not_verified():
    before = call(customer_id="C001", verified_by="code")
    assert not verified_after(before, {"events": [{"event": "session_started"}]})
    assert not verified_after(before, {"events": [slot("customer_id", None)]})
    assert verified_after(before, {"events": [{"event": "session_started"}, *VERIFYING]})


def test_what_is_not_an_action_answer_passes_as_it_came():
    for odd in (None, "text", {"events": VERIFYING}, {"responses": "x"}, []):
        assert mark_account_details(call(), odd) == odd
    broken = {"events": [None, "x", slot("verified_by", "code")], "responses": ["x"]}
    assert mark_account_details(call(customer_id="C1"), broken)["responses"] == ["x"]
