"""What a customer asks us to pass on to the team that has their request.

"Also tell them the box was wet" carries the information itself: ``carried_information``
gives "the box was wet", which is forwarded without asking again. "Can you tell them
something?" or "I want to add something" carries none (None): the assistant asks what to
pass on. Pure Python: no Rasa imports.
"""

from __future__ import annotations

import re

# Who the customer wants told: the team, whoever handles it, a department by name.
_WHO = (
    r"(?:them|the\s+team|your\s+team|the\s+(?:delivery|billing|sales|support)\s+(?:team|people|department)"
    r"|(?:delivery|billing|sales|support)|the\s+courier|the\s+driver|the\s+department"
    r"|whoever(?:'s|\s+is)\s+(?:handling|dealing\s+with|looking\s+(?:at|into))\s+(?:it|this|my\s+\w+))"
)
# The lead-in before the information, in the customer's words; the rest is what they add.
_LEAD = re.compile(
    r"^\s*(?:(?:oh|ah|and|also|hi|hey|ok|okay|please|pls|plz|one\s+more\s+thing|btw|by\s+the\s+way)[\s,:;.!-]+)*"
    r"(?:"
    r"(?:(?:can|could|would|will)\s+you\s+)?(?:please\s+)?(?:also\s+)?"
    r"(?:tell|inform|let)\s+" + _WHO + r"(?:\s+know)?(?:\s+(?:also|too|as\s+well))?"
    r"|(?:(?:can|could|would|will)\s+you\s+)?(?:please\s+)?(?:also\s+)?pass\s+(?:(?:this|it|that)\s+)?(?:on|along)"
    r"(?:\s+to\s+" + _WHO + r")?"
    r"|(?:can|could|may)\s+i\s+add|i(?:'d|\s+would)\s+like\s+to\s+add|i\s+want\s+to\s+add"
    r"|i\s+(?:need|have)\s+to\s+add|(?:please\s+)?(?:also\s+)?add"
    r"(?:\s+to\s+(?:it|that|my\s+request|the\s+request|my\s+ticket))?"
    r"|(?:also\s+)?for\s+(?:your\s+)?(?:info|information|the\s+record)"
    r")"
    r"(?:\s+(?:also|too))?(?:\s*(?:that|this|:|,|-|\u2013))*\s*",
    re.IGNORECASE,
)
# What is no information at all: "something", "a detail", "more info", "a few things".
_NOTHING_YET = re.compile(
    r"^(?:(?:a|an|some|one|few|a\s+few|more|another|other|extra|little|small|quick)\s+)*"
    r"(?:something|anything|thing|things|detail|details|info|information|note|comment|bit"
    r"|point|more|else|them)(?:\s+(?:else|more|too|also|please|to\s+it|to\s+that|to\s+my\s+request"
    r"|for\s+them|for\s+you|to\s+them|on|along|in|if\s+that'?s\s+ok|if\s+i\s+can|if\s+possible))*$",
    re.IGNORECASE,
)
_TRAILING = re.compile(
    r"[\s,;:.!?-]*(?:\b(?:please|pls|thanks|thank\s+you|thx|ta)\b[\s,;:.!?]*)*$", re.I
)
MIN_WORDS = 2  # "wet" alone is too little to send on its own; "box wet" will do


def carried_information(text: str) -> str | None:
    """What ``text`` asks us to pass on, when it says it ("tell them X": X), else None."""
    if not isinstance(text, str) or text.lstrip().startswith("/"):
        return None
    match = _LEAD.match(text)
    if match is None or match.end() == 0:
        return None
    rest = _TRAILING.sub("", text[match.end() :]).strip(" \t\"'")
    rest = re.sub(r"^(?:that|this)\s*[:,-]?\s+", "", rest, flags=re.IGNORECASE)
    words = rest.replace("?", " ").split()
    if len(words) < MIN_WORDS or _NOTHING_YET.match(" ".join(words).rstrip(".!?")):
        return None
    return rest
