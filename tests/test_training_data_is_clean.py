"""No evaluation text is trained on: a figure measured on training data is no measurement.

The public sets (../shared/eval, when present) and our own conversation suite
(tests/conversations) must share no message, word for word (case aside), with data/nlu.
"""

from __future__ import annotations

import csv
import re
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
MARKUP = re.compile(r"\[([^\]]+)\](?:\([^)]*\)|\{[^}]*\})")


def training_texts() -> set[str]:
    texts = set()
    for path in (ROOT / "data" / "nlu").glob("*.yml"):
        for block in (yaml.safe_load(path.read_text(encoding="utf-8")) or {}).get("nlu", []):
            for line in (block.get("examples") or "").splitlines():
                if line.strip().startswith("- "):
                    texts.add(MARKUP.sub(r"\1", line.strip()[2:]).strip().lower())
    return texts


def evaluation_texts() -> set[str]:
    texts = set()
    for path in (ROOT.parent / "shared" / "eval").glob("*.csv"):
        with path.open(encoding="utf-8") as f:
            texts |= {cell.strip().lower() for row in csv.reader(f) for cell in row}
    for path in (ROOT / "tests" / "conversations").glob("*.yml"):
        suite = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        for conversation in suite.get("conversations") or []:
            for turn in conversation.get("turns") or []:
                if isinstance(turn, dict) and isinstance(turn.get("say"), str):
                    texts.add(turn["say"].strip().lower())
    return texts


def test_no_evaluation_or_test_conversation_text_is_in_the_training_data():
    assert sorted(training_texts() & evaluation_texts()) == []
