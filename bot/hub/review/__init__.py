"""CX review in the hub: metrics with charts, the touchpoint log, conversations, journeys,
flags and exports, for analysts and admins (role area "review").

Each module registers its own pages and JSON API and describes its API in OpenAPI
(``OPENAPI_PATHS``, ``OPENAPI_SCHEMAS``); ``add_routes`` and ``openapi`` gather them.
The data comes from bot/review/ (queries, metrics, exports); these modules only render.
"""

from __future__ import annotations

from sanic import Sanic

from bot.hub.review import conversation, flags, journey, layout, log, metrics
from bot.hub.review.layout import API, PREFIX, error_page

MODULES = (metrics, log, conversation, journey, flags)


def add_routes(app: Sanic) -> None:
    """Register every review page and API on ``app``."""
    for module in MODULES:
        module.add_routes(app)


def openapi_paths() -> dict:
    """The review API's OpenAPI paths, gathered from its modules."""
    return {path: spec for m in MODULES for path, spec in getattr(m, "OPENAPI_PATHS", {}).items()}


def openapi_schemas() -> dict:
    """The review API's OpenAPI component schemas, gathered from its modules."""
    return {k: v for m in MODULES for k, v in getattr(m, "OPENAPI_SCHEMAS", {}).items()}


__all__ = [
    "API",
    "PREFIX",
    "add_routes",
    "error_page",
    "layout",
    "openapi_paths",
    "openapi_schemas",
]
