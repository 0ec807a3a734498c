"""Quick search over intent classifiers on the held-out split, using Rasa's own featurizers.

Usage: .venv/bin/python bench/nlu_search.py
       .venv/bin/python bench/nlu_search.py --pipeline [config.yml ...]

Featurizes the 80% training part and the held-out fifth of data/nlu (bot/evaluation.py
split_nlu: every 5th example of each intent held out) once, in process, with the same Rasa
components config.yml uses (SpacyNLP, SpacyTokenizer, RegexFeaturizer,
CountVectorsFeaturizer), then fits candidate classifiers on the sentence-level sparse
features and prints held-out intent accuracy (top intent, and after the fallback threshold)
and department accuracy for each. Only the held-out split is read: the public evaluation
sets are never touched here. It is for choosing a configuration quickly; the chosen one is
then measured for real by `rasa train` (bench/understanding.py, make eval).

With --pipeline, each given Rasa config is instead trained for real (`rasa train nlu`, the
whole pipeline, masking included) on the same 80% and scored on the held-out fifth, overall
and split into the examples of the original files and those of data/nlu/breadth_*.yml:
new files do not move the old files' split (it is every 5th example *within* each block), so
"original" is the same held-out set before and after breadth data is added.
"""

from __future__ import annotations

import re
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.evaluation import NONE, split_nlu  # noqa: E402
from bot.routing import RoutingMap  # noqa: E402

ENTITY_MARKUP = re.compile(r"\[([^\]]+)\](?:\([^)]*\)|\{[^}]*\})")


def featurize(work: Path, featurizer_configs: list[tuple[str, dict]]):
    from rasa.engine.graph import ExecutionContext, GraphSchema
    from rasa.engine.storage.local_model_storage import LocalModelStorage
    from rasa.engine.storage.resource import Resource
    from rasa.nlu.featurizers.sparse_featurizer.count_vectors_featurizer import (
        CountVectorsFeaturizer,
    )
    from rasa.nlu.featurizers.sparse_featurizer.regex_featurizer import RegexFeaturizer
    from rasa.nlu.tokenizers.spacy_tokenizer import SpacyTokenizer
    from rasa.nlu.utils.spacy_utils import SpacyNLP
    from rasa.shared.nlu.constants import TEXT
    from rasa.shared.nlu.training_data.loading import load_data
    from rasa.shared.nlu.training_data.message import Message

    held_out = split_nlu(ROOT / "data", work / "data" / "nlu")
    td = load_data(str(work / "data" / "nlu"))
    (work / "storage").mkdir()
    storage = LocalModelStorage(work / "storage")

    def ctx(name):
        return ExecutionContext(GraphSchema({}), "search", node_name=name)

    nlp = SpacyNLP.create(
        {**SpacyNLP.get_default_config(), "model": str(ROOT / "models/spacy/en_support")},
        storage,
        Resource("nlp"),
        ctx("nlp"),
    )
    model = nlp.provide()
    tok = SpacyTokenizer.create(
        SpacyTokenizer.get_default_config(), storage, Resource("tok"), ctx("tok")
    )
    held_msgs = [Message(data={TEXT: ENTITY_MARKUP.sub(r"\1", t)}) for t, _ in held_out]
    nlp.process_training_data(td, model)
    tok.process_training_data(td)
    nlp.process(held_msgs, model)
    tok.process(held_msgs)
    names = []
    for i, (kind, cfg) in enumerate(featurizer_configs):
        cls = {"cv": CountVectorsFeaturizer, "regex": RegexFeaturizer}[kind]
        name = f"{kind}{i}"
        comp = cls.create({**cls.get_default_config(), **cfg}, storage, Resource(name), ctx(name))
        comp.train(td)
        comp.process_training_data(td)
        comp.process(held_msgs)
        names.append(name)
    train_msgs = [m for m in td.intent_examples if m.get("text")]
    y = [m.get("intent") for m in train_msgs]

    def blocks(msgs):
        from scipy.sparse import vstack

        out = {}
        for n in names:
            rows = [m.get_sparse_features(TEXT, [n])[1] for m in msgs]
            out[n] = vstack([r.features for r in rows]).tocsr()
        return out

    return blocks(train_msgs), y, blocks(held_msgs), [i for _, i in held_out]


