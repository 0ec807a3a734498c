"""Measure the agent console live: an escalation's arrival in an open console, and an agent's
message in the customer's widget.

Usage: .venv/bin/python bench/console_push.py [--n 20]

Starts the whole system (action server, Rasa, hub, dispatcher) on free ports with a fresh
var/ directory and the newest model, and a signed-in agent's console in headless Chromium
(/usr/bin/chromium, or $CX_CHROMIUM). Then:

1. Arrival, by push: N times a new website customer (a socket.io client speaking the widget's
   protocol) asks for a person; timed from the handoff's row in the journey database (its
   ``created_at``, written by the action server) to the card appearing in the open console's
   list (a MutationObserver in the page, on the same machine clock).
2. Arrival, by the polling fallback: the same with the browser's EventSource taken away, so
   the page polls every 2.5 s as the console did before push (the baseline). Each
   escalation starts after a random pause (0-2.5 s, seeded) so it lands anywhere in a cycle.
3. The agent's message: the agent takes one conversation over and sends N messages from the
   console's message box (Enter); timed from the key press to the widget client receiving it.

Prints one JSON object, and writes reports/console_push.md.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import tempfile
import time
import uuid
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from playwright.sync_api import expect, sync_playwright  # noqa: E402
from sqlalchemy import select  # noqa: E402

from bot.db.engine import make_engine  # noqa: E402
from bot.db.schema import handoffs  # noqa: E402
from bot.hub.accounts import Accounts  # noqa: E402
from bot.runner import ensure_secrets, prepare_databases, processes, wait_ready  # noqa: E402
from bot.settings import Settings  # noqa: E402
from tests.e2e.conftest import CHROMIUM, CHROMIUM_ARGS, free_port, latest_model  # noqa: E402
from tests.e2e.test_web_channel import WidgetClient  # noqa: E402

PASSWORD = "bench-password-123"
# The time (epoch ms) each card first appeared in the page's queue.
WATCH = """
window.__arrived = {};
new MutationObserver(() => {
  for (const li of document.querySelectorAll('#waiting li[data-conversation-id]')) {
    const id = li.dataset.conversationId;
    if (!(id in window.__arrived)) window.__arrived[id] = performance.timeOrigin + performance.now();
  }
}).observe(document, { childList: true, subtree: true });
"""
NO_EVENT_SOURCE = "delete window.EventSource;"


def percentile(values: list[float], share: float) -> float:
    return sorted(values)[round(share * (len(values) - 1))]


def summary(values: list[float]) -> dict:
    ms = [v * 1000 for v in values]
    return {
        "n": len(ms),
        "p50_ms": round(percentile(ms, 0.5), 1),
        "p95_ms": round(percentile(ms, 0.95), 1),
        "max_ms": round(max(ms), 1),
    }


def console_page(browser, settings: Settings, username: str, push: bool):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    if not push:
        page.add_init_script(NO_EVENT_SOURCE)
    page.add_init_script(WATCH)
    page.goto(f"{settings.hub_url}/console")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.locator("body")).to_have_attribute(
        "data-push", "live" if push else "polling", timeout=20_000
    )
    return context, page


def escalate(settings: Settings) -> WidgetClient:
    client = WidgetClient(settings.rasa_url)
    client.say("I want to talk to a person")
    client.answers(quiet=0.3)
    return client


def arrivals(settings: Settings, engine, page, n: int) -> list[float]:
    found = []
    pause = random.Random(7)
    for i in range(n):
        # A random moment in the console's cycle: back to back, the polling console's phase
        # would lock to the escalations' rhythm and every wait would be alike.
        time.sleep(pause.uniform(0, 2.5))
        client = escalate(settings)
        conversation = client.session["session_id"]
        with engine.connect() as conn:
            created = conn.execute(
                select(handoffs.c.created_at).where(handoffs.c.conversation_id == conversation)
            ).scalar_one()
        shown = shown_at(page, conversation)
        found.append(shown - created.timestamp())
        client.close()
        print(f"  {i + 1}/{n}: {found[-1] * 1000:.0f} ms", file=sys.stderr, flush=True)
    return found


def shown_at(page, conversation: str, timeout: float = 15) -> float:
    """When (epoch s) the card of ``conversation`` appeared in the page; polled from here,
    since the console's policy lets no evaluated string run in it."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        at = page.evaluate("id => window.__arrived[id]", conversation)
        if at is not None:
            return at / 1000
        time.sleep(0.05)
    listed = page.locator("#worklist").inner_text()
    arrived = page.evaluate("JSON.stringify(window.__arrived)")
    raise TimeoutError(
        f"{conversation} never reached the console within {timeout} s: {listed!r} {arrived}"
    )


