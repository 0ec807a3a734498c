"""Take a needless cost off every custom action call in the Rasa server.

Rasa 3.6 checks each action server answer with ``jsonschema.validate(answer, schema)``
(``RemoteAction._validate_action_result``). With the jsonschema 4.17 that Rasa's pins
admit, ``validate`` first checks the *schema itself* against the JSON Schema 2020-12
meta-schema, on every call; Rasa's schema is a constant, so that is pure waste, and it was
the largest single cost of a turn: py-spy on the Rasa server under load put 56% of its CPU
time in ``check_schema`` (bench/turns.py measures the effect; see reports/bench.md).

``install()`` gives ``RemoteAction`` a validator built (and its schema checked) once. What
is accepted and rejected, and the error raised, are exactly ``jsonschema.validate``'s:
the same validator class, the same ``best_match`` error, Rasa's own message appended.

It also gives ``Event.resolve_by_type`` (which event class a stored or received event's
name is) a table instead of a walk: Rasa lists every subclass of ``Event``, recursively,
for each event of every tracker it reads from the store or gets back from the action
server, 5.6% of a loaded Rasa server's time (py-spy). The table answers as the walk does
(the first class in the walk's order with that name) and is rebuilt when a name is not in
it, in case an event class was imported since.
"""

from __future__ import annotations

import functools
from typing import Any

_INSTALLED_MARK = "_cx_validator_cached"
# type_name -> the first Event subclass of Rasa's walk with it (resolve_event_type).
_event_types: dict[str, type] = {}


@functools.lru_cache(maxsize=1)
def action_response_validator() -> Any:
    """A jsonschema validator for Rasa's action server answer schema, checked once."""
    from jsonschema.validators import validator_for
    from rasa.core.actions.action import RemoteAction

    schema = RemoteAction.action_response_format_spec()
    cls = validator_for(schema)
    cls.check_schema(schema)  # what jsonschema.validate repeats on every call, done once
    return cls(schema)


def validate_action_result(self: Any, result: dict[str, Any]) -> bool:
    """``RemoteAction._validate_action_result`` with the validator built once."""
    from jsonschema import exceptions
    from rasa.shared.constants import DOCS_BASE_URL

    error = exceptions.best_match(action_response_validator().iter_errors(result))
    if error is not None:
        error.message += (
            ". Failed to validate Action server response from API, "
            "make sure your response from the Action endpoint is valid. "
            "For more information about the format visit "
            f"{DOCS_BASE_URL}/custom-actions"
        )
        raise error
    return True


def resolve_event_type(type_name: str, default: type | None = None) -> type | None:
    """``Event.resolve_by_type`` from a table: the same class, default, None or error."""
    from rasa.shared.core.events import Event
    from rasa.shared.utils.common import all_subclasses

    found = _event_types.get(type_name)
    if found is None:
        for cls in all_subclasses(Event):  # Rasa's own walk, in its order: first one wins
            _event_types.setdefault(cls.type_name, cls)
        found = _event_types.get(type_name)
    if found is not None:
        return found
    if type_name == "topic":
        return None  # as Rasa: old TopicSet events are skipped
    if default is not None:
        return default
    raise ValueError(f"Unknown event name '{type_name}'.")


def install() -> None:
    """Use :func:`validate_action_result` for Rasa's remote actions and
    :func:`resolve_event_type` for its events (idempotent)."""
    from rasa.core.actions.action import RemoteAction
    from rasa.shared.core.events import Event

    if getattr(RemoteAction._validate_action_result, _INSTALLED_MARK, False):
        return
    setattr(validate_action_result, _INSTALLED_MARK, True)
    RemoteAction._validate_action_result = validate_action_result
    Event.resolve_by_type = staticmethod(resolve_event_type)
