"""The breadth training data (data/nlu/breadth_*.yml, issue 19 item 8) stays honest: every
example names an intent of the domain, and none repeats an example said elsewhere in
data/nlu. A repeat would sit in the training part on one side of the held-out split
(bot/evaluation.py: every 5th example of each block) and in the held-out fifth on the other,
so the held-out figures would count a memorised sentence as understood."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
NLU = ROOT / "data" / "nlu"


def examples(path: Path) -> list[tuple[str, str]]:
    """(text, intent) of every example in a Rasa NLU file."""
    doc = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    return [
        (line.strip()[2:].strip(), block["intent"])
        for block in doc.get("nlu", [])
        if "intent" in block
        for line in block["examples"].splitlines()
        if line.strip().startswith("- ")
    ]


def normalised(text: str) -> str:
    return re.sub(r"[^a-z0-9 ]", "", text.lower()).strip()


def breadth_files() -> list[Path]:
    return sorted(NLU.glob("breadth_*.yml"))


def test_there_is_breadth_data_for_every_department():
    intents = {i for path in breadth_files() for _, i in examples(path)}
    assert {"request_refund", "order_late", "ask_pricing", "request_human"} <= intents


def test_every_breadth_intent_is_in_the_domain():
    domain = set(yaml.safe_load((ROOT / "domain.yml").read_text(encoding="utf-8"))["intents"])
    unknown = {i for path in breadth_files() for _, i in examples(path)} - {
        i if isinstance(i, str) else next(iter(i)) for i in domain
    }
    assert not unknown


def test_no_breadth_example_repeats_another_example():
    others = {
        normalised(t)
        for path in NLU.glob("*.yml")
        if not path.name.startswith("breadth_")
        for t, _ in examples(path)
    }
    seen: set[str] = set()
    repeats = []
    for path in breadth_files():
        for text, _ in examples(path):
            key = normalised(text)
            if key in others or key in seen:
                repeats.append(f"{path.name}: {text}")
            seen.add(key)
    assert not repeats, repeats
