"""Personal data out of what staff read: emails, phone numbers and card numbers redacted.

``redact(text)`` replaces each email address with ``[email]``, each phone number with
``[phone]`` and each card number (13-19 digits, passing the Luhn check) with ``[card]``.
It runs on the touchpoint's customer text and the handoff packet before they are stored
(bot/journey/store.py, bot/handoff/handoffs.py), on CX exports (bot/analytics/), and on every log
record of our processes (``install_log_redaction``). A customer's own export
(``python -m bot export``) is not redacted: it is theirs.

How it finds them: a blank English spaCy tokenizer and a ``Matcher`` pick the candidates
(tokens holding an ``@``; runs of number-like tokens such as ``+44``, ``(555)``, ``123-4567``)
and the words just before them; plain checks then decide. A run is a card when its digits
pass the Luhn check, a phone when its shape is one (an international prefix, an area code
in parentheses, a national number starting with 0, the North American 3-3-4 groups, or a
bare number right after "call", "phone", "mobile"...). Order numbers (ORD-10042, #10042),
invoices (INV-50004), dates, times, prices and tracking numbers don't have those shapes;
after "order", "invoice", "tracking"... (or right after a code holding digits) a number is
only redacted when it is a card, an international number or one with an area code in
brackets. Redaction repeats until nothing more is found, so redacting twice changes
nothing. Recall and precision are measured on tests/bot/data/pii_labelled.yml by
tests/bot/test_redaction.py.

Nothing is built at import time: the tokenizer and matcher are made on first use and kept.
"""

from __future__ import annotations

import logging
import re
import sys
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

PLACEHOLDERS = {"email": "[email]", "phone": "[phone]", "card": "[card]"}
KINDS = tuple(PLACEHOLDERS)

# Cheap pre-checks: most messages and log lines hold neither an "@" nor seven digits close
# together, and then spaCy is not needed at all (this runs on every turn and log record).
_SEVEN_DIGITS = re.compile(r"\d(?:[\s().+\-]{0,3}\d){6}")
_EMAIL = re.compile(r"\w(?:[\w.%+'\-]*[\w%+\-])?@(?:\w(?:[\w\-]*\w)?\.)+[A-Za-z]{2,}")
# A token that may be part of a phone or card number: digits with an optional leading + or
# ( and inner separators (and a glued label: "card:4111..."), or a lone separator.
_NUMBERISH = r"^(?:(?:[A-Za-z]+[:#=])?[+(]?\d[\d\-.()]*|[()\-.+])$"
_CHUNK = re.compile(r"\S+")
_LEADING_JUNK = re.compile(r"[^\d+(]+")  # used with .match(text, pos): anchored there
_TRAILING_JUNK = re.compile(r"[^\d)]+$")
_CARD_SHAPE = re.compile(r"^\d+(?:[ \-]\d+)*$")
_NANP = re.compile(r"^(?:\+?1[\s.\-]?)?(?:\(\d{3}\)\s?|\d{3}[\s.\-])\d{3}[\s.\-]\d{4}$")
_LOCAL_7 = re.compile(r"^\d{3}[\s\-.]\d{4}$")
_PHONE_CHARS = re.compile(r"^[\d\s().\-+]+$")
_PAREN_AREA = re.compile(r"\(\s*\d{1,5}\s*\)")
_MAX_CHUNKS = 8  # a window longer than this is neither (a card is 4-5 groups, a phone <= 7)
_CONTEXT_TOKENS = 4  # words before a number that say what it is
_MAX_PASSES = 4  # each pass removes digits or "@": a few always reach the fixed point

# Words before a number that say it is a phone number, and words that say it is not.
# (Word lists read better as words: hence split() and not a 60-line list literal.)
_PHONE_WORDS = (
    "call phone tel tel. telephone mobile cell cellphone number no no. num nr whatsapp "
    "text sms reach reached ring landline contact fax ph ph. mob mob. handy portable"
)
_NOT_PHONE_WORDS = (
    "order orders ord invoice invoices inv tracking track parcel package shipment "
    "reference ref ref. account acct customer id case ticket serial sku item product "
    "confirmation transaction txn receipt policy #"
)
PHONE_WORDS = frozenset(_PHONE_WORDS.split())
NOT_PHONE_WORDS = frozenset(_NOT_PHONE_WORDS.split())


