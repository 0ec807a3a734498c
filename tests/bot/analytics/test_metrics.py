"""Each CX metric on the hand-built journey in conftest.py, with the arithmetic written out.

Window: Monday 2025-03-10 and Tuesday 2025-03-11 (tp1..tp7); tp8 (Sunday) and tp9
(Wednesday 00:00) are outside it. Runs on SQLite, and on PostgreSQL when TEST_POSTGRES_URL
is set.
"""

from __future__ import annotations

import itertools
from datetime import datetime, timedelta

import pytest
from sqlalchemy import insert

from bot.analytics import metrics as m
from bot.analytics.filters import Filters
from bot.analytics.metrics import metrics_table
from bot.db.migrate import migrate
from bot.db.schema import handoffs, touchpoints
from bot.departments import load_departments
from tests.bot.analytics.conftest import NOW, SINCE, UNTIL

WINDOW = Filters(since=SINCE, until=UNTIL)


def test_conversations_are_the_touchpoints_started_in_the_window(journey):
    # tp1..tp7; tp8 started Sunday 23:59 and tp9 at Wednesday 00:00 (until is exclusive).
    assert m.conversations(journey, WINDOW) == 7
    assert m.conversations(journey, Filters(since=SINCE, until=UNTIL + timedelta(seconds=1))) == 8


def test_outcome_rates_are_shares_of_the_ended_conversations(journey):
    # Ended: tp1 tp2 tp3 tp4 tp5 tp7 = 6 (tp6 is still going).
    # Self-served: tp1 only (tp6 is self_served but not ended) -> 1/6.
    assert m.self_service_rate(journey, WINDOW) == pytest.approx(1 / 6)
    # Escalated: tp4 (outcome escalated) and tp7 (resolved, but handed to support) -> 2/6.
    assert m.escalation_rate(journey, WINDOW) == pytest.approx(2 / 6)
    # Abandoned: tp5 -> 1/6.
    assert m.abandonment_rate(journey, WINDOW) == pytest.approx(1 / 6)


def test_handoffs_are_counted_per_department(journey):
    # hA (delivery, tp2), hB (billing, tp3), hG (delivery, tp3), hC (support, tp4),
    # hD (sales, tp5), hE (support, tp7), hF (sales, tp7); hH belongs to tp9, outside.
    assert m.handoffs_per_department(journey, WINDOW) == {
        "billing": 1,
        "delivery": 2,
        "sales": 2,
        "support": 2,
    }


def test_ratings_split_between_the_assistant_and_the_agents(journey):
    # No takeover: tp1 5, tp2 3, tp3 4 -> 12/3 = 4.0.
    # Taken over (hC of tp4, hE of tp7): tp4 2, tp7 4 -> 6/2 = 3.0. tp4 taken twice counts once.
    assert m.ratings(journey, WINDOW) == {"assistant": 4.0, "agents": 3.0}


def test_effort_score_is_the_mean_answer(journey):
    # tp1 answered 5, tp2 answered 2; nobody else did -> 7/2 = 3.5.
    assert m.effort_score(journey, WINDOW) == 3.5
    # Tuesday's conversations answered nothing: no score rather than a zero.
    tuesday = Filters(since=datetime(2025, 3, 11), until=UNTIL)
    assert m.effort_score(journey, tuesday) is None


def test_repeat_contact_within_7_days_about_the_same_need_or_order(journey):
    # About something: tp1 tp2 tp3 tp4 tp5 tp7 = 6 (tp6 raised nothing).
    # Repeated: tp1 (C1 came back in tp2 about ORD-1), tp5 (C3 asked ask_pricing again in tp9,
    # outside the window but within 7 days). Not tp3 -> tp4 (other need, no order), not
    # tp7 -> tp9 (no shared need). 2/6.
    assert m.repeat_contact_rate(journey, WINDOW) == pytest.approx(2 / 6)
    assert m.first_contact_resolution(journey, WINDOW) == pytest.approx(4 / 6)


def test_a_contact_more_than_7_days_later_is_no_repeat(journey):
    with journey.begin() as conn:
        conn.execute(
            insert(touchpoints).values(
                id=20, conversation_id="c2-slack", session_started_at=datetime(2025, 3, 17, 10, 1),
                customer_id="C2", channel="slack", needs='["request_refund"]',
                departments='["billing"]', order_ids="[]", outcome="self_served", signals="{}",
                message_count=2, started_at=datetime(2025, 3, 17, 10, 1),
                last_activity_at=datetime(2025, 3, 17, 10, 2),
            )
        )  # fmt: skip
    # tp3 started Monday 10:00; 7 days later is Monday 17 10:00, and this came at 10:01.
    assert m.repeat_contact_rate(journey, WINDOW) == pytest.approx(2 / 6)


