"""Preferences in the customer's own words: what they asked for, and what we say back.

"call me Sam", "please be formal", "message me on Slack", "no messages after 9pm", "best time
to reach me is 9 to 5", "forget my preferences": bot/support/preference_words.py reads what
a message (or a preference button) asks to change; here it is kept in
``bot.preferences.PreferenceStore`` and said back. The replies say what was kept, in the
24-hour clock, so an ambiguous time ("after 6") is visible and easy to correct.

Buttons send ``/set_preference{"preference": "<key>:<value>"}`` (``channel:slack``,
``quiet:none``, ``forget``); typed messages go through ``understand``.
"""

from __future__ import annotations

import re
from typing import Any

from bot.preferences import CHANNEL_LABELS, InvalidPreference, Preferences, PreferenceStore
from bot.support.preference_words import Understood, from_button, understand
from bot.support.replies import Reply, button

# A question about what is kept ("my contact preferences?"), classified as a change.
_VIEW = re.compile(
    r"^\s*(?:what|which|how|when|show|list|see|can i see|do i|remind|did you|are my|is my"
    r"|my (?:contact )?(?:preferences|settings))\b|\?\s*$",
    re.IGNORECASE,
)


# -- what we say back ---------------------------------------------------------------------

SHOW_BUTTON = button("See my preferences", "show_preferences")


def change(
    store: PreferenceStore,
    customer_id: str,
    text: str,
    full_name: str | None = None,
    button_value: str | None = None,
    channel: str = "socketio",
) -> Reply:
    """Keep the preferences ``text`` (or a preference button) states, and say what was kept.

    ``customer_id`` is the journey customer id; ``full_name`` the name on their account;
    ``channel`` the one this conversation is on. Sets the ``customer_name`` slot when the
    way to address them changed.
    """
    current = store.get(customer_id)
    wanted = from_button(button_value) or understand(text, current, here=channel)
    if wanted.forget:
        store.forget(customer_id)
        reply = Reply().say("utter_preferences_forgotten")
        reply.slots["customer_name"] = Preferences().address(full_name) or None
        return reply
    if not wanted.changes and not wanted.other_channel:
        # Nothing to change, but a question about what we keep: the view answers it.
        return show(store, customer_id) if _VIEW.search(text or "") else ask_what_to_change()
    reply = Reply()
    if wanted.changes:
        try:
            kept = store.update(customer_id, **wanted.changes)
        except InvalidPreference:
            return ask_what_to_change()
        address = kept.address(full_name)
        said = _kept_text(wanted.changes, kept)
        if said is None:  # only the name changed: saying it is enough
            reply.say("utter_preference_name_kept", buttons=[SHOW_BUTTON], name=address)
        elif address:
            reply.say(
                "utter_preference_kept_by_name", buttons=[SHOW_BUTTON], name=address, kept=said
            )
        else:
            reply.say("utter_preference_kept", buttons=[SHOW_BUTTON], kept=said)
        if address != current.address(full_name):
            reply.slots["customer_name"] = address or None
    if wanted.other_channel:
        # "Email me": say which channels the assistant can reach them on, as buttons.
        reply.say(
            "utter_preference_channel_elsewhere",
            buttons=channel_buttons(),
            asked=wanted.other_channel,
        )
    return reply


def show(store: PreferenceStore, customer_id: str | None) -> Reply:
    """Everything we know about how the customer likes to be contacted, and how to change it."""
    prefs = store.get(customer_id)
    if not prefs.stated:
        return Reply().say("utter_preferences_none", buttons=channel_buttons())
    return Reply().say(
        "utter_preferences_summary",
        buttons=[
            button("Message me any time", "set_preference", preference="quiet:none"),
            button("Forget my preferences", "set_preference", preference="forget"),
        ]
        if prefs.quiet_hours_text()
        else [button("Forget my preferences", "set_preference", preference="forget")],
        summary=summary(prefs),
    )


def ask_what_to_change() -> Reply:
    """When we couldn't tell what to change: examples of what can be, and the choices."""
    return Reply().say("utter_preference_ask", buttons=[SHOW_BUTTON, *channel_buttons()])


def channel_buttons() -> list[dict[str, str]]:
    """The channels the assistant can message the customer on, as buttons."""
    return [
        button("Message me on Slack", "set_preference", preference="channel:slack"),
        button("Use this website chat", "set_preference", preference="channel:socketio"),
    ]


def summary(prefs: Preferences) -> str:
    """The stated preferences as short lines ("- Name: Sam")."""
    lines = []
    if prefs.name:
        lines.append(f"- Name: {prefs.name}")
    if prefs.formality:
        lines.append(
            "- Address: formal" if prefs.formality == "formal" else "- Address: first name"
        )
    if prefs.channel:
        lines.append(f"- Channel: {CHANNEL_LABELS[prefs.channel]}")
    if prefs.quiet_hours_text():
        lines.append(f"- Quiet hours: no messages from {prefs.quiet_from} to {prefs.quiet_until}")
    return "\n".join(lines)


def _kept_text(changes: dict[str, Any], kept: Preferences) -> str | None:
    """What was kept, in words ("no messages from 21:00 to 08:00"); ``None`` when the only
    change is a new name (the reply greets them by it)."""
    parts = []
    if "name" in changes and not kept.name:
        parts.append("I'll use the name on your account again")
    if "formality" in changes and kept.formality and not kept.name:
        parts.append(
            "I'll address you formally"
            if kept.formality == "formal"
            else "I'll use your first name"
        )
    if "channel" in changes and kept.channel:
        where = "here on the website chat" if kept.channel == "socketio" else "on Slack"
        parts.append(f"when there's news, I'll message you {where}")
    if "quiet_from" in changes:
        parts.append(
            f"no messages from {kept.quiet_from} to {kept.quiet_until}"
            if kept.quiet_from
            else "messages are welcome at any time of day"
        )
    if not parts:
        return None if kept.name else "your preferences are up to date"
    return parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]


__all__ = [
    "Understood",
    "ask_what_to_change",
    "change",
    "from_button",
    "show",
    "summary",
    "understand",
]
