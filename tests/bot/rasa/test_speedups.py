"""The action-answer check installed in the Rasa server: same verdicts, schema checked once."""

from __future__ import annotations

import jsonschema
import pytest
from rasa.core.actions.action import RemoteAction

from bot.rasa import speedups

VALID = [
    {"events": [], "responses": []},
    {
        "events": [{"event": "slot", "name": "order_id", "value": "ORD-10001"}],
        "responses": [{"text": "hi"}],
    },
    {},
]
INVALID = [
    {"events": "not a list"},
    {"events": [{"event": "no_such_event"}]},
    {"responses": [1, 2]},
    [],
]


@pytest.fixture
def installed(monkeypatch):
    from rasa.shared.core.events import Event

    # Both put back after the test (pytest keeps the staticmethod as it was).
    monkeypatch.setattr(
        RemoteAction, "_validate_action_result", RemoteAction._validate_action_result
    )
    monkeypatch.setattr(Event, "resolve_by_type", Event.__dict__["resolve_by_type"])
    speedups.install()
    return RemoteAction("action_x", None)


@pytest.mark.parametrize("answer", VALID)
def test_valid_answers_pass_as_before(installed, answer):
    jsonschema.validate(answer, RemoteAction.action_response_format_spec())  # Rasa's own check
    assert installed._validate_action_result(answer) is True


@pytest.mark.parametrize("answer", INVALID)
def test_invalid_answers_raise_the_same_error_with_rasas_hint(installed, answer):
    with pytest.raises(jsonschema.ValidationError) as original:
        jsonschema.validate(answer, RemoteAction.action_response_format_spec())
    with pytest.raises(jsonschema.ValidationError) as ours:
        installed._validate_action_result(answer)
    assert ours.value.message.startswith(original.value.message)
    assert "Failed to validate Action server response" in ours.value.message
    assert list(ours.value.path) == list(original.value.path)


def test_the_schema_itself_is_checked_once_not_per_answer(installed, monkeypatch):
    speedups.action_response_validator.cache_clear()
    cls = jsonschema.validators.validator_for(RemoteAction.action_response_format_spec())
    calls = []
    original = cls.check_schema.__func__
    monkeypatch.setattr(
        cls,
        "check_schema",
        classmethod(lambda c, s, **kw: (calls.append(1), original(c, s, **kw))[1]),
    )
    for _ in range(5):
        installed._validate_action_result(VALID[1])
    assert len(calls) == 1


def test_install_is_idempotent(installed):
    first = RemoteAction._validate_action_result
    speedups.install()
    assert RemoteAction._validate_action_result is first is speedups.validate_action_result


def test_event_types_resolve_as_rasas_walk_does(monkeypatch):
    from rasa.shared.core.events import Event
    from rasa.shared.utils.common import all_subclasses

    original = Event.resolve_by_type
    monkeypatch.setattr(Event, "resolve_by_type", original)
    names = {cls.type_name for cls in all_subclasses(Event)}
    expected = {name: original(name) for name in names}
    monkeypatch.setattr(speedups, "_event_types", {})
    monkeypatch.setattr(Event, "resolve_by_type", staticmethod(speedups.resolve_event_type))
    assert {name: Event.resolve_by_type(name) for name in names} == expected
    assert Event.resolve_by_type("topic") is None
    assert Event.resolve_by_type("no_such_event", default=Event) is Event
    with pytest.raises(ValueError, match="Unknown event name 'no_such_event'"):
        Event.resolve_by_type("no_such_event")


def test_an_event_class_imported_later_is_found(monkeypatch):
    from rasa.shared.core.events import Event

    monkeypatch.setattr(speedups, "_event_types", {})
    speedups.resolve_event_type("user")  # the table is built

    class LateEvent(Event):
        type_name = "cx_late_event_for_test"

        def __eq__(self, other):
            return isinstance(other, LateEvent)

        def __hash__(self):
            return 1

        def as_story_string(self):
            return None

    assert speedups.resolve_event_type("cx_late_event_for_test") is LateEvent


def test_install_puts_the_table_in_rasas_place(installed):
    from rasa.shared.core.events import ActionExecuted, Event

    assert Event.resolve_by_type is speedups.resolve_event_type
    event = Event.from_parameters({"event": "action", "name": "action_listen"})
    assert event == ActionExecuted("action_listen")
