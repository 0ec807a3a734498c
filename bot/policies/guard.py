"""Spot refusals ("we can't", "that's our policy") and whether an alternative comes with them.

Principle 2 of the product: a policy limit is never answered with a bare no. The detector
matches on lowercased tokens and lemmas from the project's spaCy pipeline, so "can't",
"cannot", "cant" and "can not" are one pattern, and it stays quiet on ordinary helpful
sentences ("I can help", "you won't be charged twice", "no problem").
"""

from __future__ import annotations

from dataclasses import dataclass

NEG = {"IN": ["not", "n't", "nt"]}
WE_I = {"IN": ["we", "i"]}
MODAL = {"IN": ["can", "ca", "could", "will", "wo", "would", "shall", "sha"]}
# Passives after "won't be" that are good news for the customer, not a refusal.
# "I can't see / couldn't find a double charge" reports a lookup, it does not refuse anything.
# So do idioms of enthusiasm ("I can't recommend it enough", "I couldn't agree more").
LOOKUP_VERBS = {
    "see",
    "find",
    "read",
    "locate",
    "spot",
    "understand",
    "hear",
    "tell",
    "wait",
    "believe",
    "thank",
    "agree",
    "recommend",
    "keep",
    "stress",
    "emphasise",
    "emphasize",
    "beat",
    "miss",
    "resist",
}
GOOD_NEWS_PARTICIPLES = {
    "charged",
    "billed",
    "affected",
    "asked",
    "required",
    "needed",
    "bothered",
    "left",
    "late",
}