@dataclass(frozen=True)
class Found:
    """One piece of personal data in a text: its kind and character span."""

    kind: str  # email | phone | card
    start: int
    end: int


def luhn_ok(digits: str) -> bool:
    """Whether a string of digits passes the Luhn check card numbers carry."""
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = ord(ch) - 48
        if i % 2:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


def is_card(text: str) -> bool:
    """13-19 digits in groups separated by single spaces or dashes, passing Luhn."""
    if not _CARD_SHAPE.match(text):
        return False
    digits = text.replace(" ", "").replace("-", "")
    return 13 <= len(digits) <= 19 and digits[0] != "0" and luhn_ok(digits)


def is_phone(text: str, phone_context: bool = False, other_context: bool = False) -> bool:
    """Whether ``text`` (digits and separators only) has the shape of a phone number.

    ``phone_context``: the words before it say it is one ("call me on"); ``other_context``:
    they say it is something else ("order", "tracking"), and then only unmistakable forms
    (international, or an area code in parentheses) count.
    """
    if not _PHONE_CHARS.match(text) or "\n" in text or "+" in text[1:]:
        return False
    digits = sum(ch.isdigit() for ch in text)
    chunks = text.split()
    if text.startswith("+") or (
        # 00 and a country code as its own group (0049 30 1234567), not "case 00123456"
        text.startswith("00") and len(chunks) > 1 and len(chunks[0]) <= 5 and text[2] != "0"
    ):
        return 8 <= digits <= 15
    if _PAREN_AREA.search(text):
        return 7 <= digits <= 12
    if other_context:
        return False  # "invoice no. 2024-000123": the thing named wins over "no."
    if _NANP.match(text):
        return True
    if "." in text:
        return False  # dotted numbers other than 555.123.4567 are versions, IPs, amounts
    if text.startswith("0") and 10 <= digits <= 12:
        # National numbers: 07700 900123, 020 7946 0958, 06 12 34 56 78, 0151 23456789.
        return True
    if phone_context:
        return (_LOCAL_7.match(text) is not None) or 10 <= digits <= 11
    return False


class Redactor:
    """Finds and replaces emails, phone numbers and card numbers; one per process."""

    def __init__(self) -> None:
        import spacy
        from spacy.matcher import Matcher

        # A blank tokenizer is all the patterns need: no model, loads in milliseconds.
        self._nlp = spacy.blank("en")
        self._matcher = Matcher(self._nlp.vocab)
        self._matcher.add("EMAIL", [[{"TEXT": {"REGEX": "@"}}]])
        self._matcher.add(
            "NUMBER", [[{"TEXT": {"REGEX": _NUMBERISH}, "OP": "+"}]], greedy="LONGEST"
        )

    def find(self, text: str) -> list[Found]:
        """Every email, phone and card number in ``text``, in order, not overlapping."""
        if not text or ("@" not in text and not _SEVEN_DIGITS.search(text)):
            return []
        doc = self._nlp.make_doc(text)
        found: list[Found] = []
        emails = self._nlp.vocab.strings["EMAIL"]
        for match_id, start, end in self._matcher(doc):
            if match_id == emails:
                token = doc[start]
                for m in _EMAIL.finditer(token.text):
                    found.append(Found("email", token.idx + m.start(), token.idx + m.end()))
                continue
            before = {t.lower_ for t in doc[max(0, start - _CONTEXT_TOKENS) : start]}
            # Right after a code with digits ("1Z 999 AA1 01 2345 6784"), the run is the
            # rest of that code, whatever word came before it.
            glued = start > 0 and any(ch.isdigit() for ch in doc[start - 1].text)
            span = doc[start:end]
            found.extend(
                _numbers(
                    text,
                    span.start_char,
                    span.end_char,
                    phone_context=not before.isdisjoint(PHONE_WORDS),
                    other_context=glued or not before.isdisjoint(NOT_PHONE_WORDS),
                )
            )
        found.sort(key=lambda f: f.start)
        kept: list[Found] = []
        for f in found:
            if not kept or f.start >= kept[-1].end:
                kept.append(f)
        return kept

    def redact(self, text: str) -> str:
        """``text`` with each email, phone and card number replaced by its placeholder.

        Repeated until nothing more is found (a second pass is rare and cheap): what is
        left around a placeholder can read differently, and redacting a redacted text must
        change nothing.
        """
        for _ in range(_MAX_PASSES):
            found = self.find(text)
            if not found:
                break
            out, at = [], 0
            for f in found:
                out.append(text[at : f.start])
                out.append(PLACEHOLDERS[f.kind])
                at = f.end
            out.append(text[at:])
            text = "".join(out)
        return text


