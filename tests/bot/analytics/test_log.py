"""The touchpoint log: filtered, newest first, paged by keyset without gaps or repeats."""

from __future__ import annotations

import csv
import io
import json
from datetime import datetime, timedelta

import pytest
from sqlalchemy import insert

from bot.analytics import log
from bot.analytics.filters import Filters
from bot.analytics.log import BadCursor, touchpoint_log
from bot.analytics.log_export import EXPORT_COLUMNS, LogExport, csv_lines, json_chunks
from bot.analytics.log_filters import (
    FRUSTRATED_AT,
    BadFilter,
    LogFilters,
    filter_query,
    frustration_threshold,
    parse_filters,
    search_terms,
)
from bot.analytics.sql import like_pattern
from bot.cx_routing import CxRules
from bot.db.schema import journey_customers, policy_moments, review_flags, touchpoints, users

START = datetime(2025, 3, 1, 9, 0)


@pytest.fixture
def store(journey_engine):
    """53 touchpoints, two of them at the very same moment (ids break the tie)."""
    rows = []
    for i in range(1, 54):
        started = START + timedelta(minutes=10 * i) if i != 53 else START + timedelta(minutes=10)
        rows.append(
            {
                "id": i, "conversation_id": f"c{i}", "session_started_at": started,
                "customer_id": "C1" if i % 2 else None,
                "channel": ("socketio", "slack", "rest")[i % 3],
                "stage": "usage", "needs": '["order_status"]' if i % 4 else "[]",
                "departments": '["delivery"]' if i % 4 else "[]", "order_ids": "[]",
                "outcome": "abandoned" if i % 5 == 0 else "self_served",
                "signals": '{"frustration": 0}', "message_count": 3, "started_at": started,
                "last_activity_at": started,
            }
        )  # fmt: skip
    with journey_engine.begin() as conn:
        conn.execute(
            insert(journey_customers).values(id="C1", created_at=START, name="Jane", tier="gold")
        )
        conn.execute(insert(touchpoints), rows)
    return journey_engine


def every_page(engine, filters=None, limit=10):
    pages, after = [], None
    while True:
        page = touchpoint_log(engine, filters, limit=limit, after=after)
        pages.append(page.entries)
        if page.next_cursor is None:
            return pages
        after = page.next_cursor


def test_pages_walk_every_touchpoint_once_newest_first(store):
    pages = every_page(store)
    assert [len(p) for p in pages] == [10, 10, 10, 10, 10, 3]
    entries = [e for page in pages for e in page]
    assert len({e["id"] for e in entries}) == 53
    keys = [(e["started_at"], e["id"]) for e in entries]
    assert keys == sorted(keys, reverse=True)
    # Touchpoints 1 and 53 started at the same moment: the higher id comes first.
    assert [e["id"] for e in entries[-2:]] == [53, 1]


def test_an_entry_carries_the_customer_and_parsed_lists(store):
    newest = touchpoint_log(store, limit=1).entries[0]
    assert newest["id"] == 52 and newest["customer_name"] is None
    jane = touchpoint_log(store, Filters(customer_id="C1"), limit=1).entries[0]
    assert jane["customer_name"] == "Jane" and jane["tier"] == "gold"
    assert jane["needs"] == ["order_status"] and jane["signals"] == {"frustration": 0}


def test_filters_page_too(store):
    slack_abandoned = Filters(channel="slack", outcome="abandoned")
    entries = [e for page in every_page(store, slack_abandoned, limit=2) for e in page]
    # i % 3 == 1 (slack) and i % 5 == 0 (abandoned): 10, 25, 40.
    assert [e["id"] for e in entries] == [40, 25, 10]
    no_department = Filters(department="none", since=START + timedelta(minutes=200))
    assert [e["id"] for e in touchpoint_log(store, no_department).entries] == [
        52, 48, 44, 40, 36, 32, 28, 24, 20,
    ]  # fmt: skip


def test_a_cursor_made_by_hand_is_refused(store):
    with pytest.raises(BadCursor):
        touchpoint_log(store, after="yesterday~7")
    with pytest.raises(ValueError):
        touchpoint_log(store, limit=0)


