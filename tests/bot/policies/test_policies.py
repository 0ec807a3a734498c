"""The policy engine: data validated on load, decisions with alternatives that can be carried out."""

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from bot.config import ConfigError
from bot.policies.engine import PolicyEngine
from bot.support.needs import OPTIONS
from bot.support.replies import OPTION_LABELS

ENGINE = PolicyEngine.load(known_options=OPTIONS)
TIERS = st.sampled_from([None, "standard", "silver", "gold"])


def test_within_policy_is_just_done():
    decision = ENGINE.decide("refund_window", {"days_since_delivery": 12})
    assert decision.within and decision.alternatives == ()


def test_outside_policy_names_the_reason_and_alternatives():
    decision = ENGINE.decide("refund_window", {"days_since_delivery": 45}, "standard")
    assert not decision.within
    assert decision.reason == "refunds within 30 days of delivery"
    assert decision.alternatives == ("store_credit", "refund_exception")


def test_alternatives_depend_on_the_customer():
    facts = {"days_left_in_contract": 120}
    assert (
        "fee_waiver_review"
        not in ENGINE.decide("early_cancellation_fee", facts, "standard").alternatives
    )
    assert (
        "fee_waiver_review" in ENGINE.decide("early_cancellation_fee", facts, "gold").alternatives
    )


# Every fact a policy can be decided on, and the values a request can bring.
FACT_VALUES = {
    "days_since_delivery": st.integers(min_value=-5, max_value=3650),
    "days_left_in_contract": st.integers(min_value=-400, max_value=400),
    "dispatched": st.booleans(),
    "express_paid": st.booleans(),
    "to_original_method": st.booleans(),
    "price_difference": st.one_of(
        st.none(), st.floats(min_value=-500, max_value=500, allow_nan=False)
    ),
}


def test_every_policy_is_covered_by_the_property_tests():
    assert {p.fact for p in ENGINE.policies.values()} <= set(FACT_VALUES)
    assert {"refund_window", "return_window", "no_cancel_after_shipment"} <= set(ENGINE.policies)
    assert {"address_change_before_dispatch", "no_price_match", "express_for_a_fee"} <= set(
        ENGINE.policies
    )
    assert {"refund_to_original_method", "early_cancellation_fee"} <= set(ENGINE.policies)


@given(data=st.data(), tier=TIERS, contacts=st.integers(min_value=1, max_value=6))
def test_inside_a_policy_is_just_done_and_outside_always_has_something_we_can_do(
    data, tier, contacts
):
    for name, policy in ENGINE.policies.items():
        value = data.draw(FACT_VALUES[policy.fact], label=name)
        decision = ENGINE.decide(name, {policy.fact: value}, tier, contacts)
        expected_within = (
            value is not None and value <= policy.max
            if policy.max is not None
            else value == policy.equals
        )
        assert decision.within == expected_within
        if decision.within:
            assert decision.alternatives == () and decision.reason == ""
            continue
        assert 1 <= len(decision.alternatives) <= 3
        assert len(set(decision.alternatives)) == len(decision.alternatives)
        assert all(o in OPTIONS and o in OPTION_LABELS for o in decision.alternatives)
        assert decision.reason and "{" not in decision.reason


@given(tier=TIERS, contacts=st.integers(min_value=1, max_value=6))
def test_more_is_offered_to_valued_and_returning_customers_never_less(tier, contacts):
    for name in ENGINE.policies:
        first_time = set(ENGINE.alternatives(name, None, 1))
        assert (
            first_time <= set(ENGINE.alternatives(name, tier, contacts))
            or len(ENGINE.policies[name].alternatives) > 3
        )


def test_alternatives_grow_with_repeat_contacts():
    assert "partial_refund" not in ENGINE.alternatives("refund_window", "standard", 1)
    assert "partial_refund" in ENGINE.alternatives("refund_window", "standard", 2)
    assert ENGINE.alternatives("no_price_match", "standard", 1) == ("sales_callback",)
    assert ENGINE.alternatives("no_price_match", "standard", 2) == (
        "loyalty_discount",
        "sales_callback",
    )
    # Listed twice (for gold, and from a second contact): offered once.
    assert ENGINE.alternatives("no_price_match", "gold", 3) == (
        "loyalty_discount",
        "sales_callback",
    )


def test_a_missing_fact_is_a_clear_error():
    with pytest.raises(KeyError, match="needs the fact 'days_since_delivery'"):
        ENGINE.decide("refund_window", {})


@pytest.mark.parametrize(
    "policy, message",
    [
        (
            {
                "says": "x",
                "needs": [],
                "fact": "f",
                "max": 1,
                "equals": 2,
                "alternatives": [{"option": "store_credit"}],
            },
            "exactly one of 'max' or 'equals'",
        ),
        (
            {
                "says": "x",
                "needs": [],
                "fact": "f",
                "max": 1,
                "alternatives": [{"option": "teleport"}],
            },
            "'teleport' is not something",
        ),
        (
            {
                "says": "x",
                "needs": [],
                "fact": "f",
                "max": 1,
                "alternatives": [{"option": "store_credit", "only_tiers": ["gold"]}],
            },
            "offered to every customer",
        ),
        (
            {
                "says": "x",
                "needs": [],
                "fact": "f",
                "max": 1,
                "alternatives": [{"option": "store_credit", "min_contacts": 0}],
            },
            "min_contacts: expected a whole number",
        ),
        (
            {
                "says": "x",
                "needs": [],
                "fact": "f",
                "max": 1,
                "alternatives": [{"option": "store_credit", "min_contacts": 2}],
            },
            "offered to every customer on their first contact",
        ),
        (
            {"needs": [], "fact": "f", "max": 1, "alternatives": [{"option": "store_credit"}]},
            "missing key 'says'",
        ),
    ],
)
def test_bad_policy_files_name_the_file_and_key(tmp_path, policy, message):
    path = tmp_path / "policies.yml"
    path.write_text(yaml.safe_dump({"policies": {"p": policy}}))
    with pytest.raises(ConfigError) as err:
        PolicyEngine.load(path, known_options=OPTIONS)
    assert str(path) in str(err.value) and message in str(err.value)
