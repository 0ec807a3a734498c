"""Where a customer is in their journey (prospect ... leaving), from their record."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import date

from bot.backoffice import BackOffice, Customer
from bot.routing import FROM_CUSTOMER, RoutingMap, stage_from_orders

# A subscriber whose plan renews within this many days is in the renewal stage.
RENEWAL_DAYS = 30
# How long a customer's journey stage is reused before the back office is asked again.
STAGE_TTL = 60.0
# More customers than this in the cache: start again (keeps memory bounded).
MAX_CACHED = 10_000


class CustomerStages:
    """The journey stage of customers and of touchpoints, shared by every conversation.

    A turn asks for it when it logs the touchpoint and again when it serves the need, and
    it costs two back-office reads (possibly over HTTP), so it is kept for a minute; within
    one need served it is read once (bot/support/serving.py).
    """

    def __init__(
        self, backoffice: BackOffice, routing: RoutingMap, today: Callable[[], date] = date.today
    ) -> None:
        self._backoffice = backoffice
        self._routing = routing
        self._today = today
        self._cache: dict[tuple[str, date], tuple[str, float]] = {}
        self._lock = threading.Lock()

    def of_customer(self, customer: Customer | None, records: BackOffice | None = None) -> str:
        """Where the customer is in their journey, from their record (read from ``records``
        when given: the back office as the need being served reads it)."""
        if customer is None:
            return "prospect"
        key = (customer.id, self._today())
        with self._lock:
            cached = self._cache.get(key)
        if cached is not None and cached[1] > time.monotonic():
            return cached[0]
        stage = self._from_record(customer, records or self._backoffice)
        with self._lock:
            if len(self._cache) > MAX_CACHED:
                self._cache.clear()
            self._cache[key] = (stage, time.monotonic() + STAGE_TTL)
        return stage

    def _from_record(self, customer: Customer, records: BackOffice) -> str:
        today = self._today()
        sub = records.subscription_of(customer.id)
        if (
            sub is not None
            and sub.status in ("active", "past_due")
            and sub.renews_at
            and 0 <= (sub.renews_at - today).days <= RENEWAL_DAYS
        ):
            return "renewal"
        return stage_from_orders(records.orders_of(customer.id), today)

    def of_touchpoint(self, need: str | None, customer_stage: Callable[[], str]) -> str:
        """The stage of a touchpoint: the need's own (a cancellation is leaving), else the
        customer's (``customer_stage``, asked only then)."""
        stage = self._routing.stage_of(need)
        return customer_stage() if stage == FROM_CUSTOMER else stage
