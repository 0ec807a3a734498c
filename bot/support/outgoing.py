"""The last check before a reply reaches the customer: no refusal without an alternative.

Responses in domain.yml are checked once, by a test and `make lint`. What only exists at run
time is checked here: the variables a reply fills in (a back-office failure reason, a
carrier's scan, a policy's own wording) can turn a fine sentence into a bare "we can't".
Such a message is replaced by the "here's what we can do" form with the alternatives of the
policy that governs the need, and the rewrite is recorded for CX review.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Protocol

import yaml

from bot.policies.engine import Decision, PolicyEngine
from bot.policies.guard import RefusalGuard
from bot.policies.moments import GuardRewrite, PolicyLog
from bot.support.replies import Message, NeedContext, Reply, option_buttons

DOMAIN_FILE = Path(__file__).resolve().parents[2] / "domain.yml"
REWRITE_RESPONSE = "utter_heres_what_we_can_do"
_VARIABLE = re.compile(r"\{(\w+)\}")


def load_responses(path: Path = DOMAIN_FILE) -> dict[str, list[dict[str, Any]]]:
    """The responses of a Rasa domain file, by name."""
    return (yaml.safe_load(path.read_text(encoding="utf-8")) or {}).get("responses") or {}


@functools.lru_cache(maxsize=1)
def shared_guard() -> RefusalGuard:
    """One detector per process: loading the spaCy pipeline takes a second."""
    return RefusalGuard()


def render(template: str, params: Mapping[str, Any]) -> str:
    """Fill ``{name}`` variables the way Rasa does; unknown ones are left as they are."""
    return _VARIABLE.sub(lambda m: str(params[m[1]]) if m[1] in params else m[0], template)


def texts_of(
    message: Message, responses: Mapping[str, list[dict[str, Any]]]
) -> list[tuple[str, bool]]:
    """Every text the customer could see for ``message`` (one per variant), with buttons or not."""
    variants = responses.get(message.response) or []
    return [
        (render(v.get("text") or "", message.params), bool(message.buttons or v.get("buttons")))
        for v in variants
        if isinstance(v, dict)
    ]


class Offering(Protocol):
    """What the guard uses of the desk to put "here's what we can do" in a refusal's place."""

    @property
    def policies(self) -> PolicyEngine:
        """The policies, to find the one that governs the need."""

    @property
    def policy_log(self) -> PolicyLog:
        """Where the rewrite and the options offered instead are recorded."""

    def alternatives_for(self, policy: str, ctx: NeedContext) -> tuple[str, ...]:
        """What we can do for this customer when ``policy`` stands in the way."""


class OutgoingGuard:
    """Checks each message of a reply against the domain's responses; rewrites bare refusals."""

    def __init__(self, responses: Mapping[str, list[dict[str, Any]]] | None = None) -> None:
        self._responses = responses
        self._verdicts: dict[tuple[str, bool], bool] = {}

    @property
    def responses(self) -> Mapping[str, list[dict[str, Any]]]:
        if self._responses is None:
            self._responses = load_responses()
        return self._responses

    def bare_refusal(self, text: str, has_buttons: bool) -> bool:
        key = (text, has_buttons)
        verdict = self._verdicts.get(key)
        if verdict is None:
            verdict = shared_guard().check(text, has_buttons).bare_refusal
            if len(self._verdicts) > 10_000:  # most replies repeat; keep memory bounded
                self._verdicts.clear()
            # Read back from a local: another action thread may clear the dict meanwhile.
            self._verdicts[key] = verdict
        return verdict

    def review(self, desk: Offering, reply: Reply, ctx: NeedContext) -> Reply:
        """``reply`` with every bare refusal replaced by what we can do (recorded)."""
        checked = []
        for message in reply.messages:
            refusing = [
                text
                for text, buttons in texts_of(message, self.responses)
                if self.bare_refusal(text, buttons)
            ]
            if not refusing:
                checked.append(message)
                continue
            policy = desk.policies.policy_for(ctx.need)
            offered = desk.alternatives_for(policy.name, ctx) if policy else ()
            desk.policy_log.rewritten(
                GuardRewrite(
                    conversation_id=ctx.conversation_id,
                    need=ctx.need,
                    response=message.response,
                    text=refusing[0],
                    policy=policy.name if policy else None,
                    offered=offered,
                )
            )
            if policy and offered:
                # The options shown are a policy moment like any other (and can be taken).
                desk.policy_log.offered(
                    ctx.conversation_id,
                    ctx.customer.id if ctx.customer else None,
                    ctx.need,
                    Decision(policy.name, False, policy.reason, offered),
                )
            checked.append(Message(REWRITE_RESPONSE, {}, option_buttons(offered)))
        reply.messages = checked
        return reply
