"""Turn latency and throughput over REST, side by side with stock Rasa and an echo floor.

Usage: .venv/bin/python bench/turns.py [--postgres URL] [--model PATH] [--scale 1.0]

Starts, in this one run and on this machine:
- the floor: an echo server on Sanic, Rasa's web stack (bench/echo_server.py);
- stock Rasa: `rasa init`'s starter bot (Rasa's default config), trained in a temporary
  folder, served by `rasa run` with its in-memory tracker store;
- our assistant (action server, Rasa, hub, dispatcher as `make run` starts them) on SQLite,
  and, with --postgres, a second copy with its journey and Rasa tracker stores on PostgreSQL.

Each is started alone (cold start to ready, timed), then all stay up and are driven in
turn, at 1, 4 and 16 concurrent conversations, each virtual customer with its own sender
id, one message at a time, waiting for the answer. Our conversation: a greeting, a billing
need, the order number and e-mail that verify the customer and complete its handoff (identity
check, back office, outbox, journey), then an
order status question (custom action, back office, journey logging). Stock Rasa's: greet,
mood, bye.
Prints progress to stderr and one JSON object to stdout; bench/report.py writes it up.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.child_process import Process  # noqa: E402
from bot.runner import ensure_secrets, prepare_databases, processes  # noqa: E402
from bot.settings import Settings  # noqa: E402
from tests.e2e.conftest import free_port, latest_model  # noqa: E402

BIN = Path(sys.executable).parent
LEVELS = (1, 4, 16)
# Conversations each virtual customer holds, by concurrency: enough turns for p95/p99 per
# turn type without the run outgrowing `make bench`'s 15 minutes.
CONVERSATIONS = {1: 25, 4: 8, 16: 4}

# (turn type, message, a piece of the answer that proves the turn did its work)
OURS = [
    ("greeting", "hi", "What can I do for you?"),
    ("need", "I was charged twice for my chair", "email address"),
    # The order with its email verifies Omar (an email alone would send him a code). The
    # first conversation opens the handoff ("Your reference is H-n"); the later ones join it
    # ("already on this: reference H-n", one truth), as a repeat contact would.
    ("handoff", "it's ORD-10004, omar@example.com", "reference"),
    ("order status", "where is my order ORD-10004?", "ORD-10004"),  # Omar's, now he is known
]
STOCK = [
    ("greeting", "hello there", "Hey!"),
    ("mood", "I am feeling great", "Great"),
    ("goodbye", "bye", "Bye"),
]


@dataclass
class Target:
    """A server under test: where to post, which conversation to hold, its processes."""

    name: str
    url: str
    script: list[tuple[str, str, str | None]]
    procs: list[Process] = field(default_factory=list)
    cold_start_s: dict[str, float] = field(default_factory=dict)
    settings: Settings | None = None  # ours: where to read the steps each turn takes


def log(message: str) -> None:
    print(f"    {message}", file=sys.stderr, flush=True)


def start_and_time(procs: list[Process], cwd: Path, timeout: float = 300) -> dict[str, float]:
    """Start ``procs`` together and return seconds from start to each one's ready answer."""
    started = time.monotonic()
    for proc in procs:
        proc.start(cwd)
    ready: dict[str, float] = {}
    while len(ready) < len(procs):
        for proc in procs:
            if proc.name in ready:
                continue
            if not proc.alive():
                tail = proc.log.read_text(errors="replace")[-3000:] if proc.log.exists() else ""
                raise RuntimeError(f"{proc.name} exited during start-up; its log ends:\n{tail}")
            if proc.ready():
                ready[proc.name] = round(time.monotonic() - started, 1)
        if time.monotonic() - started > timeout:
            raise RuntimeError(
                f"not ready after {timeout:.0f}s: {sorted(set(p.name for p in procs) - set(ready))}"
            )
        time.sleep(0.2)
    return ready


