"""Handing a need to the department that owns it, with the context it needs."""

from bot.handoff.desk import Handoff, HandoffDesk, HandoffRequest

__all__ = ["Handoff", "HandoffDesk", "HandoffRequest"]
