"""Signals of effort and frustration in what the customer wrote (principle 5: listen).

Plain rules over the session's messages, so CX staff can read why a chat was flagged:
the same need raised again or the same message sent twice, "I already told you", negative
words, and (from the journey store) other conversations about the same order this week.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

# Intents that say nothing about a need; repeating them is not effort.
SMALL_TALK = {"greet", "goodbye", "thank", "affirm", "deny", "inform", "choose_option"}

TOLD_YOU = re.compile(
    r"\b(already (told|said|gave|sent|explained|asked)|i (just )?(said|told you)|as i (said|told)"
    r"|how many times|repeat(ing)? myself|told you (that|this|before|already)"
    r"|for the (second|third|fourth|fifth|\d+(st|nd|rd|th)) time|asked (you )?(this )?before)\b",
    re.IGNORECASE,
)
NEGATIVE = re.compile(
    r"\b(useless|ridiculous|terrible|awful|horrible|worst|unacceptable|disgusting|pathetic"
    r"|stupid|annoy(ed|ing)|angry|furious|frustrat(ed|ing)|fed up|sick of|joke|rubbish"
    r"|waste of (my )?time|incompetent|scam|wtf|never again|disappointed|outrageous)\b",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class UserMessage:
    """One thing the customer wrote, as Rasa understood it."""

    text: str
    intent: str | None
    at: datetime


@dataclass(frozen=True)
class Signals:
    """Effort and frustration in one conversation."""

    repeats: int = 0  # the same need raised again, or the same message sent again
    told_you: int = 0  # "I already told you", "for the third time"...
    negative_words: int = 0
    contacts_about_order: int = 0  # other conversations about the same order in 7 days

    @property
    def frustration(self) -> int:
        """One number for routing rules: each signal counts, "I told you" twice."""
        return self.repeats + 2 * self.told_you + self.negative_words

    def as_dict(self) -> dict[str, int]:
        return {**asdict(self), "frustration": self.frustration}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Signals:
        """Back from ``as_dict`` (as stored on a touchpoint)."""
        return cls(**{f: int(data.get(f, 0)) for f in cls.__dataclass_fields__})


def read_signals(messages: Sequence[UserMessage], contacts_about_order: int = 0) -> Signals:
    """The signals in one session's messages (oldest first)."""
    seen: set[str] = set()  # needs and normalised texts already written this session
    repeats = 0
    for m in messages:
        keys = set()
        if m.intent and m.intent not in SMALL_TALK:
            keys.add("need:" + m.intent)
        if len(_normal(m.text)) > 3:
            keys.add("text:" + _normal(m.text))
        # A message counts once, whether it repeats the need, the words, or both.
        repeats += bool(keys & seen)
        seen |= keys
    return Signals(
        repeats=repeats,
        told_you=sum(len(TOLD_YOU.findall(m.text)) for m in messages),
        negative_words=sum(len(NEGATIVE.findall(m.text)) for m in messages),
        contacts_about_order=contacts_about_order,
    )


def _normal(text: str) -> str:
    return re.sub(r"\W+", " ", text.lower()).strip()
