"""The policy engine: data validated on load, decisions with alternatives that can be carried out."""

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from bot.config import ConfigError
from bot.policies.engine import PolicyEngine
from bot.support.desk import OPTIONS
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


@given(days=st.integers(min_value=-5, max_value=3650), tier=TIERS)
def test_any_request_outside_a_window_gets_an_alternative_we_can_carry_out(days, tier):
    for policy in ("refund_window", "return_window"):
        decision = ENGINE.decide(policy, {"days_since_delivery": days}, tier)
        assert decision.within == (days <= 30)
        if not decision.within:
            assert 1 <= len(decision.alternatives) <= 3
            assert all(o in OPTIONS and o in OPTION_LABELS for o in decision.alternatives)


@given(days_left=st.integers(min_value=-400, max_value=400), tier=TIERS, dispatched=st.booleans())
def test_every_policy_decides_without_friction_inside_and_with_options_outside(
    days_left, tier, dispatched
):
    contract = ENGINE.decide("early_cancellation_fee", {"days_left_in_contract": days_left}, tier)
    assert contract.within == (days_left <= 0) and (contract.within or contract.alternatives)
    change = ENGINE.decide("change_before_dispatch", {"dispatched": dispatched}, tier)
    assert change.within == (not dispatched) and (
        change.within or change.alternatives == ("carrier_redirect",)
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
