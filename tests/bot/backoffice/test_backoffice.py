from datetime import date, timedelta

import pytest

from bot.backoffice import NotFound
from tests.conftest import TODAY


def test_customers_are_found_by_email_and_slack_user(backoffice):
    assert backoffice.customer_by_email("  Jane.Doe@Example.com ").id == "C001"
    assert backoffice.customer_by_slack_user("U0JANE").name == "Jane Doe"
    assert backoffice.customer_by_email("nobody@example.com") is None
    with pytest.raises(NotFound):
        backoffice.customer("C999")


def test_fixture_dates_are_relative_to_the_seed_day(backoffice):
    late = backoffice.order("ORD-10002")
    assert late.expected_delivery == TODAY - timedelta(days=3)
    assert late.is_late(TODAY)
    assert not backoffice.order("ORD-10001").is_late(TODAY)
    assert [o.id for o in backoffice.orders_of("C001")] == ["ORD-10001", "ORD-10003", "ORD-10002"]


def test_address_and_date_change_only_before_dispatch(backoffice):
    changed = backoffice.change_address("ORD-10004", "1 New Street, Portsmouth")
    assert changed.address == "1 New Street, Portsmouth"
    assert backoffice.order("ORD-10004").address == "1 New Street, Portsmouth"
    assert backoffice.change_delivery_date(
        "ORD-10004", date(2025, 3, 20)
    ).expected_delivery == date(2025, 3, 20)
    with pytest.raises(ValueError, match="already been dispatched"):
        backoffice.change_address("ORD-10001", "elsewhere 1")


def test_refunds_are_requested_once(backoffice):
    first = backoffice.request_refund("ORD-10003", 45.0)
    again = backoffice.request_refund("ORD-10003", 45.0)
    assert first.id == again.id and first.status == "requested"
    assert [r.order_id for r in backoffice.refunds_of("C001")] == ["ORD-10003"]


def test_return_labels_are_created_once(backoffice):
    label = backoffice.create_return_label("ORD-10003")
    assert label.label_url.endswith("ORD-10003.pdf")
    assert backoffice.create_return_label("ORD-10003") == label
    with pytest.raises(NotFound):
        backoffice.create_return_label("ORD-99999")


def test_billing_records(backoffice):
    assert {p.id for p in backoffice.payments_of("C002")} == {"PAY-3", "PAY-4"}
    assert backoffice.invoice("INV-50006").lines[1] == (
        "Business plan, 1 extra seat added mid-cycle",
        79.0,
    )
    assert backoffice.subscription_of("C005").early_cancel_fee == 150.0
    assert backoffice.subscription_of("C004") is None
    assert [p.name for p in backoffice.plans()] == ["Starter", "Pro", "Business"]


def test_http_contract_errors(store):
    """404 is NotFound, 409 is a refused change, whatever sits behind the contract."""
    _, backoffice = store
    with pytest.raises(NotFound):
        backoffice.order("ORD-00000")
    with pytest.raises(ValueError, match="dispatched"):
        backoffice.change_delivery_date("ORD-10001", date(2025, 3, 20))
    assert backoffice.subscription_of("C004") is None