def test_median_time_to_agent_pickup(journey):
    # hC: 11:05 -> first takeover 11:17 = 12 min (the second takeover at 11:40 is ignored).
    # hE: Tue 23:05 -> Wed 08:35 = 570 min. Median of [12, 570] = (12 + 570) / 2 = 291.
    assert m.median_pickup_minutes(journey, WINDOW) == 291.0
    assert (
        m.median_pickup_minutes(journey, Filters(since=SINCE, until=UNTIL, stage="purchase"))
        == 12.0
    )
    assert (
        m.median_pickup_minutes(journey, Filters(since=SINCE, until=SINCE + timedelta(days=1)))
        is None
    )


def test_handoffs_acknowledged_within_their_service_level(journey):
    # Deadlines (departments.yml): hA 24 h -> Tue 15:05, acked Tue 09:00: met.
    # hB 24 h -> Tue 10:05, acked 11:00: missed. hG -> Tue 10:10, never acked, passed: missed.
    # hC support 1 h -> 12:05, acked 11:17: met. hD sales after hours -> Wed 09:00 + 4 h =
    # 13:00, not passed at 10:00, not acked: undecided. hE support closed at 23:05 ->
    # Wed 08:00 + 1 h = 09:00, acked 08:35: met. hF sales -> Wed 13:00, resolved 09:30
    # without an ack: met. Decided 6, met 4 -> 4/6.
    assert m.sla_met_rate(journey, WINDOW, now=NOW) == pytest.approx(4 / 6)
    # At Wednesday 13:01, hD's deadline has passed too: 4/7.
    assert m.sla_met_rate(journey, WINDOW, now=datetime(2025, 3, 12, 13, 1)) == pytest.approx(4 / 7)
    # The department filter keeps that department's handoffs: delivery hA met, hG missed.
    delivery = Filters(since=SINCE, until=UNTIL, department="delivery")
    assert m.sla_met_rate(journey, delivery, now=NOW) == 0.5


def test_policy_moments_and_alternatives_taken(journey):
    # pm3 (c1-web Mon 09:02 -> tp1), pm1 (c2-slack Mon 10:03 -> tp3, store_credit taken),
    # pm2 (c2-slack Tue 11:02 -> tp4, the newer session, asked for a person). pm4 (c3-rest
    # Wed 00:02) belongs to tp9, which started Wednesday: outside. Taken 1/3.
    assert m.policy_moment_count(journey, WINDOW) == 3
    assert m.alternative_taken_rate(journey, WINDOW) == pytest.approx(1 / 3)
    monday = Filters(since=SINCE, until=SINCE + timedelta(days=1))
    assert m.policy_moment_count(journey, monday) == 2  # pm1, pm3


def test_the_question_before_a_change_is_no_policy_moment(journey):
    """A "Just to check: cancel it?" question (bot/support/confirm.py) is recorded like a
    moment so its buttons are guarded, but no request met a limit: the figures skip it."""
    from bot.analytics.log import touchpoint_log
    from bot.analytics.log_filters import LogFilters
    from bot.db.schema import policy_moments
    from tests.bot.analytics.conftest import at, moment

    question = {
        **moment(5, "c1-web", at(10, 9, 3), chosen="go_ahead"),
        "policy": "confirm:cancel_order",
        "offered": '["go_ahead", "leave_as_is"]',
    }
    with journey.begin() as conn:
        conn.execute(insert(policy_moments), [question])
    assert m.policy_moment_count(journey, WINDOW) == 3
    assert m.alternative_taken_rate(journey, WINDOW) == pytest.approx(1 / 3)
    # The log's "an alternative was taken" filter does not count the yes either.
    taken = touchpoint_log(journey, LogFilters(base=WINDOW, policy="taken"), limit=500)
    assert {entry["conversation_id"] for entry in taken.entries} == {"c2-slack"}


