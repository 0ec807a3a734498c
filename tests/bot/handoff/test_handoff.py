import json

import pytest
from sqlalchemy import select

from bot.handoff import HandoffRequest
from bot.handoff.handoffs import handoffs as handoffs_table


def _request(**overrides):
    values = dict(
        department="billing",
        need="charged_twice",
        conversation_id="conv-1",
        summary="Duplicate charge",
        channel="rest",
        customer_id="C002",
        priority="high",
        context={"invoice_id": "INV-50004"},
    )
    values.update(overrides)
    return HandoffRequest(**values)


def test_a_handoff_is_stored_with_its_context_and_promise(handoffs, engine):
    handoff = handoffs.hand_off(_request())
    assert handoff.department.name == "billing" and handoff.promise == "within 24 hours"
    with engine.connect() as conn:
        row = conn.execute(select(handoffs_table)).one()
    assert row.department == "billing" and row.priority == "high" and row.status == "open"
    assert json.loads(row.context) == {"invoice_id": "INV-50004"}


def test_asking_twice_in_one_conversation_gives_the_same_handoff(handoffs):
    first = handoffs.hand_off(_request())
    second = handoffs.hand_off(_request(summary="again"))
    other = handoffs.hand_off(_request(conversation_id="conv-2"))
    assert first.id == second.id != other.id
    assert len(handoffs.open_handoffs()) == 2


def test_unknown_department_and_priority_are_refused(handoffs):
    with pytest.raises(ValueError, match="no department named 'legal'"):
        handoffs.hand_off(_request(department="legal"))
    with pytest.raises(ValueError, match="priority"):
        handoffs.hand_off(_request(priority="whenever"))
