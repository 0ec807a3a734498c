"""Time the CX touchpoint log's filters on a journey store of a million touchpoints.

Usage: .venv/bin/python bench/review_log.py [--touchpoints 1000000] [--days 365]
       [--postgres URL] [--only sqlite|postgresql] [--keep DIR]

Target (issue 7): with 1,000,000 touchpoints, a filtered log page answers in at most 1 s,
on SQLite and on PostgreSQL. Loads synthetic journeys (bot/analytics/demo_data.py) as
bench/review_scale.py does (``--keep DIR`` reuses a store in DIR), then gives every
touchpoint the customer's words the journey store keeps for search (a few common phrases;
one touchpoint in 50,000 says something rare) and flags 300 of them for review, since demo
data has neither. Times, warm (the median of 5 runs after one untimed run), a page of 50
of ``touchpoint_log`` for each of the log's filters alone and together, and the next page;
a rare word or a filter nothing matches shows the bound on a page's search
(``bot.analytics.log.SCAN_SECONDS``). Prints one JSON object, then a summary line per database.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import statistics
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import bindparam, func, insert, select, text, update

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bot.analytics.demo_data import load_demo_data  # noqa: E402
from bot.analytics.filters import Filters  # noqa: E402
from bot.analytics.log import touchpoint_log  # noqa: E402
from bot.analytics.log_filters import LogFilters  # noqa: E402
from bot.db.engine import make_engine, with_search_path  # noqa: E402
from bot.db.migrate import migrate  # noqa: E402
from bot.db.schema import review_flags, touchpoints  # noqa: E402
from bot.hub.accounts import Accounts  # noqa: E402

SCRATCH_SCHEMA = "cx_bench_review_log"
TARGET_SECONDS = 1.0
RUNS = 5
END = datetime(2025, 3, 12, 10, 0)  # as bench/review_scale.py: the same data
PHRASES = (
    "where is my order", "I want a refund", "the parcel is late", "hello", "thanks",
    "can I change my address", "I was charged twice", "this is ridiculous", "cancel my plan",
    "how much is the pro plan", "my invoice is wrong", "I already told you",
)  # fmt: skip
RARE = "my zebra-striped parcel 100% vanished"
FLAGS = 300


def timed(work) -> dict:
    """Warm timings of ``work()`` in milliseconds: the first run, then the median of RUNS."""
    t0 = time.perf_counter()
    result = work()
    first = (time.perf_counter() - t0) * 1000
    runs = []
    for _ in range(RUNS):
        t0 = time.perf_counter()
        work()
        runs.append((time.perf_counter() - t0) * 1000)
    return {
        "first_ms": round(first, 1),
        "median_ms": round(statistics.median(runs), 1),
        "max_ms": round(max(runs), 1),
        "result": result,
    }


def prepare(engine, wanted: int, days: int) -> None:
    """The store: demo journeys, the customer's words on every touchpoint, some flags."""
    migrate(engine)
    with engine.connect() as conn:
        present = conn.execute(select(func.count()).select_from(touchpoints)).scalar_one()
    if present < wanted:
        if present:
            raise SystemExit(f"the store holds {present:,} touchpoints already; use a fresh one")
        print(f"loading {wanted:,} touchpoints over {days} days...", file=sys.stderr)
        load_demo_data(
            engine,
            wanted,
            seed=7,
            days=days,
            end=END,
            progress=lambda line: print(line, file=sys.stderr, flush=True),
        )
    rng = random.Random(3)
    with engine.connect() as conn:
        bare = [
            r.id
            for r in conn.execute(
                select(touchpoints.c.id).where(touchpoints.c.customer_text.is_(None))
            )
        ]
    write = (
        update(touchpoints)
        .where(touchpoints.c.id == bindparam("tid"))
        .values(customer_text=bindparam("said"))
    )
    for first in range(0, len(bare), 50_000):
        batch = []
        for tid in bare[first : first + 50_000]:
            lines = [rng.choice(PHRASES) for _ in range(rng.randint(1, 6))]
            if rng.random() < 1 / 50_000:
                lines.append(RARE)
            batch.append({"tid": tid, "said": "\n".join(lines)})
        with engine.begin() as conn:
            conn.execute(write, batch)
        print(f"  customer's words: {first + len(batch):,} / {len(bare):,}", file=sys.stderr)
    with engine.begin() as conn:  # demo data writes words of its own: add the rare phrase
        rare = touchpoints.c.customer_text.contains(RARE, autoescape=True)
        if conn.execute(select(touchpoints.c.id).where(rare).limit(1)).first() is None:
            conn.execute(
                update(touchpoints)
                .where(touchpoints.c.id % 50_000 == 0)
                .values(customer_text=touchpoints.c.customer_text + "\n" + RARE)
            )
    with engine.connect() as conn:
        flagged = conn.execute(select(review_flags.c.id).limit(1)).first() is not None
    if not flagged:
        analyst = Accounts(engine).add(f"bench-{os.getpid()}", "bench password 123", "analyst")
        with engine.begin() as conn:
            picked = conn.execute(
                select(touchpoints.c.id, touchpoints.c.conversation_id)
                .where(touchpoints.c.id % 997 == 0)
                .order_by(touchpoints.c.id)
                .limit(FLAGS)
            ).all()
            conn.execute(
                insert(review_flags),
                [
                    {"touchpoint_id": p.id, "conversation_id": p.conversation_id,
                     "tags": '["bench"]', "note": None, "flagged_by": analyst.id,
                     "flagged_at": END}
                    for p in picked
                ],
            )  # fmt: skip
    if engine.dialect.name == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("VACUUM ANALYZE"))  # as autovacuum would after a bulk load


