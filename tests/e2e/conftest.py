"""Start the real action server and Rasa server on free ports, once per test session."""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import pytest
import requests

from bot.identity.mail import read_codes
from bot.runner import ensure_secrets, prepare_databases, processes, wait_ready
from bot.settings import METRICS_OFFSETS, ROOT, Settings
from tests.fakes.slack import FakeSlack


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def free_ports(count: int) -> int:
    """The first of ``count`` consecutive free ports (each process's metrics port is the
    first plus its offset, bot/settings.py METRICS_OFFSETS)."""
    while True:
        first = free_port()
        if first + count > 65536:
            continue
        try:
            with ExitStack() as taken:
                for port in range(first, first + count):
                    s = taken.enter_context(socket.socket())
                    s.bind(("127.0.0.1", port))
            return first
        except OSError:
            continue


def wait_for_training(timeout: float = 1800) -> None:
    """``make test`` trains the model in the background while the tests that need none run
    (Makefile): its status file appears when training is done or found nothing to do. Wait
    for it; fail with the end of the training's log if it failed."""
    status_file = os.environ.get("TEST_TRAINING_STATUS")
    if not status_file:
        return
    status = ROOT / status_file
    deadline = time.monotonic() + timeout
    while not status.exists():
        if time.monotonic() > deadline:
            pytest.fail(f"No training result in {status} after {timeout:.0f} s.")
        time.sleep(0.5)
    code = status.read_text().strip()
    if code != "0":
        log = ROOT / os.environ.get("TEST_TRAINING_LOG", "")
        tail = log.read_text(errors="replace")[-3000:] if log.is_file() else ""
        pytest.fail(f"Training the model failed (exit {code}); the end of {log}:\n{tail}")


def latest_model() -> Path:
    wait_for_training()
    models = sorted((ROOT / "models").glob("*.tar.gz"), key=lambda p: p.stat().st_mtime)
    if not models:
        pytest.fail("No trained model in models/: run `make train` (make test does it for you).")
    return models[-1]


