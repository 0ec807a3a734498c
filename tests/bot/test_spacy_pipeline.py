import pytest
import yaml

from bot.nlp.spacy_pipeline import build_and_save, build_pipeline, load_patterns


@pytest.fixture(scope="module")
def nlp():
    return build_pipeline()


@pytest.mark.parametrize(
    "text, expected",
    [
        ("where is ORD-10042?", [("ORD-10042", "order_id")]),
        ("ord10042 hasnt arrived", [("ord10042", "order_id")]),
        ("order #10042 please", [("order #10042", "order_id")]),
        ("my email is jane.doe@example.com", [("jane.doe@example.com", "email")]),
        ("invoice INV-50017", [("INV-50017", "invoice_id")]),
        ("charged $49.99 twice", [("$49.99", "amount")]),
        ("charged 20 dollars", [("20 dollars", "amount")]),
        ("deliver next Monday or March 3rd", [("next Monday", "date"), ("March 3rd", "date")]),
        ("nothing to see here", []),
    ],
)
def test_entity_ruler_finds_what_customers_type(nlp, text, expected):
    assert [(e.text, e.label_) for e in nlp(text).ents] == expected


def test_lemmas_come_from_the_lookup_tables(nlp):
    assert [t.lemma_ for t in nlp("charged orders arrived")] == ["charge", "order", "arrive"]


def test_pipeline_round_trips_through_disk(tmp_path):
    import spacy

    path = build_and_save(tmp_path / "pipe")
    loaded = spacy.load(path)
    assert loaded.pipe_names == ["lemmatizer", "entity_ruler"]
    assert [e.label_ for e in loaded("ORD-10001").ents] == ["order_id"]


def test_bad_patterns_file_is_a_clear_error(tmp_path):
    path = tmp_path / "patterns.yml"
    path.write_text(yaml.safe_dump({"order_id": "not a list"}))
    with pytest.raises(ValueError, match="'order_id' must hold a list"):
        load_patterns(path)
