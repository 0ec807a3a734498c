"""Saved replies: what agents write often, with the conversation's details filled in.

The replies are data (``bot/config/saved_replies.yml``), validated on load with an error
that names the file and the reply. ``fill`` puts the open conversation's values (the
customer's name, the order) into a reply's text; a value the conversation doesn't know is
left as a visible blank (``[order number]``) for the agent to type, never as ``{order_id}``
and never as an empty gap.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

SAVED_REPLIES_FILE = Path(__file__).resolve().parent.parent / "config" / "saved_replies.yml"
VARIABLES = {
    "first_name": "[first name]",
    "name": "[name]",
    "agent": "[your name]",
    "order_id": "[order number]",
    "order_status": "[order status]",
    "order_items": "[items]",
    "expected_delivery": "[delivery date]",
}
_VARIABLE = re.compile(r"\{(\w+)\}")
_KEY = re.compile(r"^[A-Za-z0-9_-]{1,40}$")
MAX_TEXT = 2000


class SavedRepliesError(ValueError):
    """The saved replies file can't be used (the message names the file and the reply)."""


@dataclass(frozen=True)
class SavedReply:
    """One saved reply: a key, the title an agent picks it by, and its text with variables."""

    key: str
    title: str
    text: str

    def fill(self, values: dict[str, str | None]) -> dict[str, Any]:
        """The reply for one conversation: ``text`` filled, and the blanks left (``missing``)."""
        missing: list[str] = []

        def put(found: re.Match[str]) -> str:
            name = found.group(1)
            value = values.get(name)
            if value:
                return str(value)
            missing.append(VARIABLES[name])
            return VARIABLES[name]

        return {
            "key": self.key,
            "title": self.title,
            "text": _VARIABLE.sub(put, self.text),
            "missing": missing,
        }


def load(path: Path = SAVED_REPLIES_FILE) -> list[SavedReply]:
    """The saved replies in ``path``, checked: unique keys, known variables, a title and text."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as e:
        raise SavedRepliesError(f"{path}: can't read the saved replies: {e}") from None
    entries = data.get("replies") if isinstance(data, dict) else None
    if not isinstance(entries, list):
        raise SavedRepliesError(f"{path}: expected a list under 'replies'")
    replies: list[SavedReply] = []
    for number, entry in enumerate(entries, 1):
        where = f"{path}: replies[{number}]"
        if not isinstance(entry, dict):
            raise SavedRepliesError(f"{where}: expected key, title and text")
        key, title, text = (entry.get(k) for k in ("key", "title", "text"))
        if not isinstance(key, str) or not _KEY.match(key):
            raise SavedRepliesError(f"{where}: 'key' is 1-40 letters, digits, _ or -")
        where = f"{path}: reply {key!r}"
        if any(r.key == key for r in replies):
            raise SavedRepliesError(f"{where}: the key is used twice")
        if not isinstance(title, str) or not title.strip():
            raise SavedRepliesError(f"{where}: 'title' is missing")
        if not isinstance(text, str) or not text.strip() or len(text) > MAX_TEXT:
            raise SavedRepliesError(f"{where}: 'text' is missing or over {MAX_TEXT} characters")
        unknown = sorted(set(_VARIABLE.findall(text)) - set(VARIABLES))
        if unknown:
            known = ", ".join("{" + v + "}" for v in VARIABLES)
            raise SavedRepliesError(f"{where}: unknown variable {unknown[0]!r} (known: {known})")
        replies.append(SavedReply(key, title.strip(), text.strip()))
    return replies


def values_of(
    customer_name: str | None, agent: str, order: dict[str, Any] | None
) -> dict[str, str | None]:
    """A conversation's variables: its customer's name, the agent, the order it is about."""
    name = (customer_name or "").strip() or None
    return {
        "first_name": name.split()[0] if name else None,
        "name": name,
        "agent": agent,
        "order_id": (order or {}).get("id"),
        "order_status": ((order or {}).get("status") or "").lower() or None,
        "order_items": (order or {}).get("items") or None,
        "expected_delivery": (order or {}).get("expected") or None,
    }
