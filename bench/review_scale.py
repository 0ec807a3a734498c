"""Time the CX review's queries on a journey store of a million touchpoints.

Usage: .venv/bin/python bench/review_scale.py [--touchpoints 1000000] [--days 365]
       [--postgres URL] [--only sqlite|postgresql] [--keep DIR]

Target (issue 7): with 1,000,000 touchpoints, the metrics page and a filtered log page
answer in at most 1 s, on SQLite and on PostgreSQL. Loads synthetic journeys
(bot/review/demo_data.py) into a temporary SQLite file, and into a scratch schema of
PostgreSQL when --postgres or TEST_POSTGRES_URL names a server; then times, warm (the
median of 5 runs after one untimed run), ``metrics_table`` over the last 30 days by day,
week, stage and department (and 7 days by day, 90 by week, for scale), each run being
what the page does; and pages of 50 rows of the touchpoint log, newest first:
filtered by channel and outcome (first page, next page, the 20th page), unfiltered, and
by department. Prints one JSON object, then a summary line per database.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import func, select, text

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bot.db import make_engine, with_search_path  # noqa: E402
from bot.journey.migrate import migrate  # noqa: E402
from bot.journey.schema import touchpoints  # noqa: E402
from bot.review.demo_data import load_demo_data  # noqa: E402
from bot.review.log import touchpoint_log  # noqa: E402
from bot.review.metrics import Filters, metrics_table  # noqa: E402

SCRATCH_SCHEMA = "cx_bench_review"
TARGET_SECONDS = 1.0
RUNS = 5
# A fixed end, so every run measures the same data (and the same 30-day window).
END = datetime(2025, 3, 12, 10, 0)


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


def measure(engine, wanted: int, days: int) -> dict:
    """Load (unless the store already holds the data) and time every query."""
    migrate(engine)
    with engine.connect() as conn:
        present = conn.execute(select(func.count()).select_from(touchpoints)).scalar_one()
    load = None
    if present < wanted:
        if present:
            raise SystemExit(f"the store holds {present:,} touchpoints already; use a fresh one")
        print(f"loading {wanted:,} touchpoints over {days} days...", file=sys.stderr)
        summary = load_demo_data(
            engine,
            wanted,
            seed=7,
            days=days,
            end=END,
            progress=lambda line: print(line, file=sys.stderr, flush=True),
        )
        load = {
            "seconds": round(summary.seconds, 1),
            "touchpoints_per_second": round(summary.touchpoints / summary.seconds),
            "customers": summary.customers,
            "handoffs": summary.handoffs,
            "takeovers": summary.takeovers,
            "policy_moments": summary.policy_moments,
            "ratings": summary.ratings,
        }
        if engine.dialect.name == "postgresql":
            with engine.begin() as conn:
                # Planner statistics, as autovacuum gathers them soon after a bulk load.
                # (Nothing gathers them on SQLite, so none are made there.)
                conn.execute(text("ANALYZE"))
    since = END - timedelta(days=30)
    with engine.connect() as conn:
        in_window = conn.execute(
            select(func.count()).where(touchpoints.c.started_at >= since)
        ).scalar_one()
    out: dict = {"load": load, "touchpoints_in_30_days": in_window, "metrics": {}, "log": {}}
    for group_by in ("day", "week", "stage", "department"):
        t = timed(lambda g=group_by: metrics_table(engine, since, END, g, now=END).total)
        out["metrics"][f"30 days by {group_by}"] = t
        print(f"  metrics, 30 days by {group_by}: {t['median_ms']} ms", file=sys.stderr)
    for days, group_by in ((7, "day"), (90, "week")):
        start = END - timedelta(days=days)
        t = timed(lambda s=start, g=group_by: metrics_table(engine, s, END, g, now=END).total)
        out["metrics"][f"{days} days by {group_by}"] = t
        print(f"  metrics, {days} days by {group_by}: {t['median_ms']} ms", file=sys.stderr)

    slack_abandoned = Filters(channel="slack", outcome="abandoned")
    first = touchpoint_log(engine, slack_abandoned)

    def twentieth_page():
        page = touchpoint_log(engine, slack_abandoned)
        for _ in range(19):
            page = touchpoint_log(engine, slack_abandoned, after=page.next_cursor)
        return page.entries[0]["id"]

    cases = {
        "slack + abandoned, first page": lambda: len(
            touchpoint_log(engine, slack_abandoned).entries
        ),
        "slack + abandoned, next page": lambda: len(
            touchpoint_log(engine, slack_abandoned, after=first.next_cursor).entries
        ),
        "slack + abandoned, 20 pages in turn": twentieth_page,
        "unfiltered, first page": lambda: len(touchpoint_log(engine).entries),
        "rest + escalated + billing, first page": lambda: len(
            touchpoint_log(
                engine, Filters(channel="rest", outcome="escalated", department="billing")
            ).entries
        ),
        "last 30 days + stage renewal, first page": lambda: len(
            touchpoint_log(engine, Filters(since=since, stage="renewal")).entries
        ),
    }
    for name, work in cases.items():
        t = timed(work)
        out["log"][name] = t
        print(f"  log, {name}: {t['median_ms']} ms", file=sys.stderr)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--touchpoints", type=int, default=1_000_000)
    parser.add_argument("--days", type=int, default=365, help="history the touchpoints span")
    parser.add_argument(
        "--postgres",
        default=os.environ.get("TEST_POSTGRES_URL"),
        help="a PostgreSQL server URL (default: TEST_POSTGRES_URL; none: SQLite only)",
    )
    parser.add_argument("--only", choices=("sqlite", "postgresql"))
    parser.add_argument(
        "--keep",
        type=Path,
        help="keep the SQLite file in this folder (and the PostgreSQL schema), and reuse "
        "them when run again",
    )
    args = parser.parse_args(argv)
    started_load = os.getloadavg()
    results: dict = {
        "touchpoints": args.touchpoints,
        "days": args.days,
        "cores": os.cpu_count(),
        "load_average_at_start": [round(x, 2) for x in started_load],
        "databases": {},
    }
    if args.only != "postgresql":
        folder = args.keep or Path(tempfile.mkdtemp(prefix="cx-bench-review-"))
        folder.mkdir(parents=True, exist_ok=True)
        engine = make_engine(f"sqlite:///{folder / 'journey.db'}")
        try:
            print("==> SQLite", file=sys.stderr)
            results["databases"]["sqlite"] = measure(engine, args.touchpoints, args.days)
        finally:
            engine.dispose()
            if args.keep is None:
                shutil.rmtree(folder, ignore_errors=True)
    if args.postgres and args.only != "sqlite":
        admin = make_engine(args.postgres)
        with admin.begin() as conn:
            if args.keep is None:
                conn.execute(text(f"DROP SCHEMA IF EXISTS {SCRATCH_SCHEMA} CASCADE"))
            conn.execute(text(f"CREATE SCHEMA IF NOT EXISTS {SCRATCH_SCHEMA}"))
        engine = make_engine(with_search_path(args.postgres, SCRATCH_SCHEMA))
        try:
            print("==> PostgreSQL", file=sys.stderr)
            results["databases"]["postgresql"] = measure(engine, args.touchpoints, args.days)
        finally:
            engine.dispose()
            if args.keep is None:
                with admin.begin() as conn:
                    conn.execute(text(f"DROP SCHEMA IF EXISTS {SCRATCH_SCHEMA} CASCADE"))
            admin.dispose()
    results["load_average_at_end"] = [round(x, 2) for x in os.getloadavg()]
    print(json.dumps(results, indent=2, default=str))
    worst_ok = True
    for name, r in results["databases"].items():
        worst_metrics = max(
            t["median_ms"] for k, t in r["metrics"].items() if k.startswith("30 days")
        )
        page = max(t["median_ms"] for k, t in r["log"].items() if "20 pages" not in k)
        ok = worst_metrics <= TARGET_SECONDS * 1000 and page <= TARGET_SECONDS * 1000
        worst_ok &= ok
        print(
            f"{name}: metrics page (30 days, slowest grouping) {worst_metrics:.0f} ms, "
            f"log page (slowest filter) {page:.0f} ms: target <= 1 s "
            f"{'met' if ok else 'NOT met'}"
        )
    return 0 if worst_ok else 1


if __name__ == "__main__":
    sys.exit(main())
