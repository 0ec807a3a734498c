"""The department events the assistant tells customers about, and checking one as it arrives.

Event types are data (bot/config/proactive.yml), validated on load. An incoming event is a
JSON object from a department's system::

    {"id": "dlv-7781", "type": "shipment.delayed", "order_id": "A1001",
     "new_date": "2026-11-27", "reason": "a storm at the hub"}

``id`` is the department's own id for the event (a repeat of it is told once), ``type`` one
of the configured types, plus what that type names (``order_id``, ``invoice_id`` or
``customer_id``) and requires.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from bot.config import CONFIG_DIR, ConfigError, load_yaml, require

EVENTS_FILE = CONFIG_DIR / "proactive.yml"
ABOUT_FIELDS = {"order": "order_id", "invoice": "invoice_id", "customer": "customer_id"}
KINDS = ("date", "amount", "text")
MAX_ID_CHARS = 255
MAX_TEXT_CHARS = 500
# Ids of orders, invoices and customers: short, printable, no spaces.
_REFERENCE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


class InvalidEvent(ValueError):
    """An event the hub can't take (the message says which field and why)."""


@dataclass(frozen=True)
class EventType:
    """One kind of department event and how the customer is told of it."""

    name: str
    department: str
    about: str  # order | invoice | customer
    need: str
    response: str
    options: tuple[str, ...]
    requires: dict[str, str] = field(default_factory=dict)
    optional: dict[str, str] = field(default_factory=dict)
    buttons: tuple[str, ...] = ()
    terms: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class IncomingEvent:
    """A checked event: its type, what it names, and its own facts."""

    event_id: str
    type: EventType
    order_id: str | None
    invoice_id: str | None
    customer_id: str | None
    details: dict[str, Any]


class EventCatalogue:
    """Every configured event type, by name."""

    def __init__(self, types: dict[str, EventType]):
        self.types = types

    @classmethod
    def load(
        cls,
        path: Path = EVENTS_FILE,
        known_options: set[str] | None = None,
        known_needs: set[str] | None = None,
    ) -> EventCatalogue:
        data = load_yaml(path)
        entries = require(data, "events", path, "top level", dict)
        types = {}
        for name, spec in entries.items():
            where = f"events.{name}"
            if not isinstance(spec, dict):
                raise ConfigError(f"{path}: {where}: expected a mapping")
            about = require(spec, "about", path, where)
            if about not in ABOUT_FIELDS:
                raise ConfigError(
                    f"{path}: {where}.about: expected one of {', '.join(ABOUT_FIELDS)}, got {about!r}"
                )
            fields = {}
            for key in ("requires", "optional"):
                entry = spec.get(key, {})
                if not isinstance(entry, dict) or any(k not in KINDS for k in entry.values()):
                    raise ConfigError(
                        f"{path}: {where}.{key}: expected field: kind, kind one of {', '.join(KINDS)}"
                    )
                fields[key] = dict(entry)
            options = tuple(require(spec, "options", path, where, list))
            if not options:
                raise ConfigError(f"{path}: {where}.options: offer at least one option")
            unknown = [o for o in options if known_options is not None and o not in known_options]
            if unknown:
                raise ConfigError(
                    f"{path}: {where}.options: {', '.join(unknown)} is not something the support "
                    "desk can carry out (bot/support/*: OPTIONS)"
                )
            need = require(spec, "need", path, where)
            if known_needs is not None and need not in known_needs:
                raise ConfigError(f"{path}: {where}.need: {need!r} is not a need in routing.yml")
            terms = spec.get("terms", {})
            if not isinstance(terms, dict):
                raise ConfigError(f"{path}: {where}.terms: expected a mapping")
            types[name] = EventType(
                name=name,
                department=require(spec, "department", path, where),
                about=about,
                need=need,
                response=require(spec, "response", path, where),
                options=options,
                requires=fields["requires"],
                optional=fields["optional"],
                buttons=tuple(spec.get("buttons", ())),
                terms=terms,
            )
        return cls(types)

    def check(self, department: str, body: Any) -> IncomingEvent:
        """The event in ``body`` as sent by ``department``, or ``InvalidEvent`` saying why."""
        if not isinstance(body, dict):
            raise InvalidEvent("the body must be a JSON object")
        event_id = body.get("id")
        if not isinstance(event_id, str) or not event_id.strip() or len(event_id) > MAX_ID_CHARS:
            raise InvalidEvent(
                f"id must be your system's id for this event, 1 to {MAX_ID_CHARS} characters "
                "(a repeat of the same id is told to the customer once)"
            )
        kind = body.get("type")
        event_type = self.types.get(kind) if isinstance(kind, str) else None
        if not isinstance(kind, str) or event_type is None:
            raise InvalidEvent(f"type must be one of {', '.join(sorted(self.types))}")
        if event_type.department != department:
            raise InvalidEvent(
                f"{kind} events come from the {event_type.department} department, not {department}"
            )
        about = ABOUT_FIELDS[event_type.about]
        reference = body.get(about)
        if not isinstance(reference, str) or not _REFERENCE.match(reference):
            raise InvalidEvent(
                f"{kind} needs {about}, the id of the {event_type.about} it is about"
            )
        details: dict[str, Any] = {}
        for name, field_kind in event_type.requires.items():
            if body.get(name) is None:
                raise InvalidEvent(f"{kind} needs {name} ({_describe(field_kind)})")
            details[name] = _value(kind, name, field_kind, body[name])
        for name, field_kind in event_type.optional.items():
            if body.get(name) is not None:
                details[name] = _value(kind, name, field_kind, body[name])
        return IncomingEvent(
            event_id=event_id,
            type=event_type,
            order_id=reference if about == "order_id" else None,
            invoice_id=reference if about == "invoice_id" else None,
            customer_id=reference if about == "customer_id" else None,
            details=details,
        )


def _value(kind: str, name: str, field_kind: str, value: Any) -> Any:
    problem = InvalidEvent(f"{kind}: {name} must be {_describe(field_kind)}")
    if field_kind == "date":
        if not isinstance(value, str):
            raise problem
        try:
            return date.fromisoformat(value).isoformat()
        except ValueError:
            raise problem from None
    if field_kind == "amount":
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value < 1e9:
            raise problem
        return round(float(value), 2)
    if not isinstance(value, str) or len(value) > MAX_TEXT_CHARS or "\x00" in value:
        raise problem
    return value.strip()


def _describe(field_kind: str) -> str:
    return {
        "date": "a date as YYYY-MM-DD",
        "amount": "an amount, a number such as 49.90",
        "text": f"a text of at most {MAX_TEXT_CHARS} characters",
    }[field_kind]
