"""Measure handoff delivery throughput: outbox rows -> signed POSTs -> a local department.

Usage: .venv/bin/python bench/dispatch.py [--n 2000] [--conversations 50] [--url DB_URL]

Creates a fresh journey database (a temporary SQLite file unless --url names a PostgreSQL
database, where a scratch schema is used and dropped), queues N handoffs spread over some
conversations, and runs the dispatcher until the outbox is empty against a department
receiver in its own process (so it does not compete with the dispatcher for the GIL). The
receiver verifies every signature and counts distinct Idempotency-Keys, so the figure is
for correct deliveries only.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import secrets
import sys
import tempfile
import threading
import time
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import requests
from sqlalchemy import insert, text

from bot.db.engine import make_engine, with_search_path
from bot.db.migrate import migrate
from bot.db.schema import handoffs
from bot.departments import load_departments
from bot.handoff import outbox
from bot.handoff.dispatcher import Dispatcher
from bot.handoff.signing import verify

DEPARTMENTS = ("sales", "billing", "delivery", "support")
SCRATCH_SCHEMA = "cx_bench"


def serve_department(port_queue, secrets_by_department: dict[str, str]) -> None:
    """A department receiver (runs in a child process): verify, deduplicate, answer 200."""
    lock = threading.Lock()
    stats = {"requests": 0, "bad_signatures": 0}
    keys: set[str] = set()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, like any production web server
        disable_nagle_algorithm = True  # else every answer waits 40 ms for a delayed ACK

        def do_POST(self):
            body = self.rfile.read(int(self.headers["Content-Length"]))
            department = self.path.split("/")[3]
            ok = verify(
                secrets_by_department[department],
                self.headers.get("X-CX-Timestamp"),
                body,
                self.headers.get("X-CX-Signature"),
                now=time.time(),
            )
            with lock:
                stats["requests"] += 1
                stats["bad_signatures"] += not ok
                keys.add(self.headers["Idempotency-Key"])
            self._answer(200 if ok else 401, b'{"ok":true}')

        def do_GET(self):
            with lock:
                self._answer(200, json.dumps(stats | {"distinct_keys": len(keys)}).encode())

        def _answer(self, status: int, body: bytes) -> None:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    port_queue.put(server.server_address[1])
    server.serve_forever()


def fresh_engine(url: str | None, workdir: Path):
    """A migrated, empty journey database: a temp SQLite file, or a scratch PostgreSQL schema."""
    if url is None:
        engine = make_engine(f"sqlite:///{workdir / 'journey.db'}")
    else:
        engine = make_engine(url)
        with engine.begin() as conn:
            conn.execute(text(f"DROP SCHEMA IF EXISTS {SCRATCH_SCHEMA} CASCADE"))
            conn.execute(text(f"CREATE SCHEMA {SCRATCH_SCHEMA}"))
        engine.dispose()
        engine = make_engine(with_search_path(url, SCRATCH_SCHEMA))
    migrate(engine)
    return engine


def queue_handoffs(engine, n: int, conversations: int) -> None:
    """N handoffs round-robin over the conversations, each with its outbox row, like the desk writes them."""
    now = datetime.now(timezone.utc).replace(tzinfo=None)
    with engine.begin() as conn:
        for i in range(n):
            conversation_id = f"bench-{i % conversations}"
            department = DEPARTMENTS[i % len(DEPARTMENTS)]
            handoff_id = conn.execute(
                insert(handoffs).values(
                    created_at=now,
                    department=department,
                    need="bench",
                    conversation_id=conversation_id,
                    channel="web",
                    priority="normal",
                    summary=f"benchmark handoff {i}",
                    context="{}",
                    status="open",
                )
            ).inserted_primary_key[0]
            outbox.enqueue(
                conn,
                handoff_id=handoff_id,
                conversation_id=conversation_id,
                department=department,
                payload={
                    "handoff_id": handoff_id,
                    "conversation_id": conversation_id,
                    "department": department,
                    "summary": f"benchmark handoff {i}",
                    "transcript": ["I need help with my order"] * 5,
                },
                now=now,
            )


def raw_post_rate(hub_url: str, secrets_by_department: dict[str, str], n: int) -> float:
    """The baseline: signed POSTs one after another on one keep-alive session, no database.

    The ceiling for a sequential sender on this machine and receiver; the dispatcher's
    figure divided by it shows what the outbox bookkeeping costs.
    """
    from bot.handoff.signing import signature_headers

    department = DEPARTMENTS[0]
    url = f"{hub_url}/api/departments/{department}/handoffs"
    with requests.Session() as session:
        started = time.perf_counter()
        for i in range(n):
            body = json.dumps({"handoff_id": 10_000_000 + i, "baseline": True}).encode()
            headers = signature_headers(secrets_by_department[department], body, time.time())
            headers |= {"Content-Type": "application/json", "Idempotency-Key": f"baseline-{i}"}
            session.post(url, data=body, headers=headers, timeout=5).raise_for_status()
        return n / (time.perf_counter() - started)


def bench_dispatch(
    n: int = 2000, conversations: int = 50, url: str | None = None, batch: int = 100
) -> dict:
    """Deliver N queued handoffs and return how long it took and how many arrived."""
    secrets_by_department = {d: secrets.token_hex(16) for d in DEPARTMENTS}
    env = {f"CX_WEBHOOK_SECRET_{d.upper()}": s for d, s in secrets_by_department.items()}
    context = multiprocessing.get_context("spawn")  # a clean child: no copied engine or threads
    port_queue = context.Queue()
    receiver = context.Process(
        target=serve_department, args=(port_queue, secrets_by_department), daemon=True
    )
    receiver.start()
    with tempfile.TemporaryDirectory() as workdir:
        engine = fresh_engine(url, Path(workdir))
        try:
            print(f"queueing {n} handoffs over {conversations} conversations...", file=sys.stderr)
            queue_handoffs(engine, n, conversations)
            hub_url = f"http://127.0.0.1:{port_queue.get(timeout=30)}"
            dispatcher = Dispatcher(engine, load_departments(hub_url=hub_url), secrets=env)
            started = last_shown = time.perf_counter()
            runs = 0
            while outbox.pending_count(engine):
                dispatcher.run_once(limit=batch)
                runs += 1
                if time.perf_counter() - last_shown > 1:
                    last_shown = time.perf_counter()
                    print(f"  {n - outbox.pending_count(engine)}/{n} sent", file=sys.stderr)
            elapsed = time.perf_counter() - started
            dispatcher.close()
            stats = requests.get(hub_url, timeout=5).json()
            raw_per_second = raw_post_rate(hub_url, secrets_by_department, min(n, 1000))
        finally:
            if url is not None:
                with engine.begin() as conn:
                    conn.execute(text(f"DROP SCHEMA IF EXISTS {SCRATCH_SCHEMA} CASCADE"))
            engine.dispose()
            receiver.terminate()
    return {
        "database": engine.dialect.name,
        "handoffs": n,
        "conversations": conversations,
        "runs": runs,
        "seconds": round(elapsed, 3),
        "handoffs_per_second": round(n / elapsed, 1),
        "baseline_raw_posts_per_second": round(raw_per_second, 1),
        "ratio_to_baseline": round(n / elapsed / raw_per_second, 2),
        "received": stats["requests"],
        "distinct_keys": stats["distinct_keys"],
        "bad_signatures": stats["bad_signatures"],
    }


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print the figure; exit 1 if any handoff was lost or forged."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=2000, help="handoffs to deliver")
    parser.add_argument("--conversations", type=int, default=50)
    parser.add_argument("--batch", type=int, default=100, help="rows per dispatcher run")
    parser.add_argument("--url", help="a PostgreSQL URL (default: a temporary SQLite file)")
    args = parser.parse_args(argv)
    result = bench_dispatch(args.n, args.conversations, args.url, args.batch)
    print(json.dumps(result, indent=2))
    print(
        f"{result['handoffs_per_second']:.0f} handoffs/s on {result['database']} "
        f"({result['handoffs']} in {result['seconds']:.2f} s)"
    )
    ok = result["distinct_keys"] == args.n and result["bad_signatures"] == 0
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
