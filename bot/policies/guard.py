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

The patterns of each family are in refusal_patterns.py, the words they and the checks use in
refusal_words.py, and the checks that let a look-alike go in refusal_context.py.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bot.policies.refusal_context import refuses_in_context, whole_message_is_no
from bot.policies.refusal_patterns import ALTERNATIVE_PATTERNS, REFUSAL_PATTERNS


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
            if refuses_in_context(doc, name, start, end):
                matched.append(name)
        if whole_message_is_no(doc):
            matched.append("plain_no")
        alternative = has_buttons or bool(self._alternatives(doc))
        return Verdict(
            refuses=bool(matched),
            offers_alternative=alternative,
            matched=tuple(sorted(set(matched))),
        )