def main() -> None:
    from scipy.sparse import hstack
    from sklearn.feature_extraction.text import TfidfTransformer
    from sklearn.svm import LinearSVC

    routing = RoutingMap.load()
    feats = [
        ("regex", {"case_sensitive": False}),
        ("cv", {"min_ngram": 1, "max_ngram": 2}),  # word 1-2 grams
        ("cv", {"analyzer": "char_wb", "min_ngram": 2, "max_ngram": 4, "max_features": 6000}),
    ]
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.monotonic()
        Xtr, y, Xte, gold = featurize(Path(tmp), feats)
        print(f"featurized in {time.monotonic() - t0:.0f}s; train {len(y)}, held-out {len(gold)}")
    gold_dept = [routing.department_of(g) or NONE for g in gold]

    def build(names, tfidf=True):
        tr, te = [], []
        for n in names:
            a, b = Xtr[n], Xte[n]
            if tfidf and not n.startswith("regex"):
                t = TfidfTransformer(sublinear_tf=True).fit(a)
                a, b = t.transform(a), t.transform(b)
            tr.append(a)
            te.append(b)
        return hstack(tr).tocsr(), hstack(te).tocsr()

    def report(label, classes, proba, seconds):
        top = classes[proba.argmax(1)]
        srt = np.sort(proba, 1)
        conf, gap = srt[:, -1], srt[:, -1] - srt[:, -2]
        acc_top = np.mean(top == np.array(gold))
        line = [f"{label:60s} top {acc_top:.3f}"]
        for thr in (0.3, 0.4, 0.55):
            fb = (conf < thr) | (gap < 0.05)
            line.append(f"@{thr} {np.mean((top == np.array(gold)) & ~fb):.3f}/fb{fb.mean():.2f}")
        depts = []
        for row in proba:
            ranking = list(zip(classes, row, strict=False))
            depts.append(routing.with_threshold(0.4).department_from_ranking(ranking) or NONE)
        line.append(f"dept {np.mean(np.array(depts) == np.array(gold_dept)):.3f}")
        line.append(f"{seconds:.1f}s")
        print("  ".join(line), flush=True)

    def softmax(s, temp):
        e = np.exp((s - s.max(1, keepdims=True)) / temp)
        return e / e.sum(1, keepdims=True)

    def cv_temperature(a, C):
        """The softmax temperature of SVM scores that minimises log-loss in 5-fold CV."""
        from sklearn.model_selection import StratifiedKFold

        ya = np.array(y)
        scores = np.zeros((a.shape[0], len(set(y))))
        classes = np.array(sorted(set(y)))
        for tr, te in StratifiedKFold(5, shuffle=True, random_state=0).split(a, ya):
            m = LinearSVC(C=C).fit(a[tr], ya[tr])
            scores[te] = m.decision_function(a[te])
        idx = np.searchsorted(classes, ya)
        best = None
        for temp in np.arange(0.04, 0.6, 0.01):
            p = softmax(scores, temp)
            nll = -np.mean(np.log(p[np.arange(len(ya)), idx] + 1e-12))
            if best is None or nll < best[0]:
                best = (nll, temp)
        return round(float(best[1]), 2)

    from bench.understanding import Baseline

    with tempfile.TemporaryDirectory() as tmp:
        from bench.understanding import read_examples
        from bot.evaluation import split_nlu as _split

        held = _split(ROOT / "data", Path(tmp) / "data" / "nlu")
        base = Baseline(read_examples(Path(tmp) / "data" / "nlu"))
        pred = [i for i, _ in base.predict([ENTITY_MARKUP.sub(r"\1", t) for t, _ in held])]
        print(f"baseline held-out intent accuracy {np.mean(np.array(pred) == np.array(gold)):.4f}")
    r, w12, c24 = "regex0", "cv1", "cv2"
    a, b = build([r, w12, c24])
    g = np.array(gold)
    for C in (0.5, 1.0):
        svm = LinearSVC(C=C).fit(a, y)
        s = svm.decision_function(b)
        temp = cv_temperature(a, C)
        for t in sorted({temp, 0.1, 0.15}):
            p = softmax(s, t)
            top = svm.classes_[p.argmax(1)]
            srt = np.sort(p, 1)
            for thr in (0.3, 0.35, 0.4, 0.45, 0.5, 0.55):
                fb = (srt[:, -1] < thr) | (srt[:, -1] - srt[:, -2] < 0.05)
                right = np.mean((top == g) & ~fb)
                wrong = np.mean((top != g) & ~fb)
                print(
                    f"C{C} T{t:.2f} fallback {thr}: accuracy {right:.3f} fell back {fb.mean():.3f} wrong answers {wrong:.3f} utility {right - wrong:.3f}"
                )