# -- the log's own filters: rating, frustration, policy moments, flags, the customer's words --
#
# touchpoint  conversation  started    rating  frustration  the customer wrote
# 1           a (session 1) Mar 1 9:00 5       0            Where is my ORDER?
# 2           a (session 2) Mar 2 9:00 1       3            100% fed up / I said it's late
# 3           b             Mar 3 9:00 2       2            refund_now please
# 4           c             Mar 4 9:00 -       5            he said "charged twice" again
# 5           d             Mar 5 9:00 4       (no signals) 100 percent sure; back\slash
# 6           e             Mar 6 9:00 -       0            (nothing)
# Policy moments: conversation a on Mar 2 10:00 (session 2: store credit taken), b on Mar 3
# 9:30 (a person asked for, nothing taken). Flags: 3 and 5.
WORDS = {
    1: (5, 0, "Where is my ORDER?"),
    2: (1, 3, "100% fed up\nI said it's late"),
    3: (2, 2, "refund_now please"),
    4: (None, 5, 'he said "charged twice" again'),
    5: (4, None, "100 percent sure; back\\slash"),
    6: (None, 0, None),
}
CONVERSATIONS = {1: "a", 2: "a", 3: "b", 4: "c", 5: "d", 6: "e"}


@pytest.fixture
def words(journey_engine):
    rows = []
    for i, (rating, frustration, said) in WORDS.items():
        started = datetime(2025, 3, i, 9, 0)
        rows.append(
            {
                "id": i, "conversation_id": CONVERSATIONS[i], "session_started_at": started,
                "customer_id": "C1", "channel": "socketio", "stage": "usage", "needs": "[]",
                "departments": "[]", "order_ids": "[]", "outcome": "self_served",
                "signals": "{}" if frustration is None else json.dumps({"frustration": frustration}),
                "rating": rating, "customer_text": said, "message_count": 1,
                "started_at": started, "last_activity_at": started,
            }
        )  # fmt: skip
    moment = {"customer_id": "C1", "need": "request_refund", "policy": "refund_window",
              "reason": "r", "offered": '["store_credit"]'}  # fmt: skip
    with journey_engine.begin() as conn:
        conn.execute(
            insert(journey_customers).values(id="C1", created_at=START, name="=cmd|' /C calc'!A0")
        )
        conn.execute(insert(touchpoints), rows)
        conn.execute(
            insert(policy_moments),
            [
                {**moment, "conversation_id": "a", "created_at": datetime(2025, 3, 2, 10),
                 "chosen": "store_credit", "asked_for_person": False},
                {**moment, "conversation_id": "b", "created_at": datetime(2025, 3, 3, 9, 30),
                 "chosen": None, "asked_for_person": True},
            ],
        )  # fmt: skip
        analyst = conn.execute(
            insert(users).values(
                username="lea", display_name="Lea", role="analyst", password_hash="x",
                created_at=START,
            )
        ).inserted_primary_key[0]  # fmt: skip
        conn.execute(
            insert(review_flags),
            [
                {"touchpoint_id": i, "conversation_id": CONVERSATIONS[i], "tags": '["slow"]',
                 "note": None, "flagged_by": analyst, "flagged_at": START}
                for i in (3, 5)
            ],
        )  # fmt: skip
    return journey_engine


def ids(engine, **kwargs) -> list[int]:
    """The ids the log shows for LogFilters(**kwargs), every page, newest first."""
    return [e["id"] for page in every_page(engine, LogFilters(**kwargs), limit=2) for e in page]


@pytest.mark.parametrize(
    "rating, expected",
    [("1", [2]), ("1-2", [3, 2]), ("2-1", [3, 2]), ("4-5", [5, 1]), ("rated", [5, 3, 2, 1]),
     ("unrated", [6, 4])],
)  # fmt: skip
def test_the_customers_rating_filters(words, rating, expected):
    assert ids(words, rating=rating) == expected


def test_frustrated_means_the_level_at_which_a_person_is_brought_in(words):
    assert ids(words, frustrated=True) == [4, 2]  # 5 and 3 reach 3; no signals count as 0
    assert ids(words, frustrated=False) == [6, 5, 3, 1]
    assert ids(words, frustrated=True, frustrated_at=2) == [4, 3, 2]
    assert frustration_threshold(CxRules.load()) == 3  # routing.yml: frustrated_customer
    assert frustration_threshold(CxRules(())) == FRUSTRATED_AT


