"""Whether a refusal pattern's match really refuses, judged by the sentence around it.

The patterns (refusal_patterns.py) match wide; these checks let a match go when it only looks
like a refusal: a condition ("if you can't find the label"), a negation ("wasn't rejected"),
a question to the customer, an idiom or a lookup ("I can't see a second charge"), a promise
("we won't charge you"), good news ("you won't be charged"), a reported problem ("sorry to
hear you can't log in"). Shared checks run first, then the one of the matched family.
Apart from the patterns because they are code over the parsed sentence, not Matcher data,
and they are where a false alarm is fixed. Also here: the whole-message "no" that no pattern
can express ("Sorry, no.").
"""

from __future__ import annotations

from bot.policies.refusal_words import (
    CLAUSE_BREAKS,
    COST_WORDS,
    FILLER_ADVERBS,
    FUTURE,
    GOOD_NEWS_PARTICIPLES,
    IDIOMS,
    IMPERATIVE_LEADS,
    LOOKUP_VERBS,
    NO_WORDS,
    ONLY_FOLLOWERS,
    PERMISSION_WORDS,
    PROMISE_VERBS,
    REPORT_WORDS,
    RULE_FOLLOWERS,
    SOFTENERS,
    WITHHELD_PARTICIPLES,
)


def refuses_in_context(doc, family: str, start: int, end: int) -> bool:
    """Does the match of ``family`` over ``doc[start:end]`` refuse, read in its sentence?"""
    if _conditional(doc, start) or _negated(doc, start) or _question(doc, end):
        return False
    if doc[end - 1].lower_ not in PERMISSION_WORDS and _idiom(doc, end):
        return False
    return _KEEP.get(family, _always)(doc, start, end)


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


def whole_message_is_no(doc) -> bool:
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