REFUSAL_PATTERNS: dict[str, list[list[dict]]] = {
    "we_cannot": [
        [{"LOWER": WE_I}, {"LOWER": MODAL}, {"LOWER": NEG}],
        [{"LOWER": WE_I}, {"LOWER": {"IN": ["cant", "cannot", "wont"]}}],
        [
            {"LOWER": WE_I},
            {"LOWER": "'m", "OP": "?"},
            {"LOWER": {"IN": ["am", "are", "'re", "'m"]}, "OP": "?"},
            {"LOWER": "not"},
            {"LOWER": "able"},
        ],
        [{"LOWER": MODAL}, {"LOWER": NEG}, {"LOWER": "be"}, {"LOWER": "able"}],
        [{"LOWER": "no"}, {"LOWER": "way"}, {"LOWER": "for"}, {"LOWER": {"IN": ["me", "us"]}}],
    ],
    "cannot_be_done": [
        [
            {"LOWER": MODAL},
            {"LOWER": NEG},
            {"LOWER": "be"},
            {"LOWER": {"REGEX": "^[a-z]+(ed|en|ne|de|id)$"}},
        ],
        [
            {"LOWER": {"IN": ["cannot", "cant"]}},
            {"LOWER": "be"},
            {"LOWER": {"REGEX": "^[a-z]+(ed|en|ne|de)$"}},
        ],
    ],
    "unable": [
        [{"LOWER": "unable"}, {"LOWER": "to"}],
        [{"LOWER": "not"}, {"LOWER": "able"}, {"LOWER": "to"}],
        [
            {"LOWER": "no"},
            {"LOWER": "longer"},
            {"LOWER": {"IN": ["able", "possible", "eligible", "available"]}},
        ],
    ],
    "not_possible": [
        [
            {"LOWER": NEG},
            {
                "LOWER": {
                    "IN": [
                        "possible",
                        "allowed",
                        "permitted",
                        "eligible",
                        "refundable",
                        "accepted",
                        "available",
                    ]
                }
            },
        ],
        [{"LOWER": NEG}, {"LOWER": "an"}, {"LOWER": "option"}],
        [{"LOWER": NEG}, {"LOWER": "something"}, {"LOWER": {"IN": ["we", "i"]}}],
        [
            {
                "LOWER": {
                    "IN": [
                        "impossible",
                        "ineligible",
                        "unavailable",
                        "non-refundable",
                        "nonrefundable",
                        "denied",
                        "rejected",
                        "forbidden",
                        "prohibited",
                    ]
                }
            }
        ],
        [{"LOWER": "decision"}, {"LOWER": "is"}, {"LOWER": "final"}],
        [
            {"LOWER": "no"},
            {"LOWER": "longer"},
            {
                "LEMMA": {
                    "IN": ["offer", "accept", "support", "sell", "ship", "provide", "allow", "do"]
                }
            },
        ],
        [{"LOWER": "non"}, {"ORTH": "-", "OP": "?"}, {"LOWER": "refundable"}],
    ],
    "policy": [
        [
            {"LOWER": "against"},
            {"LOWER": {"IN": ["our", "the", "company", "store"]}, "OP": "*"},
            {"LEMMA": "policy"},
        ],
        [
            {"LOWER": {"IN": ["that", "that's", "it", "it's", "this"]}},
            {"LOWER": {"IN": ["'s", "is"]}, "OP": "?"},
            {"LOWER": {"IN": ["our", "the", "company"]}},
            {"LEMMA": {"IN": ["policy", "rule"]}},
        ],
        [
            {"LEMMA": "policy"},
            {"LOWER": {"IN": ["does", "do", "doesn't"]}},
            {"LOWER": NEG, "OP": "?"},
            {"LEMMA": {"IN": ["allow", "permit", "let"]}},
        ],
        [{"LEMMA": "policy"}, {"LEMMA": {"IN": ["prevent", "forbid", "prohibit"]}}],
        [{"LOWER": "no"}, {"LOWER": "exceptions"}],
    ],
    "nothing_to_do": [
        [
            {"LOWER": "nothing"},
            {"LOWER": {"IN": ["i", "we"]}},
            {"LOWER": {"IN": ["can", "could"]}},
            {"LOWER": "do"},
        ],
        [{"LOWER": "not"}, {"LOWER": "in"}, {"LOWER": "a"}, {"LOWER": "position"}],
        [{"LOWER": "not"}, {"LOWER": "something"}, {"LOWER": {"IN": ["we", "i"]}}],
        [{"LOWER": "out"}, {"LOWER": "of"}, {"LOWER": {"IN": ["our", "my"]}}, {"LOWER": "hands"}],
        [
            {"LEMMA": {"IN": ["must", "have", "need"]}},
            {"LOWER": "to", "OP": "?"},
            {"LOWER": {"IN": ["decline", "refuse", "reject", "deny"]}},
        ],
        [{"LOWER": "have"}, {"LOWER": "to"}, {"LOWER": "say"}, {"LOWER": "no"}],
    ],
    "we_dont": [
        [
            {"LOWER": WE_I},
            {"LOWER": {"IN": ["do", "does"]}},
            {"LOWER": NEG},
            {
                "LEMMA": {
                    "IN": [
                        "allow",
                        "offer",
                        "accept",
                        "do",
                        "provide",
                        "support",
                        "permit",
                        "refund",
                        "match",
                        "ship",
                        "make",
                        "give",
                        "issue",
                        "exchange",
                        "deliver",
                        "take",
                        "cover",
                        "honor",
                        "honour",
                        "grant",
                        "price",
                    ]
                }
            },
        ],
        [
            {"LOWER": {"IN": ["we", "i"]}},
            {"LOWER": "only"},
            {
                "LEMMA": {
                    "IN": [
                        "accept",
                        "ship",
                        "offer",
                        "refund",
                        "deliver",
                        "allow",
                        "take",
                        "support",
                    ]
                }
            },
        ],
        [
            {"LOWER": {"IN": ["is", "are"]}},
            {"LOWER": "not"},
            {"LOWER": "available"},
            {"LOWER": {"IN": ["after", "once", "for", "on", "to"]}},
        ],
    ],
}

