"""Questions about an order's progress, read as the status question they are.

"Was ORD-10003 delivered?" asks where the order is; it does not report it missing (which
opens a carrier trace and a handoff) or ask how we deliver. The classifier, reading the
words "delivered" and an order number, leans to those. A message that asks, in question
form, whether an order has been delivered, arrived, shipped or sent, with no sign of a
problem ("not", "never", "damaged", "late"...), is the status question; the answer then
says where the order is and offers "It isn't here" when it was delivered.
"""

from __future__ import annotations

import re

STATUS = "order_status"
_ASKS_IF_IT_HAPPENED = re.compile(
    r"^\W*(?:so\W+|and\W+|hi\W+|hey\W+)?(?:was|has|have|did|is)\b[^.!?]{0,60}?"
    r"\b(?:delivered|arrived|arrive|shipped|ship|dispatched|sent|posted|gone out)\b",
    re.IGNORECASE,
)
# Any of these and it is more than a status question (a problem to hand to its need), or
# about something else that gets sent (an invoice, a code, a refund).
_A_PROBLEM = re.compile(
    r"\b(?:not|never|no|nothing|missing|lost|stolen|damaged|broken|wrong|late|"
    r"where\s+is|cancel\w*|refund\w*|return\w*|invoice|receipt|payment|money|card|"
    r"e-?mail|code|link|quote|label)\b|n't\b",
    re.IGNORECASE,
)


def status_question(text: str, intent: str | None) -> bool:
    """Whether ``text`` only asks if the order got somewhere, though read as ``intent``."""
    if intent == STATUS or not isinstance(text, str) or len(text) > 200:
        return False
    return bool(_ASKS_IF_IT_HAPPENED.search(text)) and not _A_PROBLEM.search(text)
