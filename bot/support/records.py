"""The back office as one need served reads it: each record once, afresh after a change.

A handler and the desk around it often want the same record: the subscription a renewal
answer quotes is the one the customer's journey stage is read from, the payments that
explain a charge are listed again below it, the payment method a refund names is looked up
for the question and again for the answer. ``ReadOnce`` keeps what was read for the need
being served (bot/support/serving.py makes one per need, never shared between
conversations), and forgets all of it as soon as anything is changed, so whatever is read
after a change is the back office's new word.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any, TypeVar

from bot.backoffice import BackOffice, model

T = TypeVar("T")


class ReadOnce:
    """A ``BackOffice`` that reads each record once and forgets them all after a change."""

    def __init__(self, backoffice: BackOffice) -> None:
        self._backoffice = backoffice
        self._read: dict[tuple[str, tuple[Any, ...]], Any] = {}

    def _once(self, name: str, read: Callable[..., T], *args: Any) -> T:
        key = (name, args)
        if key not in self._read:
            self._read[key] = read(*args)  # a NotFound is raised, not kept: rare and cheap
        value: T = self._read[key]
        # A list is the caller's to filter or sort: each gets its own.
        return list(value) if isinstance(value, list) else value  # type: ignore[return-value]

    def _changed(self) -> None:
        self._read.clear()

    # Customers
    def customer(self, customer_id: str) -> model.Customer:
        return self._once("customer", self._backoffice.customer, customer_id)

    def customer_by_email(self, email: str) -> model.Customer | None:
        return self._once("customer_by_email", self._backoffice.customer_by_email, email)

    def customer_by_slack_user(self, slack_user_id: str) -> model.Customer | None:
        return self._once(
            "customer_by_slack_user", self._backoffice.customer_by_slack_user, slack_user_id
        )

    # Orders and delivery
    def order(self, order_id: str) -> model.Order:
        return self._once("order", self._backoffice.order, order_id)

    def orders_of(self, customer_id: str) -> list[model.Order]:
        return self._once("orders_of", self._backoffice.orders_of, customer_id)

    def change_address(self, order_id: str, address: str) -> model.Order:
        self._changed()
        return self._backoffice.change_address(order_id, address)

    def change_delivery_date(self, order_id: str, new_date: date) -> model.Order:
        self._changed()
        return self._backoffice.change_delivery_date(order_id, new_date)

    def create_return_label(self, order_id: str) -> model.ReturnLabel:
        self._changed()
        return self._backoffice.create_return_label(order_id)

    def return_label_of(self, order_id: str) -> model.ReturnLabel | None:
        return self._once("return_label_of", self._backoffice.return_label_of, order_id)

    def cancel_order(self, order_id: str) -> model.Order:
        self._changed()
        return self._backoffice.cancel_order(order_id)

    # Billing
    def invoices_of(self, customer_id: str) -> list[model.Invoice]:
        return self._once("invoices_of", self._backoffice.invoices_of, customer_id)

    def invoice(self, invoice_id: str) -> model.Invoice:
        return self._once("invoice", self._backoffice.invoice, invoice_id)

    def payments_of(self, customer_id: str) -> list[model.Payment]:
        return self._once("payments_of", self._backoffice.payments_of, customer_id)

    def refunds_of(self, customer_id: str) -> list[model.Refund]:
        return self._once("refunds_of", self._backoffice.refunds_of, customer_id)

    def request_refund(self, order_id: str, amount: float) -> model.Refund:
        self._changed()
        return self._backoffice.request_refund(order_id, amount)

    # Subscriptions and sales
    def subscription_of(self, customer_id: str) -> model.Subscription | None:
        return self._once("subscription_of", self._backoffice.subscription_of, customer_id)

    def plans(self) -> list[model.Plan]:
        return self._once("plans", self._backoffice.plans)
