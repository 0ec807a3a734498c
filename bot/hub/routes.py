"""Every route table of the hub, in the order the app registers them.

bot/hub/app.py registers these on each app it makes, and bot/hub/openapi.py assembles
``/api/openapi.json`` from the same tables: a route is declared once, beside its handler.
"""

from __future__ import annotations

from bot.hub import api
from bot.hub.registry import RouteTable

TABLES: tuple[RouteTable, ...] = (api.routes,)