def agent_messages(settings: Settings, page, n: int) -> list[float]:
    client = escalate(settings)
    conversation = client.session["session_id"]
    page.goto(f"{settings.hub_url}/console/conversations/{conversation}")
    page.get_by_role("button", name="Take over").click()
    box = page.get_by_label("Message to the customer")
    expect(box).to_be_focused(timeout=15_000)
    client.answers(quiet=0.5)  # "... has joined the chat"
    found = []
    for i in range(n):
        text = f"Message {i} {uuid.uuid4().hex[:6]}"
        box.fill(text)
        started = time.time()
        box.press("Enter")
        while True:
            said = client.next("bot_uttered", timeout=15)
            if said.get("text") == text:
                break
        found.append(time.time() - started)
        expect(box).to_have_value("")
    client.close()
    return found


def report(result: dict) -> str:
    push, poll, msg = result["arrival_push"], result["arrival_polling"], result["agent_message"]
    return f"""# Agent console, live ({result["when"]})

Reproduce: `.venv/bin/python bench/console_push.py --n {result["n"]}` (also run by `make bench`).
Machine: {os.cpu_count()} shared cores, the whole system on it (Rasa, action server, hub,
dispatcher, Chromium). Arrival is timed from the handoff's row in the journey database to
the card in an open console's list; the agent's message from Enter in the console to the
widget client receiving it.

| what | n | p50 | p95 | max |
|---|---|---|---|---|
| escalation arrives, push (server-sent events) | {push["n"]} | {push["p50_ms"]} ms | {push["p95_ms"]} ms | {push["max_ms"]} ms |
| escalation arrives, polling fallback (2.5 s, the console before push) | {poll["n"]} | {poll["p50_ms"]} ms | {poll["p95_ms"]} ms | {poll["max_ms"]} ms |
| agent's message reaches the widget | {msg["n"]} | {msg["p50_ms"]} ms | {msg["p95_ms"]} ms | {msg["max_ms"]} ms |
"""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=20)
    args = parser.parse_args()
    ports = {
        k: str(free_port())
        for k in ("CX_RASA_PORT", "CX_ACTION_PORT", "CX_HUB_PORT", "CX_MAIL_PORT")
    }
    settings = Settings.from_env({"CX_VAR_DIR": tempfile.mkdtemp(), **ports})
    settings, _ = ensure_secrets(settings)
    prepare_databases(settings)
    engine = make_engine(settings.journey_url)
    username = f"bench-{uuid.uuid4().hex[:6]}"
    Accounts(engine).add(username, PASSWORD, "agent", "Ana")
    procs = processes(settings, model=latest_model())
    for proc in procs:
        proc.start(settings.root)
    try:
        wait_ready(procs, timeout=240)
        with sync_playwright() as p:
            browser = p.chromium.launch(
                executable_path=os.environ.get("CX_CHROMIUM", CHROMIUM),
                headless=True,
                args=CHROMIUM_ARGS,
            )
            print("==> escalations reaching an open console by push", file=sys.stderr)
            context, page = console_page(browser, settings, username, push=True)
            pushed = arrivals(settings, engine, page, args.n)
            print("==> agent's messages reaching the widget", file=sys.stderr)
            messages = agent_messages(settings, page, args.n)
            context.close()
            print("==> escalations reaching a console that polls (the baseline)", file=sys.stderr)
            context, page = console_page(browser, settings, username, push=False)
            polled = arrivals(settings, engine, page, args.n)
            context.close()
            browser.close()
    finally:
        for proc in reversed(procs):
            proc.stop()
        engine.dispose()
    result = {
        "when": f"{datetime.now():%Y-%m-%d %H:%M}",
        "n": args.n,
        "arrival_push": summary(pushed),
        "arrival_polling": summary(polled),
        "agent_message": summary(messages),
    }
    print(json.dumps(result, indent=2))
    out = ROOT / "reports" / "console_push.md"
    out.parent.mkdir(exist_ok=True)
    out.write_text(report(result))
    print(f"(written to {out.relative_to(ROOT)})", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