@pytest.mark.parametrize(
    "policy, expected",
    # Conversation a's moment came in its second session (2): the first (1) had none.
    [("yes", [3, 2]), ("taken", [2]), ("not_taken", [3]), ("no", [6, 5, 4, 1])],
)
def test_policy_moments_belong_to_the_session_they_happened_in(words, policy, expected):
    assert ids(words, policy=policy) == expected


def test_flagged_or_not(words):
    assert ids(words, flagged=True) == [5, 3]
    assert ids(words, flagged=False) == [6, 4, 2, 1]
    entries = touchpoint_log(words, LogFilters(flagged=True)).entries
    assert [e["flag"]["tags"] for e in entries] == [["slow"], ["slow"]]
    assert touchpoint_log(words, LogFilters(flagged=False)).entries[0]["flag"] is None


@pytest.mark.parametrize(
    "text, expected",
    [
        ("order", [1]),  # any case
        ("100%", [2]),  # % is a percent sign, not a wildcard ("100 percent" is not it)
        ("%", [2]),
        ("refund_", [3]),  # _ is an underscore, not any one character
        ("_", [3]),
        ("it's", [2]),  # a quote in the words is just a character
        ('"charged twice"', [4]),  # a phrase
        ("twice charged", [4]),  # both words, anywhere
        ('"twice charged"', []),
        ("fed late", [2]),
        ("back\\slash", [5]),  # and so is a backslash
        ('"unpaired', []),
        ("sure; back", [5]),
    ],
)
def test_the_customers_words_are_searched_literally(words, text, expected):
    assert ids(words, text=text) == expected


def test_a_search_shows_the_lines_it_found_and_combines_with_other_filters(words):
    (entry,) = touchpoint_log(words, LogFilters(text="100%")).entries
    assert entry["matched"] == ["100% fed up"]
    assert ids(words, text="100", rating="4-5") == [5]
    assert ids(words, text="said", frustrated=True) == [4, 2]
    assert "matched" not in touchpoint_log(words).entries[0]


def test_search_terms():
    assert search_terms('refund "charged twice"  refund') == ["refund", "charged twice"]
    assert search_terms("it's") == ["it's"]
    assert search_terms('"open') == ['"open']
    assert search_terms("   ") == []
    assert like_pattern("100%_\\") == "%100\\%\\_\\\\%"


# -- paging in windows: a rare filter answers in bounded time ----------------------------------
def test_a_page_out_of_time_says_how_far_it_searched_and_the_next_goes_on(store, monkeypatch):
    monkeypatch.setattr(log, "FIRST_WINDOW", 4)
    monkeypatch.setattr(log, "MAX_WINDOW", 8)
    abandoned = Filters(outcome="abandoned")  # ids 5, 10, ... 50
    pages, after = [], None
    while True:
        # No time at all: each page looks at one window (4, then 8 touchpoints) and stops.
        page = touchpoint_log(store, abandoned, limit=3, after=after, scan_seconds=0)
        pages.append(page)
        if page.next_cursor is None:
            break
        after = page.next_cursor
    found = [e["id"] for p in pages for e in p.entries]
    assert found == [50, 45, 40, 35, 30, 25, 20, 15, 10, 5]  # each once, newest first
    short = [p for p in pages if p.searched_until is not None]
    assert short and all(len(p.entries) < 3 for p in short)
    # The first window holds touchpoints 52..49: it found 50 and stopped there.
    assert [e["id"] for e in pages[0].entries] == [50]
    assert pages[0].searched_until == START + timedelta(minutes=490)
    # With time to spare a page fills up, window after window.
    full = touchpoint_log(store, abandoned, limit=3, scan_seconds=None)
    assert [e["id"] for e in full.entries] == [50, 45, 40] and full.searched_until is None


def test_one_customers_and_flagged_touchpoints_are_read_without_windows(store, monkeypatch):
    monkeypatch.setattr(log, "FIRST_WINDOW", 1)
    monkeypatch.setattr(log, "MAX_WINDOW", 1)
    page = touchpoint_log(store, Filters(customer_id="C1"), limit=5, scan_seconds=0)
    assert [e["id"] for e in page.entries] == [51, 49, 47, 45, 43]
    assert page.searched_until is None


# -- the filters in a URL ----------------------------------------------------------------------
DEPARTMENTS = ("sales", "billing", "delivery", "support")


