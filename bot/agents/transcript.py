"""A conversation's messages, read from its Rasa tracker events, for the agent console.

Customer messages, the assistant's answers, agents' messages (bot events whose ``custom``
data names the agent, as the console sends them) and when the assistant paused or
resumed. A button the customer clicked shows as its title, as the customer saw it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bot.agents import labels
from bot.proactive import triggered_by_api


@dataclass(frozen=True)
class Line:
    """One thing said (or done) in the conversation."""

    sender: str  # customer | assistant | agent | system
    text: str
    at: datetime | None = None
    agent: str | None = None  # the agent's display name, for sender "agent"
    id: str | None = None  # Rasa's message id, for sender "customer" (what "seen" names)

    def as_json(self) -> dict[str, Any]:
        return {
            "sender": self.sender,
            "text": self.text,
            "at": self.at.isoformat(timespec="seconds") if self.at else None,
            "agent": self.agent,
            "id": self.id,
        }


def transcript(events: Iterable[Mapping[str, Any]]) -> list[Line]:
    """The lines of a tracker's events, oldest first."""
    lines: list[Line] = []
    titles: dict[str, str] = {}  # a button's payload -> the title the customer clicked
    for event in events:
        kind = event.get("event")
        at = _time(event.get("timestamp"))
        if kind == "user" and event.get("text") and not triggered_by_api(event):
            text = str(event["text"])
            message_id = str(event["message_id"]) if event.get("message_id") else None
            # A button's title as the customer saw it; a payload typed or from an older
            # message (no button seen) in words too, never "/choose_option{...}".
            shown = titles.get(text) or (labels.said(text) if labels.is_payload(text) else text)
            lines.append(Line("customer", shown, at, id=message_id))
        elif kind == "bot":
            raw = event.get("data")
            data: dict[str, Any] = raw if isinstance(raw, dict) else {}
            custom = data.get("custom")
            if isinstance(custom, dict) and custom.get("agent"):
                text = custom.get("text") or event.get("text") or ""
                lines.append(Line("agent", str(text), at, str(custom["agent"])))
            elif event.get("text"):
                for button in data.get("buttons") or []:
                    if isinstance(button, dict) and "payload" in button and "title" in button:
                        titles[str(button["payload"])] = str(button["title"])
                lines.append(Line("assistant", str(event["text"]), at))
        elif kind == "pause":
            lines.append(Line("system", "The assistant paused: a person has the conversation.", at))
        elif kind == "resume":
            lines.append(Line("system", "The assistant answers again.", at))
    return lines


def as_text(lines: Iterable[Line]) -> list[str]:
    """Lines as "who: what" strings, the shape of a handoff packet's transcript."""
    return [
        f"{line.agent} (agent): {line.text}"
        if line.sender == "agent"
        else f"{line.sender}: {line.text}"
        for line in lines
        if line.sender != "system"
    ]


def _time(value: Any) -> datetime | None:
    try:
        return datetime.fromtimestamp(float(value))
    except (TypeError, ValueError, OverflowError, OSError):
        return None
