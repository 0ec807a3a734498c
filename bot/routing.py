"""Who owns a need (department) and where the customer is in their journey (stage)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path

from bot.backoffice.model import DELIVERED, Order
from bot.config import CONFIG_DIR, ConfigError, load_yaml, require

ROUTING_FILE = CONFIG_DIR / "routing.yml"

STAGES = ("prospect", "purchase", "onboarding", "usage", "renewal", "leaving")
DEPARTMENTS = ("sales", "billing", "delivery", "support")
FROM_CUSTOMER = "from_customer"
# How long after a first delivery a customer counts as onboarding rather than usage.
ONBOARDING_DAYS = 30


@dataclass(frozen=True)
class Route:
    """The owner of one need: ``department`` is None for needs no department owns."""

    intent: str
    department: str | None
    stage: str


@dataclass(frozen=True)
class _Entry:
    department: str
    stage: str
    label: str | None = None  # the need's button title, where it is offered as one


class RoutingMap:
    """The intent -> department/stage map from ``routing.yml``."""

    def __init__(self, entries: dict[str, _Entry], department_threshold: float = 0.5):
        self._entries = entries
        self.department_threshold = department_threshold

    @classmethod
    def load(cls, path: Path = ROUTING_FILE) -> RoutingMap:
        data = load_yaml(path)
        intents = require(data, "intents", path, "top level", dict)
        entries = {}
        for intent, spec in intents.items():
            where = f"intents.{intent}"
            if not isinstance(spec, dict):
                raise ConfigError(f"{path}: {where}: expected a mapping with department and stage")
            department = require(spec, "department", path, where)
            stage = require(spec, "stage", path, where)
            if department not in DEPARTMENTS:
                raise ConfigError(
                    f"{path}: {where}.department: '{department}' is not one of {', '.join(DEPARTMENTS)}"
                )
            if stage != FROM_CUSTOMER and stage not in STAGES:
                raise ConfigError(
                    f"{path}: {where}.stage: '{stage}' is not one of {', '.join(STAGES)} or {FROM_CUSTOMER}"
                )
            label = spec.get("label")
            if label is not None and (not isinstance(label, str) or not label.strip()):
                raise ConfigError(f"{path}: {where}.label: expected a button title, got {label!r}")
            entries[intent] = _Entry(department, stage, label)
        threshold = data.get("department_threshold", 0.5)
        if not isinstance(threshold, (int, float)) or not 0 <= threshold <= 1:
            raise ConfigError(
                f"{path}: department_threshold: expected a number from 0 to 1, got {threshold!r}"
            )
        return cls(entries, float(threshold))

    def with_threshold(self, department_threshold: float) -> RoutingMap:
        """The same map with another department threshold (for threshold sweeps)."""
        return RoutingMap(self._entries, department_threshold)

    def department_of(self, intent: str | None) -> str | None:
        entry = self._entries.get(intent or "")
        return entry.department if entry else None

    def department_scores(self, ranking: list[tuple[str, float]]) -> dict[str, float]:
        """Intent confidences summed per department ("none" for intents no department owns)."""
        scores: dict[str, float] = {}
        for intent, confidence in ranking:
            if intent == "nlu_fallback":  # a marker from the FallbackClassifier, not an intent
                continue
            department = self.department_of(intent) or "none"
            scores[department] = scores.get(department, 0.0) + confidence
        return scores

    def department_from_ranking(self, ranking: list[tuple[str, float]]) -> str | None:
        """The department that owns the message, even when the exact intent is uncertain.

        "Where is my refund" may split between refund_status and request_refund; both are
        billing's, so billing owns it. None when no department reaches the threshold or
        the best guess is a need no department owns (greeting, out of scope...).
        """
        scores = self.department_scores(ranking)
        if not scores:
            return None
        best = max(scores, key=lambda d: scores[d])
        return best if best != "none" and scores[best] >= self.department_threshold else None

    def route(
        self, intent: str | None, orders: list[Order] | None = None, today: date | None = None
    ) -> Route:
        """Department and stage for ``intent``; the stage may depend on the customer's orders."""
        entry = self._entries.get(intent or "")
        if entry is None:
            return Route(intent or "", None, stage_from_orders(orders, today))
        stage = stage_from_orders(orders, today) if entry.stage == FROM_CUSTOMER else entry.stage
        return Route(intent or "", entry.department, stage)

    def stage_of(self, intent: str | None) -> str:
        """The need's own stage from the map, or ``from_customer`` for needs not in it."""
        entry = self._entries.get(intent or "")
        return entry.stage if entry else FROM_CUSTOMER

    def label_of(self, intent: str | None) -> str | None:
        """The need's button title ("Where's my order?"), if routing.yml gives one."""
        entry = self._entries.get(intent or "")
        return entry.label if entry else None

    def labels(self) -> dict[str, str]:
        """Every need's button title, by need (needs without one are left out)."""
        return {i: e.label for i, e in self._entries.items() if e.label is not None}

    def as_dict(self) -> dict[str, dict[str, str]]:
        return {i: {"department": e.department, "stage": e.stage} for i, e in self._entries.items()}

    def __iter__(self):
        return iter(self._entries)


def stage_from_orders(orders: list[Order] | None, today: date | None = None) -> str:
    """The journey stage a customer's order history puts them in."""
    today = today or date.today()
    if not orders:
        return "prospect"
    delivered = [o.delivered_at for o in orders if o.status == DELIVERED and o.delivered_at]
    if not delivered:
        return "purchase"  # first order(s) still in flight
    first_delivery = min(delivered)
    if (today - first_delivery).days <= ONBOARDING_DAYS and len(delivered) == 1:
        return "onboarding"
    return "usage"
