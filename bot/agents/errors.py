"""Why a takeover action was refused: the errors ``AgentDesk`` raises to the console.

Apart from the desk so the hub's handlers (bot/hub/console_api.py, console_live.py) can
name them through ``bot.agents`` without reading the desk's workings.
"""

from __future__ import annotations

from bot.agents.queue import Holder


class AgentDeskError(Exception):
    """A takeover action that can't be done as asked (the message says why)."""


class NotFound(AgentDeskError, LookupError):
    """No such conversation, or no escalation waiting in it."""


class Invalid(AgentDeskError, ValueError):
    """A message, note, summary or department that can't be taken."""


class AlreadyTaken(AgentDeskError):
    """Another agent holds the conversation."""

    def __init__(self, holder: Holder):
        super().__init__(f"{holder.display_name} has already taken this conversation over")
        self.holder = holder


class NotHolding(AgentDeskError):
    """The agent does not (or no longer) hold the conversation."""
