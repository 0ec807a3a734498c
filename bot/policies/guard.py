"""Spot refusals ("we can't", "that's our policy") and whether an alternative comes with them.

Principle 2 of the product: a policy limit is never answered with a bare no. The detector
matches on lowercased tokens and lemmas from the project's spaCy pipeline, so "can't",
"cannot", "cant" and "can not" are one pattern. It covers the families of refusal seen in
support chats rather than single sentences:

* a negated modal before an action verb, whoever the subject is ("I can't refund it",
  "billing can't", "can't help with that", "the system won't let me"), and the passive
  ("this order cannot be changed", "exchanges are not offered", "request declined");
* inability and lack of permission ("unable to", "not authorised to", "I don't have the
  authority to", "outside what I'm permitted to do", "our hands are tied");
* what the business does not do ("we don't currently offer", "we no longer stock", "free
  shipping does not apply", "doesn't qualify") and restrictions ("restricted to", "only one
  code per order", "too late to amend", "past the return window");
* policy ("against our policy", "no exceptions", "policy doesn't allow") and outcomes
  ("denied", "your claim was rejected", "off the table", "out of the question");
* a plain no: a message that is nothing but "no"/"not" and softeners ("Sorry, no.",
  "Absolutely not.", "Not happening.", "That's a no from us").

It stays quiet on ordinary helpful sentences: offers ("I can help"), reassurance ("you won't
be charged twice", "your files won't be deleted", "you can't go wrong"), lookups ("I couldn't
find a second charge"), idioms ("can't wait", "couldn't have put it better"), conditions
("if you can't find the label") and questions to the customer ("Can't find your order
number?"). Text is lowercased before parsing because the lookup lemmatizer only knows
lowercase forms ("Refunds" would otherwise keep its plural).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

NEG = {"IN": ["not", "n't", "nt"]}
WE_I = {"IN": ["we", "i"]}
MODAL = {"IN": ["can", "ca", "could", "will", "wo", "would", "shall", "sha"]}
# The tokenizer leaves "'s" and "'re" with no lemma "be", so list the forms of "be" by hand.
BE = {"IN": ["is", "are", "was", "were", "be", "been", "being", "am", "'s", "'re", "'m", "m"]}
# Adverbs that sit inside a refusal without changing it ("we don't currently offer").
ADVERB = {
    "IN": ["currently", "presently", "normally", "usually", "generally", "really", "actually"]
}
# Participles after "won't be" / "can't be" that are good news for the customer, not a refusal.
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
    "deleted",
    "lost",
    "removed",
    "shared",
    "sold",
    "overcharged",
    "penalised",
    "penalized",
    "disappointed",
    "long",
}
# "Will not be X-ed" is usually a plain forecast ("your files won't be deleted"); it refuses
# only when X is something the customer asked us to grant.
WITHHELD_PARTICIPLES = {
    "accepted",
    "approved",
    "issued",
    "refunded",
    "processed",
    "honoured",
    "honored",
    "granted",
    "given",
    "offered",
    "provided",
    "reimbursed",
    "covered",
    "considered",
    "allowed",
    "permitted",
    "exchanged",
    "replaced",
    "repaired",
    "extended",
    "waived",
    "reinstated",
    "made",
    "accommodated",
    "supported",
    "possible",
    "eligible",
    "refundable",
}
# "I can't see / couldn't find a double charge" reports a lookup, it does not refuse anything.
# So do idioms of enthusiasm ("I can't recommend it enough", "I couldn't agree more") and
# reassurance ("you can't lose your projects", "it can't hurt to ask").
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
    "imagine",
    "apologise",
    "apologize",
    "remember",
    "think",
    "open",
    "load",
    "say",
    "deny",
    "complain",
    "fault",
    "lose",
    "break",
    "hurt",
    "harm",
    "fail",
    "happen",
    "worry",
}
# After "we/I won't", promises to the customer rather than refusals ("we won't charge you").
PROMISE_VERBS = {
    "charge",
    "bill",
    "share",
    "sell",
    "spam",
    "contact",
    "call",
    "bother",
    "store",
    "forget",
    "judge",
    "lie",
    "mind",
    "disappoint",
    "need",
    "ask",
    "leave",
}
# Words that give a restriction as good news ("the restocking fee doesn't apply to you").
COST_WORDS = {
    "fee",
    "fees",
    "charge",
    "charges",
    "cost",
    "costs",
    "penalty",
    "surcharge",
    "tax",
    "vat",
    "duty",
    "interest",
    "limit",
    "restriction",
    "deadline",
    "minimum",
}
# Words before "don't let/allow" that mark an imperative ("please don't let that worry you").
IMPERATIVE_LEADS = {"please", "just", "and", "but", "so", "then", "also", "simply", "oh", "ok"}
# Words of a whole-message "no": the no itself and the softeners around it.
NO_WORDS = {"no", "nope", "nah", "not"}
SOFTENERS = {
    "sorry",
    "i",
    "'m",
    "m",
    "am",
    "afraid",
    "unfortunately",
    "sadly",
    "regrettably",
    "absolutely",
    "definitely",
    "certainly",
    "yeah",
    "yes",
    "well",
    "honestly",
    "mate",
    "ugh",
    "oh",
    "so",
    "very",
    "that",
    "'s",
    "is",
    "a",
    "from",
    "us",
    "me",
    "but",
}

ACTION_WORDS = [
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
    "stock",
    "carry",
    "handle",
    "reimburse",
    "compensate",
    "waive",
    "reissue",
    "reinstate",
    "guarantee",
    "process",
]
# What a third party ("the system", "your plan", "the website") does not do, as a refusal.
THIRD_PARTY_WORDS = [
    "allow",
    "let",
    "permit",
    "accept",
    "offer",
    "provide",
    "support",
    "issue",
    "ship",
    "deliver",
    "refund",
    "honour",
    "honor",
    "apply",
    "qualify",
    "cover",
    "extend",
]
NOT_GRANTED = [
    "possible",
    "allowed",
    "permitted",
    "eligible",
    "refundable",
    "accepted",
    "available",
    "offered",
    "provided",
    "supported",
    "issued",
    "honoured",
    "honored",
    "granted",
    "authorised",
    "authorized",
    "returnable",
    "exchangeable",
    "transferable",
    "redeemable",
    "cancellable",
    "covered",
    "doable",
    "feasible",
    "valid",
    "accommodated",
]
REFUSAL_NOUNS = [
    "refund",
    "refunds",
    "return",
    "returns",
    "exchange",
    "exchanges",
    "cancellation",
    "cancellations",
    "compensation",
    "discount",
    "discounts",
    "cash",
]
# After "no refunds", what makes it a rule rather than "no refund needed".
RULE_FOLLOWERS = {
    "on",
    "for",
    "after",
    "once",
    "past",
    "beyond",
    "unless",
    "without",
    "outside",
    "to",
    "sorry",
    "i",
}
REQUEST_WORDS = ["request", "application", "claim", "appeal", "refund", "return", "cancellation"]
CONTROL_WORDS = ["remit", "control", "authority", "scope", "power", "powers", "gift"]
PARTICIPLE = {"REGEX": "^[a-z]+(ed|en|ne|de|id)$"}

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
    # "Sorry, no refunds on gift cards": only when a rule follows (see RULE_FOLLOWERS).
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

# Permission refusals keep their verb: "not allowed to tell you" refuses, where "impossible
# to miss" or "unable to find your order number?" does not.
PERMISSION_WORDS = {"allowed", "permitted", "authorised", "authorized", "liberty"}
# Adverbs skipped when looking for the verb after a negated modal ("can't really go wrong").
FILLER_ADVERBS = {"really", "actually", "possibly", "currently", "just", "even", "simply", "ever"}
# Idioms made of a refusal-looking verb and the word after it.
IDIOMS = {
    ("go", "wrong"),
    ("help", "but"),
    ("get", "enough"),
    ("get", "better"),
    ("ask", "for"),
    ("make", "out"),
}
# Words that report the customer's trouble rather than refuse ("I see the app won't let you").
REPORT_WORDS = {
    "hear",
    "heard",
    "see",
    "understand",
    "sounds",
    "seems",
    "noticed",
    "mentioned",
    "said",
    "says",
    "saying",
}
FUTURE = {"will", "wo", "would", "shall", "sha"}
ONLY_FOLLOWERS = {"to", "for", "on", "with", "within", "if", "when", "after", "before", "via", "by"}
CLAUSE_BREAKS = {".", "!", ",", ";", ":", "—", "–", "(", ")"}


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

    def __init__(self, nlp: Any = None) -> None:
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
        doc = self._nlp(text.replace("’", "'").lower())
        matched = []
        for match_id, start, end in self._refusals(doc):
            name = self._nlp.vocab.strings[match_id]
            if _conditional(doc, start) or _negated(doc, start) or _question(doc, end):
                continue
            if doc[end - 1].lower_ not in PERMISSION_WORDS and _idiom(doc, end):
                continue
            if not _KEEP.get(name, _always)(doc, start, end):
                continue
            matched.append(name)
        if _plain_no(doc):
            matched.append("plain_no")
        alternative = has_buttons or bool(self._alternatives(doc))
        return Verdict(
            refuses=bool(matched),
            offers_alternative=alternative,
            matched=tuple(sorted(set(matched))),
        )


def _always(doc, start: int, end: int) -> bool:
    """Families with no check of their own are kept as matched."""
    return True


def _next_verb(doc, end: int):
    """The first word after ``end`` that is not a filler adverb, or None at the end."""
    for token in doc[end:]:
        if token.lower_ not in FILLER_ADVERBS:
            return token
    return None


def _verb_refuses(doc, end: int, future: bool) -> bool:
    """After a negated modal: is the verb one that refuses, not a lookup, idiom or promise?"""
    verb = _next_verb(doc, end)
    if verb is None or verb.is_punct:
        return True  # "Sorry, I can't."
    after = doc[verb.i + 1] if verb.i + 1 < len(doc) else None
    lemma = verb.lemma_
    if lemma in LOOKUP_VERBS or (after is not None and (lemma, after.lower_) in IDIOMS):
        return False
    if lemma == "help" and after is not None and after.lower_.endswith("ing"):
        return False  # "I can't help noticing"
    if lemma == "let" and any(t.lower_ == "down" for t in doc[verb.i + 1 : verb.i + 4]):
        return False  # "we won't let you down"
    if future and lemma in PROMISE_VERBS:
        return False  # "we won't charge you twice"
    # "I won't be long", "we won't be charging you"
    return not (
        lemma == "be"
        and after is not None
        and (after.lower_ in GOOD_NEWS_PARTICIPLES or (future and after.lemma_ in PROMISE_VERBS))
    )


def _reported(doc, start: int) -> bool:
    """'Sorry to hear you can't log in' reports the customer's problem, it refuses nothing."""
    for token in reversed(doc[max(0, start - 5) : start]):
        if token.text in CLAUSE_BREAKS or token.lower_ == "but":
            return False
        if token.lower_ in REPORT_WORDS:
            return True
    return False


def _keep_we_cannot(doc, start: int, end: int) -> bool:
    modal = doc[start + 1].lower_ if start + 1 < len(doc) else ""
    if modal in ("could", "would", "should") and _counterfactual(doc[end : end + 2]):
        return False
    return _verb_refuses(doc, end, future=modal in FUTURE)


def _counterfactual(span) -> bool:
    """'I couldn't have put it better', 'couldn't be happier': praise, not a refusal."""
    words = [t.lower_ for t in span]
    if words[:1] == ["have"]:
        return True
    return (
        len(words) == 2
        and words[0] == "be"
        and (words[1] in ("more", "better", "prouder") or words[1].endswith("ier"))
    )


def _keep_cannot_do(doc, start: int, end: int) -> bool:
    first = doc[start].lower_
    if _reported(doc, start):
        return False
    if first in ("can", "ca", "cannot", "cant"):
        verb = _next_verb(doc, end)
        if verb is not None and verb.lower_ in ("be", "only", "have"):
            # Passives are judged by cannot_be_done; "can not only" praises; "it can't have
            # reached your bank yet" is a guess about the past.
            return False
        return _verb_refuses(doc, end, future=False)
    # "<subject> won't/doesn't let/allow/apply...": needs a subject, not an imperative.
    if start == 0 or not doc[start - 1].is_alpha or doc[start - 1].lower_ in IMPERATIVE_LEADS:
        return False
    verb = doc[end - 1]
    if first in FUTURE and verb.lemma_ not in ("let", "allow", "permit", "accept", "apply"):
        return False  # "your parcel won't ship until Monday" is a forecast
    if verb.lemma_ == "let" and any(t.lower_ == "down" for t in doc[end : end + 3]):
        return False
    # "the restocking fee doesn't apply to you", "you don't qualify for a fee": a cost lifted.
    around = doc[max(0, start - 8) : start]
    if verb.lemma_ == "qualify":
        around = doc[end : end + 4]
    return not any(t.lower_ in COST_WORDS for t in around)


def _keep_cannot_be_done(doc, start: int, end: int) -> bool:
    last = doc[end - 1]
    if _reported(doc, start):
        return False
    if doc[start].lower_ in FUTURE or doc[start].lower_ == "could":
        # A forecast or a past event ("your parcel couldn't be delivered yesterday") refuses
        # only when what is withheld is something the customer asked for.
        return last.lower_ in WITHHELD_PARTICIPLES
    if doc[start].lower_ in ("can", "ca", "cannot", "cant"):
        # "can't be beaten", "can't be found" (a lookup), "can't be charged twice".
        return last.lower_ not in GOOD_NEWS_PARTICIPLES and last.lemma_ not in LOOKUP_VERBS
    return True


def _keep_unable(doc, start: int, end: int) -> bool:
    """'Not able to see a second charge' reports a lookup."""
    return end >= len(doc) or doc[end].lemma_ not in LOOKUP_VERBS


def _keep_not_possible(doc, start: int, end: int) -> bool:
    # "It's not possible for you to be charged twice" reassures: look at the infinitive.
    for i in range(end, min(end + 4, len(doc) - 1)):
        if doc[i].lower_ == "to":
            verb = doc[i + 1]
            after = doc[i + 2].lower_ if i + 2 < len(doc) else ""
            return not (verb.lemma_ == "be" and after in GOOD_NEWS_PARTICIPLES)
    return True


def _keep_no_such_thing(doc, start: int, end: int) -> bool:
    """'No refunds on gift cards' states a rule; 'no refund needed' does not."""
    if end >= len(doc):
        return True
    after = doc[end]
    return (after.is_punct and after.text != "-") or after.lower_ in RULE_FOLLOWERS


def _keep_plain_no(doc, start: int, end: int) -> bool:
    """'That's a no from us' ends its clause; 'it's a no-brainer' or 'not happening again' don't."""
    if end >= len(doc):
        return True
    after = doc[end]
    return (after.is_punct and after.text != "-") or after.lower_ in ("from", "for", "on")


