"""Start the assistant's processes together, wait until they answer, stop them cleanly.

``make run`` (``run``) and ``make shell`` (``shell``). Embedders that start the system as
``make run`` does (the end-to-end tests, the conversation suite, the benchmarks) use its
steps from here: ``ensure_secrets``, ``prepare_databases``, ``processes``, ``wait_ready``.
The steps live beside what they are about: bot/local_setup.py (secrets, databases, first
user), bot/processes.py (each process's command line), bot/child_process.py (starting
and waiting on one), bot/rasa/endpoints.py (Rasa's endpoints.yml).
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from urllib.parse import urlsplit

from bot.child_process import wait_ready
from bot.local_setup import FIRST_USER, ensure_first_user, ensure_secrets, prepare_databases
from bot.processes import BIN, child_env, local_mail_url, mail_dir, metrics_urls, processes
from bot.rasa.endpoints import endpoints_file
from bot.settings import Settings

# What an embedder needs to start the system as `make run` does, besides run and shell.
__all__ = [
    "codes_line",
    "ensure_secrets",
    "metrics_line",
    "prepare_databases",
    "processes",
    "run",
    "shell",
    "wait_ready",
]


def metrics_line(settings: Settings) -> str:
    """`make run`'s line on where each process's Prometheus metrics are."""
    urls = metrics_urls(settings)
    if not urls:
        return "Metrics:                 off (CX_METRICS_PORT=0)"
    names = {"Rasa server": "Rasa", "action server": "actions", "handoff dispatcher": "dispatcher"}
    where = ", ".join(f"{url} ({names.get(name, name)})" for name, url in urls.items())
    return f'Metrics (Prometheus):    {where}; deploy/README.md, "Metrics"'


def run(settings: Settings) -> int:
    """``make run``: start everything, print where to chat, stop all on Ctrl-C."""
    from bot.identity.mail import CodeMailer

    settings, secrets_file = ensure_secrets(settings)
    try:
        CodeMailer.from_settings(settings)  # a wrong CX_SMTP_URL is told now, not at a code
    except ValueError as e:
        print(f"!! {e}", file=sys.stderr, flush=True)
        return 1
    prepare_databases(settings)
    ensure_first_user(settings)
    procs = processes(settings)
    stopping = False

    def stop(*_: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    print(
        "==> Starting the action server, the Rasa server, the hub and the handoff dispatcher"
        " (about 20-40 s)",
        flush=True,
    )
    try:
        for proc in procs:
            proc.start(settings.root)
        wait_ready(procs)
        print(
            f"""
The assistant is running.
  Chat on the website:     {settings.hub_url}/demo   (a demo storefront with the chat widget)
  Chat in this terminal:   make shell   (or: .venv/bin/rasa shell --endpoints {endpoints_file(settings)})
  REST channel:            curl -s {settings.rasa_url}/webhooks/rest/webhook \\
                             -H 'Content-Type: application/json' -d '{{"sender": "me", "message": "where is ORD-10001"}}'
  Rasa HTTP API:           {settings.rasa_url} (token in {secrets_file})
  Agent console:           {settings.hub_url}/console   (sign in as "{FIRST_USER}", password CX_HUB_ADMIN_PASSWORD in {secrets_file};
                           add agents: .venv/bin/python -m bot users add ana --role agent --name Ana)
  CX review:               {settings.hub_url}/review   (metrics and charts, touchpoint log, journeys, flags;
                           add analysts: .venv/bin/python -m bot users add eve --role analyst --name Eve)
  Department inboxes:      {settings.hub_url}/departments/billing (also sales, delivery, support)
  Hub API:                 {settings.hub_url}/api/openapi.json
  Logs:                    {settings.var_dir / "logs"}
  {metrics_line(settings)}
  Demo customers:          jane.doe@example.com, omar@example.com, li.wei@example.com (bot/backoffice/fixture.yml)
  {codes_line(settings)}
Press Ctrl-C to stop.""",
            flush=True,
        )
        while not stopping:
            for proc in procs:
                if not proc.alive():
                    print(f"!! {proc.name} stopped unexpectedly; see {proc.log}", flush=True)
                    stopping = True
            time.sleep(0.5)
        return 0
    except RuntimeError as e:
        print(f"!! {e}", file=sys.stderr, flush=True)
        return 1
    finally:
        print("==> Stopping", flush=True)
        for proc in reversed(procs):
            proc.stop()


def codes_line(settings: Settings) -> str:
    """`make run`'s line on where the one-time verification codes go."""
    if settings.smtp_url:
        parts = urlsplit(settings.smtp_url)
        server = f"{parts.scheme}://{parts.netloc.rpartition('@')[2]}"  # no user, no password
        return f"Verification codes emailed to customers through {server} (CX_SMTP_URL)"
    where = mail_dir(settings)
    if where.is_relative_to(settings.root):
        where = where.relative_to(settings.root)
    return (
        f"Verification codes emailed to customers: {where}/ (local mail catcher on "
        f"{local_mail_url(settings).removeprefix('smtp://')}; set CX_SMTP_URL to use a real mail server)"
    )


def shell(settings: Settings) -> int:
    """``make shell``: the action server in the background, ``rasa shell`` in the foreground."""
    settings, _ = ensure_secrets(settings)
    # The action server alone, and the mail catcher when codes go to it.
    procs = [p for p in processes(settings) if p.name in ("action server", "mail catcher")]
    for proc in procs:
        proc.start(settings.root)
    try:
        wait_ready(procs)
        argv = [
            str(BIN / "rasa"),
            "shell",
            "--endpoints",
            str(endpoints_file(settings)),
            "--model",
            "models",
        ]
        return subprocess.call(argv, cwd=settings.root, env=child_env(settings))
    except RuntimeError as e:
        print(f"!! {e}", file=sys.stderr)
        return 1
    finally:
        for proc in reversed(procs):
            proc.stop()
