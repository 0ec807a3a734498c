"""The interface the assistant uses to read and change the company's records."""

from __future__ import annotations

from datetime import date
from typing import Protocol

from bot.backoffice.model import (
    Customer,
    Invoice,
    Order,
    Payment,
    Plan,
    Refund,
    ReturnLabel,
    Subscription,
)


class NotFound(LookupError):
    """The record asked for does not exist (or does not belong to this customer)."""


class BackOffice(Protocol):
    """Orders, billing and subscriptions, as the assistant needs them."""

    # Customers
    def customer(self, customer_id: str) -> Customer: ...
    def customer_by_email(self, email: str) -> Customer | None: ...
    def customer_by_slack_user(self, slack_user_id: str) -> Customer | None: ...

    # Orders and delivery
    def order(self, order_id: str) -> Order: ...
    def orders_of(self, customer_id: str) -> list[Order]: ...
    def change_address(self, order_id: str, address: str) -> Order: ...
    def change_delivery_date(self, order_id: str, new_date: date) -> Order: ...
    def create_return_label(self, order_id: str) -> ReturnLabel: ...
    def return_label_of(self, order_id: str) -> ReturnLabel | None: ...
    def cancel_order(self, order_id: str) -> Order: ...

    # Billing
    def invoices_of(self, customer_id: str) -> list[Invoice]: ...
    def invoice(self, invoice_id: str) -> Invoice: ...
    def payments_of(self, customer_id: str) -> list[Payment]: ...
    def refunds_of(self, customer_id: str) -> list[Refund]: ...
    def request_refund(self, order_id: str, amount: float) -> Refund: ...

    # Subscriptions and sales
    def subscription_of(self, customer_id: str) -> Subscription | None: ...
    def plans(self) -> list[Plan]: ...


def order_or_none(backoffice: BackOffice, order_id: str | None) -> Order | None:
    """The order with this number, or None when there is no number or no such order."""
    if not order_id:
        return None
    try:
        return backoffice.order(order_id)
    except NotFound:
        return None


def customer_or_none(backoffice: BackOffice, customer_id: str | None) -> Customer | None:
    """The customer with this id, or None when there is no id or no such customer."""
    if not customer_id:
        return None
    try:
        return backoffice.customer(customer_id)
    except NotFound:
        return None