ALTERNATIVE_PATTERNS: list[list[dict]] = [
    [{"LOWER": {"IN": ["but", "however", "instead", "alternatively", "though"]}}],
    [{"LOWER": "here"}, {"LOWER": {"IN": ["'s", "is"]}}, {"LOWER": "what"}],
    [
        {"LOWER": "what"},
        {"LOWER": {"IN": ["i", "we"]}},
        {"LOWER": {"IN": ["can", "could"]}},
        {"LOWER": "do"},
    ],
    [
        {"LOWER": {"IN": ["i", "we"]}},
        {"LOWER": {"IN": ["can", "could"]}},
        {"LOWER": {"NOT_IN": ["not", "n't", "nt"]}},
    ],
    [
        {"LOWER": {"IN": ["i", "we"]}},
        {"LOWER": {"IN": ["'ve", "have", "'ll", "will"]}},
        {
            "LOWER": {
                "IN": [
                    "asked",
                    "arranged",
                    "passed",
                    "opened",
                    "flagged",
                    "set",
                    "send",
                    "ask",
                    "arrange",
                    "pass",
                    "open",
                ]
            }
        },
    ],
    [{"LOWER": "would"}, {"LOWER": "you"}, {"LOWER": "like"}],
    [{"LOWER": "how"}, {"LOWER": "about"}],
    [{"LOWER": {"IN": ["options", "option"]}}],
]


@dataclass(frozen=True)
class Verdict:
    """What the guard found in one message."""

    refuses: bool
    offers_alternative: bool
    matched: tuple[str, ...] = ()  # which refusal patterns matched, for CX review

    @property
    def bare_refusal(self) -> bool:
        return self.refuses and not self.offers_alternative


class RefusalGuard:
    """spaCy Matcher over the project's pipeline; build once, call many times."""

    def __init__(self, nlp=None):
        from spacy.matcher import Matcher

        if nlp is None:
            from bot.nlp.spacy_pipeline import build_pipeline

            nlp = build_pipeline()
        self._nlp = nlp
        self._refusals = Matcher(nlp.vocab)
        for name, patterns in REFUSAL_PATTERNS.items():
            self._refusals.add(name, patterns)
        self._alternatives = Matcher(nlp.vocab)
        self._alternatives.add("alternative", ALTERNATIVE_PATTERNS)

    def check(self, text: str, has_buttons: bool = False) -> Verdict:
        """Does ``text`` refuse, and does it (or its buttons) offer something instead?"""
        doc = self._nlp(text.replace("’", "'"))
        matched = []
        for match_id, start, end in self._refusals(doc):
            name = self._nlp.vocab.strings[match_id]
            if _conditional(doc, start) or _negated(doc, start) or _idiom(doc, end):
                continue
            if name == "cannot_be_done" and doc[end - 1].lower_ in GOOD_NEWS_PARTICIPLES:
                continue
            if (
                name in ("we_cannot", "unable")
                and end < len(doc)
                and doc[end].lemma_.lower() in LOOKUP_VERBS
            ):
                continue
            matched.append(name)
        alternative = has_buttons or bool(self._alternatives(doc))
        return Verdict(
            refuses=bool(matched),
            offers_alternative=alternative,
            matched=tuple(sorted(set(matched))),
        )


def _conditional(doc, start: int) -> bool:
    """'If you can't find the label...' sets a condition, it refuses nothing."""
    return any(t.lower_ in ("if", "unless", "whether") for t in doc[max(0, start - 6) : start])


def _negated(doc, start: int) -> bool:
    """'Your payment wasn't rejected' is good news."""
    return start > 0 and doc[start - 1].lower_ in ("not", "n't", "never")


def _idiom(doc, end: int) -> bool:
    """'It's impossible to miss', 'unable to find your order number?'."""
    return (
        end + 1 < len(doc)
        and doc[end].lower_ == "to"
        and doc[end + 1].lemma_.lower() in LOOKUP_VERBS
    )
