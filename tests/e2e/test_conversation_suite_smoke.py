"""The smoke conversations (``smoke: true`` in tests/conversations/*.yml) against the real
assistant, one test each. Part of ``make test``; `make eval` runs the whole suite.

They share the end-to-end assistant (tests/e2e/conftest.py) rather than starting one of their
own (a minute of CI): the runner reseeds the demo back office and erases the demo customers'
journeys before each conversation, so every test module here must (and does) stand on its
own. A conversation marked ``known_failure: "..."`` is skipped with that reason (and listed
in reports/conversations.md by the full runner).
"""

from __future__ import annotations

import pytest

from tests.conversations.runner import System, load_suite, run_conversation, transcript

pytestmark = pytest.mark.e2e

SMOKE = [c for c in load_suite() if c.smoke]


@pytest.fixture(scope="module")
def system(assistant):
    return System(assistant.settings)


def test_there_are_smoke_conversations():
    assert 8 <= len(SMOKE) <= 20, f"{len(SMOKE)} smoke conversations; mark about 12"


@pytest.mark.parametrize("conversation", SMOKE, ids=[c.id for c in SMOKE])
def test_smoke_conversation(system, conversation):
    if conversation.known_failure:
        pytest.skip(f"known failure: {conversation.known_failure}")
    result = run_conversation(system, conversation)
    assert result.passed, (
        f"{conversation.id}: {conversation.description}\n"
        + "\n".join(f"- {f}" for f in result.failures)
        + "\n"
        + transcript(result)
    )
