"""A typed reply taken as one of the buttons the assistant just showed.

Customers type far more than they click ("the store credit is fine", "the second one",
"5 please", "no thanks"). :func:`resolve` decides which offered button, if any, such a
reply names, paraphrases or points at; bot/rasa/channels/typed_choice.py makes Rasa parse the
message as that button's payload.

Guarantees:

- the answer is one of the ``buttons`` given (the same object) or ``None``: a typed reply
  can never reach an option that was not offered;
- ``None`` whenever the reply is unclear: it names two buttons as much as each other, it
  is a new request (many words that name no button, an order or invoice number or an email
  address no button carries), or it names nothing. The caller then lets NLU read it.

How it decides, in order: pointing ("the first", "option 2", "the last one"), the words
a reply shares with each title (lowercased, lightly stemmed, mapped through the synonyms
in bot/config/choice_words.yml; a word shared by several titles counts for less), and last
a plain yes or no (the Yes/No button, or the only real option for a "yes please"). Pure
Python: no Rasa imports.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from bot.config import CONFIG_DIR, ConfigError, load_yaml

WORDS_FILE = CONFIG_DIR / "choice_words.yml"

# A title word only this button has is enough ("the discount one" -> "A loyalty discount");
# a word two titles share counts half, so "ask" alone never picks between two "Ask for ..."s.
MIN_SCORE = 1.0
# The best button must score at least twice the next, and the next must not reach
# MIN_SCORE: "store credit or a person" names two options, and the customer, not a guess,
# should settle it.
DOMINANCE = 2.0
# More words than this that name no button means the customer is saying something else
# ("the store credit, but first where is my other parcel and why is it late").
MAX_UNMATCHED_WORDS = 4
# With three or more meaningful words, at least a third must name the chosen button.
MIN_MATCHED_SHARE = 1 / 3
# Longer than this is a message, not a choice, however many title words it repeats.
MAX_WORDS = 40
# "the second one please" may carry one other word ("the second one sounds ok mate"), no more.
POINTER_MAX_EXTRA = 1
# "yes please, I'll pay the 9.90": a yes may come with two words that name no button.
YESNO_MAX_EXTRA = 2

# An order, invoice or handoff reference, an email address, or a long number (phone,
# postcode, card): the customer is asking about something, not choosing.
REFERENCE = re.compile(
    r"\b[a-z]{1,5}-\d{2,}\b|\S+@\S+\.[a-z]{2,}|\d{5,}|\b[a-z]{2,5}\d{4,}\b", re.IGNORECASE
)
# "4 out of 5", "4/5" and "10/10" rate with the first number.
OUT_OF = re.compile(r"\b(\d+)\s*(?:/|out of)\s*\d+\b")
# "$12.00" is the 12 the customer types ("the 12 dollar one"), in replies and in titles.
WHOLE_AMOUNT = re.compile(r"\b(\d+)[.,]00\b")
TOKEN = re.compile(r"\d+(?:st|nd|rd|th)\b|\d+(?:[.,]\d+)?%?|[a-z]+(?:'[a-z]+)?|[,;.!?()]")
SEPARATORS = {",", ";", ".", "!", "?", "(", ")"}
# Words that end a negation's reach ("not the label but the depot").
SCOPE_ENDS = {"but", "just", "rather", "instead", "prefer", "though", "however"}
# "I don't mind the store credit", "no problem, the label" are not refusals.
NOT_NEGATED = {"mind", "worry", "worries", "problem", "bother", "doubt"}
FILLER_LEADS = {"oh", "um", "uhm", "erm", "hmm", "well", "ah", "so", "right", "hi", "hey"}

ORDINALS = {
    "first": 1,
    "1st": 1,
    "top": 1,
    "second": 2,
    "2nd": 2,
    "third": 3,
    "3rd": 3,
    "fourth": 4,
    "4th": 4,
    "fifth": 5,
    "5th": 5,
    "last": -1,
    "bottom": -1,
    "final": -1,
}
NUMBER_WORDS = {"one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6}
POINTER_BEFORE = {"the", "that", "ur", "your", "ya"}
POINTER_AFTER = {"one", "option", "choice", "button", "thing", "1"}
POINTER_NOUNS = {"option", "number", "choice", "button", "#", "no"}


@dataclass(frozen=True)
class Button:
    """A button the assistant showed: what it said, and what a click sends."""

    title: str
    payload: str


@dataclass(frozen=True)
class Words:
    """The word lists of bot/config/choice_words.yml, stemmed for matching."""

    synonyms: dict[tuple[str, ...], str]  # stemmed phrase -> canonical stem
    option_words: frozenset[str]  # the canonical stems: words that name an option
    longest_synonym: int
    affirm: tuple[tuple[str, ...], ...]  # surface phrases, longest first
    negate: tuple[tuple[str, ...], ...]
    fillers: frozenset[str]  # surface words and their stems
    negators: frozenset[str]


def resolve(text: str, buttons: Sequence[Button]) -> Button | None:
    """The offered button ``text`` names, paraphrases or points at, or ``None`` if unclear."""
    if not buttons or not isinstance(text, str):
        return None
    text = text.strip()
    if not text or text.startswith("/"):
        return None
    words = load_words()
    low = text.lower().replace("\u2019", "'").replace("\u2018", "'")
    titles = " ".join(b.title.lower() for b in buttons)
    if any(ref.group(0).lower() not in titles for ref in REFERENCE.finditer(low)):
        return None
    low = WHOLE_AMOUNT.sub(r"\1", OUT_OF.sub(r"\1", low))
    surface = TOKEN.findall(low)
    if sum(1 for t in surface if t not in SEPARATORS) > MAX_WORDS:
        return None

    polarity, rest = _polarity(surface, words)
    tokens = _without_negated(_canonical(rest, words), words)
    content = [t for t in tokens if t not in SEPARATORS and t not in words.fillers]
    raw = {t for t in tokens if t not in SEPARATORS}

    kinds = [_kind(b, words) for b in buttons]
    options = [i for i, k in enumerate(kinds) if k == "option"]
    by_words, matched = _best_by_words(buttons, options, content, raw, words)
    pointed, pointer_words = _pointed(surface, buttons, content)

    if pointed is not None:
        extra = [t for t in content if t not in pointer_words and t not in matched]
        if by_words is not None and by_words is not pointed:
            return None  # "the first one, the label" when the label is second: unclear
        return pointed if len(extra) <= POINTER_MAX_EXTRA else None
    if by_words is not None:
        unmatched = [t for t in content if t not in matched]
        if any(t in words.option_words for t in unmatched):
            return None  # "free express" under "Upgrade to express": it names more than that
        if len(unmatched) > MAX_UNMATCHED_WORDS:
            return None
        if len(content) >= 3 and (len(content) - len(unmatched)) / len(content) < MIN_MATCHED_SHARE:
            return None
        return by_words
    named = [t for t in content if t in words.option_words]  # "yes, a refund": not a plain yes
    if polarity and len(content) <= YESNO_MAX_EXTRA and "?" not in surface:
        chosen = _yes_or_no(polarity, buttons, kinds, options)
        # "yes cancel it" under "Yes, cancel it": a yes may repeat its own button's words.
        if chosen is not None and set(named) <= _title_words(chosen, words)[0]:
            return chosen
    return None


@functools.lru_cache(maxsize=4)
def load_words(path: Path = WORDS_FILE) -> Words:
    """Read and check the word lists (cached); errors name the file and the key."""
    data = load_yaml(path)

    def phrases(key: str) -> list[str]:
        value = data.get(key)
        if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
            raise ConfigError(f"{path}: {key}: expected a list of words or phrases")
        return value

    synonyms_data = data.get("synonyms")
    if not isinstance(synonyms_data, dict):
        raise ConfigError(f"{path}: synonyms: expected a mapping of word -> list of phrases")
    synonyms: dict[tuple[str, ...], str] = {}
    for canonical, variants in synonyms_data.items():
        if not isinstance(variants, list) or not all(isinstance(v, str) for v in variants):
            raise ConfigError(f"{path}: synonyms.{canonical}: expected a list of phrases")
        target = stem(str(canonical).lower())
        for phrase in [str(canonical), *variants]:
            key = tuple(stem(t) for t in TOKEN.findall(phrase.lower()) if t not in SEPARATORS)
            if key:
                synonyms[key] = target
    fillers = {w.lower() for w in phrases("fillers")}
    negators = {w.lower() for w in phrases("negators")}

    def by_length(key: str) -> tuple[tuple[str, ...], ...]:
        split = {tuple(TOKEN.findall(p.lower())) for p in phrases(key)}
        return tuple(sorted(split, key=len, reverse=True))

    return Words(
        synonyms=synonyms,
        option_words=frozenset(synonyms.values()),
        longest_synonym=max(map(len, synonyms), default=1),
        affirm=by_length("affirm"),
        negate=by_length("negate"),
        fillers=frozenset(fillers | {stem(w) for w in fillers}),
        negators=frozenset(negators | {stem(w) for w in negators}),
    )


def stem(word: str) -> str:
    """A light stem: "pausing", "paused", "pauses" and "pause" all give "paus"."""
    if not word.isalpha():
        return word
    for suffix in ("ing", "ed", "es", "s"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            if suffix == "s" and word.endswith("ss"):
                break
            word = word[: -len(suffix)]
            break
    if len(word) > 3 and word.endswith("e"):
        word = word[:-1]
    return word


def _polarity(surface: list[str], words: Words) -> tuple[int, list[str]]:
    """+1 for a reply that opens with yes, -1 with no, else 0; and the words after it."""
    start = 0
    while start < len(surface) and (surface[start] in FILLER_LEADS or surface[start] in SEPARATORS):
        start += 1
    for sign, phrases in ((-1, words.negate), (1, words.affirm)):
        for phrase in phrases:
            if tuple(surface[start : start + len(phrase)]) == phrase:
                return sign, surface[start + len(phrase) :]
    return 0, surface


def _canonical(surface: list[str], words: Words) -> list[str]:
    """Stemmed tokens with synonym phrases replaced by their canonical word, longest first."""
    stems = [t if t in SEPARATORS else stem(t) for t in surface]
    out: list[str] = []
    i = 0
    while i < len(stems):
        for n in range(min(words.longest_synonym, len(stems) - i), 0, -1):
            target = words.synonyms.get(tuple(stems[i : i + n]))
            if target is not None:
                out.append(target)
                i += n
                break
        else:
            out.append(stems[i])
            i += 1
    return out


def _without_negated(tokens: list[str], words: Words) -> list[str]:
    """Drop the words a negation reaches: "not the store credit, the exception" -> exception."""
    out: list[str] = []
    negated = False
    for i, t in enumerate(tokens):
        if t in SEPARATORS or t in SCOPE_ENDS:
            negated = False
            out.append(t)
        elif t in words.negators:
            following = tokens[i + 1] if i + 1 < len(tokens) else ""
            negated = following not in NOT_NEGATED
        elif not negated:
            out.append(t)
    return out


def _kind(button: Button, words: Words) -> str:
    """ "yes", "no" or "option": what a plain yes or no would pick."""
    surface = tuple(TOKEN.findall(button.title.lower().replace("\u2019", "'")))
    for kind, phrases in (("no", words.negate), ("yes", words.affirm)):
        if any(surface[: len(p)] == p for p in phrases):
            return kind
    return "option"


def _title_words(button: Button, words: Words) -> tuple[set[str], bool]:
    """A title's meaningful words; a title of fillers only ("All good") keeps them all."""
    tokens = [
        t for t in _canonical(TOKEN.findall(WHOLE_AMOUNT.sub(r"\1", button.title.lower())), words)
    ]
    tokens = [t for t in tokens if t not in SEPARATORS]
    content = {t for t in tokens if t not in words.fillers and t not in words.negators}
    return (content, False) if content else (set(tokens), True)


