"""The hub: the web app for department inboxes today, the agent console and CX review later.

from bot.hub import HubSettings, create_app, run_hub
run_hub(HubSettings.from_env())      # or: python -m bot.hub
"""

from bot.hub.app import HubServer, create_app, run_hub, serve
from bot.hub.settings import HubSettings

__all__ = ["HubServer", "HubSettings", "create_app", "run_hub", "serve"]