def test_filters_narrow_every_metric_to_the_same_conversations(journey):
    slack = Filters(since=SINCE, until=UNTIL, channel="slack")  # tp3 and tp4
    assert m.conversations(journey, slack) == 2
    assert m.handoffs_per_department(journey, slack) == {"billing": 1, "delivery": 1, "support": 1}
    assert m.ratings(journey, slack) == {"assistant": 4.0, "agents": 2.0}
    assert m.escalation_rate(journey, slack) == 0.5
    unknown_stage = Filters(since=SINCE, until=UNTIL, stage="unknown")
    assert m.conversations(journey, unknown_stage) == 1  # tp6
    no_department = Filters(since=SINCE, until=UNTIL, department="none")
    assert m.conversations(journey, no_department) == 1  # tp6
    assert m.conversations(journey, Filters(since=SINCE, until=UNTIL, outcome="resolved")) == 2


def test_an_empty_window_gives_zeros_and_nothing_to_measure(journey):
    empty = Filters(since=datetime(2024, 1, 1), until=datetime(2024, 1, 2))
    assert m.conversations(journey, empty) == 0
    assert m.self_service_rate(journey, empty) is None
    assert m.handoffs_per_department(journey, empty) == {}
    assert m.median_pickup_minutes(journey, empty) is None
    assert m.sla_met_rate(journey, empty, now=NOW) is None
    assert m.alternative_taken_rate(journey, empty) is None


def test_the_table_by_day_has_the_hand_checked_rows_and_total(journey):
    table = metrics_table(journey, SINCE, UNTIL, "day", now=NOW)
    monday, tuesday = table.rows
    assert [monday["group"], tuesday["group"]] == ["2025-03-10", "2025-03-11"]
    # Monday: tp1 tp2 tp3, all ended; tp1 self-served; hA hB hG; ratings 5 3 4; effort 5 2;
    # repeat tp1 of 3; SLA hA met of hA hB hG; moments pm1 pm3, one taken.
    assert monday == {
        "group": "2025-03-10", "conversations": 3, "self_service_rate": 0.3333,
        "escalation_rate": 0.0, "abandonment_rate": 0.0, "handoffs": 3,
        "handoffs_delivery": 2, "handoffs_billing": 1, "handoffs_sales": 0,
        "handoffs_support": 0, "rating_assistant": 4.0, "rating_agents": None,
        "effort_score": 3.5, "repeat_contact_rate": 0.3333, "median_pickup_minutes": None,
        "sla_met_rate": 0.3333, "policy_moments": 2, "alternative_taken_rate": 0.5,
    }  # fmt: skip
    # Tuesday: tp4 tp5 tp6 tp7, ended tp4 tp5 tp7; escalated tp4 tp7 = 2/3, abandoned tp5;
    # hC hD hE hF; agents' ratings 2 and 4; repeat tp5 of tp4 tp5 tp7; pickups 12, 570;
    # SLA hC hE hF met, hD undecided: 3/3; moment pm2, nothing taken.
    assert tuesday == {
        "group": "2025-03-11", "conversations": 4, "self_service_rate": 0.0,
        "escalation_rate": 0.6667, "abandonment_rate": 0.3333, "handoffs": 4,
        "handoffs_delivery": 0, "handoffs_billing": 0, "handoffs_sales": 2,
        "handoffs_support": 2, "rating_assistant": None, "rating_agents": 3.0,
        "effort_score": None, "repeat_contact_rate": 0.3333, "median_pickup_minutes": 291.0,
        "sla_met_rate": 1.0, "policy_moments": 1, "alternative_taken_rate": 0.0,
    }  # fmt: skip
    assert table.total["conversations"] == 7 and table.total["sla_met_rate"] == 0.6667
    assert table.total["median_pickup_minutes"] == 291.0


def test_the_table_totals_agree_with_the_metric_functions(journey):
    table = metrics_table(journey, SINCE, UNTIL, "stage", now=NOW)
    total = table.total
    assert total["conversations"] == m.conversations(journey, WINDOW)
    assert total["self_service_rate"] == round(m.self_service_rate(journey, WINDOW), 4)
    assert total["repeat_contact_rate"] == round(m.repeat_contact_rate(journey, WINDOW), 4)
    assert total["sla_met_rate"] == round(m.sla_met_rate(journey, WINDOW, now=NOW), 4)
    assert total["rating_assistant"] == m.ratings(journey, WINDOW)["assistant"]
    # By stage, each conversation is in one group, so the groups add up to the total.
    assert sum(r["conversations"] for r in table.rows) == 7
    assert sum(r["handoffs"] for r in table.rows) == 7


