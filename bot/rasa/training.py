"""Train the Rasa model with Rasa's own CLI, keeping only the newest few models."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path
from typing import Any

from bot.settings import Settings, child_process_env

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
    if force and not nlu_only:
        argv.append("--force")
    if fixed_name:
        argv += ["--fixed-model-name", fixed_name]
    before = newest_model(out)
    started = time.monotonic()
    # Data warnings belong to `make lint`; during training they would bury the progress.
    env = {
        **child_process_env(),
        "PYTHONWARNINGS": "ignore",
        "SQLALCHEMY_SILENCE_UBER_WARNING": "1",
    }
    if force and nlu_only:
        # `rasa train nlu` has no --force, and Rasa's cache fingerprints config and data only:
        # after an edit to our own components (bot/nlp) it would restore the old classifier.
        # A cache of size 0 is no cache.
        env["RASA_MAX_CACHE_SIZE"] = "0"
    result = subprocess.run(
        argv, cwd=settings.root, env=env, stdout=subprocess.DEVNULL if quiet else None
    )
    if result.returncode == 0:
        seconds = time.monotonic() - started
        if not quiet:
            print(f"==> Training finished in {seconds:.0f}s", flush=True)
        model = newest_model(out)
        if model is not None and model != before and not nlu_only:
            record_training(out, model, seconds)
        prune(out)
    return result.returncode


TRAINING_RECORD = "training.json"


def newest_model(models_dir: Path) -> Path | None:
    models = sorted(models_dir.glob("*.tar.gz"), key=lambda p: p.stat().st_mtime)
    return models[-1] if models else None


def record_training(models_dir: Path, model: Path, seconds: float) -> None:
    """Keep how long the newest full training took, for the benchmark report (make bench)."""
    record = {
        "model": model.name,
        "seconds": round(seconds, 1),
        "finished": datetime.now().isoformat(timespec="seconds"),
        "cores": os.cpu_count(),
        "load_average_after": round(os.getloadavg()[0], 2),
    }
    (models_dir / TRAINING_RECORD).write_text(json.dumps(record, indent=1) + "\n")


def last_training(models_dir: Path) -> dict[str, Any] | None:
    """The record :func:`record_training` kept, if it belongs to the newest model."""
    path, model = models_dir / TRAINING_RECORD, newest_model(models_dir)
    if not path.exists() or model is None:
        return None
    record = json.loads(path.read_text())
    return record if record.get("model") == model.name else None


def prune(models_dir: Path, keep: int = KEEP_MODELS) -> None:
    """Delete all but the newest ``keep`` timestamped models (Rasa names them by time)."""
    models = sorted(models_dir.glob("*.tar.gz"), key=lambda p: p.stat().st_mtime, reverse=True)
    for old in models[keep:]:
        old.unlink()
