"""Details stand as placeholders for the intent classifier (bot/nlp/detail_masker.py)."""

from rasa.nlu.constants import TOKENS_NAMES
from rasa.nlu.tokenizers.tokenizer import Token
from rasa.shared.nlu.constants import INTENT, TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from bot.nlp.detail_masker import DetailMasker, masked_tokens


def tokens_of(text: str) -> list[Token]:
    out, at = [], 0
    for word in text.split():
        start = text.index(word, at)
        out.append(Token(word, start, lemma=word.lower()))
        at = start + len(word)
    return out


def words(tokens: list[Token]) -> list[str]:
    return [t.lemma for t in tokens]


def test_each_detail_becomes_one_placeholder_word():
    text = "refund ORD-10005 li.wei@example.com on 14 December please"
    spans = [(7, 16, "order_id"), (17, 35, "email"), (39, 50, "date")]
    assert words(masked_tokens(tokens_of(text), spans)) == [
        "refund", "order_id", "email", "on", "date", "please",
    ]  # fmt: skip
    assert words(masked_tokens(tokens_of("hello there"), [])) == ["hello", "there"]


def test_the_word_a_number_is_said_with_stays_a_word():
    # "get invoice #00108" asks for an invoice; masked whole it read "get invoice_id".
    assert words(masked_tokens(tokens_of("get invoice #00108"), [(4, 18, "invoice_id")])) == [
        "get", "invoice", "invoice_id",
    ]  # fmt: skip
    text = "locate order no 732201349959 please"
    assert words(masked_tokens(tokens_of(text), [(7, 28, "order_id")])) == [
        "locate", "order", "order_id", "please",
    ]  # fmt: skip


def example(text: str, intent: str) -> Message:
    return Message(data={TEXT: text, INTENT: intent, TOKENS_NAMES[TEXT]: tokens_of(text)})


def test_each_need_is_also_trained_with_details_around_it_and_small_talk_is_not():
    masker = DetailMasker({})
    data = TrainingData(
        [example("where is my refund", "refund_status"), example("hello there", "greet")]
    )
    trained = masker.process_training_data(data)
    copies = trained.training_examples[2:]
    assert [c.get(INTENT) for c in copies] == ["refund_status"]  # a need, not a greeting
    placeholders = {"order_id", "email", "invoice_id", "amount"}
    added = [w for w in words(copies[0].get(TOKENS_NAMES[TEXT])) if w in placeholders]
    assert added and "where is my refund" in copies[0].get(TEXT)
    # The copies are part of what the classifier trains on.
    assert len(trained.intent_examples) == 3
    # Reproducible: the same copies every time.
    again = masker.process_training_data(
        TrainingData([example("where is my refund", "refund_status")])
    )
    assert again.training_examples[1].get(TEXT) == copies[0].get(TEXT)


def test_without_the_option_no_copies_are_made():
    data = TrainingData([example("where is my refund", "refund_status")])
    assert (
        len(
            DetailMasker({"details_around_needs": False})
            .process_training_data(data)
            .training_examples
        )
        == 1
    )