def score_pipelines(configs: list[Path]) -> None:
    """Train each config's NLU on the 80% split; print held-out figures (all/original/breadth)."""
    import os

    from bench.understanding import train_diet
    from bot.classify import Classifier
    from bot.settings import Settings

    routing = RoutingMap.load()
    settings = Settings.from_env()
    with tempfile.TemporaryDirectory(prefix="cx-nlu-search-") as tmp:
        work = Path(tmp)
        os.environ["RASA_CACHE_DIRECTORY"] = str(work / "rasa-cache")
        held_out = split_nlu(ROOT / "data", work / "data" / "nlu")
        # The held-out examples of the original files alone: the split of a copy without
        # the breadth files (per-block, so identical to theirs within the full split).
        original = work / "original"
        (original / "nlu").mkdir(parents=True)
        for path in (ROOT / "data" / "nlu").glob("*.yml"):
            if not path.name.startswith("breadth_"):
                (original / "nlu" / path.name).write_text(path.read_text(encoding="utf-8"))
        held_original = set(split_nlu(original, work / "original-train" / "nlu"))
        texts = [ENTITY_MARKUP.sub(r"\1", t) for t, _ in held_out]
        gold = [i for _, i in held_out]
        is_original = np.array([h in held_original for h in held_out])
        print(
            f"held-out {len(held_out)}: original {is_original.sum()}, breadth {(~is_original).sum()}",
            flush=True,
        )
        for n, config in enumerate(configs):
            run = work / f"run{n}"  # train_diet reads run/data and writes run/models-42
            run.mkdir()
            (run / "data").symlink_to(work / "data")
            model, seconds = train_diet(settings, run, 42, config)
            clf = Classifier(model, routing)
            try:
                pred = [clf.classify(t) for t in texts]
            finally:
                clf.close()
            intent = np.array([p.intent or NONE for p in pred]) == np.array(gold)
            top = np.array([p.top_intent or NONE for p in pred]) == np.array(gold)
            fell = np.array([p.intent == "nlu_fallback" for p in pred])
            dept = np.array(
                [
                    (p.department or NONE) == (routing.department_of(g) or NONE)
                    for p, g in zip(pred, gold, strict=True)
                ]
            )
            for label, mask in (
                ("all", np.ones_like(is_original)),
                ("original", is_original),
                ("breadth", ~is_original),
            ):
                if not mask.any():
                    continue
                print(
                    f"{config.name:28s} {label:9s} n {mask.sum():5d}  intent {intent[mask].mean():.4f}"
                    f"  top {top[mask].mean():.4f}  fell back {fell[mask].mean():.4f}"
                    f"  department {dept[mask].mean():.4f}  ({seconds:.0f}s training)",
                    flush=True,
                )


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--pipeline",
        nargs="*",
        type=Path,
        help="train these Rasa configs for real and score them on the held-out split",
    )
    args = parser.parse_args()
    if args.pipeline is not None:
        score_pipelines(args.pipeline or [ROOT / "config.yml"])
    else:
        main()
