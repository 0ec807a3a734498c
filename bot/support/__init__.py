"""Serving customer needs: the logic behind every answer the assistant gives.

Actions in ``actions/`` call ``SupportDesk``; it reads the back office, decides, hands
needs to departments and returns a ``Reply`` naming responses from domain.yml (wording
lives there, never here).
"""

from bot.support.desk import SupportDesk
from bot.support.replies import Message, NeedContext, Reply

__all__ = ["Message", "NeedContext", "Reply", "SupportDesk"]
