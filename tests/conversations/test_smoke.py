"""The smoke conversations (``smoke: true`` in tests/conversations/*.yml) against the real
assistant, one test each. Part of ``make test``.

The system is started once for this module with a var/ directory of its own, not shared
with tests/e2e/: the runner reseeds the demo back office and erases the demo customers'
journeys before each conversation, which must not pull the ground from under the other
end-to-end tests. A conversation marked ``known_failure: "..."`` is skipped with that
reason (and listed in reports/conversations.md by the full runner).
"""

from __future__ import annotations

import pytest

from tests.conversations.runner import load_suite, run_conversation, start_system, transcript

pytestmark = pytest.mark.e2e

SMOKE = [c for c in load_suite() if c.smoke]


@pytest.fixture(scope="module")
def system(tmp_path_factory):
    started, procs = start_system(tmp_path_factory.mktemp("conversations-var"))
    try:
        yield started
    finally:
        for proc in reversed(procs):
            proc.stop()


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
