"""An example department system: receives the assistant's handoffs and updates, answers back.

Standard library only, so it reads as the contract and nothing else (README: "Public
contracts", and the hub's /api/openapi.json). What a department's own system must do:

1. **Check the signature** of every POST: ``X-CX-Signature: sha256=<hex>`` is the
   HMAC-SHA256, under the department's secret, of ``<X-CX-Timestamp>.<raw body>``; refuse a
   timestamp more than 300 s from your clock (a replay).
2. **Take each delivery once**, by its ``Idempotency-Key``: the dispatcher sends the same key
   on every retry (after a timeout the first attempt may have arrived). Answer 2xx to a
   repeat too, or it is sent again.
3. **Read ``type``**: ``handoff.created`` is a new handoff (the whole context packet);
   ``handoff.update`` is a later contact of the same customer about the same need and order
   that joined handoff ``handoff_id`` instead of opening a second one: what they said, how
   many contacts so far, the priority now. Add it to the ticket you already have.
4. **Answer back** when you pick it up and when it is done, signed the same way:
   ``POST {hub}/api/handoffs/{id}/acknowledge`` with ``{"by": "Dana", "promised_by":
   "2026-12-08T17:00", "customer_note": "..."}`` (all optional) and ``POST
   {hub}/api/handoffs/{id}/resolve`` with ``{"resolution": "what was done", "customer_note":
   "what to tell the customer"}``. The customer hears it (their live channel outside their
   quiet hours, else their next contact, once); the note answers "where's my refund?" later.

Run it: ``python examples/department_receiver.py --port 9100 --secret-env
CX_WEBHOOK_SECRET_DELIVERY``, and set the department's ``webhook.url`` in
bot/config/departments.yml to ``http://127.0.0.1:9100/handoffs``.
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import json
import os
import threading
import time
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

TOLERANCE = 300  # seconds


def signature(secret: str, timestamp: str, body: bytes) -> str:
    """``sha256=`` and the hex HMAC-SHA256 of ``timestamp.body``."""
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def signed_ok(secret: str, timestamp: str | None, body: bytes, given: str | None) -> bool:
    """Whether the request is signed with ``secret`` and fresh."""
    if not timestamp or not timestamp.isdigit() or not given:
        return False
    if abs(time.time() - int(timestamp)) > TOLERANCE:
        return False
    return hmac.compare_digest(signature(secret, timestamp, body), given)


class Tickets:
    """The department's tickets: one per handoff, the updates added to it; deliveries by key."""

    def __init__(self):
        self.lock = threading.Lock()
        self.by_handoff: dict[int, dict] = {}
        self.keys: set[str] = set()

    def take(self, key: str, message: dict) -> bool:
        """Take one delivery; False when the key was seen (a retry: nothing changes)."""
        with self.lock:
            if key in self.keys:
                return False
            self.keys.add(key)
            handoff_id = message["handoff_id"]
            if message.get("type", "handoff.created") == "handoff.update":
                ticket = self.by_handoff.setdefault(handoff_id, {"handoff": None, "updates": []})
                ticket["updates"].append(message)
            else:
                ticket = self.by_handoff.setdefault(handoff_id, {"handoff": None, "updates": []})
                ticket["handoff"] = message
            return True


def make_server(host: str, port: int, secret: str, tickets: Tickets) -> ThreadingHTTPServer:
    """The receiver on ``host:port``: POST /handoffs, as the dispatcher calls it."""

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 - http.server's name
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            if not signed_ok(
                secret,
                self.headers.get("X-CX-Timestamp"),
                body,
                self.headers.get("X-CX-Signature"),
            ):
                return self._answer(401, {"error": "bad signature"})
            key = self.headers.get("Idempotency-Key")
            try:
                message = json.loads(body)
                handoff_id = message["handoff_id"]
            except (ValueError, KeyError, TypeError):
                return self._answer(400, {"error": "a JSON object with handoff_id"})
            if not key or not isinstance(handoff_id, int):
                return self._answer(400, {"error": "Idempotency-Key and handoff_id needed"})
            new = tickets.take(key, message)
            self._answer(200, {"received": True, "duplicate": not new})

        def _answer(self, status: int, data: dict) -> None:
            raw = json.dumps(data).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(raw)))
            self.end_headers()
            self.wfile.write(raw)

        def log_message(self, *args):  # quiet
            pass

    return ThreadingHTTPServer((host, port), Handler)


def answer_back(hub: str, secret: str, handoff_id: int, move: str, body: dict) -> dict:
    """Acknowledge or resolve (``move``) a handoff on the hub, signed; the updated handoff."""
    raw = json.dumps(body).encode()
    timestamp = str(int(time.time()))
    request = urllib.request.Request(
        f"{hub}/api/handoffs/{handoff_id}/{move}",
        data=raw,
        method="POST",
        headers={
            "Content-Type": "application/json",
            "X-CX-Timestamp": timestamp,
            "X-CX-Signature": signature(secret, timestamp, raw),
        },
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=9100)
    parser.add_argument("--secret-env", default="CX_WEBHOOK_SECRET_DELIVERY")
    args = parser.parse_args()
    secret = os.environ.get(args.secret_env)
    if not secret:
        raise SystemExit(f"set {args.secret_env} to the department's signing secret")
    server = make_server(args.host, args.port, secret, Tickets())
    print(f"receiving handoffs on http://{args.host}:{args.port}/handoffs")
    server.serve_forever()


if __name__ == "__main__":
    main()
