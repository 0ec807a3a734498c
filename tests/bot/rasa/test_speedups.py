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
    monkeypatch.setattr(
        RemoteAction, "_validate_action_result", RemoteAction._validate_action_result
    )
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
