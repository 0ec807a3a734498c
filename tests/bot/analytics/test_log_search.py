"""The touchpoint log's free-text search through its trigram index (migration 0010_search).

The words are found as before (tests/bot/analytics/test_log.py: any part of a word, any case,
punctuation literal); what changes is how: a rare word is read through the index, so its
page is full whatever time a page may take, and the index follows every write. Runs on
SQLite (FTS5) and on PostgreSQL (pg_trgm) when TEST_POSTGRES_URL is set.
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta

import pytest
from alembic import command
from sqlalchemy import delete, insert, select, text, update

from bot.analytics import log
from bot.analytics.log import touchpoint_log
from bot.analytics.log_filters import LogFilters, search_terms
from bot.analytics.sql import fts5_query, text_candidates, trigrams
from bot.db.migrate import alembic_config, current_revision, head_revision, migrate
from bot.db.schema import (
    TOUCHPOINT_SEARCH,
    TOUCHPOINT_TRIGRAM_INDEX,
    journey_customers,
    touchpoints,
)
from bot.journey.signals import UserMessage
from bot.journey.store import JourneyStore, Turn

START = datetime(2025, 3, 1, 9, 0)
COMMON = ("where is my order", "I want a refund", "the parcel is late", "thanks", "hello")
RARE = "my zebra-striped parcel 100% vanished"


def row(i: int, said: str | None, started: datetime | None = None) -> dict:
    started = started or START + timedelta(minutes=i)
    return {
        "id": i, "conversation_id": f"c{i}", "session_started_at": started,
        "customer_id": "C1", "channel": "socketio", "stage": "usage", "needs": "[]",
        "departments": "[]", "order_ids": "[]",
        "outcome": "abandoned" if i % 7 == 0 else "self_served", "signals": "{}",
        "customer_text": said, "message_count": 1, "started_at": started,
        "last_activity_at": started,
    }  # fmt: skip


@pytest.fixture
def many(journey_engine):
    """400 touchpoints of common phrases; every 50th also says the rare phrase (8 of them),
    two say nothing at all."""
    rng = random.Random(5)
    rows = []
    for i in range(1, 401):
        lines = [rng.choice(COMMON) for _ in range(rng.randint(1, 3))]
        if i % 50 == 0:
            lines.append(RARE)
        rows.append(row(i, None if i in (13, 14) else "\n".join(lines)))
    with journey_engine.begin() as conn:
        conn.execute(insert(journey_customers).values(id="C1", created_at=START, name="Jane"))
        conn.execute(insert(touchpoints), rows)
    return journey_engine


def all_ids(engine, filters: LogFilters, limit: int = 7, **kw) -> list[int]:
    out, after = [], None
    while True:
        page = touchpoint_log(engine, filters, limit=limit, after=after, **kw)
        out += [e["id"] for e in page.entries]
        if page.next_cursor is None:
            return out
        after = page.next_cursor


def by_like(engine, text_: str) -> list[int]:
    """The ids holding every term, newest first, worked out in Python (the old meaning)."""
    terms = [t.casefold() for t in search_terms(text_)]
    with engine.connect() as conn:
        rows = conn.execute(
            select(touchpoints.c.id, touchpoints.c.customer_text).order_by(
                touchpoints.c.started_at.desc(), touchpoints.c.id.desc()
            )
        ).all()
    return [
        r.id
        for r in rows
        if r.customer_text and all(t in r.customer_text.casefold() for t in terms)
    ]


@pytest.mark.parametrize(
    "words",
    ["zebra", "ZEBRA-STRIPED", "100%", "vanished parcel", '"parcel 100%"', "refund late",
     "ebr", "the parcel", "hello", "hello zebra", "nobody wrote this"],
)  # fmt: skip
def test_the_index_finds_what_the_words_found_through_either_path(many, monkeypatch, words):
    expected = by_like(many, words)
    through_index = all_ids(many, LogFilters(text=words))
    monkeypatch.setattr(log, "RARE_WORDS", -1)  # never through the index: the windowed walk
    walked = all_ids(many, LogFilters(text=words), scan_seconds=None)
    assert through_index == walked == expected


def test_a_rare_word_fills_its_page_whatever_time_a_page_may_take(many, monkeypatch):
    # Windows of 4 touchpoints and no time at all: the walk gives up after its first window.
    monkeypatch.setattr(log, "FIRST_WINDOW", 4)
    monkeypatch.setattr(log, "MAX_WINDOW", 4)
    page = touchpoint_log(many, LogFilters(text="zebra"), limit=5, scan_seconds=0)
    assert [e["id"] for e in page.entries] == [400, 350, 300, 250, 200]
    assert page.searched_until is None and page.next_cursor is not None
    rest = touchpoint_log(many, LogFilters(text="zebra"), limit=5, after=page.next_cursor)
    assert [e["id"] for e in rest.entries] == [150, 100, 50] and rest.next_cursor is None
    assert page.entries[0]["matched"] == [RARE]
    # The same search walked (as before the index) comes back with a partial page.
    monkeypatch.setattr(log, "RARE_WORDS", -1)
    walked = touchpoint_log(many, LogFilters(text="zebra"), limit=5, scan_seconds=0)
    assert walked.searched_until is not None and len(walked.entries) < 5


def test_a_rare_word_combines_with_the_other_filters(many):
    assert all_ids(many, LogFilters(text="zebra")) == [400, 350, 300, 250, 200, 150, 100, 50]
    filters = LogFilters(log.Filters(outcome="abandoned"), text="zebra")
    assert all_ids(many, filters) == [350]  # of those, only 350 is a multiple of 7
    since = LogFilters(log.Filters(since=START + timedelta(minutes=260)), text="zebra")
    assert all_ids(many, since) == [400, 350, 300]


def test_the_index_follows_every_write(engine):
    migrate(engine)
    store = JourneyStore(engine, now=lambda: START)
    said = []

    def turn(text_: str) -> Turn:
        said.append(UserMessage(text_, "out_of_scope", START))
        return Turn("web-1", "socketio", START, messages=tuple(said))

    first = store.record(turn("do you sell kumquats"))
    assert found(engine, "kumquat") == [first.id]
    store.record(turn("or perhaps rambutans"))  # the text is rewritten on every turn
    assert found(engine, "rambutan") == found(engine, "kumquat") == [first.id]
    with engine.begin() as conn:
        conn.execute(
            update(touchpoints).where(touchpoints.c.id == first.id).values(customer_text="durian")
        )
    assert found(engine, "kumquat") == [] and found(engine, "durian") == [first.id]
    with engine.begin() as conn:
        conn.execute(update(touchpoints).values(customer_text=None))  # erased
    assert found(engine, "durian") == []
    with engine.begin() as conn:
        conn.execute(update(touchpoints).values(customer_text="lychee please"))
    assert found(engine, "lychee") == [first.id]
    with engine.begin() as conn:
        conn.execute(delete(touchpoints))
    assert found(engine, "lychee") == []
    assert index_rows(engine, "lychee") == []  # nothing left of it in the index itself


def found(engine, words: str) -> list[int]:
    """What the log shows for ``words`` (through the index: few rows here)."""
    with engine.connect() as conn:
        assert text_candidates(conn, search_terms(words), log.RARE_WORDS) is not None
    return [e["id"] for e in touchpoint_log(engine, LogFilters(text=words)).entries]


def index_rows(engine, word: str) -> list[int]:
    """The ids the text index itself offers for ``word`` (no check against the rows)."""
    with engine.connect() as conn:
        if engine.dialect.name == "sqlite":
            query = f"SELECT rowid FROM {TOUCHPOINT_SEARCH} WHERE {TOUCHPOINT_SEARCH} MATCH :q"
            return [r[0] for r in conn.execute(text(query), {"q": fts5_query(trigrams([word]))})]
        conn.execute(text("SET LOCAL enable_seqscan = off"))
        query = "SELECT id FROM touchpoints WHERE customer_text ILIKE :p"
        return [r[0] for r in conn.execute(text(query), {"p": f"%{word}%"})]


def test_the_migration_indexes_the_rows_already_there(engine):
    with engine.begin() as conn:
        config = alembic_config()
        config.attributes["connection"] = conn
        command.upgrade(config, "0009")
    with engine.begin() as conn:
        conn.execute(insert(journey_customers).values(id="C1", created_at=START))
        conn.execute(insert(touchpoints), [row(1, "my kumquat is late"), row(2, "hello")])
    migrate(engine)
    with engine.connect() as conn:
        assert current_revision(conn) == head_revision()
    assert index_rows(engine, "kumquat") == [1]
    assert found(engine, "KUMQUAT") == [1]
    if engine.dialect.name == "postgresql":  # and the planner reads it
        with engine.begin() as conn:
            conn.execute(text("SET LOCAL enable_seqscan = off"))
            plan = conn.execute(
                text("EXPLAIN SELECT id FROM touchpoints WHERE customer_text ILIKE '%kumquat%'")
            ).scalars()
            assert TOUCHPOINT_TRIGRAM_INDEX in "\n".join(plan)


def test_a_downgrade_takes_the_index_away_and_an_upgrade_brings_it_back(engine):
    migrate(engine)
    with engine.begin() as conn:
        conn.execute(insert(journey_customers).values(id="C1", created_at=START))
        conn.execute(insert(touchpoints), [row(1, "my kumquat is late")])
    with engine.begin() as conn:
        config = alembic_config()
        config.attributes["connection"] = conn
        command.downgrade(config, "0009")
    with engine.connect() as conn:
        if engine.dialect.name == "sqlite":
            names = conn.execute(text("SELECT name FROM sqlite_master")).scalars().all()
            assert not [n for n in names if n.startswith(TOUCHPOINT_SEARCH)]
        else:
            indexes = (
                conn.execute(
                    text("SELECT indexname FROM pg_indexes WHERE schemaname = current_schema()")
                )
                .scalars()
                .all()
            )
            assert TOUCHPOINT_TRIGRAM_INDEX not in indexes
    migrate(engine)
    assert index_rows(engine, "kumquat") == [1]


@pytest.mark.parametrize(
    "words",
    ['"quoted" AND NEAR(x', "col:umn*", "^start", 'say "hi" now', "a-b-c-d", "%_\\"],
)
def test_nothing_typed_is_read_as_index_syntax(many, words):
    with many.connect() as conn:
        text_candidates(conn, search_terms(words), log.RARE_WORDS)  # no syntax error
    assert all_ids(many, LogFilters(text=words)) == by_like(many, words)


def test_fts5_queries_quote_every_trigram():
    assert trigrams(["abcd", "x"]) == ["abc", "bcd"]  # "x" is too short to look up
    assert fts5_query(['a"b', "cde"]) == '"a""b" AND "cde"'
    assert len(trigrams(["abcdefghijklmnopqrstuvwxyz"])) == 16


def test_an_upgrade_stopped_halfway_is_completed_by_the_next(engine):
    # Python's sqlite3 commits DDL at once: a killed upgrade can leave the index's table
    # (or, on PostgreSQL, nothing) without the revision that made it.
    with engine.begin() as conn:
        config = alembic_config()
        config.attributes["connection"] = conn
        command.upgrade(config, "0009")
    with engine.begin() as conn:
        conn.execute(insert(journey_customers).values(id="C1", created_at=START))
        conn.execute(insert(touchpoints), [row(1, "my kumquat is late")])
        if engine.dialect.name == "sqlite":
            conn.execute(
                text(
                    f"CREATE VIRTUAL TABLE {TOUCHPOINT_SEARCH} USING fts5(customer_text, "
                    "content='touchpoints', content_rowid='id', tokenize='trigram', "
                    "detail='none')"
                )
            )
    migrate(engine)
    with engine.connect() as conn:
        assert current_revision(conn) == head_revision()
    assert index_rows(engine, "kumquat") == [1] and found(engine, "kumquat") == [1]
