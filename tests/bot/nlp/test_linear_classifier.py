"""The calibrated linear intent classifier (bot/nlp/linear_classifier.py) as a Rasa component:
trained on featurized messages, persisted and loaded through Rasa's model storage, and
giving calibrated, ranked confidences."""

from __future__ import annotations

import numpy as np
import pytest
from rasa.engine.graph import ExecutionContext, GraphSchema
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.engine.storage.resource import Resource
from rasa.nlu.featurizers.sparse_featurizer.count_vectors_featurizer import (
    CountVectorsFeaturizer,
)
from rasa.nlu.tokenizers.whitespace_tokenizer import WhitespaceTokenizer
from rasa.shared.nlu.constants import TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from bot.nlp.linear_classifier import (
    CalibratedLinearIntentClassifier,
    fit_temperature,
    softmax,
)

EXAMPLES = {
    "order_status": [
        "where is my order",
        "where's my parcel",
        "track my order please",
        "has my order shipped yet",
        "wheres my package",
        "order status",
        "when will my order arrive",
        "tracking for my parcel",
    ],
    "request_refund": [
        "i want my money back",
        "refund me please",
        "can i get a refund",
        "give me a refund for this",
        "money back please",
        "i'd like a refund",
        "refund my payment",
        "please refund the order",
    ],
    "greet": ["hi", "hello", "hey there", "good morning", "hiya", "hello bot", "hey", "morning"],
}


def ctx(name: str) -> ExecutionContext:
    return ExecutionContext(GraphSchema({}), "test", node_name=name)


@pytest.fixture
def storage(tmp_path) -> LocalModelStorage:
    return LocalModelStorage(tmp_path)


def featurized(storage, texts_intents):
    """Training data and a featurize() for new messages: whitespace tokens, word and char
    n-gram counts, as a pipeline would give them."""
    td = TrainingData([Message(data={TEXT: t, "intent": i}) for t, i in texts_intents])
    tok = WhitespaceTokenizer.create(
        WhitespaceTokenizer.get_default_config(), storage, Resource("tok"), ctx("tok")
    )
    words = CountVectorsFeaturizer.create(
        {**CountVectorsFeaturizer.get_default_config(), "max_ngram": 2},
        storage,
        Resource("words"),
        ctx("words"),
    )
    chars = CountVectorsFeaturizer.create(
        {
            **CountVectorsFeaturizer.get_default_config(),
            "analyzer": "char_wb",
            "min_ngram": 2,
            "max_ngram": 4,
        },
        storage,
        Resource("chars"),
        ctx("chars"),
    )
    tok.process_training_data(td)
    for f in (words, chars):
        f.train(td)
        f.process_training_data(td)

    def featurize(texts):
        msgs = [Message(data={TEXT: t}) for t in texts]
        tok.process(msgs)
        words.process(msgs)
        chars.process(msgs)
        return msgs

    return td, featurize


def training_pairs():
    return [(t, i) for i, texts in EXAMPLES.items() for t in texts]


def train(storage, config=None, pairs=None):
    td, featurize = featurized(storage, pairs or training_pairs())
    resource = Resource("clf")
    clf = CalibratedLinearIntentClassifier.create(
        {**CalibratedLinearIntentClassifier.get_default_config(), **(config or {})},
        storage,
        resource,
        ctx("clf"),
    )
    clf.train(td)
    return clf, resource, featurize


def test_is_registered_as_a_trainable_intent_classifier():
    from rasa.engine.recipes.default_recipe import DefaultV1Recipe

    registered = DefaultV1Recipe._from_registry(CalibratedLinearIntentClassifier.__name__)
    assert registered.clazz is CalibratedLinearIntentClassifier
    assert DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER in registered.types
    assert registered.is_trainable


def test_classifies_and_ranks_with_probabilities(storage):
    clf, _, featurize = train(storage)
    msgs = clf.process(featurize(["where is my parcel", "i want a refund please", "hello"]))
    assert [m.get("intent")["name"] for m in msgs] == ["order_status", "request_refund", "greet"]
    for m in msgs:
        ranking = m.get("intent_ranking")
        confidences = [r["confidence"] for r in ranking]
        assert confidences == sorted(confidences, reverse=True)
        assert sum(confidences) == pytest.approx(1.0)
        assert {r["name"] for r in ranking} == set(EXAMPLES)
        assert m.get("intent")["confidence"] == confidences[0]


