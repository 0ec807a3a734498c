"""Long and multi-need messages, read clause by clause.

A paragraph of story around one plain request ("we're a little design studio of 4 people in
Bristol, faffing about with three tools... What would it cost us a month?") or two needs in
one message ("two things: I was charged twice, and when is my chair arriving?") is hard for
a classifier of the whole text: the words of both needs (and of the story) pull apart and
the confidence falls to the clarifying question, or one need wins and the other is lost.

So a message of several clauses is also classified clause by clause (:func:`clauses`), and
:func:`combine` decides: the whole message's need stands when it is confident; otherwise
the clearest clause's need is taken. Needs of other clauses, confident and different, are
kept as ``other_needs`` in the parse data, for the conversation to pick up after the first
("You also asked about ..."; actions/needs.py). Pure functions: the parsing itself is the
caller's (bot/rasa/channels/typed_choice.py runs Rasa's own NLU on each clause).
"""

from __future__ import annotations

import re
from collections.abc import Callable

# A clause needs this many words to be read on its own ("and when?" is not a need;
# "where's ORD-10004" is).
MIN_CLAUSE_WORDS = 2
# At most this many clauses are read: a pasted email signature is not ten needs.
MAX_CLAUSES = 6
# A need read from a clause (or the whole message) must be at least this sure.
CONFIDENT = 0.5
# Clause needs read this close to the surest one count as just as clear.
CLOSE = 0.1

_SENTENCE_END = re.compile(r"(?<=[.?!;:])\s+|\n+")
# "..., and when is my chair arriving", "also, ...", "while I'm here, ...", and a comma
# before a new question ("is there a free trial, can I pay by paypal").
_JOINERS = re.compile(
    r",?\s+(?:and also|and|also|plus|while i'?m here|oh and|btw|by the way)\s+(?=\w)"
    r"|,\s+(?=(?:can|could|do|does|is|are|will|would|what|when|where|how|why)\b)",
    re.IGNORECASE,
)
# Intents that say nothing the clauses could not say better.
SMALL_TALK = frozenset(
    {"greet", "goodbye", "thank", "affirm", "deny", "inform", "out_of_scope", "nlu_fallback"}
)
# "I want to speak to someone about being charged twice": asked for a person, they get one
# (the charge goes with them as context), whatever the clauses say.
ASKS_FOR_A_PERSON = frozenset({"request_human"})
# "can I talk to someone about my invoice": whatever the rest is about, they asked for a person.
_PERSON = re.compile(
    r"\b(?:speak|talk|chat)(?:ing)?\s+(?:to|with)\s+(?:someone|somebody|a\s+manager|"
    r"(?:a|an)\s+(?:real\s+|actual\s+)?(?:person|human|agent|colleague|member of staff))\b"
    r"|\b(?:get|give|put)\s+me\s+(?:through\s+to\s+)?(?:a|an)\s+(?:real\s+)?(?:person|human|agent)\b",
    re.IGNORECASE,
)
# "not cancelling yet, just asking": a disclaimer about the rest of the message, no need.
_DISCLAIMS = re.compile(
    r"\bjust (?:asking|checking|wondering|curious)\b|^\W*not\s+\w+ing\b", re.IGNORECASE
)
# "actually forget the address", "never mind the refund": that need is being dropped.
_DROPS = re.compile(r"\b(?:forget|never\s?mind|scrap|ignore|disregard)\b", re.IGNORECASE)
# "I'd rather have my money back than a new one", "a refund instead of a replacement": the
# part after "than" / "instead of" is what the customer does NOT want. It is cut off as a
# clause of its own (split where it starts) and raises no need.
_RATHER = re.compile(r"\brather\b", re.IGNORECASE)
_THAN = re.compile(r"\s+(?=than\b)", re.IGNORECASE)
_INSTEAD = re.compile(r"\s+(?=(?:rather\s+than|instead\s+of)\b)", re.IGNORECASE)
_REJECTS = re.compile(r"^\W*(?:rather\s+than|instead\s+of|than)\b", re.IGNORECASE)
# "two things:", "quick ones:", "question:": announces what follows, asks nothing itself.
_PREAMBLE = re.compile(r"^\W*(?:\w+\W+){0,2}\w+\s*:$")
_WORD = re.compile(r"[A-Za-z]{2,}|\b[A-Za-z]*-?\d{4,}\b")


