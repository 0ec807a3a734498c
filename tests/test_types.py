"""mypy finds no error in bot/ and actions/ (pyproject.toml's [tool.mypy], as `make lint` runs it),
and that configuration holds the strict packages to strict rules and the rest to the baseline."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def mypy(*args: str) -> subprocess.CompletedProcess[str]:
    """``python -m mypy`` in the project's root (so it reads pyproject.toml), with ``args``."""
    return subprocess.run(
        [sys.executable, "-m", "mypy", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_bot_and_actions_have_no_type_errors():
    # The configured cache (var/mypy_cache): a few seconds cold, about one warm.
    result = mypy()
    assert result.returncode == 0, f"mypy found errors:\n{result.stdout}{result.stderr}"
    # A module named in an override that matches nothing (moved or renamed) would quietly
    # lose its rules: rename it in pyproject.toml's [tool.mypy] overrides too.
    assert "unused section" not in result.stdout, result.stdout
    checked = re.search(r"Success: no issues found in (\d+) source files", result.stdout)
    assert checked, result.stdout
    sources = [p for d in ("bot", "actions") for p in (ROOT / d).rglob("*.py")]
    assert int(checked.group(1)) == len(sources)  # every module of both packages, no fewer


def test_strict_packages_need_annotations_and_the_rest_checks_unannotated_bodies(tmp_path):
    # Each module read with one unannotated function added (mypy's --shadow-file), in a
    # cache of its own so the real files' cache never holds the altered ones.
    added = '\n\ndef _unannotated(x):\n    n: int = "not a number"\n    return x\n'
    strict, baseline = "bot/settings.py", "bot/routing.py"
    args = ["--cache-dir", str(tmp_path / "cache")]
    for module in (strict, baseline):
        shadow = tmp_path / Path(module).name
        source = (ROOT / module).read_text(encoding="utf-8")
        shadow.write_text(source + added, encoding="utf-8")
        args += ["--shadow-file", module, str(shadow)]
    result = mypy(*args)
    out = result.stdout
    assert result.returncode == 1, out + result.stderr
    errors = [line for line in out.splitlines() if ": error:" in line]
    assert any(e.startswith(strict) and "[no-untyped-def]" in e for e in errors), out
    assert not any(e.startswith(baseline) and "[no-untyped-def]" in e for e in errors), out
    # Unannotated bodies are checked everywhere (check_untyped_defs).
    for module in (strict, baseline):
        assert any(e.startswith(module) and "[assignment]" in e for e in errors), out
    assert len(errors) == 3, out
