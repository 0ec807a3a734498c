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
        # Another shop's or marketplace's reference, said with the word.
        ("I need to locate order 732201349959", [("order 732201349959", "order_id")]),
        ("where is purchase #370795561790", [("purchase #370795561790", "order_id")]),
        ("purchase 10042 is late", [("purchase 10042", "order_id")]),
        ("a quick look at the bill #37777", [("bill #37777", "invoice_id")]),
        ("invoice no. 20231187 is wrong", [("invoice no. 20231187", "invoice_id")]),
        ("order no 10042 is late", [("order no 10042", "order_id")]),
        # A quantity is not a reference.
        ("can I order 3 of them", []),
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


def test_an_unquoted_no_in_a_word_list_is_a_clear_error(tmp_path):
    # YAML reads a bare `no` as False, which silently matched no token ("order no 10042").
    path = tmp_path / "patterns.yml"
    path.write_text("order_id:\n  - [{LOWER: {IN: [order]}}, {LOWER: {IN: [number, no]}}]\n")
    with pytest.raises(ValueError, match="unquoted; quote it"):
        load_patterns(path)


def test_bad_patterns_file_is_a_clear_error(tmp_path):
    path = tmp_path / "patterns.yml"
    path.write_text(yaml.safe_dump({"order_id": "not a list"}))
    with pytest.raises(ValueError, match="'order_id' must hold a list"):
        load_patterns(path)
