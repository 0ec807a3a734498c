"""Read identifiers, dates and amounts the way customers type them."""

from __future__ import annotations

import re
from datetime import date, timedelta

# Our own numbers have 4-6 digits (ORD-10042, INV-50017); another shop's or marketplace's
# reference is longer ("order 732201349959") and is kept whole, never cut to its first digits.
_ORDER_DIGITS = re.compile(r"(?<!\d)(\d{4,6})(?!\d)")
_OTHER_REFERENCE = re.compile(r"(?<!\d)(\d{7,20})(?!\d)")
_WEEKDAYS = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]
_MONTHS = {
    name: i + 1
    for i, names in enumerate(
        [
            ("january", "jan"),
            ("february", "feb"),
            ("march", "mar"),
            ("april", "apr"),
            ("may",),
            ("june", "jun"),
            ("july", "jul"),
            ("august", "aug"),
            ("september", "sep", "sept"),
            ("october", "oct"),
            ("november", "nov"),
            ("december", "dec"),
        ]
    )
    for name in names
}


def normalize_order_id(raw: str | None) -> str | None:
    """'ord10042', 'order #10042', '#10042', '10042' -> 'ORD-10042'; 'order 732201349959' ->
    '732201349959' (not one of ours: looked up, not found, said back as typed); None if no
    number."""
    return _normalize(raw, "ORD")


def normalize_invoice_id(raw: str | None) -> str | None:
    """'inv50017', 'invoice 50017' -> 'INV-50017'."""
    return _normalize(raw, "INV")


def _normalize(raw: str | None, prefix: str) -> str | None:
    if not raw:
        return None
    match = _ORDER_DIGITS.search(str(raw))
    if match:
        return f"{prefix}-{match.group(1)}"
    other = _OTHER_REFERENCE.search(str(raw))
    return other.group(1) if other else None


_NUMBER_WORDS = {
    "a": 1, "an": 1, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6,
    "seven": 7, "eight": 8, "nine": 9, "ten": 10, "eleven": 11, "twelve": 12,
    "thirteen": 13, "fourteen": 14, "fifteen": 15, "twenty": 20, "thirty": 30,
}  # fmt: skip
_COUNT = rf"(\d{{1,3}}|{'|'.join(_NUMBER_WORDS)})"
# "in ten days", "2 weeks from today", "in a week's time", "ten days from now"
_RELATIVE = re.compile(
    rf"\bin\s+{_COUNT}\s+(day|week)s?(?:'s?)?\b|\b{_COUNT}\s+(day|week)s?(?:'s?)?\s+(?:from\s+(?:now|today)|time)\b"
)
_WEEKDAY_SHORT = {"mon": 0, "tue": 1, "tues": 1, "wed": 2, "thu": 3, "thur": 3, "thurs": 3,
                  "fri": 4, "sat": 5, "sun": 6}  # fmt: skip
# "the 16th", "on the 3rd": a day of this month (or the next, once it has passed).
_DAY_OF_MONTH = re.compile(r"\b(?:the\s+)?(\d{1,2})(?:st|nd|rd|th)\b|\bthe\s+(\d{1,2})\b")