def clauses(text: str) -> list[str]:
    """The clauses of ``text`` worth reading on their own; [] for a one-clause message."""
    if not isinstance(text, str):
        return []
    parts: list[str] = []
    for sentence in _SENTENCE_END.split(text.strip()):
        for part in _JOINERS.split(sentence):
            parts.extend(p.strip(" ,") for p in _preferred_apart(part))
    parts = [
        p for p in parts if len(_WORD.findall(p)) >= MIN_CLAUSE_WORDS and not _PREAMBLE.match(p)
    ][:MAX_CLAUSES]
    return parts if len(parts) >= 2 else []


def _preferred_apart(part: str) -> list[str]:
    """``part`` with what the customer prefers apart from what they turn down: "I'd rather
    have my money back than a new one" -> ["I'd rather have my money back", "than a new
    one"]. A bare "than" splits only after "rather" ("more than 30 days" is one clause)."""
    pieces = _INSTEAD.split(part)
    rather = _RATHER.search(pieces[0])
    if rather is not None and len(pieces) == 1:
        head, tail = pieces[0][: rather.end()], pieces[0][rather.end() :]
        pieces = [head + piece if i == 0 else piece for i, piece in enumerate(_THAN.split(tail, 1))]
    return pieces


def asks_for_a_person(text: str) -> bool:
    """True when ``text`` plainly asks for a person ("I want to speak to someone about being
    charged twice"), so the person comes first and the rest is their context."""
    return isinstance(text, str) and _PERSON.search(text) is not None


def combine(
    whole: dict, parts: list[dict], is_need: Callable[[str], bool]
) -> tuple[dict | None, list[str]]:
    """What the message asks for, from the whole message's parse and its clauses' parses
    (each with its ``text``).

    Returns the intent to use instead of the whole message's (``{"name", "confidence"}``),
    or None to keep it, and the other needs the message raised, in the order said.
    ``is_need`` tells a need (something a department owns) from everything else.

    The whole message's intent stands when it is sure and asks for a person, or is a need
    some clause also reads, or is something other than small talk ("call me Ozzy. also where is ORD-10004?"
    stays a preference, the order question waits). Otherwise the clearest clause need wins:
    a story around one request, an email signature pasted under it. A clause that drops
    something ("actually forget the address") or turns it down ("than a new one") raises no
    need of its own.
    """
    top = whole.get("intent") or {}
    found = [
        (p["intent"]["name"], p["intent"].get("confidence", 0.0))
        for p in parts
        if (p.get("intent") or {}).get("name")
        and is_need(p["intent"]["name"])
        and p["intent"].get("confidence", 0.0) >= CONFIDENT
        and not _DROPS.search(p.get("text") or "")
        and not _DISCLAIMS.search(p.get("text") or "")
        and not _REJECTS.search(p.get("text") or "")
    ]
    dropping = any(_DROPS.search(p.get("text") or "") for p in parts)
    main, sure = top.get("name") or "", top.get("confidence", 0.0) >= CONFIDENT
    names = {name for name, _ in found}
    keep = sure and (
        main in ASKS_FOR_A_PERSON
        or (is_need(main) and (main in names or not found) and not dropping)
        or (not is_need(main) and main not in SMALL_TALK)
    )
    instead = None
    if not keep and found:
        # The first need said among the clearest (within CLOSE of the surest): "what's the
        # difference between pro and business? we're a team of 12" asks about the plans;
        # the team size that follows is context, however sure its own reading.
        surest = max(confidence for _, confidence in found)
        name, confidence = next(f for f in found if f[1] >= surest - CLOSE)
        instead, main = {"name": name, "confidence": confidence}, name
    others: list[str] = []
    for name, _ in found:
        if name != main and name not in others:
            others.append(name)
    return instead, others