def cases(customer_id: str) -> dict[str, LogFilters]:
    since = END - timedelta(days=30)
    everything = Filters(channel="rest", stage="leaving", department="delivery", outcome="resolved")
    return {
        "unfiltered": LogFilters(),
        "slack + abandoned": LogFilters(Filters(channel="slack", outcome="abandoned")),
        "rating 1": LogFilters(rating="1"),
        "rating 1-2 on slack": LogFilters(Filters(channel="slack"), rating="1-2"),
        "frustrated + stage leaving": LogFilters(Filters(stage="leaving"), frustrated=True),
        "policy: alternative taken": LogFilters(policy="taken"),
        "policy: none taken, billing": LogFilters(
            Filters(department="billing"), policy="not_taken"
        ),
        "flagged": LogFilters(flagged=True),
        "words: refund": LogFilters(text="refund"),
        'words: "charged twice" invoice': LogFilters(text='"charged twice" invoice'),
        "words: zebra (1 in 50,000)": LogFilters(text="zebra"),
        "words nobody wrote": LogFilters(text="qwertyuiop"),
        "words nobody wrote, last 30 days": LogFilters(Filters(since=since), text="qwertyuiop"),
        "every filter, nothing matches": LogFilters(
            everything, rating="1", frustrated=True, policy="taken", flagged=True, text="zebra"
        ),
        "one customer": LogFilters(Filters(customer_id=customer_id)),
    }


def measure(engine, wanted: int, days: int) -> dict:
    prepare(engine, wanted, days)
    with engine.connect() as conn:
        busiest = conn.execute(
            select(touchpoints.c.customer_id)
            .group_by(touchpoints.c.customer_id)
            .order_by(func.count().desc())
            .limit(1)
        ).scalar_one()
    out: dict = {}
    for name, filters in cases(busiest).items():
        first = touchpoint_log(engine, filters)

        def page(f=filters):
            return len(touchpoint_log(engine, f).entries)

        def next_page(f=filters, after=first.next_cursor):
            return len(touchpoint_log(engine, f, after=after).entries) if after else 0

        out[name] = {"first page": timed(page), "next page": timed(next_page)}
        out[name]["stopped early at"] = first.searched_until
        print(
            f"  {name}: {out[name]['first page']['median_ms']} ms, next page "
            f"{out[name]['next page']['median_ms']} ms",
            file=sys.stderr,
        )
    return out


def scratch_stores(args, schema: str, prefix: str):
    """(name, engine) of each journey store a benchmark measures, as ``args`` asks: an
    SQLite file (in ``--keep DIR`` or a temporary folder) and, with ``--postgres URL``, the
    scratch ``schema`` there; each is removed afterwards unless ``--keep`` is given."""
    if args.only != "postgresql":
        folder = args.keep or Path(tempfile.mkdtemp(prefix=prefix))
        folder.mkdir(parents=True, exist_ok=True)
        engine = make_engine(f"sqlite:///{folder / 'journey.db'}")
        try:
            print("==> SQLite", file=sys.stderr)
            yield "sqlite", engine
        finally:
            engine.dispose()
            if args.keep is None:
                shutil.rmtree(folder, ignore_errors=True)
    if args.postgres and args.only != "sqlite":
        admin = make_engine(args.postgres)
        drop = text(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
        with admin.begin() as conn:
            if args.keep is None:
                conn.execute(drop)
            conn.execute(text(f"CREATE SCHEMA IF NOT EXISTS {schema}"))
        engine = make_engine(with_search_path(args.postgres, schema))
        try:
            print("==> PostgreSQL", file=sys.stderr)
            yield "postgresql", engine
        finally:
            engine.dispose()
            if args.keep is None:
                with admin.begin() as conn:
                    conn.execute(drop)
            admin.dispose()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--touchpoints", type=int, default=1_000_000)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--postgres", default=os.environ.get("TEST_POSTGRES_URL"))
    parser.add_argument("--only", choices=("sqlite", "postgresql"))
    parser.add_argument("--keep", type=Path, help="keep (and reuse) the store in this folder")
    args = parser.parse_args(argv)
    results: dict = {"touchpoints": args.touchpoints, "cores": os.cpu_count(), "databases": {}}
    for name, engine in scratch_stores(args, SCRATCH_SCHEMA, "cx-bench-log-"):
        results["databases"][name] = measure(engine, args.touchpoints, args.days)
    print(json.dumps(results, indent=2, default=str))
    all_met = True
    for name, found in results["databases"].items():
        slowest = max(
            max(t["first page"]["median_ms"], t["next page"]["median_ms"]) for t in found.values()
        )
        met = slowest <= TARGET_SECONDS * 1000
        all_met &= met
        print(
            f"{name}: slowest log page {slowest:.0f} ms: target <= 1 s {'met' if met else 'NOT met'}"
        )
    return 0 if all_met else 1


if __name__ == "__main__":
    sys.exit(main())
