"""``make eval``: how well the assistant understands people, on data it never trained on.

1. Held-out split of the project's own NLU data: every 5th example of each intent is held
   out, a model is trained on the rest (NLU only), and intents and departments are scored.
2. The public Bitext set (../shared/eval): department accuracy and macro-F1 of the full model.
3. The public CLINC out-of-scope set: the share routed to no department.
The public files are read for measurement only, never for training.
"""

from __future__ import annotations

import csv
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import yaml

from bot.routing import RoutingMap
from bot.settings import Settings

NONE = "none"
HOLD_OUT_EVERY = 5


@dataclass
class Scores:
    n: int
    accuracy: float
    macro_f1: float
    per_label: dict[str, tuple[float, float, float, int]]  # precision, recall, f1, support


def score(gold: list[str], predicted: list[str]) -> Scores:
    """Accuracy and macro-F1 over the labels present in ``gold``."""
    labels = sorted(set(gold))
    tp: Counter[str] = Counter()
    fp: Counter[str] = Counter()
    fn: Counter[str] = Counter()
    for g, p in zip(gold, predicted, strict=False):
        if g == p:
            tp[g] += 1
        else:
            fp[p] += 1
            fn[g] += 1
    per_label = {}
    for label in labels:
        precision = tp[label] / (tp[label] + fp[label]) if tp[label] + fp[label] else 0.0
        recall = tp[label] / (tp[label] + fn[label]) if tp[label] + fn[label] else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        per_label[label] = (precision, recall, f1, tp[label] + fn[label])
    accuracy = (
        sum(g == p for g, p in zip(gold, predicted, strict=False)) / len(gold) if gold else 0.0
    )
    macro = sum(v[2] for v in per_label.values()) / len(per_label) if per_label else 0.0
    return Scores(len(gold), accuracy, macro, per_label)


def split_nlu(data_dir: Path, train_dir: Path) -> list[tuple[str, str]]:
    """Write the training part of data/nlu to ``train_dir``; return the held-out (text, intent)."""
    held_out: list[tuple[str, str]] = []
    train_dir.mkdir(parents=True, exist_ok=True)
    for path in sorted((data_dir / "nlu").glob("*.yml")):
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
        for block in doc.get("nlu", []):
            if "intent" not in block:
                continue
            examples = [
                line[2:].strip()
                for line in block["examples"].splitlines()
                if line.strip().startswith("- ")
            ]
            keep = []
            for i, example in enumerate(examples):
                (
                    held_out.append((example, block["intent"]))
                    if i % HOLD_OUT_EVERY == HOLD_OUT_EVERY - 1
                    else keep.append(example)
                )
            block["examples"] = "".join(f"- {e}\n" for e in keep)
        (train_dir / path.name).write_text(
            yaml.safe_dump(doc, sort_keys=False, allow_unicode=True), encoding="utf-8"
        )
    return held_out


def read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def _department(routing: RoutingMap, intent: str | None) -> str:
    return routing.department_of(intent) or NONE


