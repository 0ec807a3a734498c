"""A department's webhook receiver in its own process, as a department's system would run it.

``python -m tests.fakes.department --port P --journal FILE --secrets JSON`` listens on
127.0.0.1:P and takes ``POST /api/departments/<name>/handoffs`` (the URL departments.yml
gives a department). For each request it checks the signature against the department's
accepted secrets (current and previous, as during a rotation) and the freshness of its
timestamp, deduplicates on ``Idempotency-Key``, and appends one JSON line per request to the
journal *before* answering, flushed, so a test can read what arrived even after killing
whichever process. The journal is read back on start: deduplication survives a restart.

Optional behaviour for fault tests:
- ``--hang-on 5,12``: hold the 5th and 12th request (counted over the journal) for
  ``--hang-seconds`` after recording it, before answering (a sender killed meanwhile has
  had its handoff received but not acknowledged);
- ``--control FILE``: a JSON file read on each request: ``{"status": 503}`` answers that
  status (a department in maintenance) without processing; ``{"now": unix_seconds}`` is the
  receiver's clock (a simulated one shared with the sender) instead of the real one.
"""

from __future__ import annotations

import argparse
import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from bot.handoff.signing import SIGNATURE_HEADER, TIMESTAMP_HEADER, verify, verify_any

PREFIX = "/api/departments/"


@dataclass
class DepartmentReceiver:
    """What the receiver knows: the accepted secrets per department, the journal, the faults."""

    secrets: dict[str, list[str]]
    journal: Path
    control: Path | None = None
    hang_on: frozenset[int] = frozenset()
    hang_seconds: float = 3.0

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        entries = list(read_journal(self.journal))
        self._count = len(entries)
        self._processed = {e["key"] for e in entries if e["processed"]}

    def _control(self) -> dict:
        if self.control is None or not self.control.exists():
            return {}
        try:
            return json.loads(self.control.read_text() or "{}")
        except ValueError:  # caught half-written: the previous state is as good
            return {}

    def handle(self, path: str, headers: dict[str, str], body: bytes) -> tuple[int, dict, bool]:
        """Check, deduplicate and record one request; (status, answer, hold it before answering)."""
        control = self._control()
        now = float(control.get("now") or time.time())
        department = path[len(PREFIX) :].split("/")[0] if path.startswith(PREFIX) else ""
        key = headers.get("idempotency-key", "")
        accepted = self.secrets.get(department)
        timestamp = headers.get(TIMESTAMP_HEADER.lower())
        signature = headers.get(SIGNATURE_HEADER.lower())
        signature_ok = bool(accepted) and verify_any(accepted, timestamp, body, signature, now)
        # Which secret signed it (0: current, 1: previous), for tests of a rotation.
        signed_with = next(
            (i for i, s in enumerate(accepted or []) if verify(s, timestamp, body, signature, now)),
            None,
        )
        try:
            handoff_id = json.loads(body).get("handoff_id")
        except (ValueError, AttributeError):
            handoff_id = None
        forced = control.get("status")
        with self._lock:
            self._count += 1
            number = self._count
            if forced:
                status, answer = int(forced), {"error": "department in maintenance"}
            elif not accepted:
                status, answer = 404, {"error": f"no department {department!r}"}
            elif not signature_ok:
                status, answer = 401, {"error": "bad signature"}
            elif not key:
                status, answer = 400, {"error": "missing Idempotency-Key"}
            else:
                status = 200
                answer = {"received": True, "duplicate": key in self._processed}
            processed = status == 200 and key not in self._processed
            if processed:
                self._processed.add(key)
            entry = {
                "n": number,
                "department": department,
                "key": key,
                "handoff_id": handoff_id,
                "timestamp": headers.get(TIMESTAMP_HEADER.lower()),
                "signature_ok": signature_ok,
                "signed_with": signed_with,
                "status": status,
                "processed": processed,
                "at": now,
            }
            with self.journal.open("a", encoding="utf-8") as out:
                out.write(json.dumps(entry) + "\n")
                out.flush()
        return status, answer, number in self.hang_on

    def server(self, port: int) -> ThreadingHTTPServer:
        """An HTTP server on 127.0.0.1:``port`` answering with this receiver."""
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, as the dispatcher's Session expects
            disable_nagle_algorithm = True

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                headers = {k.lower(): v for k, v in self.headers.items()}
                status, answer, hold = receiver.handle(self.path, headers, body)
                if hold:
                    time.sleep(receiver.hang_seconds)
                data = json.dumps(answer).encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except OSError:
                    pass  # the sender gave up or was killed while we held the answer

            def log_message(self, *args: object) -> None:
                pass

        server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        server.daemon_threads = True
        return server


def read_journal(journal: Path) -> Iterator[dict]:
    """Every request the receiver recorded, in arrival order (a torn last line is skipped)."""
    if not journal.exists():
        return
    for line in journal.read_text(encoding="utf-8").splitlines():
        try:
            yield json.loads(line)
        except ValueError:
            continue


def main(argv: list[str] | None = None) -> None:
    """Run the receiver until killed; prints ``listening <port>`` once it accepts connections."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--journal", type=Path, required=True)
    parser.add_argument("--secrets", required=True, help='JSON: {"billing": ["current", "old"]}')
    parser.add_argument("--control", type=Path)
    parser.add_argument("--hang-on", default="")
    parser.add_argument("--hang-seconds", type=float, default=3.0)
    args = parser.parse_args(argv)
    receiver = DepartmentReceiver(
        secrets=json.loads(args.secrets),
        journal=args.journal,
        control=args.control,
        hang_on=frozenset(int(n) for n in args.hang_on.split(",") if n),
        hang_seconds=args.hang_seconds,
    )
    server = receiver.server(args.port)
    print(f"listening {server.server_address[1]}", flush=True)
    try:
        server.serve_forever(poll_interval=0.05)
    finally:
        server.server_close()


if __name__ == "__main__":
    main()
