"""Details (order and invoice numbers, emails, amounts, dates) stand as placeholders for
the intent classifier.

Why: customers put the details in the same message as the need ("refund ORD-10005
li.wei@example.com"). Counted as words and character n-grams, an order number and an email
outweigh the one word that says what they want, and such a message was read as ``inform``
("here is a detail") with confidence 1.00: the need was lost and the order's status
answered instead. With each detail replaced by one placeholder token ("refund order_id
email"), the classifier sees what the customer asks for, and a message that is nothing
but details ("ORD-10004", "it's ORD-10002, email ...") is still plainly ``inform``.

The spans are the entities our spaCy pipeline's entity ruler finds (bot/nlp/patterns.yml)
and street addresses (bot/support/parsing.py),
read from the spaCy doc that SpacyNLP attaches to *every* message, training examples
included, so training and prediction are masked alike (Rasa's entity extractors do not run
on training data, so their output cannot be used here). Only the tokens that the
featurizers count are changed; the text and the extracted entities stay as they were.

Masking alone is not enough: our ``inform`` examples are the only ones with details in them,
so a placeholder still pulled hard towards ``inform`` ("refund ORD-10005 li.wei@example.com"
was ``inform`` at 0.99). So in training every example of a need (an intent routing.yml
gives a department) also appears once more with details around it, as customers write:
"where's my refund" + "ORD-10042 name@example.com", labelled with its need. The copies are
chosen with a fixed seed, so training stays reproducible.
"""

from __future__ import annotations

import random
from typing import Any

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.constants import SPACY_DOCS, TOKENS_NAMES
from rasa.nlu.tokenizers.tokenizer import Token
from rasa.shared.nlu.constants import INTENT, TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from bot.support.parsing import address_span

# The entity labels whose words say nothing about the need, only which one; a street
# address is found by bot/support/parsing.py, not by spaCy.
ADDRESS = "address"
MASKED_LABELS = ("order_id", "invoice_id", "email", "amount", "date", ADDRESS)
# Details as customers add them to a need, for the training copies: (text, labels).
DETAILS_AROUND_A_NEED = (
    ("ORD-10042", ("order_id",)),
    ("name@example.com", ("email",)),
    ("ORD-10042 name@example.com", ("order_id", "email")),
    ("name@example.com, order ORD-10042", ("email", "order_id")),
    ("INV-50017", ("invoice_id",)),
    # "refund $120", "charged £45.99 twice": an amount beside a need is part of it, not a
    # detail given on its own (which is what our inform examples with an amount are).
    ("$120", ("amount",)),
    ("£45.99", ("amount",)),
)


def placeholder(label: str) -> str:
    """The token a detail of this kind stands as: its label, e.g. ``order_id``."""
    return label


# The words a customer says a number with ("invoice #00108", "order no 10042") stay words:
# "get invoice #00108" is a request for an invoice, and masked whole it read as "get
# invoice_id", which any need could say.
WORDS_SAID_WITH_A_NUMBER = frozenset({"order", "purchase", "invoice", "bill", "receipt"})


def masked_tokens(tokens: list[Token], spans: list[tuple[int, int, str]]) -> list[Token]:
    """``tokens`` with every run of tokens inside one of ``spans`` (start, end, label) made
    into a single placeholder token of that label, but for the words in
    ``WORDS_SAID_WITH_A_NUMBER``."""
    out: list[Token] = []
    for token in tokens:
        inside = next(
            ((s, e, lb) for s, e, lb in spans if s <= token.start and token.end <= e), None
        )
        if inside is None or token.text.lower() in WORDS_SAID_WITH_A_NUMBER:
            out.append(token)
            continue
        start, end, label = inside
        if out and out[-1].data.get("masked_span") == (start, end):
            continue  # the rest of a detail already standing as its placeholder
        word = placeholder(label)
        out.append(Token(word, token.start, end, data={"masked_span": (start, end)}, lemma=word))
    return out


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.MESSAGE_TOKENIZER, is_trainable=False)
class DetailMasker(GraphComponent):
    """Replaces the tokens of details by placeholders, after the tokenizer and before the
    featurizers (config.yml)."""

    @staticmethod
    def get_default_config() -> dict[str, Any]:
        return {
            "labels": list(MASKED_LABELS),
            # Add a copy of each need's examples with details around them (see above).
            "details_around_needs": True,
            "random_seed": 42,
        }

    def __init__(self, config: dict[str, Any]) -> None:
        config = {**self.get_default_config(), **config}
        self.labels = frozenset(config["labels"])
        self.details_around_needs = bool(config["details_around_needs"])
        self.random_seed = config["random_seed"]

    @classmethod
    def create(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> DetailMasker:
        return cls(config)

    def _mask(self, message: Message) -> None:
        tokens = message.get(TOKENS_NAMES[TEXT])
        doc = message.get(SPACY_DOCS[TEXT])
        if not tokens or doc is None:
            return
        spans = [
            (ent.start_char, ent.end_char, ent.label_)
            for ent in doc.ents
            if ent.label_ in self.labels
        ]
        if ADDRESS in self.labels and (where := address_span(message.get(TEXT))):
            spans.append((*where, ADDRESS))
        if spans:
            message.set(TOKENS_NAMES[TEXT], masked_tokens(tokens, spans))

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        for example in training_data.training_examples:
            self._mask(example)
        if not self.details_around_needs:
            return training_data
        copies = self._needs_with_details(training_data.training_examples)
        # A new TrainingData, so its cached views (intent_examples...) include the copies.
        return TrainingData(
            training_examples=training_data.training_examples + copies,
            entity_synonyms=training_data.entity_synonyms,
            regex_features=training_data.regex_features,
            lookup_tables=training_data.lookup_tables,
            responses=training_data.responses,
        )

    def _needs_with_details(self, examples: list[Message]) -> list[Message]:
        """One copy of each need's detail-free example, with details before or after it."""
        from bot.routing import RoutingMap

        routing = RoutingMap.load()
        rng = random.Random(self.random_seed)
        copies = []
        for example in examples:
            intent, text, tokens = (
                example.get(INTENT),
                example.get(TEXT),
                example.get(TOKENS_NAMES[TEXT]),
            )
            if not (intent and text and tokens) or routing.department_of(intent) is None:
                continue
            if any(t.data.get("masked_span") for t in tokens):
                continue  # already has its details
            detail_text, labels = rng.choice(DETAILS_AROUND_A_NEED)
            details = [placeholder(label) for label in labels if label in self.labels]
            if rng.random() < 0.25:  # "ORD-10042: where is it?"
                new_text = f"{detail_text} {text}"
                shift = len(detail_text) + 1
                new_tokens = [Token(w, 0, len(detail_text), lemma=w) for w in details] + [
                    Token(t.text, t.start + shift, t.end + shift, dict(t.data), t.lemma)
                    for t in tokens
                ]
            else:
                new_text = f"{text} {detail_text}"
                new_tokens = list(tokens) + [
                    Token(w, len(text), len(new_text), lemma=w) for w in details
                ]
            copies.append(
                Message(data={TEXT: new_text, INTENT: intent, TOKENS_NAMES[TEXT]: new_tokens})
            )
        return copies

    def process(self, messages: list[Message]) -> list[Message]:
        for message in messages:
            self._mask(message)
        return messages
