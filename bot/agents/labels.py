"""What the console shows for the codes the records keep, in the words an agent reads.

Channels (``socketio`` is "Website chat"), needs (``charged_twice`` is "I was charged
twice", the words of the assistant's own buttons), the journey's signals ("said “I already
told you” twice", never ``told_you 0``), handoff states, and a button's payload
(``/choose_option{"option": "store_credit"}``) as the title the customer pressed.
And the one line a queue card leads with: what the customer needs, in their words.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from datetime import timedelta
from typing import Any

from bot.support.replies import NEED_LABELS, OPTION_LABELS

CHANNELS = {
    "socketio": "Website chat",
    "slack": "Slack",
    "rest": "REST API",
    "cmdline": "Command line",
}
STATUSES = {
    "open": "waiting",
    "acknowledged": "picked up",
    "resolved": "resolved",
    "active": "in progress",
    "handed_back": "handed back",
    "transferred": "transferred",
    "abandoned": "lapsed (back to the queue)",
}
OUTCOMES = {
    "self_served": "answered by the assistant",
    "handed_off": "handed to a department",
    "escalated": "escalated to a person",
    "abandoned": "left without an answer",
    "resolved": "resolved",
}
DEPARTMENTS = {
    "support": "Support team",
    "sales": "Sales",
    "billing": "Billing",
    "delivery": "Delivery",
}
# Needs that say "a person, please" rather than what about.
ASKING_FOR_A_PERSON = ("request_human",)
# A message that is a button's payload: "/intent" or "/intent{json}".
_PAYLOAD = re.compile(r"^/(\w+)(\{.*\})?$", re.S)
_TIMES = {1: "once", 2: "twice"}


def channel(code: str | None) -> str:
    """``socketio`` -> "Website chat"; an unknown channel as its name, capitalised."""
    if not code:
        return "Unknown channel"
    return CHANNELS.get(code) or code.replace("_", " ").capitalize()


def need(code: str | None) -> str:
    """A need (an intent) in the customer's words: ``charged_twice`` -> "I was charged twice"."""
    if not code:
        return "Not said yet"
    if code.startswith("transfer_to_"):
        return f"Transferred to {department(code[len('transfer_to_') :])}"
    return NEED_LABELS.get(code) or code.replace("_", " ").capitalize()


def department(code: str | None) -> str:
    return DEPARTMENTS.get(code or "") or (code or "").replace("_", " ").capitalize()


def status(code: str | None) -> str:
    return STATUSES.get(code or "") or (code or "").replace("_", " ")


def outcome(code: str | None) -> str:
    return OUTCOMES.get(code or "") or (code or "").replace("_", " ")


def option(code: str) -> str:
    """An option the assistant offered, as its button read: ``store_credit`` -> "Store credit instead"."""
    return OPTION_LABELS.get(code) or code.replace("_", " ")


def said(text: str | None) -> str:
    """What the customer sent, as they saw it: a button's payload becomes its title."""
    text = (text or "").strip()
    found = _PAYLOAD.match(text)
    if not found:
        return text
    intent, raw = found.group(1), found.group(2)
    entities: dict[str, Any] = {}
    if raw:
        try:
            loaded = json.loads(raw)
        except ValueError:
            loaded = {}
        entities = loaded if isinstance(loaded, dict) else {}
    chosen = entities.get("option")
    if intent == "choose_option" and isinstance(chosen, str):
        return option(chosen)
    return need(intent)


def is_payload(text: str | None) -> bool:
    """Whether ``text`` is a button's payload rather than words the customer typed."""
    return bool(_PAYLOAD.match((text or "").strip()))


def transcript_line(line: str) -> dict[str, str]:
    """A packet's "who: what" line as {"who", "text"}, payloads shown as what was pressed."""
    who, sep, text = line.partition(": ")
    if not sep:
        return {"who": "", "text": said(line)}
    if who == "customer":
        return {"who": "Customer", "text": said(text)}
    if who == "assistant":
        return {"who": "Assistant", "text": text}
    return {"who": who, "text": text}


def signals(values: dict[str, Any] | None) -> list[str]:
    """The journey's signals that are there, in words (a zero is not a signal)."""
    values = values or {}

    def count(key: str) -> int:
        try:
            return int(values.get(key) or 0)
        except (TypeError, ValueError):
            return 0

    words = []
    if count("told_you"):
        words.append(f"said “I already told you” {_times(count('told_you'))}")
    if count("repeats"):
        words.append(f"repeated themselves {_times(count('repeats'))}")
    if count("negative_words"):
        n = count("negative_words")
        words.append(f"{n} angry or upset word{'s' if n != 1 else ''}")
    if count("contacts_about_order"):
        n = count("contacts_about_order")
        words.append(f"{n} other contact{'s' if n != 1 else ''} about the order this week")
    return words


def urgency(
    frustration: int, tier: str | None, waited: timedelta, sla: timedelta, priority: str
) -> list[str]:
    """Why a conversation is near the top of the queue, most important reason first."""
    why = []
    if frustration >= 3:
        why.append("very frustrated")
    elif frustration > 0:
        why.append("frustrated")
    if priority == "urgent":
        why.append("marked urgent")
    elif priority == "high":
        why.append("high priority")
    if tier == "gold":
        why.append("gold customer")
    if sla and waited > sla:
        why.append(f"waiting past the {duration(sla)} promise")
    elif sla and waited >= sla * 0.75:
        why.append(f"close to the {duration(sla)} promise")
    return why


def duration(value: timedelta) -> str:
    """A wait in the words of a clock: "45 s", "12 min", "2 h 5 min", "3 days"."""
    seconds = int(value.total_seconds())
    if seconds < 60:
        return f"{max(seconds, 0)} s"
    minutes = seconds // 60
    if minutes < 60:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{hours} h" + (f" {minutes} min" if minutes else "")
    return f"{hours // 24} days"


def headline(
    lead_need: str,
    summary: str,
    needs: Sequence[str],
    customer_said: str | None,
    packet_transcript: Iterable[str],
) -> str:
    """What the customer needs, in plain words, for the top of a queue card.

    The need itself when it says what ("I was charged twice"); when the customer only
    asked for a person, the need they raised before (or their own words before asking);
    a complaint in the customer's words.
    """
    if lead_need == "complain":
        words = summary.removeprefix("Complaint: ").strip()
        return f"Complaint: {words}" if words and words != "(no text)" else "Wants to complain"
    if lead_need not in ASKING_FOR_A_PERSON:
        return need(lead_need)
    earlier = [n for n in needs if n and n not in ASKING_FOR_A_PERSON and n in NEED_LABELS]
    if earlier:
        return need(earlier[-1]) + " (asked for a person)"
    before = [
        line.partition(": ")[2].strip()
        for line in packet_transcript
        if isinstance(line, str)
        and line.startswith("customer: ")
        and not is_payload(line.partition(": ")[2])
    ]
    before = [w for w in before if w]
    if customer_said and before and before[-1] == customer_said.strip():
        before = before[:-1]
    if before:
        return f"“{_shorten(before[-1])}” (asked for a person)"
    return "Asked for a person (hasn't said what about yet)"


def _times(n: int) -> str:
    return _TIMES.get(n) or f"{n} times"


def _shorten(text: str, limit: int = 90) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"
