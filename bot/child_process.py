"""One child process of the assistant: started with its own log, ready when it answers, stopped.

Apart from bot/runner.py because it knows nothing of which processes the assistant has:
the runner, the scale-out, the tests and the benchmarks all start and wait on these.
"""

from __future__ import annotations

import os
import signal
import smtplib
import socket
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import requests


@dataclass
class Process:
    """A child process with the URL that tells when it is ready."""

    name: str
    argv: list[str]
    # http(s)://...: ready once it answers 2xx there; smtp://host:port: once a mail server
    # greets there; None: ready once it has stayed up for a moment.
    ready_url: str | None
    env: dict[str, str]
    log: Path
    popen: subprocess.Popen[bytes] | None = None

    def start(self, cwd: Path) -> None:
        self.log.parent.mkdir(parents=True, exist_ok=True)
        out = open(self.log, "ab")  # noqa: SIM115 - the child owns it until it exits
        self.popen = subprocess.Popen(
            self.argv,
            cwd=cwd,
            env=self.env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def alive(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    def ready(self) -> bool:
        """Whether it answers at its ready URL now (see ``ready_url``)."""
        if self.ready_url is None:
            return True
        if self.ready_url.startswith("smtp://"):
            parts = urlsplit(self.ready_url)
            try:
                with smtplib.SMTP(parts.hostname or "", parts.port or 0, timeout=2) as smtp:
                    return smtp.noop()[0] == 250
            except (OSError, smtplib.SMTPException):
                return False
        try:
            return requests.get(self.ready_url, timeout=2).ok
        except requests.RequestException:
            return False

    def stop(self, grace: float = 15.0) -> None:
        popen = self.popen
        if popen is None or not self.alive():
            return
        os.killpg(popen.pid, signal.SIGTERM)
        try:
            popen.wait(grace)
        except subprocess.TimeoutExpired:
            os.killpg(popen.pid, signal.SIGKILL)
            popen.wait()


def wait_ready(procs: Sequence[Process], timeout: float = 180.0) -> None:
    """Block until every process answers its ready URL; raise naming the one that did not."""
    deadline = time.monotonic() + timeout
    pending = list(procs)
    while pending:
        for proc in list(pending):
            if not proc.alive():
                raise RuntimeError(f"{proc.name} exited during start-up; see {proc.log}")
            if proc.ready():
                pending.remove(proc)
                print(f"    {proc.name} is ready", flush=True)
        if pending and time.monotonic() > deadline:
            raise RuntimeError(
                f"{', '.join(p.name for p in pending)} not ready after {timeout:.0f}s; see {pending[0].log}"
            )
        if pending:
            time.sleep(0.5)


def free_port(host: str) -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        port: int = s.getsockname()[1]
        return port
