"""Read identifiers, dates and amounts the way customers type them."""

from __future__ import annotations

import re
from datetime import date, timedelta

_ORDER_DIGITS = re.compile(r"(\d{4,6})")
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
    """'ord10042', 'order #10042', '#10042', '10042' -> 'ORD-10042'; None if no number."""
    return _normalize(raw, "ORD")


def normalize_invoice_id(raw: str | None) -> str | None:
    """'inv50017', 'invoice 50017' -> 'INV-50017'."""
    return _normalize(raw, "INV")


def _normalize(raw: str | None, prefix: str) -> str | None:
    if not raw:
        return None
    match = _ORDER_DIGITS.search(str(raw))
    return f"{prefix}-{match.group(1)}" if match else None


def parse_date(text: str | None, today: date) -> date | None:
    """A future date from 'tomorrow', 'next friday', 'March 3rd', '3 March', '12/03' (day/month), ISO."""
    if not text:
        return None
    t = text.strip().lower()
    if "today" in t:
        return today
    if "tomorrow" in t:
        return today + timedelta(days=1)
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
    for i, name in enumerate(_WEEKDAYS):
        if name in t or re.search(rf"\b{name[:3]}\b", t):
            ahead = (i - today.weekday()) % 7 or 7
            if "next" in t and ahead < 7 and (i - today.weekday()) % 7 != 0 and "next week" in t:
                ahead += 7
            return today + timedelta(days=ahead)
    day_match = re.search(r"\b(\d{1,2})(?:st|nd|rd|th)?\b", t)
    for name, month in _MONTHS.items():
        if re.search(rf"\b{name}\b", t) and day_match:
            return _roll_forward(_safe_date(today.year, month, int(day_match.group(1))), today)
    if "next week" in t:
        return today + timedelta(days=7)
    return None


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
