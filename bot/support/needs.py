"""The needs registry: which needs the desk serves, who serves each, what each must know.

The needs themselves are data: bot/config/routing.yml names each need's owner (its
department), its journey stage and its button title (``label``), read by bot/routing.py.
Each department's module serves the needs that department owns (``HANDLERS``) and the
options it offers (``OPTIONS``); the tables below gather them, and ``check`` (run once by
the composition root, bot/services.py) proves the data and the code agree: every need in
routing.yml is served by its owner's module and has a label, and every option access.yml
names is one someone offers.
"""

from __future__ import annotations

from collections.abc import Mapping

from bot.identity.access import DEFAULT, AccessRules
from bot.routing import RoutingMap
from bot.support import billing, confirm, delivery, people, proactive, sales
from bot.support.handler import Handler
from bot.support.proactive import NewsOption

# Each department's needs, served by its own module; "support" is the human agents'.
SERVED_BY: Mapping[str, Mapping[str, Handler]] = {
    "delivery": delivery.HANDLERS,
    "billing": billing.HANDLERS,
    "sales": sales.HANDLERS,
    "support": people.HANDLERS,
}
HANDLERS: dict[str, Handler] = {
    need: handler for handlers in SERVED_BY.values() for need, handler in handlers.items()
}
# What each need must know before it can be served, in the order it is asked for:
# order = a valid order number; customer = an identified customer;
# contact = an identified customer or at least an email to reach them.
REQUIRES: dict[str, tuple[str, ...]] = {
    **delivery.REQUIRES,
    **billing.REQUIRES,
    **sales.REQUIRES,
    **people.REQUIRES,
}
# The options the customer can pick from what we offered ("here's what we can do").
OPTIONS: dict[str, NewsOption] = {
    **billing.OPTIONS,
    **delivery.OPTIONS,
    **sales.OPTIONS,
    **proactive.OPTIONS,
    **confirm.options(HANDLERS),
}
# Needs that already bring a person in: no extra escalation on top.
PERSON_NEEDS = ("request_human", "complain")


def check(routing: RoutingMap, access: AccessRules) -> None:
    """Raise ValueError naming what disagrees between the configuration and the handlers."""
    unknown_options = set(access.options) - {DEFAULT} - set(OPTIONS)
    if unknown_options:
        raise ValueError(f"access.yml names options no one offers: {sorted(unknown_options)}")
    missing = set(HANDLERS) ^ set(routing)
    if missing:
        raise ValueError(
            f"routing.yml and the need handlers disagree about: {', '.join(sorted(missing))}"
        )
    elsewhere = sorted(
        need for need in routing if need not in SERVED_BY.get(routing.department_of(need) or "", {})
    )
    if elsewhere:
        raise ValueError(
            f"routing.yml names an owner whose module does not serve: {', '.join(elsewhere)}"
        )
    unlabelled = sorted(need for need in routing if routing.label_of(need) is None)
    if unlabelled:
        raise ValueError(f"routing.yml gives no label for: {', '.join(unlabelled)}")
