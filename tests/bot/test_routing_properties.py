"""Properties of routing over the real bot/config/routing.yml, for any message.

Whatever Rasa ranks (known or unknown intents, any confidences) and whatever the customer
wrote, routing never raises, names a known department or none, and answers the same way
twice; the department threshold works one way; and frustration, repeats and repeat
contacts can only raise a need's priority and bring a person in sooner (principle 5).
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from bot.backoffice.model import Order
from bot.cx_routing import PRIORITIES, CxRules, Facts
from bot.journey.signals import UserMessage, read_signals
from bot.routing import DEPARTMENTS, STAGES, RoutingMap, stage_from_orders

MAP = RoutingMap.load()
RULES = CxRules.load()
KNOWN_INTENTS = sorted(MAP)
INTENTS = st.one_of(
    st.sampled_from(KNOWN_INTENTS + ["nlu_fallback", "greet", "out_of_scope"]),
    st.text(max_size=30),
)
CONFIDENCES = st.floats(min_value=0, max_value=1, allow_nan=False)
RANKINGS = st.lists(st.tuples(INTENTS, CONFIDENCES), max_size=12)
THRESHOLDS = st.floats(min_value=0, max_value=1, allow_nan=False)
# What customers write, with the phrases the frustration signals look for mixed in.
TEXTS = st.one_of(
    st.text(max_size=80),
    st.sampled_from(
        [
            "I already told you my order number",
            "this is ridiculous",
            "for the third time, where is ORD-10002?",
            "where is my order",
            "I was charged twice",
            "useless bot, worst service",
            "",
        ]
    ),
)
MESSAGES = st.lists(st.tuples(TEXTS, st.one_of(st.none(), INTENTS)), max_size=8)
PRIORITY = st.sampled_from(PRIORITIES)
TIERS = st.one_of(st.none(), st.sampled_from(["standard", "silver", "gold"]), st.text(max_size=8))
COUNTS = st.integers(min_value=0, max_value=50)


def _messages(pairs: list[tuple[str, str | None]]) -> list[UserMessage]:
    start = datetime(2026, 3, 4, 10, 0)
    return [
        UserMessage(text, intent, start + timedelta(seconds=i))
        for i, (text, intent) in enumerate(pairs)
    ]


def _rank(priority: str) -> int:
    return PRIORITIES.index(priority)


@settings(max_examples=300)
@given(ranking=RANKINGS, threshold=THRESHOLDS)
def test_any_ranking_routes_to_a_known_department_or_none(ranking, threshold):
    """Unknown intents, fallback markers and any confidences: a department, or None."""
    routed = MAP.with_threshold(threshold).department_from_ranking(ranking)
    assert routed is None or routed in DEPARTMENTS
    assert MAP.with_threshold(threshold).department_from_ranking(list(ranking)) == routed
    if routed is not None:
        # It owns at least the threshold of the ranking, and no other department owns more.
        scores = MAP.department_scores(ranking)
        assert scores[routed] >= threshold
        assert all(score <= scores[routed] for score in scores.values())


@given(ranking=RANKINGS, a=THRESHOLDS, b=THRESHOLDS)
def test_the_threshold_works_one_way(ranking, a, b):
    """A message routed at some threshold is routed the same at every lower one."""
    low, high = sorted((a, b))
    at_high = MAP.with_threshold(high).department_from_ranking(ranking)
    at_low = MAP.with_threshold(low).department_from_ranking(ranking)
    if at_high is not None:
        assert at_low == at_high
    if at_low is None:
        assert at_high is None


@given(ranking=RANKINGS, data=st.data())
def test_the_order_of_the_ranking_does_not_matter_without_a_tie(ranking, data):
    """Rasa's ranking order changes nothing unless two departments score exactly the same."""
    scores = sorted(MAP.department_scores(ranking).values(), reverse=True)
    shuffled = data.draw(st.permutations(ranking))
    if len(scores) > 1 and abs(scores[0] - scores[1]) < 1e-9:
        return  # a genuine tie: either owner is a fair guess
    if scores and abs(scores[0] - MAP.department_threshold) < 1e-9:
        return  # exactly at the threshold, float sums in another order may land either side
    assert MAP.department_from_ranking(shuffled) == MAP.department_from_ranking(ranking)


