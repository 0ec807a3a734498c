"""The spaCy Matcher patterns of the refusal guard: each family of refusal, and the signs of
an alternative offered alongside.

Each key of REFUSAL_PATTERNS is a family the guard reports in ``Verdict.matched`` (for CX
review). The patterns are cast wide on purpose; refusal_context.py then lets a match go when
its sentence shows it refuses nothing. They are apart from the guard because they are data
for spaCy's Matcher, read and extended one family at a time.
"""

from __future__ import annotations

from bot.policies.refusal_words import (
    ACTION_WORDS,
    ADVERB,
    BE,
    CONTROL_WORDS,
    MODAL,
    NEG,
    NOT_GRANTED,
    PARTICIPLE,
    REFUSAL_NOUNS,
    REQUEST_WORDS,
    THIRD_PARTY_WORDS,
    WE_I,
)

REFUSAL_PATTERNS: dict[str, list[list[dict]]] = {
    "we_cannot": [
        [{"LOWER": WE_I}, {"LOWER": MODAL}, {"LOWER": NEG}],
        [{"LOWER": WE_I}, {"LOWER": {"IN": ["cant", "cannot", "wont"]}}],
        [
            {"LOWER": WE_I},
            {"LOWER": BE, "OP": "?"},
            {"LOWER": NEG},
            {"LOWER": ADVERB, "OP": "?"},
            {"LOWER": "able"},
        ],
        [{"LOWER": MODAL}, {"LOWER": NEG}, {"LOWER": "be"}, {"LOWER": "able"}],
        [
            {"LOWER": NEG},
            {"LOWER": "going"},
            {"LOWER": "to"},
            {"LOWER": "be"},
            {"LOWER": {"IN": ["able", "possible"]}},
        ],
        [
            {"LOWER": WE_I},
            {"LOWER": BE},
            {"LOWER": NEG},
            {"LOWER": "going"},
            {"LOWER": "to"},
            {"LOWER": "do"},
        ],
        [
            {"LOWER": WE_I},
            {"LOWER": BE},
            {"LOWER": NEG},
            {"LOWER": "doing"},
            {"LOWER": {"IN": ["that", "this", "it", "so", "those", "these", "any"]}},
        ],
        # "We're not offering refunds on this product", "we aren't taking new orders".
        [
            {"LOWER": WE_I},
            {"LOWER": BE},
            {"LOWER": NEG},
            {"LOWER": ADVERB, "OP": "?"},
            {"LEMMA": {"IN": ACTION_WORDS, "NOT_IN": ["do"]}, "LOWER": {"REGEX": "ing$"}},
        ],
        [{"LOWER": "no"}, {"LOWER": "way"}, {"LOWER": {"IN": ["for", "to", "i", "we"]}}],
    ],
    # Any subject, or none: "you can't downgrade", "billing can't", "can't help with that".
    "cannot_do": [
        [{"LOWER": {"IN": ["can", "ca"]}}, {"LOWER": NEG}],
        [{"LOWER": {"IN": ["cannot", "cant"]}}],
        [
            {"LOWER": {"IN": ["will", "wo", "would", "do", "does", "did"]}},
            {"LOWER": NEG},
            {"LOWER": ADVERB, "OP": "?"},
            {"LEMMA": {"IN": THIRD_PARTY_WORDS}},
        ],
    ],
    "cannot_be_done": [
        [{"LOWER": MODAL}, {"LOWER": NEG}, {"LOWER": "be"}, {"LOWER": PARTICIPLE}],
        [{"LOWER": {"IN": ["cannot", "cant"]}}, {"LOWER": "be"}, {"LOWER": PARTICIPLE}],
        [
            {"LOWER": MODAL},
            {"LOWER": NEG},
            {"LOWER": "be"},
            {"LOWER": {"IN": ["possible", "eligible", "refundable"]}},
        ],
        # Passive outcomes of the customer's request: "that request has been declined".
        [
            {"LOWER": BE},
            {"LOWER": {"IN": ["formally", "already", "unfortunately", "sadly"]}, "OP": "?"},
            {"LOWER": {"IN": ["declined", "refused"]}},
        ],
        [
            {"LEMMA": {"IN": REQUEST_WORDS}},
            {"LOWER": {"IN": ["declined", "refused", "denied", "rejected"]}},
        ],
        # Active voice, with the request as object: "the seller has refused your request".
        [
            {"LOWER": {"IN": ["declined", "refused", "denied", "rejected"]}},
            {"LOWER": {"IN": ["your", "the", "this", "that"]}},
            {"IS_PUNCT": False, "OP": "?"},
            {"LEMMA": {"IN": REQUEST_WORDS}},
        ],
    ],
    "unable": [
        [{"LOWER": "unable"}, {"LOWER": "to"}],
        [{"LOWER": NEG}, {"LOWER": "able"}, {"LOWER": "to"}],
        [
            {"LOWER": "no"},
            {"LOWER": "longer"},
            {"LOWER": {"IN": ["able", "possible", "eligible", "available", "valid"]}},
        ],
    ],
    "not_possible": [
        [{"LOWER": {"IN": ["not", "n't", "nt", "never"]}}, {"LOWER": {"IN": NOT_GRANTED}}],
        [
            {"LOWER": NEG},
            {"LOWER": ADVERB, "OP": "?"},
            {"LOWER": {"IN": ["an", "a"]}},
            {"LOWER": {"IN": ["option", "possibility"]}},
        ],
        [
            {"LOWER": NEG},
            {"LOWER": {"IN": ["something", "one"]}},
            {"LOWER": "that", "OP": "?"},
            {"LOWER": {"IN": ["we", "i", "our"]}},
        ],
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
        # "Your request doesn't meet our eligibility criteria."
        [
            {"LOWER": NEG},
            {"LEMMA": {"IN": ["meet", "satisfy"]}},
            {"IS_PUNCT": False, "OP": "?"},
            {"IS_PUNCT": False, "OP": "?"},
            {"LOWER": {"REGEX": "^(criteria|criterion|requirements?|conditions?|terms)$"}},
        ],
        [
            {"LOWER": "no"},
            {"LOWER": "longer"},
            {
                "LEMMA": {
                    "IN": [
                        "offer",
                        "accept",
                        "support",
                        "sell",
                        "ship",
                        "provide",
                        "allow",
                        "do",
                        "stock",
                        "carry",
                        "make",
                        "issue",
                        "honour",
                        "honor",
                    ]
                }
            },
        ],
        [
            {"LOWER": "non"},
            {"ORTH": "-", "OP": "?"},
            {"LOWER": {"REGEX": "^(refundable|returnable|exchangeable|transferable)$"}},
        ],
        [{"LOWER": BE}, {"LOWER": "off"}, {"LOWER": "the"}, {"LOWER": "table"}],
        [{"LOWER": "out"}, {"LOWER": "of"}, {"LOWER": "the"}, {"LOWER": "question"}],
        [{"LOWER": "no"}, {"LOWER": "can"}, {"LOWER": "do"}],
        [{"LOWER": NEG}, {"LOWER": "set"}, {"LOWER": "up"}, {"LOWER": {"IN": ["to", "for"]}}],
    ],
    "policy": [
        [
            {"LOWER": "against"},
            {"LOWER": {"IN": ["our", "the", "company", "store"]}, "OP": "*"},
            {"LEMMA": {"IN": ["policy", "rule", "term", "regulation", "guideline"]}},
        ],
        [
            {"LOWER": {"IN": ["that", "that's", "it", "it's", "this"]}},
            {"LOWER": {"IN": ["'s", "is"]}, "OP": "?"},
            {"LOWER": {"IN": ["our", "the", "company"]}},
            {"LEMMA": {"IN": ["policy", "rule"]}},
        ],
        [
            {"LEMMA": "policy"},
            {"LOWER": {"IN": ["does", "do", "doesn't", "only"]}},
            {"LOWER": NEG, "OP": "?"},
            {"LEMMA": {"IN": ["allow", "permit", "let"]}},
        ],
        [{"LEMMA": "policy"}, {"LOWER": "is"}, {"LOWER": "not"}, {"LOWER": "to"}],
        [{"LEMMA": "policy"}, {"LEMMA": {"IN": ["prevent", "forbid", "prohibit"]}}],
        [{"LOWER": "no"}, {"LOWER": {"IN": ["exceptions", "exception"]}}],
    ],
    "nothing_to_do": [
        [
            {"LOWER": "nothing"},
            {"LOWER": {"IN": ["more", "else", "further"]}, "OP": "?"},
            {"LOWER": {"IN": ["i", "we"]}},
            {"LOWER": {"IN": ["can", "could"]}},
            {"LOWER": "do"},
        ],
        [
            {"LOWER": NEG},
            {"LOWER": {"IN": ["anything", "much"]}},
            {"LOWER": {"IN": ["more", "else", "further"]}, "OP": "?"},
            {"LOWER": {"IN": ["i", "we"]}},
            {"LOWER": {"IN": ["can", "could"]}},
            {"LOWER": "do"},
        ],
        [{"LOWER": NEG}, {"LOWER": "in"}, {"LOWER": "a"}, {"LOWER": "position"}],
        [{"LOWER": NEG}, {"LOWER": "at"}, {"LOWER": "liberty"}],
        [{"LOWER": "out"}, {"LOWER": "of"}, {"LOWER": {"IN": ["our", "my"]}}, {"LOWER": "hands"}],
        [{"LOWER": "hands"}, {"LOWER": BE}, {"LOWER": "tied"}],
        # "That's outside what I'm permitted to do", "beyond what I can do from here".
        [{"LOWER": {"IN": ["outside", "beyond"]}}, {"LOWER": "what"}, {"LOWER": WE_I}],
        [
            {"LOWER": {"IN": ["outside", "beyond"]}},
            {"LOWER": "of", "OP": "?"},
            {"LOWER": {"IN": ["my", "our"]}},
            {"LOWER": {"IN": CONTROL_WORDS}},
        ],
        [
            {"LOWER": NEG},
            {"LOWER": "within"},
            {"LOWER": {"IN": ["my", "our"]}},
            {"LOWER": {"IN": CONTROL_WORDS}},
        ],
        [
            {"LOWER": WE_I},
            {"LOWER": {"IN": ["do", "have"]}},
            {"LOWER": NEG},
            {"LOWER": "have", "OP": "?"},
            {"LOWER": {"IN": ["the", "any"]}, "OP": "?"},
            {"LOWER": {"IN": ["ability", "authority", "permission", "power", "means", "rights"]}},
        ],
        [
            {"LOWER": WE_I},
            {"LOWER": "have"},
            {"LOWER": "no"},
            {"LOWER": {"IN": ["authority", "ability", "permission", "power", "way", "control"]}},
        ],
        [
            {"LEMMA": {"IN": ["must", "have", "need"]}},
            {"LOWER": "to", "OP": "?"},
            {"LOWER": {"IN": ["decline", "refuse", "reject", "deny"]}},
        ],
        # "I have to / need to / must say no"; "feel free to say no" is not a refusal.
        [{"LEMMA": {"IN": ["have", "need"]}}, {"LOWER": "to"}, {"LOWER": "say"}, {"LOWER": "no"}],
        [{"LOWER": "must"}, {"LOWER": "say"}, {"LOWER": "no"}],
    ],
    "we_dont": [
        [
            {"LOWER": WE_I},
            {"LOWER": {"IN": ["do", "does"]}},
            {"LOWER": NEG},
            {"LOWER": ADVERB, "OP": "?"},
            {"LEMMA": {"IN": ACTION_WORDS}},
        ],
        [
            {"LOWER": {"IN": ["we", "i"]}},
            {"LOWER": "can", "OP": "?"},
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
                        "issue",
                        "process",
                        "exchange",
                        "provide",
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
    # A limit the customer has hit or cannot get past.
    "restricted": [
        [{"LOWER": {"IN": ["restricted", "limited"]}}, {"LOWER": "to"}],
        [{"LOWER": "too"}, {"LOWER": "late"}, {"LOWER": {"IN": ["to", "for"]}}],
        [
            {"LOWER": "only"},
            {"LOWER": {"IN": ["one", "1", "a", "single"]}},
            {"IS_PUNCT": False, "OP": "?"},
            {"IS_PUNCT": False, "OP": "?"},
            {"IS_PUNCT": False, "OP": "?"},
            {"IS_PUNCT": False, "OP": "?"},
            {"IS_PUNCT": False, "OP": "?"},
            {"IS_PUNCT": False, "OP": "?"},
            {"LOWER": "per"},
        ],
        [
            {"LOWER": {"IN": ["can", "may"]}},
            {"LOWER": "only"},
            {"LOWER": "be"},
            {"LOWER": PARTICIPLE},
        ],
        [
            {"LOWER": BE},
            {"LOWER": "only"},
            {"LOWER": {"IN": ["available", "valid", "possible", "offered", "accepted"]}},
        ],
        # "outside the 30-day return window", "outside our returns policy".
        [
            {"LOWER": {"IN": ["outside", "past", "beyond"]}},
            {"LOWER": {"IN": ["the", "our", "your"]}},
            {"OP": "?"},
            {"OP": "?"},
            {"OP": "?"},
            {"OP": "?"},
            {"LEMMA": {"IN": ["window", "period", "deadline", "policy", "term", "guideline"]}},
        ],
    ],
    # "Sorry, no refunds on gift cards": only when a rule follows (see RULE_FOLLOWERS and refusal_context.py).
    "no_such_thing": [[{"LOWER": "no"}, {"LOWER": {"IN": REFUSAL_NOUNS}}]],
    # A short no, only at the end of its clause ("Not happening.", "That's a no from us").
    "plain_no": [
        [{"LOWER": "not"}, {"LOWER": "happening"}],
        [{"LOWER": "afraid"}, {"LOWER": "not"}],
        [
            {"LOWER": {"IN": ["'s", "is"]}},
            {"LOWER": "a"},
            {"LOWER": {"IN": ["hard", "firm"]}, "OP": "?"},
            {"LOWER": "no"},
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