def test_filters_read_from_a_query_string_and_written_back():
    args = {
        "since": "2025-03-01", "until": "2025-03-01", "channel": "slack", "stage": "unknown",
        "department": "none", "need": "order_status", "outcome": "abandoned", "customer": "C 1/2",
        "rating": "1-2", "frustrated": "yes", "policy": "not_taken", "flagged": "no",
        "q": 'refund "charged twice"',
    }  # fmt: skip
    filters = parse_filters(args, DEPARTMENTS, frustrated_at=4)
    assert filters.base.since == datetime(2025, 3, 1)
    assert filters.base.until == datetime(2025, 3, 2)  # the last day is included
    assert (filters.frustrated, filters.frustrated_at, filters.flagged) == (True, 4, False)
    assert filters.terms() == ["refund", "charged twice"]
    assert filter_query(filters) == args
    assert parse_filters({"stage": "", "q": "  "}, DEPARTMENTS) == LogFilters()


@pytest.mark.parametrize(
    "args, message",
    [
        ({"stage": "adult"}, "stage: 'adult' is not one of prospect"),
        ({"department": "legal"}, "department: 'legal' is not one of sales"),
        ({"outcome": "won"}, "outcome: 'won' is not one of"),
        ({"rating": "6"}, "rating: '6' is not 1 to 5"),
        ({"frustrated": "maybe"}, "frustrated: 'maybe' is not yes or no"),
        ({"flagged": "1"}, "flagged: '1' is not yes or no"),
        ({"policy": "some"}, "policy: 'some' is not one of yes, taken"),
        ({"since": "March"}, "since: 'March' is not a date (YYYY-MM-DD)"),
        ({"since": "2025-03-02", "until": "2025-03-01"}, "since (2025-03-02) is after until"),
        ({"channel": "web chat"}, "channel: 'web chat' is not a channel name"),
        ({"q": "x" * 201}, "q: search for at most 200 characters"),
    ],
)
def test_a_bad_filter_says_what_is_wrong(args, message):
    with pytest.raises(BadFilter) as e:
        parse_filters(args, DEPARTMENTS)
    assert str(e.value).startswith(message)


# -- exports -----------------------------------------------------------------------------------
def test_an_export_holds_every_match_up_to_its_cap(words):
    everything = LogExport(words, LogFilters(), batch=4)
    assert [e["id"] for batch in everything.batches() for e in batch] == [6, 5, 4, 3, 2, 1]
    assert (everything.count, everything.truncated) == (6, False)
    capped = LogExport(words, LogFilters(), cap=4, batch=3)
    assert [len(b) for b in capped.batches()] == [3, 1]
    assert (capped.count, capped.truncated) == (4, True)
    exact = LogExport(words, LogFilters(rating="rated"), cap=4)
    assert sum(len(b) for b in exact.batches()) == 4 and not exact.truncated


def test_the_csv_export_is_one_row_per_touchpoint_and_no_formulas(words):
    text = "".join(csv_lines(LogExport(words, LogFilters(frustrated=True))))
    rows = list(csv.DictReader(io.StringIO(text)))
    assert [int(r["id"]) for r in rows] == [4, 2]
    assert list(rows[0]) == list(EXPORT_COLUMNS)
    # A customer's name a spreadsheet would run as a formula is written as text.
    assert rows[0]["customer_name"] == "'=cmd|' /C calc'!A0"
    assert (rows[1]["frustration"], rows[1]["rating"], rows[1]["flagged"]) == ("3", "1", "no")
    flagged = list(
        csv.DictReader(io.StringIO("".join(csv_lines(LogExport(words, LogFilters(flagged=True))))))
    )
    assert [(r["id"], r["flagged"], r["flag_tags"]) for r in flagged] == [
        ("5", "yes", "slow"),
        ("3", "yes", "slow"),
    ]


def test_the_json_export_is_one_document_saying_what_it_holds(words):
    export = LogExport(words, LogFilters(text="100"), cap=1)
    data = json.loads("".join(json_chunks(export, datetime(2025, 3, 12, 10))))
    assert data["filters"] == {"text": "100"}
    assert (data["limit"], data["count"], data["truncated"]) == (1, 1, True)
    assert [t["id"] for t in data["touchpoints"]] == [5]
    assert data["touchpoints"][0]["started_at"] == "2025-03-05T09:00:00"
    empty = json.loads("".join(json_chunks(LogExport(words, LogFilters(text="zebra")), START)))
    assert (empty["touchpoints"], empty["count"], empty["truncated"]) == ([], 0, False)
