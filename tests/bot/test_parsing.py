from datetime import date

import pytest

from bot.support.parsing import (
    day_text,
    money,
    normalize_invoice_id,
    normalize_order_id,
    parse_amount,
    parse_date,
)

TODAY = date(2025, 3, 12)  # a Wednesday


@pytest.mark.parametrize(
    "raw, expected",
    [
        ("ORD-10042", "ORD-10042"),
        ("ord10042", "ORD-10042"),
        ("order #10042", "ORD-10042"),
        ("#10042", "ORD-10042"),
        ("10042", "ORD-10042"),
        ("order number: 10042", "ORD-10042"),
        ("no digits", None),
        ("", None),
        (None, None),
    ],
)
def test_order_numbers_are_read_in_every_format(raw, expected):
    assert normalize_order_id(raw) == expected


def test_invoice_numbers_are_normalised():
    assert normalize_invoice_id("inv50017") == "INV-50017"
    assert normalize_invoice_id("invoice 50017") == "INV-50017"


@pytest.mark.parametrize(
    "text, expected",
    [
        ("tomorrow", date(2025, 3, 13)),
        ("friday", date(2025, 3, 14)),
        ("next Monday", date(2025, 3, 17)),
        ("March 20th", date(2025, 3, 20)),
        ("3 April", date(2025, 4, 3)),
        ("20/03", date(2025, 3, 20)),
        ("2025-04-01", date(2025, 4, 1)),
        ("March 1st", date(2026, 3, 1)),
        ("whenever", None),
        ("", None),
    ],
)
def test_dates_customers_type(text, expected):
    assert parse_date(text, TODAY) == expected


def test_amounts_and_money():
    assert parse_amount("$49.99") == 49.99
    assert parse_amount("20 dollars") == 20.0
    assert parse_amount("€12,50") == 12.5
    assert parse_amount(None) is None
    assert money(1234.5) == "$1,234.50"


def test_day_text():
    assert day_text(TODAY, TODAY) == "today"
    assert day_text(date(2025, 3, 13), TODAY) == "tomorrow"
    assert day_text(date(2025, 3, 11), TODAY) == "yesterday"
    assert day_text(date(2025, 3, 20), TODAY) == "Thursday 20 March"