class Assistant:
    """The running assistant, spoken to over the REST channel as a client would."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self.url = settings.rasa_url

    def say(self, sender: str, message, timeout: float = 30) -> list[dict]:
        r = requests.post(
            f"{self.url}/webhooks/rest/webhook",
            json={"sender": sender, "message": message},
            timeout=timeout,
        )
        r.raise_for_status()
        return r.json()

    def verify_by_code(self, sender: str, email: str, timeout: float = 10) -> list[dict]:
        """Give ``email`` when asked who it is, read the one-time code the local mail catcher
        got, and type it in: the replies to the code (the verified customer's answer)."""
        mail_dir = self.settings.var_dir / "mail"
        before = len(read_codes(mail_dir, email))
        self.say(sender, email)
        deadline = time.monotonic() + timeout
        while len(codes := read_codes(mail_dir, email)) == before:
            if time.monotonic() > deadline:
                raise AssertionError(f"no one-time code for {email} within {timeout} s")
            time.sleep(0.1)
        return self.say(sender, codes[-1])

    def tracker(self, sender: str) -> dict:
        r = requests.get(
            f"{self.url}/conversations/{sender}/tracker",
            params={"token": self.settings.rasa_token},
            timeout=10,
        )
        r.raise_for_status()
        return r.json()


@pytest.fixture(scope="session")
def fake_slack():
    """Slack's Web API on a free local port: the assistant's Slack channel posts here."""
    with FakeSlack() as slack:
        yield slack


def fresh_settings(var_dir) -> Settings:
    """Settings for a system of its own: free ports, ``var_dir``, secrets, databases ready."""
    settings = Settings.from_env(
        {
            "CX_VAR_DIR": str(var_dir),
            "CX_RASA_PORT": str(free_port()),
            "CX_ACTION_PORT": str(free_port()),
            "CX_HUB_PORT": str(free_port()),
            "CX_MAIL_PORT": str(free_port()),  # the local mail catcher's
            "CX_METRICS_PORT": str(free_ports(len(METRICS_OFFSETS))),  # each process's metrics
        }
    )
    settings, _ = ensure_secrets(settings)
    prepare_databases(settings)
    return settings


def use_fake_slack(env: pytest.MonkeyPatch, fake_slack) -> None:
    """The Slack channel reads its secrets and Web API URL from the processes' environment."""
    env.setenv("SLACK_BOT_TOKEN", fake_slack.token)
    env.setenv("SLACK_SIGNING_SECRET", fake_slack.signing_secret)
    env.setenv("SLACK_API_URL", fake_slack.url)
    env.delenv("SLACK_CHANNEL", raising=False)


@contextmanager
def running_assistant(var_dir: Path, fake_slack) -> Iterator[Assistant]:
    """A whole system (action server, Rasa, hub, dispatcher, mail catcher) on free ports and
    its own ``var_dir`` (journey, trackers, secrets), stopped on leaving."""
    settings = fresh_settings(var_dir)
    with pytest.MonkeyPatch.context() as env:
        use_fake_slack(env, fake_slack)
        # Every e2e test talks from 127.0.0.1 and one fake Slack workspace: the shared
        # assistant keeps the per-conversation limits but not the per-address/workspace ones
        # (those are tested in tests/bot/rasa/channels/test_*_limits.py and below).
        for key in ("CX_RATE_IP", "CX_RATE_CONNECT_IP", "CX_RATE_SLACK_TEAM"):
            env.setenv(key, "off")
        # Identity checks likewise: per conversation here, per address in test_identity.py.
        env.setenv("CX_IDENTITY_ADDRESS_LIMITS", "off")
        procs = processes(settings, model=latest_model())
    for proc in procs:
        proc.start(settings.root)
    try:
        wait_ready(procs, timeout=240)
        yield Assistant(settings)
    finally:
        for proc in reversed(procs):
            proc.stop()


@pytest.fixture(scope="session")
def assistant(tmp_path_factory, fake_slack):
    """The assistant every e2e module shares (one cold start for all): a module gives its
    conversations their own sender ids. A module whose assertions need a journey no other
    module has touched (no earlier contacts of its customer) overrides ``assistant`` with
    ``own_assistant`` below; under xdist all of them run in one worker (tests/conftest.py)."""
    with running_assistant(tmp_path_factory.mktemp("var"), fake_slack) as shared:
        yield shared


@pytest.fixture(scope="module")
def own_assistant(tmp_path_factory, fake_slack):
    """A system of this module's own (a cold start of its own, ~20 s): to use it under the
    name the tests ask for, a module writes
    ``@pytest.fixture(scope="module")`` ``def assistant(own_assistant): return own_assistant``."""
    with running_assistant(tmp_path_factory.mktemp("var-own"), fake_slack) as own:
        yield own


# Browser tests drive Debian's Chromium (never a downloaded browser); `make test` passes
# CX_CHROMIUM. The flags keep it off this machine's closed network and out of a sandbox it
# can't have as root.
CHROMIUM = os.environ.get("CX_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="module")
def browser():
    """A headless Chromium per browser-test module (each test opens its own context)."""
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        pytest.fail(f"No Chromium at {CHROMIUM}: run `make browser`, or set CX_CHROMIUM=/path.")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


def watch_problems(page) -> list[str]:
    """What goes wrong on ``page`` from now on: script errors, dialogs, refused scripts or
    styles (a CSP violation is a console error) and answers of 400 or more; the list fills
    as it happens, and a test asserts it stays empty."""
    problems: list[str] = []
    page.on("dialog", lambda d: (problems.append(f"dialog: {d.message}"), d.dismiss()))
    page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
    page.on(
        "console",
        lambda m: (
            problems.append(f"console: {m.text}")
            if m.type == "error" and not m.text.startswith("Failed to load resource")
            else None  # a failed load is reported by its response, below
        ),
    )
    page.on(
        "response",
        lambda r: problems.append(f"{r.status} for {r.url}") if r.status >= 400 else None,
    )
    return problems
