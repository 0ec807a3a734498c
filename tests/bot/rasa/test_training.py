"""The training record `make bench` quotes: how long the newest full training took."""

from __future__ import annotations

import os
import time

from bot.rasa.training import last_training, prune, record_training


def test_the_record_belongs_to_the_newest_model_only(tmp_path):
    old = tmp_path / "20260101-000000-old.tar.gz"
    old.write_bytes(b"x")
    record_training(tmp_path, old, 123.45)
    assert last_training(tmp_path)["seconds"] == 123.5
    assert last_training(tmp_path)["model"] == old.name
    newer = tmp_path / "20260102-000000-new.tar.gz"
    newer.write_bytes(b"y")
    later = time.time() + 10
    os.utime(newer, (later, later))
    # A model trained without a record (e.g. by `rasa train` itself): no stale figure.
    assert last_training(tmp_path) is None


def test_no_models_no_record(tmp_path):
    assert last_training(tmp_path) is None


def test_prune_keeps_the_newest(tmp_path):
    for n in range(4):
        path = tmp_path / f"2026010{n}-000000-m.tar.gz"
        path.write_bytes(b"x")
        os.utime(path, (1000 + n, 1000 + n))
    prune(tmp_path, keep=2)
    assert sorted(p.name for p in tmp_path.glob("*.tar.gz")) == [
        "20260102-000000-m.tar.gz",
        "20260103-000000-m.tar.gz",
    ]
