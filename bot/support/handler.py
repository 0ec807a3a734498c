"""What a need handler is, and the part of the support desk it may use.

A handler (``request_invoice`` in bot/support/billing.py, ``order_status`` in
bot/support/delivery.py...) is a function of the desk and the need's context that returns a
``Reply``. It sees the desk through ``Desk`` below, the few collaborators and decisions a
department's handler really uses, never the whole ``SupportDesk``: the department modules
import nothing of the desk, and this list says what a handler can reach. The object passed
in is one need's ``Serving`` (bot/support/serving.py), which reads each fact once.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Protocol

from bot.backoffice import BackOffice, Customer, Order
from bot.backoffice.base import customer_or_none, order_or_none
from bot.handoff import Handoff
from bot.policies.engine import Decision, PolicyEngine
from bot.support.facts import DepartmentFacts, OrderFacts
from bot.support.parsing import normalize_order_id
from bot.support.replies import NeedContext, Reply


@dataclass(frozen=True)
class OrderCheck:
    """The result of checking an order number the customer gave.

    ``customer`` (the order's owner) is read from the back office only when asked for: the
    callers already know who they talk to, so checking an order reads the order alone.
    """

    order: Order | None
    problem: str | None = None  # response name explaining why it was refused
    # The department facts over the order (a delay in force...), read once with it.
    facts: OrderFacts | None = None
    owner: Callable[[], Customer | None] = field(default=lambda: None, repr=False, compare=False)

    @functools.cached_property
    def customer(self) -> Customer | None:
        """The customer the order belongs to (None when it was refused)."""
        return self.owner()


def check_order(
    backoffice: BackOffice,
    facts: DepartmentFacts,
    raw_order_id: str | None,
    customer_id: str | None,
) -> OrderCheck:
    """Accept an order number only if it exists and belongs to the known customer."""
    order_id = normalize_order_id(raw_order_id)
    if order_id is None:
        return OrderCheck(None, problem="utter_order_id_unreadable")
    told = order_as_told(backoffice, facts, order_id)
    if told is None or (customer_id and told.order.customer_id != customer_id):
        # The same answer for "no such order" and "someone else's order": no leaks.
        return OrderCheck(None, problem="utter_order_not_found")
    owner_id = told.order.customer_id
    return OrderCheck(told.order, facts=told, owner=lambda: customer_or_none(backoffice, owner_id))


def order_as_told(
    backoffice: BackOffice, facts: DepartmentFacts, order_id: str | None
) -> OrderFacts | None:
    """The order as we tell it: the back office's record with newer department facts."""
    order = order_or_none(backoffice, order_id)
    return facts.order(order) if order is not None else None


class MissingDetail(LookupError):
    """A handler was reached without a detail its need requires: the desk asks for every
    detail first (bot/support/needs.py: REQUIRES), so this is a bug, never a customer's."""


def order_of(ctx: NeedContext) -> Order:
    """The need's order, for a need that requires one."""
    if ctx.order is None:
        raise MissingDetail(f"{ctx.need}: served without an order")
    return ctx.order


def customer_of(ctx: NeedContext) -> Customer:
    """The need's verified customer, for a need that requires one."""
    if ctx.customer is None:
        raise MissingDetail(f"{ctx.need}: served without a verified customer")
    return ctx.customer


def delivered_on(order: Order) -> date:
    """The day a delivered order arrived."""
    if order.delivered_at is None:
        raise MissingDetail(f"{order.id}: delivered with no delivery day")
    return order.delivered_at


def limit_of(desk: Desk, policy: str) -> float:
    """The number a policy is measured against (a window's days), from policies.yml."""
    limit = desk.policies.policies[policy].max
    if limit is None:
        raise MissingDetail(f"policies.yml: {policy} has no max")
    return limit


class Desk(Protocol):
    """What a department's need handlers and options (bot/support/<department>.py) use."""

    @property
    def backoffice(self) -> BackOffice:
        """The company's records: orders, invoices, payments, subscriptions."""

    @property
    def policies(self) -> PolicyEngine:
        """The policies (policies.yml) and their terms."""

    @property
    def facts(self) -> DepartmentFacts:
        """What departments told us, over the back office's records."""

    def today(self) -> date:
        """Today, by the desk's clock."""

    def now(self) -> datetime:
        """Now, by the desk's clock."""

    def decide(self, policy: str, ctx: NeedContext, **facts: Any) -> Decision:
        """Check one policy for this customer."""

    def hand_off(
        self,
        ctx: NeedContext,
        summary: str,
        department: str | None = None,
        priority: str = "normal",
        **context: Any,
    ) -> Handoff:
        """Hand the need to its department with the whole context packet."""

    def handed_off(self, reply: Reply, handoff: Handoff) -> Reply:
        """Tell the customer who will handle it, through which channel and by when."""


# A need's handler, or an offered option's, gathered in bot/support/needs.py.
Handler = Callable[[Desk, NeedContext], Reply]
