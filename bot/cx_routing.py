"""CX-aware routing: rules in data that use the journey on top of the intent map.

The map in routing.yml names a need's owner. The `rules:` section of the same file adjusts
it with what the journey knows: the customer's stage (a cancellation near renewal goes to
sales for a retention talk first), value tier (priority), frustration and repeat contacts
(straight to a person, high priority). Every decision keeps the rules that made it and why,
so CX staff can read it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bot.config import ConfigError, load_yaml, require
from bot.routing import DEPARTMENTS, ROUTING_FILE, STAGES

PRIORITIES = ("normal", "high", "urgent")
# Conditions a rule may use, and how each compares with the facts of a request.
LIST_CONDITIONS = ("need", "customer_stage", "tier", "department", "option")
# The ``option`` fact when the customer has not picked one of our offers.
NO_OPTION = "none"
AT_LEAST_CONDITIONS = ("frustration_at_least", "contacts_about_order_at_least", "repeats_at_least")


@dataclass(frozen=True)
class Facts:
    """What the journey knows when a need is routed."""

    need: str
    department: str  # the owner from the intent map (or the desk's choice)
    customer_stage: str | None = None
    tier: str | None = None
    frustration: int = 0
    repeats: int = 0
    contacts_about_order: int = 0
    # What the customer picked from the options we offered, or NO_OPTION: a cancellation
    # the customer already settled ("pause it instead") needs no retention talk.
    option: str = NO_OPTION


@dataclass(frozen=True)
class Rule:
    name: str
    when: Mapping[str, Any]
    department: str | None
    priority: str | None
    escalate: bool
    reason: str

    def matches(self, facts: Facts) -> bool:
        for key, wanted in self.when.items():
            if key in LIST_CONDITIONS:
                if getattr(facts, key) not in wanted:
                    return False
            elif getattr(facts, key.removesuffix("_at_least")) < wanted:
                return False
        return True


@dataclass(frozen=True)
class RoutingDecision:
    """Where a need goes, how urgently, and which rules said so (in plain words)."""

    department: str
    priority: str
    rules: tuple[str, ...]
    reason: str
    escalate: bool = False  # bring a person in even when the need itself is self-served

    @property
    def rule(self) -> str:
        return ",".join(self.rules) or "intent_map"


class CxRules:
    """The ordered rules of routing.yml; the first rule naming a department wins it."""

    def __init__(self, rules: tuple[Rule, ...]):
        self.rules = rules

    @classmethod
    def load(cls, path: Path = ROUTING_FILE) -> CxRules:
        data = load_yaml(path)
        rules = []
        for i, spec in enumerate(data.get("rules") or []):
            where = f"rules[{i}]"
            if not isinstance(spec, dict):
                raise ConfigError(f"{path}: {where}: expected a mapping")
            name = require(spec, "name", path, where)
            when = require(spec, "when", path, where, dict)
            then = require(spec, "then", path, where, dict)
            for key, value in when.items():
                if key in LIST_CONDITIONS:
                    if not isinstance(value, list) or not value:
                        raise ConfigError(f"{path}: {where}.when.{key}: expected a list")
                    if key == "customer_stage" and set(value) - set(STAGES):
                        raise ConfigError(f"{path}: {where}.when.{key}: stages are {STAGES}")
                elif key in AT_LEAST_CONDITIONS:
                    if not isinstance(value, int) or value < 1:
                        raise ConfigError(
                            f"{path}: {where}.when.{key}: expected a whole number >= 1"
                        )
                else:
                    known = ", ".join(LIST_CONDITIONS + AT_LEAST_CONDITIONS)
                    raise ConfigError(f"{path}: {where}.when.{key}: unknown condition ({known})")
            department, priority = then.get("department"), then.get("priority")
            if department is not None and department not in DEPARTMENTS:
                raise ConfigError(f"{path}: {where}.then.department: one of {DEPARTMENTS}")
            if priority is not None and priority not in PRIORITIES:
                raise ConfigError(f"{path}: {where}.then.priority: one of {PRIORITIES}")
            rules.append(
                Rule(
                    name=name,
                    when=when,
                    department=department,
                    priority=priority,
                    escalate=bool(then.get("escalate", False)),
                    reason=require(spec, "reason", path, where),
                )
            )
        return cls(tuple(rules))

    def decide(self, facts: Facts, priority: str = "normal") -> RoutingDecision:
        """Apply every matching rule to the map's answer for ``facts``."""
        department, applied, reasons, escalate = facts.department, [], [], False
        department_set = False
        for rule in self.rules:
            if not rule.matches(facts):
                continue
            changed = False
            if rule.department and not department_set:
                department, department_set, changed = rule.department, True, True
            if rule.priority and PRIORITIES.index(rule.priority) > PRIORITIES.index(priority):
                priority, changed = rule.priority, True
            if rule.escalate:
                escalate, changed = True, True
            if changed:
                applied.append(rule.name)
                reasons.append(rule.reason)
        reason = "; ".join(reasons) or f"{facts.need} belongs to {facts.department}"
        return RoutingDecision(department, priority, tuple(applied), reason, escalate)
