"""The project's command line: ``python -m bot <command>`` (``make`` calls it)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from bot.settings import Settings


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bot", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("build-spacy", help="build the project's spaCy pipeline")
    p.add_argument("--out", type=Path, default=Path("models/spacy/en_support"))

    p = sub.add_parser("train", help="train the Rasa model (skipped by Rasa when nothing changed)")
    p.add_argument("--force", action="store_true", help="train even if nothing changed")

    sub.add_parser("run", help="start the whole system (Rasa, actions, hub, dispatcher)")
    sub.add_parser("hub", help="serve the hub (department inboxes, APIs) on CX_HUB_PORT")
    sub.add_parser("dispatch", help="deliver handoffs to department webhooks and close idle chats")
    p = sub.add_parser("dead-letters", help="list handoffs that could not be delivered")
    p.add_argument("--retry", type=int, metavar="ID", help="send this dead outbox row again")
    sub.add_parser("shell", help="talk to the assistant in this terminal")
    sub.add_parser("seed", help="(re)load the demo back office from its fixture")
    p = sub.add_parser(
        "mailcatcher", help="a local mail server on 127.0.0.1 that keeps every message as a file"
    )
    p.add_argument("--port", type=int, help="default: CX_MAIL_PORT (8025)")
    p.add_argument("--dir", type=Path, help="where the .eml files go (default: var/mail)")

    p = sub.add_parser("users", help="hub users: add, list, passwd, disable")
    users_sub = p.add_subparsers(dest="users_command", required=True)
    u = users_sub.add_parser("add", help="create a user (the password is asked for)")
    u.add_argument("username")
    u.add_argument("--role", required=True, choices=("agent", "department", "analyst", "admin"))
    u.add_argument("--name", help="the name customers and colleagues see (default: username)")
    u.add_argument("--department", help="for department staff: sales, billing, delivery...")
    u.add_argument(
        "--password-stdin", action="store_true", help="read the password from stdin (scripts)"
    )
    users_sub.add_parser("list", help="every user with their role")
    u = users_sub.add_parser("passwd", help="set a new password (signs the user out everywhere)")
    u.add_argument("username")
    u.add_argument("--password-stdin", action="store_true")
    u = users_sub.add_parser("disable", help="stop a user signing in (signs them out everywhere)")
    u.add_argument("username")

    p = sub.add_parser("classify", help="classify customer messages read from stdin, one per line")
    p.add_argument("--model", default="models", help="model file or folder (latest model)")

    p = sub.add_parser("eval", help="measure understanding on held-out and public data")
    p.add_argument("--out", type=Path, default=Path("reports/eval.md"))
    p.add_argument(
        "--shared", type=Path, default=None, help="folder with the public evaluation CSVs"
    )
    p.add_argument("--model", default="models", help="the full model to score on the public sets")
    p.add_argument(
        "--config", default="config.yml", help="the config to train the held-out split with"
    )

    # CX review (bot/analytics/): the metrics table, and synthetic journeys to try it on.
    p = sub.add_parser("report", help="CX metrics for a period, as a table, CSV or JSON")
    p.add_argument(
        "--since", default="7d", help="7d, 30d, 4w (today and the days before) or YYYY-MM-DD"
    )
    p.add_argument("--until", help="the last day included, YYYY-MM-DD (default: up to now)")
    p.add_argument("--by", choices=("day", "week", "stage", "department"), default="day")
    p.add_argument("--format", choices=("table", "csv", "json"), default="table")
    p.add_argument("--channel", help="only conversations on this channel (socketio, slack...)")
    p.add_argument("--stage", help="only conversations at this journey stage")
    p.add_argument("--department", help="only conversations with a need of this department")
    p.add_argument("--outcome", help="only conversations with this outcome")
    p = sub.add_parser("demo-data", help="fill the journey store with synthetic journeys")
    p.add_argument("--touchpoints", type=int, default=5000, help="how many (default 5000)")
    p.add_argument("--seed", type=int, default=1, help="the same seed gives the same journeys")
    p.add_argument("--days", type=int, default=90, help="the history they span, up to now")

    # A customer's data (bot/journey/privacy.py): access requests, erasure, retention.
    from bot.journey.cli import add_commands as add_privacy_commands

    add_privacy_commands(sub)

    args = parser.parse_args(argv)
    settings = Settings.from_env()

    if args.command == "build-spacy":
        from bot.nlp.spacy_pipeline import build_and_save

        print(f"spaCy pipeline saved to {build_and_save(args.out)}")
        return 0
    if args.command == "train":
        from bot.rasa.training import train

        return train(settings, force=args.force)
    if args.command == "run":
        from bot.runner import run

        return run(settings)
    if args.command == "hub":
        from bot.hub import HubSettings, run_hub

        run_hub(HubSettings.from_settings(settings))
        return 0
    if args.command == "dispatch":
        from bot.journey.upkeep import run_upkeep

        return run_upkeep(settings)
    if args.command == "dead-letters":
        return dead_letters(settings, args.retry)
    if args.command == "shell":
        from bot.runner import shell

        return shell(settings)
    if args.command == "mailcatcher":
        from bot.identity.mailcatcher import serve

        port = settings.mail_port if args.port is None else args.port
        return serve(args.dir or settings.var_dir / "mail", port)
    if args.command == "seed":
        from bot.backoffice.sql import seed
        from bot.db.engine import make_engine

        seed(make_engine(settings.backoffice_url))
        print(f"Demo back office loaded into {settings.backoffice_url}")
        return 0
    if args.command == "users":
        return users(settings, args)
    if args.command == "classify":
        from bot.classify import classify_stream

        return classify_stream(sys.stdin, sys.stdout, model=args.model)
    if args.command == "eval":
        from bot.evaluation import main as evaluate

        return evaluate(
            settings, out=args.out, shared=args.shared, model=args.model, config=args.config
        )
    if args.command == "report":
        from bot.analytics.cli import report

        return report(settings, args)
    if args.command == "demo-data":
        from bot.analytics.cli import demo_data

        return demo_data(settings, args)
    if args.command in ("export", "forget", "retention"):
        from bot.journey import cli as privacy_cli

        return getattr(privacy_cli, args.command)(settings, args)
    return 2


def dead_letters(settings: Settings, retry_id: int | None) -> int:
    """List the outbox's dead letters, or put one back in the queue."""
    from datetime import datetime

    from bot.db.engine import make_engine
    from bot.handoff import outbox

    engine = make_engine(settings.journey_url)
    if retry_id is not None:
        if outbox.retry(engine, retry_id, datetime.now()):
            print(f"outbox row {retry_id} is queued again; the dispatcher sends it next")
            return 0
        print(f"no dead outbox row with id {retry_id}", file=sys.stderr)
        return 1
    rows = outbox.dead_letters(engine)
    for row in rows:
        print(
            f"{row['id']:>6}  handoff H-{row['handoff_id']}  {row['department']:<9} "
            f"dead {row['dead_at']:%Y-%m-%d %H:%M} after {row['attempts']} attempt(s): "
            f"{row['last_status'] or ''} {row['last_error'] or ''}".rstrip()
        )
    print(f"{len(rows)} dead letter(s). Send one again: python -m bot dead-letters --retry ID")
    return 0


