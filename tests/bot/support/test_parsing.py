from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.support.parsing import (
    address_in,
    day_text,
    money,
    normalize_invoice_id,
    normalize_order_id,
    parse_amount,
    parse_date,
    with_emails_written_in,
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
        # Not one of ours: kept whole (looked up, not found, said back as typed).
        ("order 732201349959", "732201349959"),
        ("purchase #370795561790", "370795561790"),
        ("ORD-1234567", "1234567"),
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
    assert normalize_invoice_id("bill #37777") == "INV-37777"
    assert normalize_invoice_id("invoice no. 20231187") == "20231187"


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
        # relative days, as customers say them
        ("in ten days", date(2025, 3, 22)),
        ("ten days from today please", date(2025, 3, 22)),
        ("in 2 weeks", date(2025, 3, 26)),
        ("in a week's time", date(2025, 3, 19)),
        ("the day after tomorrow", date(2025, 3, 14)),
        # weekdays: the next one after today; today's own weekday means a week on
        ("Sunday works", date(2025, 3, 16)),
        ("tues would be good", date(2025, 3, 18)),
        ("wednesday", date(2025, 3, 19)),
        ("friday next week", date(2025, 3, 21)),
        ("Sat 15 March", date(2025, 3, 15)),  # the date wins over the weekday
        # a day of the month alone: this month if still ahead, else the next
        ("make it the 16th", date(2025, 3, 16)),
        ("the 3rd", date(2025, 4, 3)),
        ("on the 12th", date(2025, 4, 12)),  # today's date means next month's
        # the past is returned as it is; the caller decides whether it will do
        ("yesterday", date(2025, 3, 11)),
        ("today", TODAY),
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


def test_weekdays_on_a_month_end_and_year_end():
    assert parse_date("monday", date(2025, 12, 31)) == date(2026, 1, 5)
    assert parse_date("the 1st", date(2025, 12, 31)) == date(2026, 1, 1)
    assert parse_date("the 31st", date(2025, 1, 31)) is None  # no 31 February: ask again


@given(st.dates(min_value=date(2000, 1, 1), max_value=date(2099, 12, 1)), st.integers(0, 6))
def test_a_weekday_is_always_within_the_next_seven_days(today, weekday):
    name = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")[weekday]
    parsed = parse_date(name, today)
    assert parsed.weekday() == weekday
    assert 1 <= (parsed - today).days <= 7


@pytest.mark.parametrize(
    "text, expected",
    [
        (
            "please send ORD-10004 to 22 Marine Parade, Brighton BN2 1TL instead, omar@example.com",
            "22 Marine Parade, Brighton BN2 1TL",
        ),
        (
            "sorry typo, it's 12 Highland Road, Southsea PO4 9DA",
            "12 Highland Road, Southsea PO4 9DA",
        ),
        ("12 Highland Raod, Southsea PO4 9DA", "12 Highland Raod, Southsea PO4 9DA"),  # a typo
        (
            "the new address is 10 Victoria Road North, Southsea PO5 1PL",
            "10 Victoria Road North, Southsea PO5 1PL",
        ),
        ("Flat 2, 14 Elm Street, Springfield", "Flat 2, 14 Elm Street, Springfield"),
        ("Unit 4, Dockside Park, Portsmouth PO1 3AX", "Unit 4, Dockside Park, Portsmouth PO1 3AX"),
        ("21 Calle Mayor, Madrid", "21 Calle Mayor, Madrid"),
        ("7 Castle Road", "7 Castle Road"),
        (
            "deliver to 3 Palmerston Road, Southsea PO5 3QQ and on 15 March",
            "3 Palmerston Road, Southsea PO5 3QQ",
        ),
        # not addresses: an order number is no house number; no number, no address
        ("where is ORD-10004 road", None),
        ("I ordered 2 mugs", None),
        ("can it go to my new flat instead", None),
        ("", None),
        (None, None),
    ],
)
def test_addresses_are_found_in_what_customers_write(text, expected):
    assert address_in(text) == expected


@pytest.mark.parametrize(
    "text, expected",
    [
        ("omar at example dot com", "omar@example.com"),
        ("it's li (at) example (dot) co (dot) uk thanks", "it's li@example.co.uk thanks"),
        ("jane.doe at example.com", "jane.doe@example.com"),
        ("Omar AT Example DOT Com", "Omar@example.com"),
    ],
)
def test_an_email_written_out_is_read_as_the_address(text, expected):
    assert with_emails_written_in(text) == expected


@pytest.mark.parametrize(
    "text",
    ["I'm at home dot", "meet at 5", "we were at the shop dot com store", "", "where's my order"],
)
def test_a_sentence_with_at_in_it_is_left_alone(text):
    assert with_emails_written_in(text) == text
