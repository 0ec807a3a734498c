"""The guard against bare refusals: measured on a labelled set, applied to every response."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
import yaml

from bot.policies.guard import RefusalGuard

ROOT = Path(__file__).resolve().parents[3]
LABELLED = Path(__file__).parents[1] / "data" / "refusal_sentences.csv"


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
        # Families added after the held-out set was studied (see the holdout test below).
        ("Exchanges are not offered on sale items.", True, False),
        ("Can't help you with that, sorry.", True, False),
        ("The system won't let me apply a second code.", True, False),
        ("I'm not authorised to issue compensation vouchers.", True, False),
        ("That request has been declined.", True, False),
        ("Sorry, no.", True, False),
        ("Your files won't be deleted when you downgrade.", False, False),
        ("I couldn't have put it better myself.", False, False),
        ("Can't find your order number? It's in your confirmation email.", False, False),
        ("Sorry to hear you can't log in.", False, False),
        ("It's not too late to change your order.", False, False),
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
    """A second set, written without seeing the detector or the first set.

    It is no longer held out: on 2026-11-23 (precision 0.983, recall 0.748) its misses were
    studied and the patterns generalised to cover their families, so it is now development
    data like the first set. Measured after that work: precision 1.00, recall 1.00 (155 of
    155 refusals, no false alarms), which says the patterns fit this set, not how they
    generalise. The floor below guards against regressions; the unbiased measure of the
    target (0.95 for both, issue 3) is the blind set written by someone else.
    """
    rows = list(
        csv.DictReader((LABELLED.parent / "refusal_sentences_holdout.csv").open(encoding="utf-8"))
    )
    flagged = [(row["label"] == "refusal", guard.check(row["text"]).refuses) for row in rows]
    tp = sum(gold and pred for gold, pred in flagged)
    precision = tp / sum(pred for _, pred in flagged)
    recall = tp / sum(gold for gold, _ in flagged)
    assert precision >= 0.98 and recall >= 0.98, (precision, recall)


def test_detector_on_the_blind_set(guard):
    """The honest measure: 337 sentences written by someone who never saw the detector or the
    other sets, and never tuned on (do not add patterns for its misses; write a new blind set
    instead). Measured 2026-11-23: precision 0.994, recall 0.962 (153 of 159 refusals; one
    false alarm: "No exceptions needed, it's within the window.").
    """
    rows = list(
        csv.DictReader((LABELLED.parent / "refusal_sentences_blind.csv").open(encoding="utf-8"))
    )
    assert len(rows) >= 300
    flagged = [(row["label"] == "refusal", guard.check(row["text"]).refuses) for row in rows]
    tp = sum(gold and pred for gold, pred in flagged)
    precision = tp / sum(pred for _, pred in flagged)
    recall = tp / sum(gold for gold, _ in flagged)
    assert precision >= 0.95 and recall >= 0.95, (precision, recall)


def test_actions_send_only_domain_responses():
    """Every text an action sends is a domain.yml response (checked above) filled with values
    the runtime guard checks (bot/support/outgoing.py): no action writes free text."""
    code = "\n".join(p.read_text() for p in (ROOT / "actions").glob("*.py"))
    code += "\n".join(p.read_text() for p in (ROOT / "bot" / "support").glob("*.py"))
    assert "utter_message(text=" not in code.replace(" ", "")
    assert "text=" not in "".join(line for line in code.splitlines() if "utter_message(" in line)
