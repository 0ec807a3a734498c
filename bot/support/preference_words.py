"""Preferences in the customer's own words: what a message asks to change.

"call me Sam", "please be formal", "message me on Slack", "no messages after 9pm", "best time
to reach me is 9 to 5", "forget my preferences": rules (regular expressions and keywords)
turn a message into changes to ``bot.preferences.Preferences``, so a name is kept exactly as
the customer wrote it and a time is never guessed by a classifier. What the assistant says
back is bot/support/preferences.py's.

Buttons send ``/set_preference{"preference": "<key>:<value>"}`` (``channel:slack``,
``quiet:none``, ``forget``), read by ``from_button``; typed messages go through ``understand``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from bot.preferences import CHANNEL_LABELS, Preferences

# When a customer gives only one end of their quiet hours ("not after 9pm", "not before 8"),
# the other end is the one already stated, else these (an evening and a morning).
DEFAULT_QUIET_FROM = "21:00"
DEFAULT_QUIET_UNTIL = "08:00"

# Titles that make a name formal ("call me Ms Okafor" means: formally, by that name).
TITLES = ("mr", "mrs", "ms", "miss", "mx", "dr", "prof", "professor", "sir", "madam", "dame")

# Channels customers ask for that the assistant has no way to message them on:
# (how they name it after "by"/"via"/"prefer", the verb in "email me").
OTHER_CHANNELS = {
    "email": (r"e-?mails?|mail", r"e-?mail|mail|e-?mailed"),
    "phone": (r"phone|telephone|phone calls?|a call", r"phone|ring|rang"),
    "text message": (r"sms|text messages?|texts?", r"text|sms|texted"),
    "WhatsApp": (r"whats\s?app", r"whats\s?app"),
}

# -- reading the customer's words ---------------------------------------------------------

_MERIDIEM = r"(?:a\.?\s?m\.?|p\.?\s?m\.?)"
_TIME = (
    r"(?:(?P<{p}h>\d{{1,2}})(?:[:.h](?P<{p}m>[0-5]\d))?\s*(?P<{p}mer>" + _MERIDIEM + r")?"
    r"(?:\s*o'?clock)?|(?P<{p}word>noon|midday|midnight))"
)
T1, T2 = _TIME.format(p="a"), _TIME.format(p="b")
_RANGE_JOIN = r"\s*(?:-|–|to|till|til|until|and)\s*"

# "call me Sam", "please address me as Ms Okafor", "my name is Sam".
_NAME_LEAD = re.compile(
    r"\b(?:call(?:ing)? me|address me as|refer to me as|i(?:'d| would)? (?:prefer|like) to be"
    r" called|i go by|i'm called|i am called|my name is|my name's|the name'?s)\s+",
    re.IGNORECASE,
)
# Before a lead, these make it a name to stop using: "don't call me Samuel".
_NAME_NEGATED = re.compile(r"\b(?:don'?t|do not|stop|never|no longer)\s+$", re.IGNORECASE)
# Words after "call me" that are not a name: "call me back", "call me a taxi", "call me at 9".
_NOT_A_NAME = {
    "a", "an", "the", "back", "later", "tomorrow", "today", "tonight", "now", "at", "on",
    "in", "after", "before", "between", "by", "via", "when", "if", "whenever", "anytime",
    "any", "asap", "please", "again", "soon", "maybe", "sometime", "please?", "and", "or",
    "not", "never", "only", "here", "there", "it", "this", "that", "you", "me", "my", "your",
    "what", "who", "whatever", "something", "someone", "anything", "nothing", "crazy",
    "from", "during", "around", "about", "instead", "over", "up", "out",
}  # fmt: skip
# Where a name ends: punctuation, or the rest of the sentence ("Sam from now on please").
_NAME_END = re.compile(
    r"[,;:!?()\"]|\s+(?:from now on|instead|please|pls|thanks|thank you|and|"
    r"if|when|but|going forward|in future|from here on|rather than|not|on|via|by|"
    r"after|before|between)\b|$",
    re.IGNORECASE,
)
_NAME_WORD = re.compile(r"^[^\W\d_][\w'’.-]*$")

_FIRST_NAME = re.compile(
    r"\b(?:(?:use|call me by|address me by|go by|stick to|prefer) (?:just )?my first name"
    r"|first name (?:is|'s) (?:fine|ok|okay|good|great|perfect)|first[- ]name basis"
    r"|(?:stop|don'?t|do not) call(?:ing)? me by my (?:full name|surname|last name|title)"
    r"|first names? (?:please|(?:is|are) (?:fine|ok|okay|good))"
    r"|(?:no need|not necessary|don'?t need) to be (?:so )?formal"
    r"|(?:don'?t|do not) be (?:so )?formal|less formal|(?:be )?(?:more )?(?:informal|casual)"
    r"|drop the formalit(?:y|ies)|no formalit(?:y|ies))\b",
    re.IGNORECASE,
)
_FORMAL = re.compile(
    r"\b(?:(?:be|keep it|stay|more) formal|formal (?:please|address|is better)"
    r"|(?:address|speak to|talk to|write to) me formally|formally(?: please)?$"
    r"|use my (?:last name|surname|family name|full name|title)"
    r"|(?:call|address) me by my (?:last name|surname|family name|full name|title))\b",
    re.IGNORECASE,
)

_SLACK = re.compile(r"\bslack\b", re.IGNORECASE)
_NOT_SLACK = re.compile(
    r"\b(?:not|don'?t|do not|never|no longer|stop)\s+(?:\w+\s+){0,3}?slack\b", re.IGNORECASE
)
_WEBSITE = re.compile(
    r"\b(?:web ?site|web ?chat|chat widget|live chat|online chat|on your site|the site"
    r"|in the browser)\b",
    re.IGNORECASE,
)
# "Contact me here": the channel of this conversation (Slack when they write from Slack).
_HERE = re.compile(
    r"\b(?:this chat|the chat|in the chat|(?:contact|message|reach|write|text|ping|tell|talk to)"
    r" me(?: right)? here|(?:right |in |on )here|this channel)\b",
    re.IGNORECASE,
)
_CHANNEL_CONTEXT = re.compile(
    r"\b(?:prefer|rather|messag\w*|contact\w*|reach\w*|writ\w*|ping\w*|dm|notif\w*|tell"
    r"|talk\w*|us(?:e|ing)|via|over|through|switch\w*|channel|send\w*|updates?|keep"
    r"|hear from you|get in touch|keep me posted)\b",
    re.IGNORECASE,
)

_FORGET = re.compile(
    r"\b(?:forget|reset|clear|delete|remove|erase|wipe|undo|drop)\b.*\b(?:preferences?"
    r"|settings|everything|all of (?:it|that)|what i (?:told|said))\b"
    r"|^\s*(?:reset|forget it all|start over)\s*[.!]*\s*$",
    re.IGNORECASE,
)
_NO_QUIET_HOURS = re.compile(
    r"\b(?:(?:remove|clear|delete|drop|cancel|turn off|switch off|get rid of) (?:my |the |all )?"
    r"quiet hours|no (?:more )?quiet hours|(?:don'?t|do not) need (?:any )?quiet hours)\b",
    re.IGNORECASE,
)
_ANY_TIME = re.compile(
    r"\b(?:any ?time(?: is (?:fine|ok|okay|good))?|whenever(?: you like)?|no quiet hours"
    r"|at any hour|day or night|24/7|any time of (?:the )?day)\b",
    re.IGNORECASE,
)
_QUIET_WORDS = re.compile(
    r"\b(?:quiet hours?|do not disturb|dnd"
    r"|no (?:messages?|notifications?|contact|calls?|pings?|texts?|emails?|updates?)"
    r"|(?:don'?t|do not|never|please don'?t) (?:message|contact|text|ping|disturb|bother|write"
    r"|notify|reach|call|send)|not (?:after|before|between|from)|nothing (?:after|before|between)"
    r"|no later than|no earlier than|(?:i'm|i am) asleep|i sleep)\b",
    re.IGNORECASE,
)
_QUIET_BETWEEN = re.compile(
    r"\b(?:between|from|(?:quiet hours?|do not disturb|dnd)(?: are| is|:| to| at)?(?: from)?)\s+"
    + T1
    + _RANGE_JOIN
    + T2,
    re.IGNORECASE,
)
_QUIET_AFTER = re.compile(r"\b(?:after|past|later than|from)\s+" + T1, re.IGNORECASE)
_QUIET_BEFORE = re.compile(r"\b(?:before|earlier than|until|till)\s+" + T1, re.IGNORECASE)
_AT_NIGHT = re.compile(
    r"\b(?:at night|in the night|overnight|late at night|in the evenings?)\b",
    re.IGNORECASE,
)
# A time they welcome: "best time to reach me is 9 to 5", "only between 8am and 6pm".
_WINDOW_WORDS = re.compile(
    r"\b(?:best time|good time|best hours|available|only (?:between|from|during)|reach me"
    r"|contact me|message me|ping me|text me|write to me|call me|i'm around|i am around"
    r"|working hours|office hours)\b",
    re.IGNORECASE,
)
_WINDOW = re.compile(r"\b" + T1 + _RANGE_JOIN + T2 + r"\b", re.IGNORECASE)
_WORKING_HOURS = re.compile(r"\b(?:during )?(?:working|office|business) hours\b", re.IGNORECASE)


@dataclass(frozen=True)
class Understood:
    """What a message asked to change (``changes``: a field → value, ``None`` clears it)."""

    changes: dict[str, str | None] = field(default_factory=dict)
    forget: bool = False
    # A channel we have no way to message them on ("email me"): say which ones we have.
    other_channel: str | None = None

    @property
    def anything(self) -> bool:
        return bool(self.changes or self.forget or self.other_channel)


def understand(text: str, current: Preferences | None = None, here: str = "socketio") -> Understood:
    """The preference changes ``text`` states, given what is ``current``ly kept.

    Reads several in one message ("call me Sam and no messages after 9pm"); returns an
    empty ``Understood`` when nothing in it is a preference we keep. ``here`` is the channel
    of this conversation, the one "contact me here" names.
    """
    current = current or Preferences()
    text = " ".join((text or "").split())
    if not text:
        return Understood()
    if _FORGET.search(text):
        return Understood(forget=True)
    changes: dict[str, str | None] = {}

    quiet = _quiet_hours(text, current)
    if quiet is not None:
        changes["quiet_from"], changes["quiet_until"] = quiet

    formality = _formality(text)
    if formality:
        changes["formality"] = formality

    name, dropped = _names(text)
    if name:
        changes["name"] = name
        if _is_formal(name) and not formality:
            changes["formality"] = "formal"
    elif dropped:
        changes["name"] = None

    channel, other_channel = _channel(text, named=bool(name), here=here)
    if channel:
        changes["channel"] = channel
    # "please be formal" after "call me Sam" (or first name after "Ms Okafor"): the stated
    # name would overrule the new formality, so it goes.
    if (
        "formality" in changes
        and "name" not in changes
        and current.name
        and _is_formal(current.name) != (changes["formality"] == "formal")
    ):
        changes["name"] = None
    return Understood(changes, other_channel=None if channel else other_channel)


def from_button(value: str | None) -> Understood | None:
    """The change a preference button asks for (``channel:slack``, ``quiet:none``,
    ``formality:formal``, ``forget``); ``None`` when ``value`` is not one."""
    if not value:
        return None
    key, _, wanted = value.strip().partition(":")
    if key == "forget":
        return Understood(forget=True)
    if key == "quiet" and wanted == "none":
        return Understood({"quiet_from": None, "quiet_until": None})
    if key in ("channel", "formality") and wanted:
        return Understood({key: wanted})
    return None


def _names(text: str) -> tuple[str | None, bool]:
    """(the name they ask to be called, whether they asked us to stop using one)."""
    wanted, dropped = None, False
    for lead in _NAME_LEAD.finditer(text):
        name = _name(text[lead.end() :])
        if name is None:
            continue
        if _NAME_NEGATED.search(text[: lead.start()]):
            dropped = True  # "don't call me Samuel", "stop calling me Sam"
        elif wanted is None:
            wanted = name
    return wanted, dropped


def _name(raw: str) -> str | None:
    """The name at the start of ``raw``, as the customer would like it written."""
    end = _NAME_END.search(raw)
    words = []
    for word in raw[: end.start() if end else len(raw)].split()[:4]:
        if word.endswith(".") and word.lower().rstrip(".") not in TITLES:
            words.append(word.rstrip("."))  # the end of a sentence, not "Dr."
            break
        words.append(word)
    if not words or words[0].lower().strip(".") in _NOT_A_NAME:
        return None
    if not all(_NAME_WORD.match(w) for w in words):
        return None  # "call me 555-0199", "call me :)"
    if len(words) > 1 and words[-1].lower() in _NOT_A_NAME:
        return None
    # Kept as written when they chose capitals ("DJ", "McKenzie"); capitalised otherwise.
    name = " ".join(w if any(c.isupper() for c in w) else w[:1].upper() + w[1:] for w in words)
    return name if len(name) <= 100 else None


def _is_formal(name: str) -> bool:
    return name.split()[0].lower().rstrip(".") in TITLES


def _formality(text: str) -> str | None:
    # "no need to be formal" contains "be formal": the informal reading is checked first.
    if _FIRST_NAME.search(text):
        return "first_name"
    if _FORMAL.search(text):
        return "formal"
    return None


def _channel(
    text: str, named: bool = False, here: str = "socketio"
) -> tuple[str | None, str | None]:
    """(a channel we can use, or another channel they asked for) in ``text``.

    ``named``: the message states a name, so its "call me" is not a phone request.
    """
    negated = _NOT_SLACK.search(text)
    if _SLACK.search(text) and not negated:
        return "slack", None
    wanted = _CHANNEL_CONTEXT.search(text) or len(text.split()) <= 4
    if _WEBSITE.search(text) and wanted:
        return "socketio", None
    if _HERE.search(text) and wanted and not negated:
        # REST integrations can't be messaged later: "here" is the website chat then.
        return (here if here in CHANNEL_LABELS else "socketio"), None
    if negated and _CHANNEL_CONTEXT.search(text):
        return "socketio", None  # "not on Slack": the website chat is the other one
    for label, (noun, verb) in OTHER_CHANNELS.items():
        if label == "phone" and named:
            continue  # "call me Sam" is a name, not a phone call
        lead = r"\b(?:by|via|over|through|on|prefer|use|send|an?)\s+(?:" + noun + r")\b"
        asked = re.search(lead, text, re.IGNORECASE) or re.search(
            r"\b(?:" + verb + r") me\b", text, re.IGNORECASE
        )
        if asked and not _NAME_NEGATED.search(text[: asked.start()]):
            return None, label  # "email me"; "don't text me" is about quiet hours
    return None, None


def _quiet_hours(text: str, current: Preferences) -> tuple[str | None, str | None] | None:
    """(quiet_from, quiet_until) stated in ``text``; (None, None) clears them."""
    if _NO_QUIET_HOURS.search(text) or (_ANY_TIME.search(text) and not _QUIET_WORDS.search(text)):
        return None, None
    if _QUIET_WORDS.search(text):
        match = _QUIET_BETWEEN.search(text)
        start, end = _clock(match, "a", "quiet_start"), _clock(match, "b", "quiet_end")
        if start and end:
            return start, end
        after = _QUIET_AFTER.search(text)
        before = _QUIET_BEFORE.search(text)
        if after or before:
            start = _clock(after, "a", "quiet_start") if after else None
            end = _clock(before, "a", "quiet_end") if before else None
            return (
                start or current.quiet_from or DEFAULT_QUIET_FROM,
                end or current.quiet_until or DEFAULT_QUIET_UNTIL,
            )
        if _AT_NIGHT.search(text):
            return (current.quiet_from or DEFAULT_QUIET_FROM), (
                current.quiet_until or DEFAULT_QUIET_UNTIL
            )
    if _WINDOW_WORDS.search(text) or re.search(r"\b(?:only|between)\b", text, re.IGNORECASE):
        if _WORKING_HOURS.search(text) and not _WINDOW.search(text):
            return "17:00", "09:00"  # "during working hours": quiet outside 9 to 5
        match = _WINDOW.search(text)
        if match and _has_time_words(match):
            start = _clock(match, "a", "window_start")
            end = _clock(match, "b", "window_end", after=start)
            if start and end and start != end:
                return end, start  # quiet from when the window closes until it opens
    return None


def _has_time_words(match: re.Match[str]) -> bool:
    """Whether a "9 to 5" looks like times, not "1 to 2 orders" (hours 0-24)."""
    return all(
        match.group(f"{p}word") or (match.group(f"{p}h") and int(match.group(f"{p}h")) <= 24)
        for p in "ab"
    )


def _clock(match: re.Match[str] | None, p: str, role: str, after: str | None = None) -> str | None:
    """The time group ``p`` of ``match`` as "HH:MM", reading a bare hour by its ``role``.

    A bare "9" starting quiet hours is 21:00, ending them 09:00; a contact window's start
    ("9 to 5") is a daytime hour, and its end the first such hour ``after`` the start.
    """
    if match is None:
        return None
    word = match.group(f"{p}word")
    if word:
        return "00:00" if word.lower() == "midnight" else "12:00"
    if not match.group(f"{p}h"):
        return None
    hour, minute = int(match.group(f"{p}h")), int(match.group(f"{p}m") or 0)
    meridiem = (match.group(f"{p}mer") or "").lower().replace(".", "").replace(" ", "")
    if hour > 24 or (meridiem and not 1 <= hour <= 12):
        return None
    if meridiem == "am":
        hour = 0 if hour == 12 else hour
    elif meridiem == "pm":
        hour = 12 if hour == 12 else hour + 12
    elif hour <= 12 and not match.group(f"{p}h").startswith("0"):
        # "9" or "9:30" with no am/pm: read by its role; "07:30" is already 24-hour.
        hour = _bare_hour(hour, role, after)
    return f"{hour % 24:02d}:{minute:02d}"


def _bare_hour(hour: int, role: str, after: str | None) -> int:
    if role == "quiet_start":
        return 0 if hour == 12 else hour + 12  # quiet hours start in the evening
    if role == "quiet_end":
        return hour % 12 if hour != 12 else 12  # ...and end in the morning
    if role == "window_start":
        return hour if 6 <= hour <= 12 else hour + 12  # "2 to 4" is the afternoon
    start = int(after.split(":")[0]) if after else 0
    return hour if hour > start else hour + 12  # "9 to 5" ends at 17:00
