"""Build the project's spaCy pipeline: blank English, lookup lemmatizer, entity ruler.

Official spaCy models cannot be downloaded here, and the assistant does not need word
vectors (DIET learns its own features). What it needs from spaCy is a tokenizer, lemmas
(so "charged"/"charging" count as one word) and reliable rule-based entities for the
identifiers customers type: order and invoice numbers, emails, amounts and dates.
Rasa's SpacyNLP loads the saved pipeline by path (see config.yml).
"""

from __future__ import annotations

from pathlib import Path

import yaml

PATTERNS_FILE = Path(__file__).with_name("patterns.yml")


def load_patterns(path: Path = PATTERNS_FILE) -> list[dict]:
    """Read the entity-ruler patterns, one spaCy pattern dict per (label, token pattern)."""
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    if not isinstance(data, dict):
        raise ValueError(f"{path}: expected a mapping of entity label -> list of token patterns")
    patterns = []
    for label, token_patterns in data.items():
        if not isinstance(token_patterns, list):
            raise ValueError(f"{path}: key '{label}' must hold a list of token patterns")
        for i, tokens in enumerate(token_patterns):
            if not isinstance(tokens, list) or not all(isinstance(t, dict) for t in tokens):
                raise ValueError(f"{path}: '{label}'[{i}] must be a list of token attribute maps")
            if any(isinstance(word, bool) for word in _listed_words(tokens)):
                # YAML reads a bare no/yes/on/off as a boolean, which matches no token.
                raise ValueError(
                    f"{path}: '{label}'[{i}] lists a yes/no/on/off word unquoted; quote it"
                )
            patterns.append({"label": label, "pattern": tokens})
    return patterns


def _listed_words(tokens: list[dict]) -> list[object]:
    """The words a token pattern's IN / NOT_IN lists name."""
    return [
        word
        for token in tokens
        for condition in token.values()
        if isinstance(condition, dict)
        for key in ("IN", "NOT_IN")
        for word in condition.get(key, [])
    ]


def build_pipeline():
    """Return the in-memory pipeline (blank English + lookup lemmatizer + entity ruler)."""
    import spacy

    nlp = spacy.blank("en")
    nlp.add_pipe("lemmatizer", config={"mode": "lookup"})
    ruler = nlp.add_pipe("entity_ruler", config={"overwrite_ents": True})
    # initialize() loads the lemma lookup tables from spacy-lookups-data into the pipeline,
    # so the saved pipeline needs no data package at run time.
    nlp.initialize()
    ruler.add_patterns(load_patterns())
    nlp.meta["name"] = "support"
    nlp.meta["description"] = "Blank English, lookup lemmatizer and entity ruler for support chats"
    return nlp


def build_and_save(out_dir: Path) -> Path:
    """Build the pipeline and save it to ``out_dir`` (replacing what is there)."""
    nlp = build_pipeline()
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    nlp.to_disk(out_dir)
    return out_dir
