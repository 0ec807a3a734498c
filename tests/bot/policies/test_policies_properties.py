"""Properties of the policy engine over the real bot/config/policies.yml, for any request.

Whatever the order's age, the amounts, the customer's tier or how often they came back, a
request outside a policy is answered with its reason and at least one concrete thing the
desk can carry out and show as a button (PRODUCT principle 2: never a bare no); inside it,
nothing is refused. Decisions depend only on their inputs, and "within" moves one way as
a `max` fact grows.
"""

from __future__ import annotations

import math
from datetime import date

from hypothesis import given, settings
from hypothesis import strategies as st

from bot.policies.engine import PolicyEngine
from bot.routing import RoutingMap
from bot.support.needs import OPTIONS
from bot.support.replies import OPTION_LABELS

ENGINE = PolicyEngine.load(known_options=OPTIONS)
POLICY_NAMES = sorted(ENGINE.policies)
MAX_POLICIES = sorted(name for name, p in ENGINE.policies.items() if p.max is not None)
TIERS = st.one_of(st.none(), st.sampled_from(["standard", "silver", "gold"]), st.text(max_size=12))
# Contacts as a caller may count them: 0 or negative from an off-by-one, huge from bad data.
CONTACTS = st.integers(min_value=-3, max_value=10_000)
# Every kind of value a fact can arrive as: numbers of any size, None (unknown), booleans.
NUMBERS = st.one_of(
    st.integers(min_value=-(10**12), max_value=10**12),
    st.floats(allow_nan=True, allow_infinity=True),
)
FACT_VALUES = st.one_of(st.none(), st.booleans(), NUMBERS)


@settings(max_examples=300)
@given(
    policy=st.sampled_from(POLICY_NAMES),
    value=FACT_VALUES,
    tier=TIERS,
    contacts=CONTACTS,
)
def test_outside_a_policy_there_is_always_something_we_can_do(policy, value, tier, contacts):
    """Never a bare no: the reason, and one to three known options with button labels."""
    decision = ENGINE.decide(policy, {ENGINE.policies[policy].fact: value}, tier, contacts)
    if decision.within:
        assert decision.alternatives == () and decision.reason == ""
        return
    assert decision.reason.strip() and "{" not in decision.reason  # every figure filled in
    assert 1 <= len(decision.alternatives) <= 3
    assert len(set(decision.alternatives)) == len(decision.alternatives)
    for option in decision.alternatives:
        assert option in OPTIONS and OPTION_LABELS.get(option), option


@given(
    policy=st.sampled_from(POLICY_NAMES),
    value=FACT_VALUES,
    tier=TIERS,
    contacts=CONTACTS,
)
def test_decisions_depend_only_on_their_inputs(policy, value, tier, contacts):
    """The same request decides the same way, on this engine or one freshly loaded."""
    facts = {ENGINE.policies[policy].fact: value}
    first = ENGINE.decide(policy, facts, tier, contacts)
    assert ENGINE.decide(policy, dict(facts), tier, contacts) == first
    assert PolicyEngine.load(known_options=OPTIONS).decide(policy, facts, tier, contacts) == first


@given(
    policy=st.sampled_from(MAX_POLICIES),
    a=NUMBERS,
    b=NUMBERS,
    tier=TIERS,
    contacts=CONTACTS,
)
def test_a_max_policy_is_a_threshold(policy, a, b, tier, contacts):
    """Within at some value means within at every smaller one; NaN is never within."""
    fact = ENGINE.policies[policy].fact
    low, high = sorted((a, b), key=lambda v: (math.isnan(v), v))
    if ENGINE.decide(policy, {fact: high}, tier, contacts).within and not math.isnan(low):
        assert ENGINE.decide(policy, {fact: low}, tier, contacts).within
    if isinstance(a, float) and math.isnan(a):
        assert not ENGINE.decide(policy, {fact: a}, tier, contacts).within


@given(
    delivered=st.dates(min_value=date(2000, 1, 1), max_value=date(2100, 1, 1)),
    today=st.dates(min_value=date(2000, 1, 1), max_value=date(2100, 1, 1)),
    tier=TIERS,
    contacts=CONTACTS,
)
def test_refunds_and_returns_for_any_order_date(delivered, today, tier, contacts):
    """Any delivery date (past, today, even a clock-skewed future): the window's rule holds."""
    days = (today - delivered).days  # as the billing desk counts them
    for policy in ("refund_window", "return_window"):
        decision = ENGINE.decide(policy, {"days_since_delivery": days}, tier, contacts)
        assert decision.within == (days <= ENGINE.policies[policy].max)
        assert decision.within or decision.alternatives


@given(tier=TIERS, contacts=CONTACTS, more=st.integers(min_value=0, max_value=20))
def test_coming_back_never_takes_an_option_away(tier, contacts, more):
    """A returning customer is offered at least what they were offered before (before the cut to 3)."""
    for name, policy in ENGINE.policies.items():
        before = ENGINE.alternatives(name, tier, contacts)
        after = ENGINE.alternatives(name, tier, contacts + more)
        if len({a.option for a in policy.alternatives}) <= 3:
            assert set(before) <= set(after), name


def test_every_governed_need_is_a_need_the_assistant_routes():
    """A policy governing a need the intent map doesn't know would never be applied."""
    routed = set(RoutingMap.load())
    for policy in ENGINE.policies.values():
        assert set(policy.needs) <= routed, policy.name
        for need in policy.needs:
            assert ENGINE.policy_for(need) is policy


def test_the_engine_answers_a_first_contact_counted_as_zero():
    """Regression (found by the properties above): contacts=0 offered nothing at all."""
    decision = ENGINE.decide("refund_window", {"days_since_delivery": 45}, "standard", 0)
    assert decision.alternatives == ENGINE.alternatives("refund_window", "standard", 1)
    assert decision.alternatives