def parse_date(text: str | None, today: date) -> date | None:
    """The date a customer means, relative to ``today``: 'tomorrow', 'in ten days', 'next
    friday', 'Sunday', 'the 16th', 'March 3rd', '3 March', '12/03' (day/month), ISO.

    A date in the past ('yesterday', '2020-01-01') is returned as it is: whether the past
    will do is the caller's decision (a new delivery date must be in the future)."""
    if not text:
        return None
    t = text.strip().lower()
    m = _RELATIVE.search(t)
    if m:
        count, unit = (m.group(1), m.group(2)) if m.group(1) else (m.group(3), m.group(4))
        n = int(count) if count.isdigit() else _NUMBER_WORDS[count]
        return today + timedelta(days=n * (7 if unit == "week" else 1))
    if "day after tomorrow" in t:
        return today + timedelta(days=2)
    if re.search(r"\byesterday\b", t):
        return today - timedelta(days=1)
    if re.search(r"\btomorrow\b", t):
        return today + timedelta(days=1)
    if re.search(r"\b(today|tonight)\b", t):
        return today
    m = re.search(r"(\d{4})-(\d{2})-(\d{2})", t)
    if m:
        return _safe_date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
    m = re.search(r"\b(\d{1,2})/(\d{1,2})(?:/(\d{2,4}))?\b", t)
    if m:  # day/month, the international reading
        year = int(m.group(3)) if m.group(3) else today.year
        year = year + 2000 if year < 100 else year
        return _roll_forward(
            _safe_date(year, int(m.group(2)), int(m.group(1))),
            today,
            explicit_year=bool(m.group(3)),
        )
    day_match = re.search(r"\b(\d{1,2})(?:st|nd|rd|th)?\b", t)
    for name, month in _MONTHS.items():
        if re.search(rf"\b{name}\b", t) and day_match:
            return _roll_forward(_safe_date(today.year, month, int(day_match.group(1))), today)
    weekday = _weekday_in(t)
    if weekday is not None:
        ahead = (weekday - today.weekday()) % 7 or 7
        if "next week" in t or re.search(r"\bweek (on|next)\b", t):
            ahead += 7 if ahead < 7 else 0
        return today + timedelta(days=ahead)
    m = _DAY_OF_MONTH.search(t)
    if m:
        day = int(m.group(1) or m.group(2))
        this_month = _safe_date(today.year, today.month, day)
        if this_month is not None and this_month > today:
            return this_month
        year, month = (today.year + 1, 1) if today.month == 12 else (today.year, today.month + 1)
        return _safe_date(year, month, day)
    if "next week" in t:
        return today + timedelta(days=7)
    return None


def _weekday_in(t: str) -> int | None:
    """Monday=0 ... Sunday=6 for a weekday named in ``t`` ('sunday', 'Tues', 'fri')."""
    for i, name in enumerate(_WEEKDAYS):
        if re.search(rf"\b{name}s?\b", t):
            return i
    for short, i in _WEEKDAY_SHORT.items():
        if re.search(rf"\b{short}\b\.?", t):
            return i
    return None


# Street addresses as customers type them: "22 Marine Parade, Brighton BN2 1TL",
# "Flat 2, 14 Elm Street, Springfield", "21 Calle Mayor, Madrid".
_STREET_WORDS = (
    "street|st|road|rd|lane|ln|avenue|ave|drive|dr|way|close|court|ct|place|pl|square|sq|"
    "parade|terrace|crescent|gardens|grove|hill|row|walk|mews|boulevard|blvd|park|green|"
    "quay|wharf|yard|rise|view|market"
)
_STREET = re.compile(
    rf"\b(?:(?:flat|apt|apartment|unit)\s+\w+,?\s+)?\d{{1,5}}[a-z]?,?\s+"
    rf"(?:[a-z][\w'.-]*\s+){{0,4}}(?:{_STREET_WORDS})\b\.?"
    rf"|\b\d{{1,5}}[a-z]?,?\s+(?:calle|rue|via|avenida|rua)\s+[\w'. -]+?(?=,|$)",
    re.IGNORECASE,
)
_POSTCODE = re.compile(
    r"\b[A-Z]{1,2}\d[A-Z\d]?\s*\d[A-Z]{2}\b|\b\d{5}(?:-\d{4})?\b|\b\d{4,5}\b", re.IGNORECASE
)
# No street word we know ("12 Highland Raod, Southsea PO4 9DA"): a house number, a few
# words and a UK postcode in the same clause.
_NUMBER_TO_POSTCODE = re.compile(
    r"\b\d{1,5}[a-z]?,?\s+(?:[a-z][\w'.-]*,?\s+){1,5}[A-Z]{1,2}\d[A-Z\d]?\s*\d[A-Z]{2}\b",
    re.IGNORECASE,
)
# Words after which an address has ended: "... Brighton BN2 1TL instead, please".
_ADDRESS_END = re.compile(
    r"\s*(?:\b(?:instead|please|pls|thanks|thank you|thx|and|but|asap|from now|by|on|"
    r"for|before|email|my email|order)\b|[@!?;\n]|\.(?:\s|$)).*$",
    re.IGNORECASE | re.DOTALL,
)


def address_in(text: str | None) -> str | None:
    """The street address in ``text`` (number, street, then town and postcode if given),
    or None. "please send ORD-10004 to 22 Marine Parade, Brighton BN2 1TL instead" ->
    "22 Marine Parade, Brighton BN2 1TL"."""
    span = address_span(text)
    return re.sub(r"\s+", " ", text[span[0] : span[1]]) if text and span else None


