"""Measure what journey logging adds to one conversation turn.

Usage: .venv/bin/python bench/turn_logging.py [--turns 300] [--url DB_URL]

A need turn in the action server does, without logging, `desk.serve(ctx)` (the baseline).
With logging, a turn that raises a need with its details at once records the touchpoint
twice (when the need is noted, and again just before it is served, whose signals feed the
CX routing rules), as actions/needs.py does: the worst case. Every other turn records once
(a greeting, an answer to the form, thanks, goodbye), which is also measured. A handoff
adds one small update, not measured here (order status is self-served). Both
are timed side by side on the same seeded back office and journey database (temporary
SQLite files unless --url names a PostgreSQL journey database), over conversations that
grow to 12 messages; the report gives medians, p95 and the difference.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import text

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bot.backoffice.sql import SqlBackOffice, seed  # noqa: E402
from bot.db.engine import make_engine, with_search_path  # noqa: E402
from bot.db.migrate import migrate  # noqa: E402
from bot.departments import load_departments  # noqa: E402
from bot.handoff import HandoffDesk  # noqa: E402
from bot.journey.signals import Signals, UserMessage  # noqa: E402
from bot.journey.store import Turn  # noqa: E402
from bot.routing import RoutingMap  # noqa: E402
from bot.services import assemble_desk  # noqa: E402
from bot.support import NeedContext  # noqa: E402

SCRATCH_SCHEMA = "cx_bench_turns"


def measure(turns: int, journey_url: str | None) -> dict:
    tmp = Path(tempfile.mkdtemp(prefix="cx-bench-"))
    backoffice_engine = make_engine(f"sqlite:///{tmp / 'backoffice.db'}")
    seed(backoffice_engine)
    if journey_url:  # a scratch schema, dropped and made afresh
        with make_engine(journey_url).begin() as conn:
            conn.execute(text(f"DROP SCHEMA IF EXISTS {SCRATCH_SCHEMA} CASCADE"))
            conn.execute(text(f"CREATE SCHEMA {SCRATCH_SCHEMA}"))
        journey_engine = make_engine(with_search_path(journey_url, SCRATCH_SCHEMA))
    else:
        journey_engine = make_engine(f"sqlite:///{tmp / 'journey.db'}")
    migrate(journey_engine)
    desk = assemble_desk(
        SqlBackOffice(backoffice_engine),
        RoutingMap.load(),
        HandoffDesk(journey_engine, load_departments()),
    )
    customer = desk.customer("C001")
    order = desk.backoffice.order("ORD-10001")
    desk.serve(NeedContext("order_status", "warm-up", customer=customer, order=order))
    baseline, logged, one_record = [], [], []
    start = datetime.now()
    for i in range(turns):
        conversation = f"bench-{i // 6}"  # six turns per conversation: 2 to 12 messages
        # A calm conversation (distinct messages, one need): repeated ones would read as
        # frustration and bring a person in, which is a handoff, not logging.
        messages = tuple(
            UserMessage(
                f"message {n} of a calm chat",
                "order_status" if n == 0 else "inform",
                start + timedelta(seconds=n),
            )
            for n in range(2 * (i % 6) + 2)
        )
        ctx = NeedContext("order_status", conversation, customer=customer, order=order)
        t0 = time.perf_counter()
        desk.serve(ctx)
        baseline.append(time.perf_counter() - t0)

        turn = Turn(
            conversation_id=conversation,
            channel="rest",
            session_started_at=start,
            messages=messages,
            customer_id=customer.id,
            customer_name=customer.name,
            tier=customer.tier,
            email=customer.email,
            need="order_status",
            department="delivery",
            # One order per conversation: the same order in every chat would be a repeat
            # contact, which brings a person in (a handoff, not logging).
            order_id=f"ORD-B{i // 6}",
        )
        t0 = time.perf_counter()
        desk.journey.record(turn)  # action_note_need
        t1 = time.perf_counter()
        touchpoint = desk.journey.record(turn)  # action_serve_need, before serving
        signals = Signals.from_dict(touchpoint.signals)  # for the CX routing rules
        desk.serve(replace(ctx, signals=signals))
        t2 = time.perf_counter()
        logged.append(t2 - t0)
        one_record.append(t2 - t1)
    ms = [x * 1000 for x in baseline]
    ms_logged = [x * 1000 for x in logged]
    ms_one = [x * 1000 for x in one_record]
    return {
        # A turn that records once (most turns: a greeting, a form answer, thanks, goodbye).
        "one_record_median_ms": round(statistics.median(ms_one), 2),
        "one_record_added_median_ms": round(statistics.median(ms_one) - statistics.median(ms), 2),
        "turns": turns,
        "database": journey_engine.url.get_backend_name(),
        "baseline_median_ms": round(statistics.median(ms), 2),
        "baseline_p95_ms": round(statistics.quantiles(ms, n=20)[-1], 2),
        "logged_median_ms": round(statistics.median(ms_logged), 2),
        "logged_p95_ms": round(statistics.quantiles(ms_logged, n=20)[-1], 2),
        "added_median_ms": round(statistics.median(ms_logged) - statistics.median(ms), 2),
        "ratio_median": round(statistics.median(ms_logged) / statistics.median(ms), 2),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--turns", type=int, default=300)
    parser.add_argument("--url", default=None, help="journey database URL (default: SQLite)")
    args = parser.parse_args()
    print(json.dumps(measure(args.turns, args.url)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