def users(settings: Settings, args: argparse.Namespace) -> int:
    """``python -m bot users ...``: manage who may sign in to the hub."""
    import getpass

    from bot.db.engine import make_engine
    from bot.db.migrate import migrate
    from bot.departments import load_departments
    from bot.hub.accounts import AccountError, Accounts

    engine = make_engine(settings.journey_url)
    migrate(engine)
    accounts = Accounts(engine)

    def password() -> str:
        if args.password_stdin:
            return sys.stdin.readline().rstrip("\n")
        first = getpass.getpass("Password: ")
        if getpass.getpass("Again: ") != first:
            raise AccountError("the two passwords differ")
        return first

    try:
        if args.users_command == "add":
            if args.department and args.department not in load_departments():
                raise AccountError(f"no department called {args.department!r}")
            user = accounts.add(args.username, password(), args.role, args.name, args.department)
            print(f"{user.username} ({user.role}) can sign in at {settings.hub_url}/login")
        elif args.users_command == "list":
            for user, disabled in accounts.all():
                where = f" ({user.department})" if user.department else ""
                state = "  disabled" if disabled else ""
                print(f"{user.username:<20} {user.role}{where:<12} {user.display_name}{state}")
        elif args.users_command == "passwd":
            accounts.set_password(args.username, password())
            print(f"{args.username}'s password is changed; their sessions are ended")
        elif args.users_command == "disable":
            accounts.disable(args.username)
            print(f"{args.username} can no longer sign in")
    except AccountError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
