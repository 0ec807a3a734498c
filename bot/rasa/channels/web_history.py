"""A website conversation as a reconnecting widget shows it again, from Rasa's tracker events.

The widget's ``session_confirm`` carries the conversation so far and who holds it (a person
or the assistant). Apart from the channel (bot/rasa/channels/web.py) because reading a tracker's
events into the widget's shape is pure data work, tested without a server; the channel
only fetches the events.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from bot.proactive import triggered_by_api

JOINED = "joined"  # the one system event after which a person holds the chat


def transcript_of(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Customer, assistant and agent messages of a tracker's events, in the widget's shape.

    A person joining or leaving is an ``event`` entry; customer messages carry the ``id``
    Rasa recorded, and every entry its time (``at``, unix seconds) when the event has one.
    """
    messages: list[dict[str, Any]] = []
    titles: dict[str, str] = {}  # a clicked button's payload -> the title the customer saw

    def add(message: dict[str, Any], event: dict[str, Any]) -> None:
        if isinstance(event.get("timestamp"), (int, float)):
            message["at"] = event["timestamp"]
        messages.append(message)

    for event in events:
        kind = event.get("event")
        if kind == "user" and event.get("text") and not triggered_by_api(event):
            text = event["text"]
            message: dict[str, Any] = {"sender": "customer", "text": titles.get(text, text)}
            if event.get("message_id"):
                message["id"] = str(event["message_id"])
            add(message, event)
        elif kind == "bot":
            data = event.get("data") or {}
            custom = data.get("custom")
            if isinstance(custom, dict) and custom.get("agent"):
                text = custom.get("text") or event.get("text") or ""
                add({"sender": "agent", "text": text, "agent": custom["agent"]}, event)
            elif isinstance(custom, dict) and custom.get("system"):
                text = custom.get("text") or event.get("text") or ""
                system = {"system": str(custom["system"]), "by": str(custom.get("by") or "")}
                add({"sender": "event", "text": text, **system}, event)
            elif event.get("text"):
                message = {"sender": "assistant", "text": event["text"]}
                buttons = data.get("buttons") or []
                if buttons:
                    titles.update(
                        {
                            b["payload"]: b["title"]
                            for b in buttons
                            if "payload" in b and "title" in b
                        }
                    )
                    message["quick_replies"] = [
                        {
                            "content_type": "text",
                            "title": b.get("title"),
                            "payload": b.get("payload"),
                        }
                        for b in buttons
                        if isinstance(b, dict)
                    ]
                add(message, event)
    return messages


def holder_of(events: Iterable[dict[str, Any]]) -> dict[str, str] | None:
    """Who holds the conversation at the end of ``events``: ``{"name": ...}`` or None.

    A person holds it from their ``joined`` event until the assistant resumes (or another
    system event says they left); a pause without a known name (a takeover from before
    system events) is a person too, unnamed.
    """
    holder: dict[str, str] | None = None
    for event in events:
        kind = event.get("event")
        if kind == "pause":
            holder = holder or {"name": ""}
        elif kind == "resume":
            holder = None
        elif kind == "bot":
            custom = (event.get("data") or {}).get("custom")
            if isinstance(custom, dict) and custom.get("system"):
                joined = custom["system"] == JOINED
                holder = {"name": str(custom.get("by") or "")} if joined else None
    return holder