@given(
    intent=st.one_of(st.none(), INTENTS),
    orders=st.lists(
        st.builds(
            Order,
            id=st.text(min_size=1, max_size=10),
            customer_id=st.just("C001"),
            status=st.sampled_from(["placed", "dispatched", "in_transit", "delivered", "odd"]),
            delivered_at=st.one_of(st.none(), st.dates(date(2020, 1, 1), date(2030, 1, 1))),
        ),
        max_size=5,
    ),
    today=st.dates(date(2020, 1, 1), date(2030, 1, 1)),
)
def test_any_intent_and_order_history_gets_a_known_owner_and_stage(intent, orders, today):
    """The owner is the map's (or none) and the stage one of the journey's six."""
    route = MAP.route(intent, orders, today)
    assert route.department == MAP.department_of(intent)
    assert route.department is None or route.department in DEPARTMENTS
    assert route.stage in STAGES
    assert stage_from_orders(orders, today) in STAGES


@settings(max_examples=300)
@given(
    need=INTENTS,
    department=st.sampled_from(DEPARTMENTS),
    stage=st.one_of(st.none(), st.sampled_from(STAGES)),
    tier=TIERS,
    frustration=COUNTS,
    repeats=COUNTS,
    contacts=COUNTS,
    more=st.tuples(COUNTS, COUNTS, COUNTS),
    priority=PRIORITY,
)
def test_more_frustration_only_raises_priority(
    need, department, stage, tier, frustration, repeats, contacts, more, priority
):
    """More frustration, repeats or contacts: never a lower priority, never less escalation."""
    facts = Facts(need, department, stage, tier, frustration, repeats, contacts)
    worse = Facts(
        need,
        department,
        stage,
        tier,
        frustration + more[0],
        repeats + more[1],
        contacts + more[2],
    )
    calm, upset = RULES.decide(facts, priority), RULES.decide(worse, priority)
    for decision in (calm, upset):
        assert decision.department in DEPARTMENTS
        assert _rank(decision.priority) >= _rank(priority)  # never lowered
        assert decision.reason
    assert _rank(upset.priority) >= _rank(calm.priority)
    assert upset.escalate or not calm.escalate
    if calm.escalate:
        # Once a person is brought in, more frustration keeps it with the same people.
        assert upset.department == calm.department
    assert RULES.decide(facts, priority) == calm  # deterministic


@given(earlier=MESSAGES, later=MESSAGES, need=INTENTS, priority=PRIORITY, tier=TIERS)
def test_what_the_customer_writes_never_breaks_routing_and_more_only_raises(
    earlier, later, need, priority, tier
):
    """From the words to the decision: any text routes, and writing more never calms it down."""
    before = read_signals(_messages(earlier))
    after = read_signals(_messages(earlier + later))
    assert after.frustration >= before.frustration >= 0
    department = MAP.department_of(need) or "support"
    calm = RULES.decide(Facts(need, department, frustration=before.frustration), priority)
    upset = RULES.decide(Facts(need, department, frustration=after.frustration), priority)
    assert _rank(upset.priority) >= _rank(calm.priority)
    assert upset.escalate or not calm.escalate


def test_a_frustrated_customer_reaches_a_person_urgently():
    """The configured frustration rule, through the signals: three "I told you"s is enough."""
    said = [("I already told you", None)] * 2
    frustration = read_signals(_messages(said)).frustration
    decision = RULES.decide(Facts("order_status", "delivery", frustration=frustration))
    assert frustration >= 3
    assert (decision.department, decision.priority, decision.escalate) == (
        "support",
        "urgent",
        True,
    )
