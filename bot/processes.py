"""The assistant's processes: each one's command line, environment, log and ready URL.

One of each for `make run` (``processes``), or several Rasa servers, action servers and
dispatchers on one machine (``scale_out_processes``), and where each serves its metrics.
Apart from bot/runner.py because this only describes the processes; the runner, the
scale-out, the tests and the benchmarks start them.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from urllib.parse import unquote, urlsplit

from bot.child_process import Process
from bot.local_setup import read_secrets
from bot.rasa.endpoints import endpoints_file

# LOCK_PASSWORD_ENV: Rasa reads the lock store's Redis password from the environment
# child_env gives it, not from the file.
from bot.settings import (
    DEFAULT_RASA_MAX_BODY_BYTES,
    LOCK_PASSWORD_ENV,
    Settings,
    child_process_env,
)

BIN = Path(sys.executable).parent
# The largest request body the Rasa server reads by default (CX_RASA_MAX_BODY_BYTES).
RASA_MAX_BODY_BYTES = DEFAULT_RASA_MAX_BODY_BYTES


def child_env(settings: Settings) -> dict[str, str]:
    # Generated secrets first, so anything set in the real environment overrides them.
    env = {**read_secrets(settings.var_dir / "secrets.env"), **child_process_env()}
    env.update(
        SANIC_HOST=settings.host,  # rasa_sdk binds to 0.0.0.0 unless told otherwise
        CX_VAR_DIR=str(settings.var_dir),
        CX_BACKOFFICE_URL=settings.backoffice_url,
        CX_BACKOFFICE_API_URL=settings.backoffice_api_url,
        CX_JOURNEY_URL=settings.journey_url,
        CX_RASA_TOKEN=settings.rasa_token,
        CX_HOST=settings.host,
        CX_HUB_PORT=str(settings.hub_port),
        CX_RASA_PORT=str(settings.rasa_port),
        CX_ACTION_PORT=str(settings.action_port),
        TF_CPP_MIN_LOG_LEVEL="2",
        # Each process listens at CX_METRICS_PORT + its offset (bot/monitoring.py), unless
        # scale_out_processes gives it a port of its own.
        CX_METRICS_PORT=str(settings.metrics_port),
        CX_METRICS_HOST=settings.metrics_host,
    )
    env.pop("CX_METRICS_OWN_PORT", None)
    if settings.tracker_url:
        env["CX_TRACKER_URL"] = settings.tracker_url  # erasure and retention reach it too
    if settings.action_endpoint_url:
        env["CX_ACTION_URL"] = settings.action_endpoint_url
    if settings.lock_url:
        env["CX_LOCK_URL"] = settings.lock_url
        env["CX_LOCK_KEY_PREFIX"] = settings.lock_key_prefix
        password = urlsplit(settings.lock_url).password
        if password:
            env[LOCK_PASSWORD_ENV] = unquote(password)  # endpoints.yml refers to it
    # Verification codes go to the configured mail server, else to the local mail catcher.
    env.update(
        CX_SMTP_URL=settings.smtp_url or local_mail_url(settings),
        CX_MAIL_FROM=settings.mail_from,
        CX_MAIL_PORT=str(settings.mail_port),
    )
    if not settings.smtp_url:
        env.pop("CX_SMTP_PASSWORD", None)  # a real server's, never offered to the catcher
    return env


def local_mail_url(settings: Settings) -> str:
    """The local mail catcher's SMTP URL (it listens on loopback only)."""
    return f"smtp://127.0.0.1:{settings.mail_port}"


def mail_dir(settings: Settings) -> Path:
    """Where the local mail catcher keeps the messages it receives."""
    return settings.var_dir / "mail"


def processes(settings: Settings, model: Path | str = "models") -> list[Process]:
    env = child_env(settings)
    logs = settings.var_dir / "logs"
    actions = Process(
        "action server",
        [
            str(BIN / "python"),
            "-m",
            "bot.rasa.action_server",  # rasa_sdk's app, with malformed calls answered 4xx
            "--actions",
            "actions",
            "--port",
            str(settings.action_port),
        ],
        f"http://{settings.host}:{settings.action_port}/health",
        env,
        logs / "actions.log",
    )
    rasa = Process(
        "Rasa server",
        [
            str(BIN / "rasa"),
            "run",
            "--enable-api",
            # One argument: a generated token may start with "-", which argparse would
            # otherwise take for an option ("expected one argument").
            f"--auth-token={settings.rasa_token}",
            "--interface",
            settings.host,
            "--port",
            str(settings.rasa_port),
            "--model",
            str(model),
            "--endpoints",
            str(endpoints_file(settings)),
            "--credentials",
            str(settings.root / "credentials.yml"),
            "--log-file",
            str(logs / "rasa-debug.log"),
        ],
        f"{settings.rasa_url}/status?token={settings.rasa_token}",
        # Sanic reads SANIC_* settings from the environment: bodies over the limit get 413.
        {**env, "SANIC_REQUEST_MAX_SIZE": str(settings.rasa_max_body_bytes)},
        logs / "rasa.log",
    )
    hub = Process(
        "hub",
        [str(BIN / "python"), "-m", "bot", "hub"],
        f"{settings.hub_url}/health",
        env,
        logs / "hub.log",
    )
    dispatcher = Process(
        "handoff dispatcher",
        [str(BIN / "python"), "-m", "bot", "dispatch"],
        None,
        env,
        logs / "dispatcher.log",
    )
    procs = [actions, rasa, hub, dispatcher]
    if not settings.smtp_url:
        procs.append(mail_catcher(settings, env))
    return procs


