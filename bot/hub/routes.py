"""Every route table of the hub, in the order the app registers them.

bot/hub/app.py registers these on each app it makes, and bot/hub/openapi.py assembles
``/api/openapi.json`` from the same tables: a route is declared once, beside its handler.
"""

from __future__ import annotations

from bot.hub import (
    api,
    auth,
    console,
    console_api,
    console_live,
    console_push,
    events,
    pages,
    review,
    templating,
    widget,
)
from bot.hub.registry import RouteTable

TABLES: tuple[RouteTable, ...] = (
    api.routes,
    events.routes,
    auth.routes,
    console_push.routes,
    console.routes,
    console_api.routes,
    console_live.routes,
    pages.routes,
    *review.TABLES,
    widget.routes,
    templating.routes,
)
