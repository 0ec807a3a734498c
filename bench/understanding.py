"""How well the assistant understands people, against a classic baseline and across seeds.

Usage: .venv/bin/python bench/understanding.py [--seeds 42 7 2024] [--model models]

In this one run:
- DIET (config.yml) is trained NLU-only on 80% of data/nlu (every 5th example of each
  intent held out, as `make eval` does) once per random seed; each model is scored on the
  held-out fifth, on the public Bitext set (department accuracy) and on CLINC's
  out-of-scope set (share routed to no department);
- the shipped model (models/, all the data) is scored on Bitext and CLINC with a sweep of
  the department threshold (in-scope accuracy vs. out-of-scope rejection);
- a baseline, TF-IDF (word 1-2-grams and character 2-5-grams) + linear SVM, is trained on
  the same 80% and on all the data, and scored the same way. Out of scope, for the
  baseline, is a top SVM score below a margin, chosen so that it rejects as much of CLINC
  as the shipped model does: the two are compared at the same out-of-scope rejection.
Prints progress to stderr and one JSON object to stdout; bench/report.py writes it up.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.evaluation import NONE, read_csv, score, split_nlu  # noqa: E402
from bot.routing import RoutingMap  # noqa: E402
from bot.settings import Settings  # noqa: E402

SHARED = ROOT.parent / "shared" / "eval"
THRESHOLDS = (0.3, 0.4, 0.5, 0.6, 0.7)
# "[ORD-10001](order_id)" or "[ORD-10001]{...}" in Rasa's training data: the text only.
ENTITY_MARKUP = re.compile(r"\[([^\]]+)\](?:\([^)]*\)|\{[^}]*\})")


def log(message: str) -> None:
    print(f"    {message}", file=sys.stderr, flush=True)


def read_examples(nlu_dir: Path) -> list[tuple[str, str]]:
    """Every (text, intent) of the Rasa NLU files in ``nlu_dir``, entity markup removed."""
    examples = []
    for path in sorted(nlu_dir.glob("*.yml")):
        for block in (yaml.safe_load(path.read_text(encoding="utf-8")) or {}).get("nlu", []):
            if "intent" in block:
                for line in block["examples"].splitlines():
                    if line.strip().startswith("- "):
                        text = ENTITY_MARKUP.sub(r"\1", line.strip()[2:].strip())
                        examples.append((text, block["intent"]))
    return examples


# --- the baseline ---------------------------------------------------------------------------


class Baseline:
    """TF-IDF word and character n-grams into a linear SVM (one-vs-rest), sklearn defaults."""

    def __init__(self, examples: list[tuple[str, str]]):
        from sklearn.feature_extraction.text import TfidfVectorizer
        from sklearn.pipeline import make_pipeline, make_union
        from sklearn.svm import LinearSVC

        self.model = make_pipeline(
            make_union(
                TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, lowercase=True),
                TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5), sublinear_tf=True),
            ),
            LinearSVC(C=1.0),
        )
        started = time.monotonic()
        self.model.fit([t for t, _ in examples], [i for _, i in examples])
        self.train_seconds = time.monotonic() - started

    def predict(self, texts: list[str]) -> list[tuple[str, float]]:
        """(intent, top SVM score) for each text."""
        scores = self.model.decision_function(texts)
        classes = self.model.classes_
        return [(classes[row.argmax()], float(row.max())) for row in scores]


def baseline_department(routing: RoutingMap, intent: str, top: float, margin: float) -> str:
    return (routing.department_of(intent) or NONE) if top >= margin else NONE


def matching_margin(routing: RoutingMap, clinc: list[tuple[str, float]], target: float) -> float:
    """The smallest SVM score margin at which the baseline rejects ``target`` of CLINC."""
    margins = sorted({round(s, 3) for _, s in clinc} | {-10.0})
    for margin in margins:
        rejected = sum(baseline_department(routing, i, s, margin) == NONE for i, s in clinc)
        if rejected / len(clinc) >= target:
            return margin
    return margins[-1]


# --- DIET -------------------------------------------------------------------------------------


def train_diet(settings: Settings, work: Path, seed: int, config_file: Path) -> tuple[Path, float]:
    """Train ``config_file``'s NLU pipeline, DIET's random seed set to ``seed``, on work/data."""
    from bot.rasa.training import train

    config = yaml.safe_load(config_file.read_text(encoding="utf-8"))
    for component in config["pipeline"]:
        if component["name"] == "DIETClassifier" or component["name"].endswith(
            "CalibratedLinearIntentClassifier"
        ):
            component["random_seed"] = seed
    config_path = work / f"config-{seed}.yml"
    config_path.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    out = work / f"models-{seed}"
    started = time.monotonic()
    code = train(
        settings,
        config=str(config_path),
        out=out,
        data=str(work / "data"),
        quiet=True,
        nlu_only=True,
        force=True,  # never a classifier restored from before an edit to bot/nlp
    )
    if code != 0:
        raise RuntimeError(f"training DIET with seed {seed} failed (rasa train nlu exit {code})")
    return out, time.monotonic() - started


def diet_predictions(model: Path, texts: list[str]) -> list:
    from bot.classify import Classifier

    clf = Classifier(model)
    try:
        return [clf.classify(t) for t in texts]
    finally:
        clf.close()


def public_scores(routing: RoutingMap, bitext, clinc, bitext_pred, clinc_pred) -> dict:
    gold = [row["department"] for row in bitext]
    b = score(gold, [p.department or NONE for p in bitext_pred])
    return {
        "bitext_department_accuracy": round(b.accuracy, 4),
        # In-scope messages answered with the clarifying question (below the fallback).
        "bitext_clarifying_question": round(
            sum(p.intent == "nlu_fallback" for p in bitext_pred) / len(bitext_pred), 4
        ),
        "clinc_routed_nowhere": round(
            sum(p.department is None for p in clinc_pred) / len(clinc_pred), 4
        ),
    }


def mean_spread(values: list[float]) -> dict:
    return {
        "mean": round(statistics.mean(values), 4),
        "sd": round(statistics.stdev(values), 4) if len(values) > 1 else 0.0,
        "min": round(min(values), 4),
        "max": round(max(values), 4),
        "values": [round(v, 4) for v in values],
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[42, 7, 2024])
    parser.add_argument("--model", default=str(ROOT / "models"), help="the shipped model")
    parser.add_argument(
        "--config", default=str(ROOT / "config.yml"), help="the Rasa config to train"
    )
    args = parser.parse_args()
    settings = Settings.from_env()
    routing = RoutingMap.load()
    bitext = read_csv(SHARED / "bitext_departments_test.csv")
    clinc = read_csv(SHARED / "clinc_out_of_scope_test.csv")
    bitext_texts, clinc_texts = [r["text"] for r in bitext], [r["text"] for r in clinc]
    bitext_gold = [r["department"] for r in bitext]
    result: dict = {"seeds": args.seeds, "bitext_n": len(bitext), "clinc_n": len(clinc)}

    with tempfile.TemporaryDirectory(prefix="cx-bench-nlu-") as tmp:
        work = Path(tmp)
        # A cache of its own: Rasa would otherwise restore an earlier run's training from
        # .rasa/cache and the training time would mean nothing.
        os.environ["RASA_CACHE_DIRECTORY"] = str(work / "rasa-cache")
        held_out = split_nlu(ROOT / "data", work / "data" / "nlu")
        held_texts = [ENTITY_MARKUP.sub(r"\1", t) for t, _ in held_out]
        held_gold = [i for _, i in held_out]
        held_dept_gold = [routing.department_of(i) or NONE for i in held_gold]
        train_part = read_examples(work / "data" / "nlu")
        result["held_out_n"], result["train_n"] = len(held_out), len(train_part)

        # DIET, once per seed, on the 80% split.
        per_seed = []
        for seed in args.seeds:
            log(f"training DIET on 80% of data/nlu, seed {seed}")
            model, seconds = train_diet(settings, work, seed, Path(args.config))
            log(
                f"  trained in {seconds:.0f}s; classifying {len(held_texts) + len(bitext) + len(clinc)} messages"
            )
            held_pred = diet_predictions(model, held_texts + bitext_texts + clinc_texts)
            h, b, c = (
                held_pred[: len(held_texts)],
                held_pred[len(held_texts) : len(held_texts) + len(bitext)],
                held_pred[len(held_texts) + len(bitext) :],
            )
            per_seed.append(
                {
                    "seed": seed,
                    "train_seconds": round(seconds, 1),
                    "held_out_intent_accuracy": round(
                        score(held_gold, [p.intent or NONE for p in h]).accuracy, 4
                    ),
                    # The intent before the fallback threshold: what the baseline, which
                    # has no fallback, is comparable with.
                    "held_out_top_intent_accuracy": round(
                        score(held_gold, [p.top_intent or NONE for p in h]).accuracy, 4
                    ),
                    "held_out_fell_back": round(
                        sum(p.intent == "nlu_fallback" for p in h) / len(h), 4
                    ),
                    "held_out_department_accuracy": round(
                        score(held_dept_gold, [p.department or NONE for p in h]).accuracy, 4
                    ),
                    **public_scores(routing, bitext, clinc, b, c),
                }
            )
        result["diet_per_seed"] = per_seed
        result["diet_seed_summary"] = {
            key: mean_spread([s[key] for s in per_seed])
            for key in (
                "held_out_intent_accuracy",
                "held_out_top_intent_accuracy",
                "held_out_fell_back",
                "held_out_department_accuracy",
                "bitext_department_accuracy",
                "bitext_clarifying_question",
                "clinc_routed_nowhere",
            )
        }

        # The baseline on the same 80%, then on all the data.
        log("training the TF-IDF + linear SVM baseline")
        split_baseline = Baseline(train_part)
        held_base = split_baseline.predict(held_texts)
        full_examples = read_examples(ROOT / "data" / "nlu")
        full_baseline = Baseline(full_examples)

    # The shipped model: Bitext and CLINC, the department-threshold sweep.
    log(f"classifying Bitext and CLINC with the shipped model ({args.model})")
    started = time.monotonic()
    shipped = diet_predictions(Path(args.model), bitext_texts + clinc_texts)
    per_message_ms = (time.monotonic() - started) / len(shipped) * 1000
    ship_b, ship_c = shipped[: len(bitext)], shipped[len(bitext) :]
    shipped_scores = public_scores(routing, bitext, clinc, ship_b, ship_c)
    sweep = []
    for t in THRESHOLDS:
        at_t = routing.with_threshold(t)
        sweep.append(
            {
                "threshold": t,
                "configured": abs(t - routing.department_threshold) < 1e-9,
                "bitext_department_accuracy": round(
                    sum(
                        (at_t.department_from_ranking(list(p.ranking)) or NONE) == g
                        for p, g in zip(ship_b, bitext_gold, strict=True)
                    )
                    / len(bitext),
                    4,
                ),
                "clinc_routed_nowhere": round(
                    sum(at_t.department_from_ranking(list(p.ranking)) is None for p in ship_c)
                    / len(clinc),
                    4,
                ),
            }
        )
    result["shipped"] = {
        **shipped_scores,
        "parse_ms_per_message": round(per_message_ms, 1),
        "sweep": sweep,
    }

    # The baseline scored the same way, at the shipped model's out-of-scope rejection.
    base_b, base_c = full_baseline.predict(bitext_texts), full_baseline.predict(clinc_texts)
    margin = matching_margin(routing, base_c, shipped_scores["clinc_routed_nowhere"])
    base_bitext = score(
        bitext_gold, [baseline_department(routing, i, s, margin) for i, s in base_b]
    )
    base_bitext_open = score(
        bitext_gold, [baseline_department(routing, i, s, -10.0) for i, s in base_b]
    )
    result["baseline"] = {
        "train_seconds": round(full_baseline.train_seconds, 2),
        "held_out_intent_accuracy": round(score(held_gold, [i for i, _ in held_base]).accuracy, 4),
        "held_out_department_accuracy": round(
            score(
                held_dept_gold, [routing.department_of(i) or NONE for i, _ in held_base]
            ).accuracy,
            4,
        ),
        "margin": margin,
        "bitext_department_accuracy": round(base_bitext.accuracy, 4),
        "clinc_routed_nowhere": round(
            sum(baseline_department(routing, i, s, margin) == NONE for i, s in base_c) / len(clinc),
            4,
        ),
        "bitext_department_accuracy_no_rejection": round(base_bitext_open.accuracy, 4),
    }
    print(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