def mail_catcher(settings: Settings, env: dict[str, str]) -> Process:
    """The local mail catcher that stands in for a mail server while CX_SMTP_URL is unset."""
    return Process(
        "mail catcher",
        [
            str(BIN / "python"),
            "-m",
            "bot",
            "mailcatcher",
            "--port",
            str(settings.mail_port),
            "--dir",
            str(mail_dir(settings)),
        ],
        local_mail_url(settings),
        env,
        settings.var_dir / "logs" / "mailcatcher.log",
    )


def scale_out_processes(
    settings: Settings,
    *,
    rasa_ports: Sequence[int],
    action_ports: Sequence[int],
    dispatchers: int = 1,
    action_url: str | None = None,
    model: Path | str = "models",
    hub: bool = True,
) -> list[Process]:
    """Several Rasa servers, action servers and dispatchers on one machine (deploy/README.md).

    Rasa server ``i`` calls ``action_url`` when given (a load balancer in front of every
    action server), else ``CX_ACTION_URL`` when set, else action server ``i`` (modulo their
    number): a fixed pairing. Each
    process gets its own log (``rasa-1.log``...) and each Rasa its own endpoints file. Run it
    with ``CX_TRACKER_URL`` and ``CX_JOURNEY_URL`` on PostgreSQL and ``CX_LOCK_URL`` on Redis:
    more than one Rasa on SQLite files and in-memory locks would lose turns.
    """
    if len(rasa_ports) > 1 and not settings.lock_url:
        raise ValueError("several Rasa servers need CX_LOCK_URL (Rasa's Redis lock store)")
    logs = settings.var_dir / "logs"
    procs: list[Process] = []
    for i, port in enumerate(action_ports, start=1):
        [actions] = [
            p for p in processes(replace(settings, action_port=port)) if p.name == "action server"
        ]
        procs.append(replace(actions, name=f"action server {i}", log=logs / f"actions-{i}.log"))
    for i, port in enumerate(rasa_ports, start=1):
        own = replace(
            settings, rasa_port=port, action_port=action_ports[(i - 1) % len(action_ports)]
        )
        endpoints = endpoints_file(own, action_url=action_url, name=f"endpoints-{i}.yml")
        [rasa] = [p for p in processes(own, model=model) if p.name == "Rasa server"]
        argv = list(rasa.argv)
        argv[argv.index("--endpoints") + 1] = str(endpoints)
        argv[argv.index("--log-file") + 1] = str(logs / f"rasa-debug-{i}.log")
        procs.append(replace(rasa, name=f"Rasa server {i}", argv=argv, log=logs / f"rasa-{i}.log"))
    rest = processes(settings, model=model)
    if hub:
        procs += [replace(p, log=logs / "hub.log") for p in rest if p.name == "hub"]
    [dispatcher] = [p for p in rest if p.name == "handoff dispatcher"]
    for i in range(1, dispatchers + 1):
        procs.append(
            replace(dispatcher, name=f"handoff dispatcher {i}", log=logs / f"dispatcher-{i}.log")
        )
    if settings.metrics_port:  # one metrics port each, from CX_METRICS_PORT up
        procs = [
            replace(p, env={**p.env, "CX_METRICS_OWN_PORT": str(settings.metrics_port + i)})
            for i, p in enumerate(procs)
        ]
    # One catcher for every action server, as for `make run`, unless CX_SMTP_URL is set.
    procs += [p for p in rest if p.name == "mail catcher"]
    return procs


# The role each process of `processes()` serves its metrics as (bot/settings.py METRICS_OFFSETS).
METRICS_ROLES = {
    "Rasa server": "rasa",
    "action server": "actions",
    "hub": "hub",
    "handoff dispatcher": "dispatcher",
}


def metrics_urls(settings: Settings, procs: Sequence[Process] | None = None) -> dict[str, str]:
    """Each process's metrics URL by process name ({} when CX_METRICS_PORT is 0).

    ``procs`` from ``scale_out_processes`` carry their own ports; otherwise the ports are
    ``processes()``'s: CX_METRICS_PORT plus each role's offset.
    """
    if not settings.metrics_port:
        return {}
    ports: dict[str, int | None] = {}
    for name in [p.name for p in procs] if procs is not None else list(METRICS_ROLES):
        env = next((p.env for p in procs or () if p.name == name), {})
        if "CX_METRICS_OWN_PORT" in env:
            ports[name] = int(env["CX_METRICS_OWN_PORT"])
        elif name in METRICS_ROLES:
            ports[name] = settings.metrics_port_of(METRICS_ROLES[name])
    return {name: f"http://{settings.metrics_host}:{port}/metrics" for name, port in ports.items()}
