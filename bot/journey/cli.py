"""``python -m bot export``, ``forget`` and ``retention``: a customer's data from the shell."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from urllib.parse import quote

from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError

from bot.settings import Settings


def add_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the three commands to the CLI's subparsers."""
    p = sub.add_parser("export", help="everything held about a customer, as JSON (access request)")
    p.add_argument("customer", help="a customer id (C001, anon-...), email, Slack user or chat id")
    p.add_argument("--out", type=Path, help="write to this file (default: standard output)")
    p = sub.add_parser("forget", help="erase a customer everywhere (right to be forgotten)")
    p.add_argument("customer", help="a customer id (C001, anon-...), email, Slack user or chat id")
    p.add_argument("--yes", action="store_true", help="don't ask for confirmation")
    p = sub.add_parser("retention", help="delete conversations that ended more than N days ago")
    p.add_argument("--days", type=int, help="default: CX_RETENTION_DAYS")
    p.add_argument("--dry-run", action="store_true", help="count what would go; delete nothing")


def _engines(settings: Settings) -> tuple[Engine, Engine | None]:
    from bot.db.engine import make_engine
    from bot.db.migrate import migrate
    from bot.journey.rasa_tracker import tracker_store_url

    engine = make_engine(settings.journey_url)
    migrate(engine)
    url = tracker_store_url(settings)
    return engine, (make_engine(url) if url else None)


def _no_tracker_store() -> None:
    print(
        "warning: Rasa's tracker store is not SQL (endpoints.yml), so its events were not "
        "read or erased: set CX_TRACKER_URL to its SQLAlchemy URL",
        file=sys.stderr,
    )


def erase_in_rasa(settings: Settings, conversations: list[str]) -> int | None:
    """Ask the running Rasa server to erase each conversation under its lock
    (bot/rasa/channels/erasure.py); None when Rasa is not running (no turn can be in flight)."""
    import requests

    from bot.local_setup import read_secrets

    token = settings.rasa_token or read_secrets(settings.var_dir / "secrets.env").get(
        "CX_RASA_TOKEN", ""
    )
    erased = 0
    for conversation in conversations:
        url = f"{settings.rasa_url}/webhooks/rest/conversations/{quote(conversation, safe='')}/tracker"
        try:
            answer = requests.delete(url, params={"token": token}, timeout=(2, 60))
        except requests.ConnectionError:
            return None
        except requests.RequestException as e:
            print(f"warning: Rasa did not erase {conversation!r} ({e})", file=sys.stderr)
            continue
        if answer.ok:
            erased += answer.json().get("events_deleted", 0)
        else:
            print(
                f"warning: Rasa answered {answer.status_code} erasing {conversation!r}: "
                f"{answer.text[:200]}",
                file=sys.stderr,
            )
    return erased


def export(settings: Settings, args: argparse.Namespace) -> int:
    """Write everything held about a customer as one JSON document."""
    from bot.journey.privacy import export_customer

    engine, tracker = _engines(settings)
    try:
        document = export_customer(engine, args.customer, tracker)
    except SQLAlchemyError as e:
        print(f"error: could not read the data ({type(e).__name__}: {e})", file=sys.stderr)
        return 1
    if document is None:
        print(f"no data held about {args.customer!r}", file=sys.stderr)
        return 1
    if tracker is None:
        _no_tracker_store()
    text = json.dumps(document, indent=2, ensure_ascii=False, default=str) + "\n"
    if args.out:
        # Personal data: readable by its owner only.
        fd = os.open(args.out, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        print(f"everything held about {args.customer} written to {args.out}", file=sys.stderr)
    else:
        sys.stdout.write(text)
    return 0


def forget(settings: Settings, args: argparse.Namespace) -> int:
    """Erase a customer from the journey store and Rasa's tracker store."""
    from bot.journey.data_subject import find_subject
    from bot.journey.privacy import forget_customer

    engine, tracker = _engines(settings)
    if tracker is None:
        # Erasing half of it and saying "done" would be worse than refusing.
        _no_tracker_store()
        print("nothing erased", file=sys.stderr)
        return 1
    with engine.connect() as conn:
        subject = find_subject(conn, args.customer)
    if subject.found and not args.yes:
        try:
            answer = input(
                f"Erase {args.customer} ({len(subject.customer_ids)} customer record(s)) "
                "and every conversation of theirs, for good? [y/N] "
            )
        except EOFError:  # no terminal to ask on
            answer = ""
        if answer.strip().lower() not in ("y", "yes"):
            print("nothing erased (add --yes to erase without being asked)")
            return 1
    locked = erase_in_rasa(settings, sorted(subject.conversation_ids))
    if locked is not None:
        print(f"{locked} tracker event(s) erased by Rasa under each conversation's lock")
    try:
        # Then directly, whether Rasa answered or not: idempotent, and Rasa may be stopped.
        erased = forget_customer(engine, args.customer, tracker)
    except SQLAlchemyError as e:
        print(
            f"error: erasing stopped ({type(e).__name__}: {e}); the journey store is unchanged "
            "if it failed there. Run the same command again once the database answers.",
            file=sys.stderr,
        )
        return 1
    if erased.total == 0:
        print(f"nothing held about {args.customer!r}: nothing to erase")
        return 0
    print(
        f"erased {args.customer}: customer(s) {', '.join(erased.customer_ids) or '-'}, "
        f"{len(erased.conversation_ids)} conversation(s)"
    )
    for table, count in erased.rows.items():
        if count:
            print(f"  {table:<20} {count:>6} row(s)")
    print(f"  {'Rasa tracker events':<20} {erased.tracker_events:>6}")
    if erased.cancelled_handoffs:
        print(
            "cancelled before delivery (the department never gets them): "
            + ", ".join(erased.cancelled_handoffs)
        )
    if erased.delivered_handoffs:
        print(
            "already delivered to a department's webhook (erase them in that system too, "
            "unless it is the built-in inbox, erased here): " + ", ".join(erased.delivered_handoffs)
        )
    return 0


def retention(settings: Settings, args: argparse.Namespace) -> int:
    """Delete (or count, with --dry-run) what is older than the retention period."""
    from bot.journey.privacy import apply_retention

    days = args.days if args.days is not None else settings.retention_days
    if days is None:
        print("error: give --days N or set CX_RETENTION_DAYS", file=sys.stderr)
        return 2
    if days < 1:
        print("error: --days must be at least 1", file=sys.stderr)
        return 2
    engine, tracker = _engines(settings)
    if tracker is None:
        _no_tracker_store()
    done = apply_retention(engine, days, tracker, dry_run=args.dry_run)
    verb = "would delete" if args.dry_run else "deleted"
    print(f"{verb} what ended before {done.cutoff:%Y-%m-%d %H:%M}:")
    for table, count in done.rows.items():
        if count:
            print(f"  {table:<20} {count:>6} row(s)")
    print(f"  {'Rasa tracker events':<20} {done.tracker_events:>6}")
    return 0
