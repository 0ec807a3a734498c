"""The guard against bare refusals: measured on a labelled set, applied to every response."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
import yaml

from bot.policies.guard import RefusalGuard

ROOT = Path(__file__).resolve().parents[2]
LABELLED = Path(__file__).parent / "data" / "refusal_sentences.csv"


@pytest.fixture(scope="module")
def guard():
    return RefusalGuard()


def test_detector_precision_and_recall_on_the_labelled_set(guard):
    rows = list(csv.DictReader(LABELLED.open(encoding="utf-8")))
    assert len(rows) >= 200
    flagged = [(row["label"] == "refusal", guard.check(row["text"]).refuses) for row in rows]
    tp = sum(gold and pred for gold, pred in flagged)
    fp = sum(pred and not gold for gold, pred in flagged)
    fn = sum(gold and not pred for gold, pred in flagged)
    precision, recall = tp / (tp + fp), tp / (tp + fn)
    misses = [
        r["text"] for r in rows if (r["label"] == "refusal") != guard.check(r["text"]).refuses
    ]
    assert precision >= 0.95 and recall >= 0.95, (precision, recall, misses[:20])


@pytest.mark.parametrize(
    "text, refuses, alternative",
    [
        ("We can't refund this order.", True, False),
        ("Your order has shipped, so I can't cancel it, but here's what we can do:", True, True),
        ("That's our policy.", True, False),
        ("This order cannot be changed.", True, False),
        ("You won't be charged twice.", False, False),
        ("I can help with that.", False, True),
        ("No problem at all!", False, False),
    ],
)
def test_examples(guard, text, refuses, alternative):
    verdict = guard.check(text)
    assert (verdict.refuses, verdict.offers_alternative) == (refuses, alternative)


def test_no_response_in_the_domain_refuses_without_an_alternative(guard):
    responses = yaml.safe_load((ROOT / "domain.yml").read_text())["responses"]
    bare = []
    for name, variants in responses.items():
        for variant in variants:
            verdict = guard.check(variant.get("text", ""), has_buttons=bool(variant.get("buttons")))
            if verdict.bare_refusal:
                bare.append((name, variant["text"]))
    assert bare == []


def test_detector_on_the_held_out_set(guard):
    """A second set, written without seeing the detector or the first set, and never tuned on.

    Measured 2026-11-23: precision 0.983, recall 0.748. The floor below guards against
    regressions; the target (0.95 for both, issue 3) is not met yet on this set.
    """
    rows = list(
        csv.DictReader((LABELLED.parent / "refusal_sentences_holdout.csv").open(encoding="utf-8"))
    )
    flagged = [(row["label"] == "refusal", guard.check(row["text"]).refuses) for row in rows]
    tp = sum(gold and pred for gold, pred in flagged)
    precision = tp / sum(pred for _, pred in flagged)
    recall = tp / sum(gold for gold, _ in flagged)
    assert precision >= 0.95 and recall >= 0.70, (precision, recall)