def test_persists_and_loads_through_model_storage(storage):
    clf, resource, featurize = train(storage)
    texts = ["wheres my order", "refund pls", "hey"]
    before = [m.get("intent_ranking") for m in clf.process(featurize(texts))]
    loaded = CalibratedLinearIntentClassifier.load(
        CalibratedLinearIntentClassifier.get_default_config(), storage, resource, ctx("clf")
    )
    after = [m.get("intent_ranking") for m in loaded.process(featurize(texts))]
    for b, a in zip(before, after, strict=False):
        assert [r["name"] for r in a] == [r["name"] for r in b]
        # float32 weights on disk
        assert [r["confidence"] for r in a] == pytest.approx([r["confidence"] for r in b], abs=1e-5)


def test_loading_without_a_trained_model_gives_an_untrained_no_op(storage):
    clf = CalibratedLinearIntentClassifier.load(
        CalibratedLinearIntentClassifier.get_default_config(),
        storage,
        Resource("never_trained"),
        ctx("clf"),
    )
    msg = Message(data={TEXT: "hello"})
    clf.process([msg])
    assert msg.get("intent") is None


def test_the_temperature_is_fitted_unless_configured(storage):
    fitted, _, _ = train(storage)
    assert 0 < fitted._meta["temperature"] < 1.0
    fixed, _, _ = train(storage, {"temperature": 0.5})
    assert fixed._meta["temperature"] == 0.5


def test_ranking_length_cuts_the_ranking(storage):
    clf, _, featurize = train(storage, {"ranking_length": 2})
    (msg,) = clf.process(featurize(["where is my order"]))
    assert len(msg.get("intent_ranking")) == 2


def test_two_intents_give_two_confidences(storage):
    pairs = [(t, i) for i in ("order_status", "greet") for t in EXAMPLES[i]]
    clf, _, featurize = train(storage, pairs=pairs)
    (msg,) = clf.process(featurize(["track my parcel"]))
    assert msg.get("intent")["name"] == "order_status"
    assert {r["name"] for r in msg.get("intent_ranking")} == {"order_status", "greet"}


@pytest.mark.parametrize("tfidf", [True, False])
def test_one_message_scores_are_the_training_matrix_scores(storage, tfidf):
    """Prediction scores a message from its non-zero features alone; the SVM was trained
    on ``_matrix``'s rows. Both must give the same scores, for words never seen in
    training too (no features at all) and for a message that repeats n-grams."""
    clf, _, featurize = train(storage, {"tfidf": tfidf})
    texts = ["where is my parcel", "refund refund refund me", "zzz qqq", "hello hello bot"]
    msgs = featurize(texts)
    _, weights = clf._model()
    expected = clf._matrix(msgs) @ weights["coef"].T.astype(np.float64) + weights["intercept"]
    got = np.vstack([clf._scores(m) for m in msgs])
    assert got == pytest.approx(np.asarray(expected), abs=1e-9)


def test_raw_counts_without_tfidf(storage):
    clf, _, featurize = train(storage, {"tfidf": False})
    (msg,) = clf.process(featurize(["can i get my money back"]))
    assert msg.get("intent")["name"] == "request_refund"


def test_bad_config_is_refused():
    for bad in ({"C": 0}, {"temperature": -1}, {"cv_folds": 1}):
        with pytest.raises(ValueError):
            CalibratedLinearIntentClassifier.validate_config(
                {**CalibratedLinearIntentClassifier.get_default_config(), **bad}
            )


def test_fit_temperature_recovers_the_generating_temperature():
    rng = np.random.default_rng(0)
    scores = rng.normal(size=(4000, 5))
    probabilities = softmax(scores, 0.4)
    gold = np.array([rng.choice(5, p=p) for p in probabilities])
    assert fit_temperature(scores, gold) == pytest.approx(0.4, abs=0.05)