def _keep_restricted(doc, start: int, end: int) -> bool:
    # "only available to members / on the annual plan" restricts who or what qualifies;
    # "only available in blue" describes stock.
    if (
        start + 1 < len(doc)
        and doc[start + 1].lower_ == "only"
        and doc[start].lower_ not in ("can", "may")
    ):
        return end < len(doc) and doc[end].lower_ in ONLY_FOLLOWERS
    return True


# Per-family checks run after the shared ones (condition, negation, question, idiom).
_KEEP = {
    "restricted": _keep_restricted,
    "we_cannot": _keep_we_cannot,
    "cannot_do": _keep_cannot_do,
    "cannot_be_done": _keep_cannot_be_done,
    "unable": _keep_unable,
    "not_possible": _keep_not_possible,
    "no_such_thing": _keep_no_such_thing,
    "plain_no": _keep_plain_no,
}


def _plain_no(doc) -> bool:
    """The whole message is a no and its softeners: "No.", "Sorry, no.", "Absolutely not."."""
    if any(t.text == "?" for t in doc):
        return False  # "Is that a no?" asks
    words = [t.lower_ for t in doc if not t.is_punct and not t.is_space]
    return bool(words) and set(words) <= NO_WORDS | SOFTENERS and bool(set(words) & NO_WORDS)


def _conditional(doc, start: int) -> bool:
    """'If you can't find the label...', 'in case it can't be delivered' set a condition."""
    window = doc[max(0, start - 6) : start]
    return any(
        t.lower_ in ("if", "unless", "whether")
        or (t.lower_ == "case" and t.i > 0 and doc[t.i - 1].lower_ == "in")
        for t in window
    )


def _negated(doc, start: int) -> bool:
    """'Your payment wasn't rejected', 'it's not too late' are good news."""
    return start > 0 and doc[start - 1].lower_ in ("not", "n't", "nt", "never")


def _question(doc, end: int) -> bool:
    """'Can't find your order number?' asks the customer; a clause break before '?' does not."""
    for token in doc[end:]:
        if token.text == "?":
            return True
        if token.text in CLAUSE_BREAKS:
            return False
    return False


def _idiom(doc, end: int) -> bool:
    """'It's impossible to miss', 'unable to find your order number?'."""
    return end + 1 < len(doc) and doc[end].lower_ == "to" and doc[end + 1].lemma_ in LOOKUP_VERBS
