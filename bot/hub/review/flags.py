"""CX review: placeholder, being written (see bot/hub/review/__init__.py)."""

from __future__ import annotations

from sanic import Sanic

OPENAPI_PATHS: dict = {}
OPENAPI_SCHEMAS: dict = {}


def add_routes(app: Sanic) -> None:
    """Register this module's pages and API on ``app``."""
