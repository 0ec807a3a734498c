"""The company's systems of record (orders, shipments, invoices, payments, subscriptions).

The assistant only sees them through the ``BackOffice`` interface, so a deployment can plug
its own order and billing systems in (``HttpBackOffice``) in place of the embedded demo
(``SqlBackOffice`` seeded from ``fixture.yml``).
"""

from bot.backoffice.base import BackOffice, NotFound
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

__all__ = [
    "BackOffice",
    "Customer",
    "Invoice",
    "NotFound",
    "Order",
    "Payment",
    "Plan",
    "Refund",
    "ReturnLabel",
    "Subscription",
]
