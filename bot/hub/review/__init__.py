"""CX review in the hub: metrics with charts, the touchpoint log, conversations, journeys,
flags and exports, for analysts and admins (role area "review").

Each module declares its own pages and JSON API, each route beside its handler with its
OpenAPI description (bot/hub/registry.py), in its route table ``routes``; ``TABLES`` are
those tables, which bot/hub/routes.py hands to the app and to the OpenAPI document.
The data comes from bot/analytics/ (queries, metrics, exports); these modules only render.
"""

from __future__ import annotations

from bot.hub.registry import RouteTable
from bot.hub.review import conversation, flags, journey, layout, log, metrics
from bot.hub.review.layout import API, PREFIX, error_page

MODULES = (metrics, log, conversation, journey, flags)
TABLES: tuple[RouteTable, ...] = tuple(module.routes for module in MODULES)

__all__ = [
    "API",
    "PREFIX",
    "TABLES",
    "error_page",
    "layout",
]
