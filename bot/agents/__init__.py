"""Support agents taking conversations over from the assistant (issue 6: the agent console).

- ``rasa_api``: a small client of Rasa's HTTP API (tracker, events, pause and resume).
- ``relay``: how a message reaches the customer on their own channel (web widget, Slack).
- ``transcript``: a conversation's messages from its Rasa tracker, for the console.
- ``queue``: the escalation queue's order (frustration, value tier, waiting time vs SLA).
- ``escalations``: the conversations waiting for an agent, read from the journey database.
- ``takeovers``: the takeovers table (claims, leases, endings) and the ``Takeover`` shape.
- ``conversation_view``: everything the console shows about one conversation.
- ``notes``: internal notes for colleagues, never sent to the customer.
- ``announcements``: what the customer is told when a person joins, leaves or transfers.
- ``errors``: why the desk refused a takeover action.
- ``desk``: ``AgentDesk``, takeovers with leases, notes, hand back, transfer and resolve.

Plain Python with no Rasa import: the hub talks to Rasa over its HTTP API only.
"""

from bot.agents.agent_desk import AgentDesk
from bot.agents.errors import AgentDeskError, AlreadyTaken, Invalid, NotFound, NotHolding
from bot.agents.rasa_api import RasaApi, RasaApiError
from bot.agents.relay import CannotReach, RelayFailed
from bot.agents.takeovers import Takeover

__all__ = [
    "AgentDesk",
    "AgentDeskError",
    "AlreadyTaken",
    "CannotReach",
    "Invalid",
    "NotFound",
    "NotHolding",
    "RasaApi",
    "RasaApiError",
    "RelayFailed",
    "Takeover",
]