def _best_by_words(
    buttons: Sequence[Button],
    options: list[int],
    content: list[str],
    raw: set[str],
    words: Words,
) -> tuple[Button | None, set[str]]:
    """The option whose title the reply's words name clearly, and the words that named it."""
    titles = {i: _title_words(buttons[i], words) for i in options}
    shared: dict[str, int] = {}
    for title, _ in titles.values():
        for t in title:
            shared[t] = shared.get(t, 0) + 1
    scored = []
    for i, (title, fillers_only) in titles.items():
        hits = title & (raw if fillers_only else set(content))
        scored.append((sum(1 / shared[t] for t in hits), i, hits))
    scored.sort(key=lambda s: s[0], reverse=True)
    if not scored or scored[0][0] < MIN_SCORE:
        return None, set()
    best, runner_up = scored[0][0], (scored[1][0] if len(scored) > 1 else 0.0)
    if runner_up >= MIN_SCORE or (runner_up and best < DOMINANCE * runner_up):
        return None, set()
    return buttons[scored[0][1]], scored[0][2]


def _pointed(
    surface: list[str], buttons: Sequence[Button], content: list[str]
) -> tuple[Button | None, set[str]]:
    """The button a reply points at by position ("the second one", "option 2", "2")."""
    words = [t for t in surface if t not in SEPARATORS]
    position: int | None = None
    used: set[str] = set()
    for i, w in enumerate(words):
        before = words[i - 1] if i else ""
        after = words[i + 1] if i + 1 < len(words) else ""
        if w in ORDINALS and (
            before in POINTER_BEFORE or after in POINTER_AFTER or len(words) == 1
        ):
            position, used = ORDINALS[w], {w}
            break
        if w in POINTER_NOUNS and (after.isdigit() or after in NUMBER_WORDS):
            if w == "no" and not after.isdigit():
                continue  # "no one" is not "number one"
            position = int(after) if after.isdigit() else NUMBER_WORDS[after]
            used = {w, after}
            break
    numbered = any(re.match(r"\s*\d", b.title) for b in buttons)
    if position is None and not numbered and len(content) == 1 and content[0].isdigit():
        position, used = int(content[0]), {content[0]}  # a bare "2" under unnumbered options
    if position is None:
        return None, set()
    if position == -1:
        return buttons[-1], used
    if 1 <= position <= len(buttons):
        return buttons[position - 1], used
    return None, set()


def _yes_or_no(
    polarity: int, buttons: Sequence[Button], kinds: list[str], options: list[int]
) -> Button | None:
    """The Yes (or No) button; for a yes with no Yes button, the only real option offered."""
    wanted = "yes" if polarity > 0 else "no"
    matching = [b for b, k in zip(buttons, kinds, strict=True) if k == wanted]
    if len(matching) == 1:
        return matching[0]
    if polarity > 0 and not matching:
        # "Here's what we can do: Upgrade to express / Talk to a person" -> "yes please".
        real = [i for i in options if not _is_person(buttons[i])]
        if len(real) == 1:
            return buttons[real[0]]
    return None


def _is_person(button: Button) -> bool:
    """Is this the "Talk to a person" way out, which a bare yes never picks?"""
    title, _ = _title_words(button, load_words())
    return "person" in title
