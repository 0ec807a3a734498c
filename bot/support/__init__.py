"""Serving customer needs: the logic behind every answer the assistant gives.

Actions in ``actions/`` call ``SupportDesk``; it reads the back office, decides, hands
needs to departments and returns a ``Reply`` naming responses from domain.yml (wording
lives there, never here). Where things are:

- ``desk.py``: ``SupportDesk``, what the actions call (identify, check details, serve);
  built with every collaborator by bot/services.py, the composition root.
- ``needs.py``: the needs registry (owners and labels are data in bot/config/routing.yml).
- ``handler.py``: what a need handler is and the narrow ``Desk`` it sees;
  ``serving.py``: that desk for one need served, which reads each fact once
  (``records.py``: the back office read once; ``stages.py``: the journey stage).
- ``delivery.py``, ``billing.py``, ``sales.py``, ``people.py``: each department's handlers
  and options; ``proactive.py``: a department's news; ``confirm.py``: the yes before a
  change; ``open_work.py``: a need already with a department.
- ``replies.py`` (``NeedContext``, ``Reply``), ``outgoing.py`` (the refusal guard),
  ``facts.py`` (department facts over the back office), ``parsing.py``,
  ``preferences.py`` and ``preference_words.py``, ``feedback.py``.
"""

from bot.support.desk import SupportDesk
from bot.support.replies import Message, NeedContext, Reply

__all__ = ["Message", "NeedContext", "Reply", "SupportDesk"]