def has_town_or_postcode(address: str) -> bool:
    """Whether an address says where, beyond the street: a postcode or a town after a comma
    ("7 Castle Road, Southsea", "21 Calle Mayor, Madrid", "5 Main St 90210")."""
    return bool(_POSTCODE.search(address)) or bool(re.search(r",\s*[A-Za-z]{3,}", address))


def address_span(text: str | None) -> tuple[int, int] | None:
    """Where in ``text`` the street address of :func:`address_in` is (start, end)."""
    if not text:
        return None
    # Order and invoice numbers look like house numbers: blanked out, offsets kept.
    cleaned = re.sub(
        r"\b(?:ord|inv|order|invoice)[-_ #]*\d+\b",
        lambda m: " " * len(m.group(0)),
        text,
        flags=re.IGNORECASE,
    )
    m = _STREET.search(cleaned) or _NUMBER_TO_POSTCODE.search(cleaned)
    if not m:
        return None
    rest = cleaned[m.end() :]
    if tail := _ADDRESS_END.search(rest):
        rest = rest[: len(rest) - len(tail.group(0))]
    # What follows up to the first comma belongs to the street ("Road North", "Brighton
    # BN2 1TL"); then up to two comma-separated parts (town, postcode), ending at a postcode.
    same_part, *parts = rest.split(",")
    end = m.end() + len(same_part)
    if not _POSTCODE.search(same_part):
        for part in parts[:2]:
            if not part.strip() or len(part.strip()) > 40:
                break
            end += 1 + len(part)
            if _POSTCODE.search(part):
                break
    start = m.start()
    # "Unit 4, Dockside Park": a flat or unit before a street without a number.
    before = re.search(
        r"\b(?:flat|apt|apartment|unit|suite)(?:\s+\w+,)?\s*$", cleaned[:start], re.IGNORECASE
    )
    if before:
        start = before.start()
    while end > start and text[end - 1] in " ,.":
        end -= 1
    return start, end


def _safe_date(year: int, month: int, day: int) -> date | None:
    try:
        return date(year, month, day)
    except ValueError:
        return None


def _roll_forward(d: date | None, today: date, explicit_year: bool = False) -> date | None:
    """A date without a year that already passed this year means next year."""
    if d is not None and d < today and not explicit_year:
        return _safe_date(d.year + 1, d.month, d.day)
    return d


def parse_amount(text: str | None) -> float | None:
    """'$49.99', '49 dollars', '€20' -> 49.99, 49.0, 20.0."""
    if not text:
        return None
    m = re.search(r"(\d+(?:[.,]\d{1,2})?)", str(text))
    return float(m.group(1).replace(",", ".")) if m else None


def money(amount: float) -> str:
    """$49.00 style, the shop's currency."""
    return f"${amount:,.2f}"


def day_text(d: date | None, today: date) -> str:
    """'today', 'tomorrow', 'yesterday' or 'Thursday 26 November'."""
    if d is None:
        return "an unknown date"
    delta = (d - today).days
    if delta == 0:
        return "today"
    if delta == 1:
        return "tomorrow"
    if delta == -1:
        return "yesterday"
    return f"{d:%A} {d.day} {d:%B}"


# "omar at example dot com", "li (at) example (dot) co (dot) uk": an email written out so
# that spam robots can't read it. Only with a domain ending the way email domains end, so
# "I'm at home dot" stays a sentence.
_WRITTEN_OUT_EMAIL = re.compile(
    r"\b([A-Za-z0-9][\w.+-]*)\s*(?:\bat\b|[(\[]at[)\]])\s*"
    r"((?:[A-Za-z0-9-]+\s*(?:\bdot\b|[(\[]dot[)\]]|\.)\s*)+"
    r"(?:com|net|org|io|co|uk|de|fr|es|it|nl|eu|info|biz|me|us|ca|au|ie|edu|gov))\b",
    re.IGNORECASE,
)
_DOT = re.compile(r"\s*(?:\bdot\b|[(\[]dot[)\]]|\.)\s*", re.IGNORECASE)


def with_emails_written_in(text: str | None) -> str | None:
    """``text`` with written-out emails ("omar at example dot com") as addresses
    ("omar@example.com"); unchanged when there are none."""
    if not isinstance(text, str) or " at " not in text.lower() and "(at)" not in text.lower():
        return text
    return _WRITTEN_OUT_EMAIL.sub(
        lambda m: f"{m.group(1)}@{_DOT.sub('.', m.group(2)).lower()}", text
    )