def _numbers(
    text: str, start: int, end: int, phone_context: bool, other_context: bool
) -> Iterable[Found]:
    """Cards and phones in a run of number-like tokens ``text[start:end]``.

    The whole run is tried first. Otherwise only unmistakable parts are taken from it: a
    card at its start (then a CVV may follow) unless a word like "tracking" names the run,
    and international or area-code phone numbers anywhere; so a long tracking or account
    number is not partly redacted because a few of its digits look like a phone.
    """
    chunks = []
    for m in _CHUNK.finditer(text, start, end):
        s, e = m.start(), m.end()
        lead = _LEADING_JUNK.match(text, s, e)
        if lead:
            s = lead.end()
        trail = _TRAILING_JUNK.search(text, s, e)
        if trail:
            e = trail.start()
        # A bracket that closes or opens outside the number: "(4000 ... 5556)", "0958)".
        if e > s and text[e - 1] == ")" and text.count("(", s, e) < text.count(")", s, e):
            e -= 1
        if e > s and text[s] == "(" and ")" not in text[s:e]:
            s += 1
        if s < e:
            chunks.append((s, e))
    yield from _scan(text, chunks, phone_context, other_context)


def _scan(
    text: str, chunks: list[tuple[int, int]], phone_context: bool, other_context: bool
) -> Iterable[Found]:
    if not chunks:
        return
    whole = text[chunks[0][0] : chunks[-1][1]]
    if is_card(whole):
        yield Found("card", chunks[0][0], chunks[-1][1])
        return
    if is_phone(whole, phone_context, other_context):
        yield Found("phone", chunks[0][0], chunks[-1][1])
        return
    for i in range(len(chunks)):
        for j in range(min(len(chunks), i + _MAX_CHUNKS) - 1, i - 1, -1):
            if i == 0 and j == len(chunks) - 1:
                continue  # the whole run, tried above
            s, e = chunks[i][0], chunks[j][1]
            piece = text[s:e]
            if i == 0 and not other_context and is_card(piece):
                kind = "card"
            elif piece[0] in "+(" and is_phone(piece):
                kind = "phone"
            else:
                continue
            yield Found(kind, s, e)
            # What follows is a run of its own now ("[card] 0161 496 0000").
            yield from _scan(text, chunks[j + 1 :], False, False)
            return


@lru_cache(maxsize=1)
def redactor() -> Redactor:
    """The process's redactor, built on first use (spaCy loads then, not at import)."""
    return Redactor()


def keep_tensorflow_out() -> None:
    """Let a process that runs no model (the hub, the dispatcher) import spaCy quickly.

    spaCy's thinc imports TensorFlow whenever it is installed, as it is beside Rasa: 3-17 s
    and hundreds of MB for the redactor's tokenizer, which never uses it. A ``None`` entry in
    ``sys.modules`` makes that optional import fail at once, as if TensorFlow were absent.
    Call it before anything imports spaCy; it does nothing if TensorFlow is already loaded.
    """
    sys.modules.setdefault("tensorflow", None)  # type: ignore[arg-type]