def test_the_table_by_stage_and_by_department(journey):
    by_stage = {r["group"]: r for r in metrics_table(journey, SINCE, UNTIL, "stage", now=NOW).rows}
    assert list(by_stage) == [
        "prospect", "purchase", "onboarding", "usage", "renewal", "leaving", "unknown",
    ]  # fmt: skip
    # usage: tp1 tp2 tp7; purchase: tp3 tp4; prospect: tp5; unknown: tp6.
    assert [by_stage[s]["conversations"] for s in ("usage", "purchase", "prospect", "unknown")] == [
        3, 2, 1, 1,
    ]  # fmt: skip
    assert by_stage["purchase"]["median_pickup_minutes"] == 12.0  # hC of tp4
    assert by_stage["onboarding"]["conversations"] == 0
    assert by_stage["onboarding"]["self_service_rate"] is None

    by_department = {
        r["group"]: r for r in metrics_table(journey, SINCE, UNTIL, "department", now=NOW).rows
    }
    assert list(by_department) == ["delivery", "billing", "sales", "support", "none"]
    # A conversation counts under each department among its needs: delivery tp1 tp2 tp3,
    # billing tp3, sales tp5 tp7, support tp4 tp7, none tp6.
    assert [r["conversations"] for r in by_department.values()] == [3, 1, 2, 2, 1]
    # Handoffs count under the department they went to.
    assert by_department["delivery"]["handoffs"] == 2
    assert by_department["delivery"]["sla_met_rate"] == 0.5  # hA met, hG missed
    assert by_department["support"]["median_pickup_minutes"] == 291.0
    # pm1 (tp3: billing and delivery) and pm3 (tp1: delivery) -> delivery 2 moments, 1 taken.
    assert by_department["delivery"]["policy_moments"] == 2
    assert by_department["billing"]["alternative_taken_rate"] == 1.0


def test_days_and_weeks_without_conversations_are_rows_of_zeros(journey):
    table = metrics_table(journey, datetime(2025, 3, 1), UNTIL, "week", now=NOW)
    # 2025-03-01 is a Saturday (ISO week 9); the window reaches into week 11.
    assert [r["group"] for r in table.rows] == ["2025-W09", "2025-W10", "2025-W11"]
    assert [r["conversations"] for r in table.rows] == [0, 1, 7]  # tp8 is Sunday of week 10
    days = metrics_table(journey, datetime(2025, 3, 8), UNTIL, "day", now=NOW).rows
    assert [r["conversations"] for r in days] == [0, 1, 3, 4]


def test_the_same_table_from_a_connection_and_from_an_engine(journey):
    from_engine = metrics_table(journey, SINCE, UNTIL, "department", now=NOW)
    with journey.connect() as conn:
        from_connection = metrics_table(conn, SINCE, UNTIL, "department", now=NOW)
    assert from_engine == from_connection


def test_service_level_deadlines_follow_each_departments_hours(engine):
    """The deadline in SQL is the one promised to the customer (Department.promise).

    For handoffs made every 47 minutes over a week to each department, one acknowledged at
    exactly the promised deadline (met) and one a minute after it (missed): half are met.
    """
    migrate(engine)
    departments = load_departments()
    start = datetime(2025, 3, 10)
    rows, touchpoint = [], {
        "id": 1, "conversation_id": "c", "session_started_at": start, "customer_id": None,
        "channel": "rest", "needs": "[]", "departments": "[]", "order_ids": "[]",
        "outcome": "handed_off", "signals": "{}", "message_count": 1, "started_at": start,
        "last_activity_at": start,
    }  # fmt: skip
    ids = itertools.count(1)
    for name, team in departments.items():
        for step in range(7 * 24 * 60 // 47):
            created = start + timedelta(minutes=47 * step)
            deadline = team.next_opening(created) + timedelta(hours=team.sla_hours)
            for acknowledged in (deadline, deadline + timedelta(minutes=1)):
                rows.append(
                    {
                        "id": next(ids), "created_at": created, "department": name,
                        "need": "n", "conversation_id": "c", "touchpoint_id": 1,
                        "channel": "rest", "priority": "normal", "summary": "s",
                        "context": "{}", "status": "acknowledged",
                        "acknowledged_at": acknowledged,
                    }
                )  # fmt: skip
    with engine.begin() as conn:
        conn.execute(insert(touchpoints).values(**touchpoint))
        conn.execute(insert(handoffs), rows)
    everything = Filters(since=start - timedelta(days=1))
    assert m.sla_met_rate(engine, everything, departments, now=datetime(2025, 4, 1)) == 0.5
