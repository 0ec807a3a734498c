"""Plain records the back office hands to the assistant (immutable; no ORM objects leak)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime

# Order states, in the order an order moves through them.
PLACED, PACKED, SHIPPED, DELIVERED, CANCELLED = (
    "placed",
    "packed",
    "shipped",
    "delivered",
    "cancelled",
)
NOT_DISPATCHED = (PLACED, PACKED)


@dataclass(frozen=True)
class Customer:
    id: str
    name: str
    email: str
    tier: str = "standard"  # standard | silver | gold: drives priority and alternatives
    slack_user_id: str | None = None

    @property
    def first_name(self) -> str:
        return self.name.split()[0] if self.name else ""


@dataclass(frozen=True)
class Order:
    id: str
    customer_id: str
    items: tuple[str, ...]
    total: float
    placed_at: date
    status: str
    address: str
    carrier: str | None = None
    tracking_number: str | None = None
    expected_delivery: date | None = None
    delivered_at: date | None = None
    last_scan: str | None = None

    @property
    def dispatched(self) -> bool:
        return self.status not in NOT_DISPATCHED

    def is_late(self, today: date) -> bool:
        """In transit (or not yet sent) past its promised delivery date."""
        return (
            self.status in (PLACED, PACKED, SHIPPED)
            and self.expected_delivery is not None
            and self.expected_delivery < today
        )

    @property
    def items_text(self) -> str:
        return ", ".join(self.items)


@dataclass(frozen=True)
class Invoice:
    id: str
    customer_id: str
    amount: float
    issued_at: date
    status: str  # paid | open | failed
    order_id: str | None = None
    lines: tuple[tuple[str, float], ...] = ()


@dataclass(frozen=True)
class Payment:
    id: str
    customer_id: str
    amount: float
    created_at: datetime
    status: str  # succeeded | failed | refunded
    method: str
    invoice_id: str | None = None
    description: str = ""
    failure_reason: str | None = None


@dataclass(frozen=True)
class Refund:
    id: str
    order_id: str
    amount: float
    status: str  # requested | processing | issued
    requested_at: date
    issued_at: date | None = None


@dataclass(frozen=True)
class Subscription:
    id: str
    customer_id: str
    plan: str
    price: float
    seats: int
    status: str  # active | paused | cancelled | past_due
    renews_at: date
    contract_end: date | None = None
    early_cancel_fee: float = 0.0


@dataclass(frozen=True)
class Plan:
    name: str
    price: float
    per: str
    summary: str
    features: tuple[str, ...] = field(default_factory=tuple)


@dataclass(frozen=True)
class ReturnLabel:
    order_id: str
    label_url: str
    created_at: date
