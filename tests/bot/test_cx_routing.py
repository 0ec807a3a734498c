"""CX-aware routing: the rules in routing.yml, each with its reason, and bad rule files."""

import pytest
import yaml

from bot.config import ConfigError
from bot.cx_routing import CxRules, Facts
from bot.support import NeedContext

RULES = CxRules.load()


def test_the_intent_map_decides_when_no_rule_applies():
    decision = RULES.decide(Facts("charged_twice", "billing", "usage", "standard"))
    assert (decision.department, decision.priority, decision.rule) == (
        "billing",
        "normal",
        "intent_map",
    )
    assert decision.reason == "charged_twice belongs to billing"


def test_a_cancellation_near_renewal_goes_to_sales_first():
    decision = RULES.decide(Facts("cancel_subscription", "billing", "renewal", "standard"))
    assert decision.department == "sales" and decision.rules == ("retention_before_cancellation",)
    assert "retention" in decision.reason or "keeping them" in decision.reason
    # Not near renewal: billing, as the map says.
    assert RULES.decide(Facts("cancel_subscription", "billing", "usage")).department == "billing"
    # The customer already chose what to do from the assistant's retention offers (pause,
    # a cheaper plan, cancel anyway): billing carries it out, as the customer was told.
    for option in ("pause_plan", "downgrade_plan", "cancel_plan_anyway"):
        chosen = RULES.decide(Facts("cancel_subscription", "billing", "renewal", option=option))
        assert chosen.department == "billing" and chosen.rules == ()


def test_valued_customers_get_priority_but_keep_their_department():
    decision = RULES.decide(Facts("charged_twice", "billing", "usage", "gold"))
    assert (decision.department, decision.priority) == ("billing", "high")
    # A higher priority the desk already chose is never lowered.
    assert RULES.decide(Facts("order_late", "delivery", tier="gold"), "urgent").priority == "urgent"


def test_frustration_and_repeat_contacts_go_straight_to_a_person():
    frustrated = RULES.decide(Facts("order_status", "delivery", frustration=3))
    assert (frustrated.department, frustrated.priority, frustrated.escalate) == (
        "support",
        "urgent",
        True,
    )
    calm = RULES.decide(Facts("order_status", "delivery", frustration=2))
    assert calm.department == "delivery" and not calm.escalate
    third = RULES.decide(Facts("order_late", "delivery", contacts_about_order=2))
    assert (third.department, third.priority, third.rules) == (
        "support",
        "high",
        ("repeat_contact",),
    )
    both = RULES.decide(Facts("order_late", "delivery", tier="gold", frustration=5))
    assert both.rules == ("frustrated_customer",)  # gold adds nothing above urgent
    assert "frustrated" in both.reason


@pytest.mark.parametrize(
    "rule, message",
    [
        ({"when": {"tier": ["gold"]}, "then": {}, "reason": "x"}, "missing key 'name'"),
        ({"name": "r", "when": {"mood": ["bad"]}, "then": {}, "reason": "x"}, "unknown condition"),
        ({"name": "r", "when": {"tier": "gold"}, "then": {}, "reason": "x"}, "expected a list"),
        (
            {"name": "r", "when": {"frustration_at_least": 0}, "then": {}, "reason": "x"},
            "whole number",
        ),
        (
            {"name": "r", "when": {}, "then": {"department": "legal"}, "reason": "x"},
            "then.department",
        ),
        ({"name": "r", "when": {}, "then": {"priority": "asap"}, "reason": "x"}, "then.priority"),
    ],
)
def test_bad_rules_name_the_file_and_key(tmp_path, rule, message):
    path = tmp_path / "routing.yml"
    path.write_text(yaml.safe_dump({"intents": {}, "rules": [rule]}))
    with pytest.raises(ConfigError) as err:
        CxRules.load(path)
    assert str(path) in str(err.value) and message in str(err.value)


def test_the_desk_records_each_routing_decision_with_its_reason(desk, engine_of_desk):
    ctx = NeedContext(
        need="cancel_subscription",
        conversation_id="conv-route",
        customer=desk.customer("C001"),  # Jane: gold, her plan renews in 5 days
    )
    handoff = desk.hand_off(ctx, "Customer confirmed cancellation.", department="billing")
    assert (handoff.department.name, handoff.priority) == ("sales", "high")
    with engine_of_desk.connect() as conn:
        rows = conn.exec_driver_sql(
            "select department, priority, rule, reason from routing_decisions"
        ).all()
    assert rows == [
        (
            "sales",
            "high",
            "retention_before_cancellation,valued_customer",
            "cancelling close to renewal: sales talks about keeping them before billing closes"
            " the account; gold customer: high priority",
        )
    ]


@pytest.fixture
def engine_of_desk(desk):
    return desk.handoffs.engine
