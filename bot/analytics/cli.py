"""``python -m bot report`` and ``python -m bot demo-data``: CX review from the shell."""

from __future__ import annotations

import argparse
import json
import re
import sys
from datetime import date, datetime, time, timedelta

from bot.settings import Settings

_DAYS = re.compile(r"^(\d+)([dw])$")


def parse_since(text: str, now: datetime) -> datetime:
    """The start of a report: "7d" is today and the 6 days before it (from midnight),
    "4w" the same in weeks, "2025-03-01" that day from midnight."""
    found = _DAYS.match(text.strip().lower())
    if found:
        days = int(found.group(1)) * (7 if found.group(2) == "w" else 1)
        if days < 1:
            raise ValueError("--since needs at least one day")
        return datetime.combine(now.date() - timedelta(days=days - 1), time())
    return datetime.combine(_day(text, "--since"), time())


def parse_until(text: str | None, now: datetime) -> datetime:
    """The end of a report (exclusive): now, or the end of the day given (it is included)."""
    if text is None:
        return now
    return datetime.combine(_day(text, "--until") + timedelta(days=1), time())


def _day(text: str, option: str) -> date:
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise ValueError(
            f"{option}: expected 7d, 4w or a date like 2025-03-01, not {text!r}"
        ) from None


def report(settings: Settings, args: argparse.Namespace) -> int:
    """Print the metrics table for a window, by day, week, stage or department."""
    from bot.analytics.export import as_csv, as_json, as_text
    from bot.analytics.filters import Filters
    from bot.analytics.metrics import metrics_table
    from bot.db.engine import make_engine
    from bot.db.migrate import migrate

    now = datetime.now().replace(microsecond=0)
    try:
        since = parse_since(args.since, now)
        until = parse_until(args.until, now)
    except ValueError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    if until <= since:
        print("error: --until must come after --since", file=sys.stderr)
        return 2
    filters = Filters(
        channel=args.channel, stage=args.stage, department=args.department, outcome=args.outcome
    )
    engine = make_engine(settings.journey_url)
    migrate(engine)
    table = metrics_table(engine, since, until, args.by, filters, now=now)
    engine.dispose()
    if args.format == "csv":
        sys.stdout.write(as_csv(table))
    elif args.format == "json":
        print(json.dumps(as_json(table), indent=2))
    else:
        shown = ", ".join(
            f"{name} {value}"
            for name, value in vars(filters).items()
            if value and name not in ("since", "until")
        )
        print(
            f"CX metrics from {since:%Y-%m-%d %H:%M} to {until:%Y-%m-%d %H:%M}, by {args.by}"
            + (f" ({shown})" if shown else "")
        )
        print()
        sys.stdout.write(as_text(table))
    return 0


def demo_data(settings: Settings, args: argparse.Namespace) -> int:
    """Fill the journey store with synthetic journeys, showing progress."""
    from bot.analytics.demo_data import DemoDataExists, load_demo_data
    from bot.db.engine import make_engine
    from bot.db.migrate import migrate

    engine = make_engine(settings.journey_url)
    migrate(engine)
    try:
        summary = load_demo_data(
            engine,
            args.touchpoints,
            seed=args.seed,
            days=args.days,
            progress=lambda line: print(line, flush=True),
        )
    except (DemoDataExists, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    finally:
        engine.dispose()
    print(
        f"Loaded {summary.touchpoints:,} touchpoints of {summary.customers:,} customers, "
        f"{summary.handoffs:,} handoffs, {summary.takeovers:,} takeovers, "
        f"{summary.policy_moments:,} policy moments and {summary.ratings:,} ratings "
        f"in {summary.seconds:.0f} s into {_shown(settings.journey_url)}"
    )
    if summary.agents_created:
        print(
            f"Demo agents {', '.join(summary.agents_created)} took chats over; they have no "
            "known password (set one: python -m bot users passwd demo-ana)."
        )
    print("See them: python -m bot report --since 30d --by week")
    return 0


def _shown(url: str) -> str:
    """A database URL fit to print: without its password."""
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)
