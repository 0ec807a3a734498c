"""Handing a need to the department that owns it, with the context it needs."""

from bot.handoff.handoffs import HandoffDesk
from bot.handoff.model import Handoff, HandoffRequest

__all__ = ["Handoff", "HandoffDesk", "HandoffRequest"]
