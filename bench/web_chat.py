"""Measure the website chat end to end: a customer's turn, and an agent's message relayed.

Usage: .venv/bin/python bench/web_chat.py [--n 30]

Starts the whole system (action server, Rasa, hub, dispatcher) on free ports with a fresh
var/ directory and the newest model, then, N times: a new widget session (a socket.io client
speaking the widget's protocol) says "hello" and waits for the first answer; then a message
is pushed through Rasa's events API (execute_side_effects, output_channel=socketio, as the
agent console relays an agent's words) and timed until the widget receives it.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import requests

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bot.runner import ensure_secrets, prepare_databases, processes, wait_ready  # noqa: E402
from bot.settings import Settings  # noqa: E402
from tests.e2e.conftest import free_port, latest_model  # noqa: E402
from tests.e2e.test_web_channel import WidgetClient  # noqa: E402


def percentile(values: list[float], share: float) -> float:
    return sorted(values)[int(share * (len(values) - 1))] * 1000


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=30)
    args = parser.parse_args()
    ports = {
        k: str(free_port())
        for k in ("CX_RASA_PORT", "CX_ACTION_PORT", "CX_HUB_PORT", "CX_MAIL_PORT")
    }
    settings = Settings.from_env({"CX_VAR_DIR": tempfile.mkdtemp(), **ports})
    settings, _ = ensure_secrets(settings)
    prepare_databases(settings)
    procs = processes(settings, model=latest_model())
    for proc in procs:
        proc.start(settings.root)
    try:
        wait_ready(procs, timeout=240)
        turns, relays = [], []
        for _ in range(args.n):
            client = WidgetClient(settings.rasa_url)
            started = time.perf_counter()
            client.say("hello")
            client.next("bot_uttered")
            turns.append(time.perf_counter() - started)
            started = time.perf_counter()
            requests.post(
                f"{settings.rasa_url}/conversations/{client.session['session_id']}/tracker/events",
                params={
                    "token": settings.rasa_token,
                    "execute_side_effects": "true",
                    "output_channel": "socketio",
                },
                json={
                    "event": "bot",
                    "text": "Ana here",
                    "data": {"custom": {"text": "Ana here", "agent": "Ana"}},
                },
                timeout=10,
            ).raise_for_status()
            client.next("bot_uttered")
            relays.append(time.perf_counter() - started)
            client.close()
        for name, values in (
            ("widget turn: 'hello' -> first answer", turns),
            ("agent relay: events API -> widget", relays),
        ):
            print(
                f"{name}: p50 {percentile(values, 0.5):.0f} ms, "
                f"p95 {percentile(values, 0.95):.0f} ms (n={len(values)})"
            )
        return 0
    finally:
        for proc in reversed(procs):
            proc.stop()


if __name__ == "__main__":
    sys.exit(main())