def peak_memory_mb(proc: Process) -> float | None:
    """The process's peak resident memory (VmHWM), in MiB, while it is still running."""
    if not proc.alive():
        return None
    for line in Path(f"/proc/{proc.popen.pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return round(int(line.split()[1]) / 1024, 1)
    return None


# --- the references -----------------------------------------------------------------------


def start_echo(work: Path) -> Target:
    port = free_port()
    proc = Process(
        "echo server",
        [str(BIN / "python"), str(ROOT / "bench" / "echo_server.py"), "--port", str(port)],
        f"http://127.0.0.1:{port}/",
        dict(os.environ),
        work / "logs" / "echo.log",
    )
    target = Target("echo floor (Sanic)", f"http://127.0.0.1:{port}", OURS, [proc])
    target.cold_start_s = start_and_time([proc], ROOT)
    target.script = [(kind, text, text) for kind, text, _ in OURS]  # the echo proves it
    return target


def train_stock(work: Path) -> tuple[Path, float]:
    """`rasa init`'s project, copied and trained as its user would (Rasa's default config)."""
    import rasa

    project = work / "stock"
    shutil.copytree(Path(rasa.__file__).parent / "cli" / "initial_project", project)
    started = time.monotonic()
    result = subprocess.run(
        [str(BIN / "rasa"), "train", "--fixed-model-name", "stock", "--out", "models"],
        cwd=project,
        env={**os.environ, "PYTHONWARNINGS": "ignore", "TF_CPP_MIN_LOG_LEVEL": "3"},
        capture_output=True,
        text=True,
    )
    if result.returncode != 0:
        raise RuntimeError(
            f"training rasa init's bot failed:\n{result.stdout[-2000:]}{result.stderr[-2000:]}"
        )
    return project / "models" / "stock.tar.gz", time.monotonic() - started


def start_stock(work: Path, model: Path) -> Target:
    port = free_port()
    project = model.parent.parent
    proc = Process(
        "stock Rasa",
        [
            str(BIN / "rasa"),
            "run",
            "--enable-api",
            "--interface",
            "127.0.0.1",
            "--port",
            str(port),
            "--model",
            str(model),
            "--credentials",
            str(project / "credentials.yml"),
            "--endpoints",
            str(project / "endpoints.yml"),
        ],
        f"http://127.0.0.1:{port}/status",
        {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"},
        work / "logs" / "stock-rasa.log",
    )
    target = Target("stock Rasa (rasa init)", f"http://127.0.0.1:{port}", STOCK, [proc])
    target.cold_start_s = start_and_time([proc], project)
    return target


# --- our assistant --------------------------------------------------------------------------


def start_ours(work: Path, model: Path, name: str, postgres: str | None) -> Target:
    var_dir = work / name
    env = {
        "CX_VAR_DIR": str(var_dir),
        "CX_RASA_PORT": str(free_port()),
        "CX_ACTION_PORT": str(free_port()),
        "CX_HUB_PORT": str(free_port()),
        "CX_MAIL_PORT": str(free_port()),
        # The Rasa server's metrics (its remote actions, counted by action) on a port of its
        # own: another run on this machine may hold the default one.
        "CX_METRICS_PORT": str(free_port()),
    }
    if postgres:
        env["CX_JOURNEY_URL"] = scratch_database(postgres, f"cx_bench_journey_{os.getpid()}")
        env["CX_TRACKER_URL"] = scratch_database(postgres, f"cx_bench_tracker_{os.getpid()}")
    settings, _ = ensure_secrets(Settings.from_env(env))
    prepare_databases(settings)
    saved = dict(os.environ)
    try:
        # Every virtual customer talks from 127.0.0.1: per-address limits would measure the
        # limiter, not the assistant. No Slack in this benchmark.
        for key in ("CX_RATE_IP", "CX_RATE_CONNECT_IP", "CX_RATE_CONVERSATION"):
            os.environ[key] = "off"
        for key in ("SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET", "SLACK_CHANNEL"):
            os.environ.pop(key, None)
        procs = processes(settings, model=model)
    finally:
        os.environ.clear()
        os.environ.update(saved)
    label = "ours, PostgreSQL" if postgres else "ours, SQLite"
    target = Target(label, settings.rasa_url, OURS, procs, settings=settings)
    target.cold_start_s = start_and_time(procs, settings.root)
    return target


# --- the steps of a turn ----------------------------------------------------------------------


def remote_actions_so_far(settings: Settings) -> dict[str, float]:
    """The Rasa server's calls to the action server so far, by action (cx_remote_actions_total)."""
    port = settings.metrics_port_of("rasa")
    text = requests.get(f"http://{settings.metrics_host}:{port}/metrics", timeout=10).text
    counts: dict[str, float] = {}
    for line in text.splitlines():
        if line.startswith("cx_remote_actions_total{"):
            labels, value = line.rsplit(" ", 1)
            action = labels.split('action="', 1)[1].split('"', 1)[0]
            counts[action] = counts.get(action, 0.0) + float(value)
    return counts


def count_steps(target: Target) -> dict[str, dict]:
    """One more conversation of the script, alone: for each turn, the remote actions the Rasa
    server made (its counter read before and after the message) and the policy predictions
    (the turn's actions that a policy chose: not a session start nor a follow-up action)."""
    settings = target.settings
    assert settings is not None
    sender = f"bench-steps-{uuid.uuid4().hex[:12]}"
    steps: dict[str, dict] = {}
    with requests.Session() as session:
        for kind, text, _ in target.script:
            before = remote_actions_so_far(settings)
            session.post(
                f"{target.url}/webhooks/rest/webhook",
                json={"sender": sender, "message": text},
                timeout=60,
            ).raise_for_status()
            after = remote_actions_so_far(settings)
            called = {a: int(n - before.get(a, 0.0)) for a, n in after.items()}
            steps[kind] = {"remote_actions": {a: n for a, n in called.items() if n}}
        events = session.get(
            f"{target.url}/conversations/{sender}/tracker",
            params={"token": settings.rasa_token},
            timeout=60,
        ).json()["events"]
    turns = [i for i, e in enumerate(events) if e.get("event") == "user"]
    for (kind, _, _), start, end in zip(
        target.script, turns, turns[1:] + [len(events)], strict=True
    ):
        chosen = [
            e["name"]
            for e in events[start:end]
            if e.get("event") == "action" and e.get("policy") not in (None, "followup_action")
        ]
        steps[kind]["predictions"] = len(chosen)
        steps[kind]["predicted"] = chosen
        steps[kind]["remote_calls"] = sum(steps[kind]["remote_actions"].values())
    return steps


def scratch_database(server_url: str, name: str) -> str:
    """Create an empty database ``name`` on the server (dropped by :func:`drop_databases`)."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    engine = create_engine(server_url, future=True, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    engine.dispose()
    return make_url(server_url).set(database=name).render_as_string(hide_password=False)


def drop_databases(server_url: str) -> None:
    from sqlalchemy import create_engine, text

    engine = create_engine(server_url, future=True, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        for kind in ("journey", "tracker"):
            conn.execute(
                text(f'DROP DATABASE IF EXISTS "cx_bench_{kind}_{os.getpid()}" WITH (FORCE)')
            )
    engine.dispose()


# --- the load ---------------------------------------------------------------------------------


@dataclass
class Sample:
    kind: str
    seconds: float
    ok: bool


def converse(
    url: str, script, sender: str, session: requests.Session, out: list[Sample], errors: list[str]
) -> None:
    """Hold one conversation, one message at a time, recording every turn."""
    for kind, text, expect in script:
        started = time.perf_counter()
        ok, problem = False, ""
        try:
            reply = session.post(
                f"{url}/webhooks/rest/webhook", json={"sender": sender, "message": text}, timeout=60
            )
            said = " ".join(m.get("text") or "" for m in reply.json()) if reply.ok else ""
            ok = reply.status_code == 200 and (expect is None or expect in said)
            if not ok:
                problem = f"{kind}: HTTP {reply.status_code}, answer {said[:120]!r}"
        except (requests.RequestException, ValueError) as exc:
            problem = f"{kind}: {type(exc).__name__}: {exc}"
        out.append(Sample(kind, time.perf_counter() - started, ok))
        if problem:
            errors.append(problem)
            return  # the rest of this conversation would measure a broken state


def drive(target: Target, concurrency: int, conversations: int) -> dict:
    """``concurrency`` customers at once, each holding ``conversations`` conversations."""
    samples: list[Sample] = []
    errors: list[str] = []
    lock = threading.Lock()
    barrier = threading.Barrier(concurrency + 1)

    def customer(index: int) -> None:
        mine: list[Sample] = []
        mine_errors: list[str] = []
        with requests.Session() as session:
            barrier.wait()
            for _ in range(conversations):
                sender = f"bench-{index}-{uuid.uuid4().hex[:12]}"
                converse(target.url, target.script, sender, session, mine, mine_errors)
        with lock:
            samples.extend(mine)
            errors.extend(mine_errors)

    threads = [threading.Thread(target=customer, args=(i,)) for i in range(concurrency)]
    for t in threads:
        t.start()
    barrier.wait()
    started = time.perf_counter()
    for t in threads:
        t.join()
    wall = time.perf_counter() - started
    by_kind: dict[str, dict] = {}
    for kind in dict.fromkeys(k for k, _, _ in target.script):
        times = [s.seconds for s in samples if s.kind == kind and s.ok]
        by_kind[kind] = summary(times)
    return {
        "concurrency": concurrency,
        "messages": len(samples),
        "errors": len(errors),
        "first_errors": errors[:3],
        "seconds": round(wall, 2),
        "messages_per_second": round(len(samples) / wall, 1),
        "turns": by_kind,
    }


def summary(times: list[float]) -> dict:
    if not times:
        return {"n": 0}
    ordered = sorted(times)

    def pct(p: float) -> float:
        return round(ordered[min(len(ordered) - 1, int(round(p * (len(ordered) - 1))))] * 1000, 1)

    return {
        "n": len(ordered),
        "p50": round(statistics.median(ordered) * 1000, 1),
        "p95": pct(0.95),
        "p99": pct(0.99),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--postgres", help="a PostgreSQL server URL to run our second copy on")
    parser.add_argument("--model", help="our trained model (default: the newest in models/)")
    parser.add_argument(
        "--stock-model", help="a trained rasa init model to reuse (skips its training)"
    )
    parser.add_argument("--scale", type=float, default=1.0, help="multiply the conversations held")
    args = parser.parse_args()
    model = Path(args.model) if args.model else latest_model()
    work = Path(tempfile.mkdtemp(prefix="cx-bench-turns-"))
    targets: list[Target] = []
    result: dict = {"model": model.name}
    try:
        log("starting the echo floor")
        targets.append(start_echo(work))
        log("training rasa init's starter bot (Rasa's default config) in a temporary folder")
        if args.stock_model:  # re-running by hand: reuse a starter bot trained before
            stock_model, stock_train_s = Path(args.stock_model), float("nan")
        else:
            stock_model, stock_train_s = train_stock(work)
        result["stock_training_seconds"] = round(stock_train_s, 1)
        log(f"  trained in {stock_train_s:.0f}s; starting stock Rasa")
        targets.append(start_stock(work, stock_model))
        log("starting our assistant on SQLite (action server, Rasa, hub, dispatcher)")
        targets.append(start_ours(work, model, "sqlite", None))
        if args.postgres:
            log("starting our assistant on PostgreSQL (journey and tracker stores)")
            targets.append(start_ours(work, model, "postgres", args.postgres))
        for target in targets:  # first inference loads lazily: keep it out of the figures
            warm = drive(target, 1, 2)
            if warm["errors"]:
                log(f"{target.name}: warm-up errors: {warm['first_errors']}")
            result.setdefault("warm_up_errors", {})[target.name] = warm["first_errors"]
        runs: dict[str, list[dict]] = {t.name: [] for t in targets}
        for level in LEVELS:
            conversations = max(1, round(CONVERSATIONS[level] * args.scale))
            for target in targets:
                run = drive(target, level, conversations)
                runs[target.name].append(run)
                log(
                    f"{target.name:<26} {level:>2} at once: {run['messages']} messages, "
                    f"{run['messages_per_second']} msg/s, {run['errors']} errors"
                )
        result["targets"] = [
            {
                "name": t.name,
                "cold_start_s": t.cold_start_s,
                "peak_memory_mb": {p.name: peak_memory_mb(p) for p in t.procs},
                "runs": runs[t.name],
            }
            | ({"steps_per_turn": count_steps(t)} if t.settings is not None else {})
            for t in targets
        ]
    finally:
        for target in reversed(targets):
            for proc in reversed(target.procs):
                proc.stop()
        if args.postgres:
            drop_databases(args.postgres)
        shutil.rmtree(work, ignore_errors=True)
    print(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
