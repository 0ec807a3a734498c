"""Short follow-ups read in the context of the conversation.

A way out of a question: "actually no, leave it, I'll keep it" while we wait for a detail
is the customer letting the request go (read as ``deny``, which stops the form), unless the
classifier is sure it is a new need ("actually forget the address, can it come on the
17th?" is a date change).


After "what's your refund policy?" a customer asks "and after 30 days?"; after the plans,
"and if I pay yearly?". On its own such a message is a fragment (the classifier reads "30
days" as a refund request and asks for an order number). A very good agent reads it as
more of the same question, and the answer to that question already covers it. So a short
message that opens like a follow-up, right after one of the policy and information
questions below was answered, is read as that question again, unless the classifier is
sure it is something else.
"""

from __future__ import annotations

import re

# Questions about how things work: answered for anyone, no detail needed, nothing changed.
QUESTION_NEEDS = frozenset(
    {
        "ask_refund_policy",
        "ask_pricing",
        "ask_discount",
        "ask_free_trial",
        "ask_payment_methods",
        "ask_cancellation_fee",
        "delivery_options",
    }
)
# "and after 30 days?", "what about annual?", "how about students", "what if I'm late"
_OPENS_A_FOLLOW_UP = re.compile(
    r"^\s*(?:and|but|what about|how about|what if|and if|ok and|so what about)\b", re.IGNORECASE
)
MAX_WORDS = 8
# The classifier's own reading wins when it is at least this sure of another need, or
# this sure of another question.
SURE = 0.9
ANOTHER_QUESTION = 0.6


def follow_up_of(
    text: str, previous_intent: str | None, intent: str | None, confidence: float
) -> str | None:
    """The question ``text`` follows up, if it reads as one: ``previous_intent``, else None."""
    if previous_intent not in QUESTION_NEEDS or not isinstance(text, str):
        return None
    if len(text.split()) > MAX_WORDS or not _OPENS_A_FOLLOW_UP.match(text):
        return None
    if intent == previous_intent:
        return None
    if confidence >= (ANOTHER_QUESTION if intent in QUESTION_NEEDS else SURE):
        return None  # "what about students?" after the plans: the discount question
    return previous_intent


# "leave it", "I'll keep it", "never mind", "forget it", "don't bother", "changed my mind"
_LETS_IT_GO = re.compile(
    r"\b(?:leave it|i'?ll keep it|keep it|never\s?mind|forget (?:it|about it)|don'?t bother"
    r"|no need|not any ?more|changed my mind|scrap that|doesn'?t matter)\b",
    re.IGNORECASE,
)


def lets_it_go(
    text: str, intent: str | None, confidence: float, small_talk: frozenset[str]
) -> bool:
    """Whether ``text``, said while we wait for a detail, lets the request go."""
    if not isinstance(text, str) or not _LETS_IT_GO.search(text):
        return False
    return intent in small_talk or confidence < ANOTHER_QUESTION
