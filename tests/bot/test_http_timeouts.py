"""Every HTTP call the project makes has a timeout: the action server's, the hub's, Rasa's.

A call without one waits for ever on a peer that stopped answering (the way a hung action
server made Rasa wait 300 s, bot/rasa/action_faults.py). This reads the code of ``bot/`` and
``actions/`` and finds every call through ``requests`` or a session (``requests.get(...)``,
``self.session.post(...)``, ``self._session.request(...)``), which must pass ``timeout=``.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
VERBS = {"get", "post", "put", "patch", "delete", "head", "options", "request"}


def _receiver(node: ast.expr) -> str:
    """The dotted name a method is called on: ``requests``, ``self.session``..."""
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return f"{_receiver(node.value)}.{node.attr}"
    return ""


def http_calls(source: str) -> list[tuple[int, bool]]:
    """(line, has a timeout) for each HTTP call in ``source``."""
    calls = []
    for node in ast.walk(ast.parse(source)):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
            continue
        receiver = _receiver(node.func.value).rsplit(".", 1)[-1].lower()
        if node.func.attr in VERBS and (receiver == "requests" or receiver.endswith("session")):
            has_timeout = any(k.arg == "timeout" or k.arg is None for k in node.keywords)
            calls.append((node.lineno, has_timeout))
    return calls


def test_the_checker_finds_calls_with_and_without_a_timeout():
    source = (
        "requests.get(url)\n"
        "self.session.post(url, json=b, timeout=5)\n"
        "self._session.request('GET', url)\n"
        "s.get(url, **options)\n"  # passed through: the caller's options decide
        "cache.get(key)\n"  # not HTTP
    )
    assert http_calls(source) == [(1, False), (2, True), (3, False)]


def test_every_http_call_in_bot_and_actions_has_a_timeout():
    found, missing = 0, []
    for path in sorted([*ROOT.glob("bot/**/*.py"), *ROOT.glob("actions/**/*.py")]):
        for line, has_timeout in http_calls(path.read_text()):
            found += 1
            if not has_timeout:
                missing.append(f"{path.relative_to(ROOT)}:{line}")
    assert found >= 4  # the back office, Rasa's API, Slack's, the runner's readiness checks
    assert missing == [], f"HTTP calls without a timeout: {missing}"
