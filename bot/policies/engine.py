"""Decide whether a request is within the business's policies, and what we can do if not.

Within a policy: just do it. Outside: a Decision naming the policy, the reason in plain
words, and the alternatives for this customer, best first (principle 2: never a bare no).
Policies are data (bot/config/policies.yml), validated on load.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bot.config import CONFIG_DIR, ConfigError, load_yaml, require

POLICIES_FILE = CONFIG_DIR / "policies.yml"


@dataclass(frozen=True)
class Alternative:
    """Something the desk can do instead, and who it is offered to."""

    option: str
    only_tiers: tuple[str, ...] = ()
    # Offered from the customer's Nth contact about the same policy on (1 = always):
    # goodwill grows when someone has to come back about the same thing.
    min_contacts: int = 1

    def offered_to(self, tier: str | None, contacts: int = 1) -> bool:
        return (not self.only_tiers or tier in self.only_tiers) and contacts >= self.min_contacts


@dataclass(frozen=True)
class Policy:
    name: str
    says: str
    needs: tuple[str, ...]
    fact: str
    alternatives: tuple[Alternative, ...]
    max: float | None = None
    equals: Any = None
    # Figures the replies and options quote (a fee, a percentage), kept with the policy.
    terms: dict[str, Any] = field(default_factory=dict)

    @property
    def reason(self) -> str:
        """What the policy says, in plain words, with its figures filled in."""
        return self.says.format(max=_number(self.max), equals=self.equals, **self.terms)

    def within(self, value: Any) -> bool:
        if self.max is not None:
            return value is not None and value <= self.max
        return value == self.equals


@dataclass(frozen=True)
class Decision:
    """The answer to one request: within, or outside with the reason and alternatives."""

    policy: str
    within: bool
    reason: str = ""
    alternatives: tuple[str, ...] = field(default_factory=tuple)


class PolicyEngine:
    """All policies, by name, checked against the facts of one request."""

    def __init__(self, policies: dict[str, Policy]):
        self.policies = policies

    @classmethod
    def load(
        cls, path: Path = POLICIES_FILE, known_options: Iterable[str] | None = None
    ) -> PolicyEngine:
        data = load_yaml(path)
        entries = require(data, "policies", path, "top level", dict)
        known = set(known_options) if known_options is not None else None
        policies = {}
        for name, spec in entries.items():
            where = f"policies.{name}"
            if not isinstance(spec, dict):
                raise ConfigError(f"{path}: {where}: expected a mapping")
            has_max, has_equals = "max" in spec, "equals" in spec
            if has_max == has_equals:
                raise ConfigError(f"{path}: {where}: give exactly one of 'max' or 'equals'")
            if has_max and not isinstance(spec["max"], (int, float)):
                raise ConfigError(f"{path}: {where}.max: expected a number, got {spec['max']!r}")
            alternatives = []
            for i, alt in enumerate(require(spec, "alternatives", path, where, list)):
                if not isinstance(alt, dict) or "option" not in alt:
                    raise ConfigError(
                        f"{path}: {where}.alternatives[{i}]: expected a mapping with 'option'"
                    )
                if known is not None and alt["option"] not in known:
                    raise ConfigError(
                        f"{path}: {where}.alternatives[{i}].option: '{alt['option']}' is not something "
                        f"the support desk can carry out ({', '.join(sorted(known))})"
                    )
                min_contacts = alt.get("min_contacts", 1)
                if not isinstance(min_contacts, int) or min_contacts < 1:
                    raise ConfigError(
                        f"{path}: {where}.alternatives[{i}].min_contacts: expected a whole number >= 1"
                    )
                alternatives.append(
                    Alternative(alt["option"], tuple(alt.get("only_tiers", ())), min_contacts)
                )
            if not any(a.offered_to(None) for a in alternatives):
                raise ConfigError(
                    f"{path}: {where}.alternatives: at least one must be offered to every customer"
                    " on their first contact"
                )
            terms = spec.get("terms", {})
            if not isinstance(terms, dict):
                raise ConfigError(f"{path}: {where}.terms: expected a mapping")
            policies[name] = Policy(
                name=name,
                says=require(spec, "says", path, where),
                needs=tuple(require(spec, "needs", path, where, list)),
                fact=require(spec, "fact", path, where),
                alternatives=tuple(alternatives),
                max=spec.get("max"),
                equals=spec.get("equals"),
                terms=terms,
            )
        return cls(policies)

    def alternatives(
        self, policy_name: str, tier: str | None = None, contacts: int = 1
    ) -> tuple[str, ...]:
        """The policy's alternatives for this customer, best first (at most 3).

        ``contacts`` counts this one: 2 means the customer asked about it once before.
        """
        # Any request is at least a first contact: a count of 0 (or less) from a caller must
        # not filter out every option (principle 2: never a bare no).
        contacts = max(contacts, 1)
        offered = [
            a.option
            for a in self.policies[policy_name].alternatives
            if a.offered_to(tier, contacts)
        ]
        # An option may be listed twice (for a tier, or from a contact): offer it once.
        return tuple(dict.fromkeys(offered))[:3]

    def restricted(self, option: str) -> bool:
        """Whether ``option`` is only for some customers (by tier or repeat contact)."""
        listings = [a for p in self.policies.values() for a in p.alternatives if a.option == option]
        return bool(listings) and all(a.only_tiers or a.min_contacts > 1 for a in listings)

    def policy_for(self, need: str) -> Policy | None:
        """The policy that governs ``need``, if any."""
        return next((p for p in self.policies.values() if need in p.needs), None)

    def decide(
        self,
        policy_name: str,
        facts: dict[str, Any],
        tier: str | None = None,
        contacts: int = 1,
    ) -> Decision:
        """Check ``facts`` against one policy; outside it, the alternatives for this customer."""
        policy = self.policies[policy_name]
        if policy.fact not in facts:
            raise KeyError(f"policy {policy_name} needs the fact '{policy.fact}'")
        if policy.within(facts[policy.fact]):
            return Decision(policy_name, True)
        return Decision(
            policy_name, False, policy.reason, self.alternatives(policy_name, tier, contacts)
        )


def _number(value: float | None) -> str:
    return "" if value is None else (str(int(value)) if float(value).is_integer() else str(value))