def redact(text: str) -> str:
    """``text`` with emails, phone numbers and card numbers replaced by placeholders.

    Short texts are cached: a conversation's earlier messages are redacted again on every
    turn. Long ones (log records of whole trackers) are not, so the cache stays small.
    """
    if len(text) > _CACHED_CHARS:
        return redactor().redact(text)
    return _redact_cached(text)


_CACHED_CHARS = 2000


@lru_cache(maxsize=8192)
def _redact_cached(text: str) -> str:
    return redactor().redact(text)


def find_pii(text: str) -> list[Found]:
    """Every email, phone number and card number in ``text``, in order."""
    return redactor().find(text)


def redact_data(value: Any, keep: Iterable[str] = ()) -> Any:
    """A copy of JSON-like ``value`` with every string redacted, except under keys in ``keep``.

    For a handoff's context packet: the free text (what the customer said, the transcript,
    notes) is redacted; the customer record the department replies to is kept.
    """
    keep = frozenset(keep)
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, Mapping):
        return {k: v if k in keep else redact_data(v, keep) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [redact_data(v, keep) for v in value]
    return value


# -- logs ------------------------------------------------------------------------------------
class RedactingFilter(logging.Filter):
    """A logging filter that redacts personal data from each record before it is written.

    The message is formatted once with its arguments and redacted; exception and stack
    text too, and the string fields Sanic's access log adds (``request``, ``host``).
    """

    EXTRA_FIELDS = ("request", "host")

    def filter(self, record: logging.LogRecord) -> bool:
        """Redact ``record`` in place; never drops it."""
        redact_record(record)
        return True


_local = threading.local()


def redact_record(record: logging.LogRecord) -> logging.LogRecord:
    """Redact a log record's message, exception text and access-log fields in place."""
    if getattr(_local, "busy", False):
        # Logged while redacting (spaCy's first import logs): nothing a customer typed.
        return record
    _local.busy = True
    try:
        _redact_record(record)
    except Exception:  # logging must go on; withhold what could not be checked
        record.msg, record.args, record.exc_info, record.exc_text = WITHHELD, None, None, None
    finally:
        _local.busy = False
    return record


WITHHELD = "[log message withheld: it could not be redacted]"


def _redact_record(record: logging.LogRecord) -> None:
    message = record.getMessage()  # a bad format string raises: the message is withheld
    cleaned = redact(message)
    if cleaned != message:
        record.msg, record.args = cleaned, None
    if record.exc_info and not record.exc_text:
        record.exc_text = logging.Formatter().formatException(record.exc_info)
    if record.exc_text:
        record.exc_text = redact(record.exc_text)
    if record.stack_info:
        record.stack_info = redact(record.stack_info)
    for name in RedactingFilter.EXTRA_FIELDS:
        value = getattr(record, name, None)
        if isinstance(value, str):
            setattr(record, name, redact(value))


_installed = False


def install_log_redaction(loggers: Iterable[str] = ("sanic.access",)) -> None:
    """Redact every log record this process writes from now on; safe to call twice.

    A record factory redacts each record as it is made, whatever logger or handler it
    goes to (handlers Rasa or Sanic add later included); the filter on ``loggers`` covers
    fields added after the factory ran (Sanic's access log ``extra``). The redactor is
    built on the first record that needs it, not here: importing spaCy takes seconds, and
    doing it in the background slows a starting server's first answers instead.
    """
    global _installed
    if _installed:
        return
    _installed = True
    make_record = logging.getLogRecordFactory()

    def redacting_factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        return redact_record(make_record(*args, **kwargs))

    logging.setLogRecordFactory(redacting_factory)
    for name in loggers:
        logger = logging.getLogger(name)
        if not any(isinstance(f, RedactingFilter) for f in logger.filters):
            logger.addFilter(RedactingFilter())
