"""The words the refusal guard knows, in two groups: what its patterns are built from, and
what its context checks look for around a match.

Apart from the patterns and the checks so that each list sits beside its neighbours with the
comment that says why it exists (a new verb of refusal, a new idiom that only looks like one,
is one word here), and the two modules that read them stay short. Words are lowercase: the
guard lowercases text before parsing (see guard.py).
"""

from __future__ import annotations

# -- word classes the refusal patterns (refusal_patterns.py) are built from -----------------

NEG = {"IN": ["not", "n't", "nt"]}
WE_I = {"IN": ["we", "i"]}
MODAL = {"IN": ["can", "ca", "could", "will", "wo", "would", "shall", "sha"]}
# The tokenizer leaves "'s" and "'re" with no lemma "be", so list the forms of "be" by hand.
BE = {"IN": ["is", "are", "was", "were", "be", "been", "being", "am", "'s", "'re", "'m", "m"]}
# Adverbs that sit inside a refusal without changing it ("we don't currently offer").
ADVERB = {
    "IN": ["currently", "presently", "normally", "usually", "generally", "really", "actually"]
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
REQUEST_WORDS = ["request", "application", "claim", "appeal", "refund", "return", "cancellation"]
CONTROL_WORDS = ["remit", "control", "authority", "scope", "power", "powers", "gift"]
PARTICIPLE = {"REGEX": "^[a-z]+(ed|en|ne|de|id)$"}

# -- words the context checks (refusal_context.py) look for around a match ------------------

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