def main(
    settings: Settings,
    out: Path,
    shared: Path | None = None,
    model: str = "models",
    config: str = "config.yml",
) -> int:
    from bot.classify import Classifier
    from bot.rasa.training import train

    shared = shared or settings.root.parent / "shared" / "eval"
    routing = RoutingMap.load()
    lines: list[str] = [f"# Understanding evaluation, {datetime.now():%Y-%m-%d %H:%M}", ""]
    summary: dict[str, float] = {}

    # 1. Held-out split of our own data
    with tempfile.TemporaryDirectory() as tmp:
        tmp_path = Path(tmp)
        held_out = split_nlu(settings.root / "data", tmp_path / "data" / "nlu")
        print(
            f"==> Training a model on 80% of data/nlu ({len(held_out)} examples held out)",
            flush=True,
        )
        started = time.monotonic()
        code = train(
            settings,
            config=config,
            out=tmp_path / "models",
            data=str(tmp_path / "data"),
            quiet=True,
            nlu_only=True,
            force=True,  # never a classifier restored from before an edit to bot/nlp
        )
        if code != 0:
            print("!! training on the split failed", flush=True)
            return code
        split_train_s = time.monotonic() - started
        clf = Classifier(tmp_path / "models")
        predicted = [clf.classify(text) for text, _ in held_out]
        clf.close()
    intents = score([i for _, i in held_out], [p.intent or NONE for p in predicted])
    departments = score(
        [_department(routing, i) for _, i in held_out], [p.department or NONE for p in predicted]
    )
    summary.update(
        heldout_intent_accuracy=intents.accuracy,
        heldout_department_accuracy=departments.accuracy,
        heldout_department_macro_f1=departments.macro_f1,
    )
    lines += [
        "## Held-out split of the project's own data",
        f"Every {HOLD_OUT_EVERY}th example of each intent held out ({intents.n} messages); model trained on the rest in {split_train_s:.0f}s.",
        "",
        "| measure | value |",
        "|---|---|",
        f"| intent accuracy | {intents.accuracy:.3f} |",
        f"| intent macro-F1 | {intents.macro_f1:.3f} |",
        f"| department accuracy | {departments.accuracy:.3f} |",
        f"| department macro-F1 | {departments.macro_f1:.3f} |",
        "",
    ]

    # 2 and 3. Public sets, on the full model
    clf = Classifier(model)
    bitext_path, clinc_path = (
        shared / "bitext_departments_test.csv",
        shared / "clinc_out_of_scope_test.csv",
    )
    if bitext_path.exists() and clinc_path.exists():
        bitext = read_csv(bitext_path)
        print(f"==> Classifying {len(bitext)} Bitext messages", flush=True)
        started = time.monotonic()
        bitext_pred = [clf.classify(row["text"]) for row in bitext]
        per_message_ms = (time.monotonic() - started) / max(1, len(bitext)) * 1000
        gold = [row["department"] for row in bitext]
        pred = [p.department or NONE for p in bitext_pred]
        b = score(gold, pred)
        fell_back = sum(p == NONE for p in pred) / len(pred)
        clarified = sum(p.intent == "nlu_fallback" for p in bitext_pred) / len(bitext_pred)
        clinc = read_csv(clinc_path)
        print(f"==> Classifying {len(clinc)} CLINC out-of-scope messages", flush=True)
        clinc_pred = [clf.classify(row["text"]) for row in clinc]
        nowhere = sum(p.department is None for p in clinc_pred) / len(clinc_pred)
        leaked = Counter(p.intent for p in clinc_pred if p.department is not None)
        summary.update(
            bitext_department_accuracy=b.accuracy,
            bitext_department_macro_f1=b.macro_f1,
            bitext_routed_nowhere=fell_back,
            clinc_routed_nowhere=nowhere,
        )
        confusions = Counter((g, p) for g, p in zip(gold, pred, strict=False) if g != p)
        by_source = Counter(
            row["source_intent"]
            for row, p in zip(bitext, pred, strict=False)
            if p != row["department"]
        )
        sweep = [
            "| department threshold | Bitext department accuracy | CLINC routed nowhere |",
            "|---|---|---|",
        ]
        for t in (0.3, 0.4, 0.5, 0.6, 0.7):
            at_t = routing.with_threshold(t)
            acc = sum(
                (at_t.department_from_ranking(list(p.ranking)) or NONE) == g
                for p, g in zip(bitext_pred, gold, strict=False)
            ) / len(gold)
            oos = sum(
                at_t.department_from_ranking(list(p.ranking)) is None for p in clinc_pred
            ) / len(clinc_pred)
            mark = " (configured)" if abs(t - routing.department_threshold) < 1e-9 else ""
            sweep.append(f"| {t:.1f}{mark} | {acc:.3f} | {oos:.3f} |")
        lines += [
            "## Public sets (never trained on)",
            "",
            "| measure | value | target |",
            "|---|---|---|",
            f"| Bitext department accuracy ({b.n} messages) | {b.accuracy:.3f} | >= 0.95 (issue 19) |",
            f"| Bitext department macro-F1 | {b.macro_f1:.3f} | |",
            f"| Bitext in-scope messages routed nowhere (fallback / out of scope) | {fell_back:.3f} | low |",
            f"| Bitext messages the assistant answers with a clarifying question (intent below the fallback threshold) | {clarified:.3f} | <= 0.05 (issue 19) |",
            f"| CLINC out-of-scope routed to no department ({len(clinc)} messages) | {nowhere:.3f} | >= 0.87 (issue 19) |",
            f"| parse time per message (in process) | {per_message_ms:.1f} ms | |",
            "",
            "Bitext per department (precision / recall / F1 / support):",
            "",
            *[
                f"- {label}: {p:.2f} / {r:.2f} / {f:.2f} / {n}"
                for label, (p, r, f, n) in b.per_label.items()
            ],
            "",
            "Most frequent Bitext confusions (gold -> predicted): "
            + ", ".join(f"{g}->{p} {n}" for (g, p), n in confusions.most_common(6)),
            "",
            "Bitext errors by source intent: "
            + ", ".join(f"{k} {n}" for k, n in by_source.most_common(8)),
            "",
            "CLINC messages that reached a department, by intent: "
            + ", ".join(f"{k} {n}" for k, n in leaked.most_common(8)),
            "",
            "How the department threshold (routing.yml) trades in-scope routing against out-of-scope rejection:",
            "",
            *sweep,
            "",
        ]
    else:
        lines += [f"Public evaluation sets not found under {shared}; skipped.", ""]
    clf.close()

    report = "\n".join(lines)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(report, encoding="utf-8")
    print(report)
    print(f"(written to {out})")
    return 0
