"""Train the Rasa model with Rasa's own CLI, keeping only the newest few models."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from bot.settings import Settings

KEEP_MODELS = 2


def train(
    settings: Settings,
    force: bool = False,
    config: str = "config.yml",
    out: Path | None = None,
    data: str = "data",
    fixed_name: str | None = None,
    quiet: bool = False,
    nlu_only: bool = False,
) -> int:
    """``rasa train``; Rasa's fingerprinting skips the work when data and config are unchanged."""
    out = out or settings.root / "models"
    argv = [
        str(Path(sys.executable).parent / "rasa"),
        "train",
        *(["nlu"] if nlu_only else []),
        "--config",
        config,
        "--nlu" if nlu_only else "--data",
        data,
        "--out",
        str(out),
    ]
    if not nlu_only:
        argv += ["--domain", "domain.yml"]
    if force:
        argv.append("--force")
    if fixed_name:
        argv += ["--fixed-model-name", fixed_name]
    started = time.monotonic()
    # Data warnings belong to `make lint`; during training they would bury the progress.
    env = {**os.environ, "PYTHONWARNINGS": "ignore", "SQLALCHEMY_SILENCE_UBER_WARNING": "1"}
    result = subprocess.run(
        argv, cwd=settings.root, env=env, stdout=subprocess.DEVNULL if quiet else None
    )
    if result.returncode == 0:
        if not quiet:
            print(f"==> Training finished in {time.monotonic() - started:.0f}s", flush=True)
        prune(out)
    return result.returncode


def prune(models_dir: Path, keep: int = KEEP_MODELS) -> None:
    """Delete all but the newest ``keep`` timestamped models (Rasa names them by time)."""
    models = sorted(models_dir.glob("*.tar.gz"), key=lambda p: p.stat().st_mtime, reverse=True)
    for old in models[keep:]:
        old.unlink()
