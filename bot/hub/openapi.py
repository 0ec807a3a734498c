"""The OpenAPI 3.0 document of the hub, assembled from the routes' own declarations.

Each route is declared once, beside its handler, with its request and response description
(bot/hub/registry.py); ``document`` gathers every route table of the hub (bot/hub/routes.py)
under the document's title, tags and security schemes, adds the component schemas
(bot/hub/schemas.py and each table's own), then the errors every route can answer as the
hub serves them. tests/bot/hub/test_hub.py checks that every route of the app is described and
nothing else is; tests/bot/hub/test_openapi_fuzz.py fuzzes the hub from this document.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence

from bot.handoff.signing import SIGNATURE_HEADER, TIMESTAMP_HEADER
from bot.hub import registry, routes
from bot.hub.openapi_parts import Spec, error_spec, html_spec
from bot.hub.registry import RouteTable
from bot.hub.schemas import SCHEMAS
from bot.hub.web import MAX_ID

OPENAPI_VERSION = "3.0.3"
INFO: Spec = {
    "title": "CX assistant hub",
    "version": "0.1.0",
    "description": (
        "The hub of the customer-support assistant: the built-in department inboxes and "
        "the API departments call to acknowledge and resolve handoffs.\n\n"
        "Department routes are signed with that department's secret (the environment "
        "variable named by `secret_env` in departments.yml): `X-CX-Timestamp` is the "
        "current unix time in seconds, and `X-CX-Signature` is `sha256=` followed by the "
        "hex HMAC-SHA256 of `<timestamp>.<raw body>` (a GET signs the empty body). "
        "Requests more than 300 seconds from the hub's clock are refused. Errors are "
        'JSON objects: `{"error": "what went wrong"}`. Bodies are limited to 1 MiB.'
    ),
}
TAGS: list[Spec] = [
    {"name": "department API", "description": "Called by a department's own system."},
    {"name": "built-in inbox", "description": "HTML pages for teams without a system."},
    {"name": "hub", "description": "Health, routing map, this document."},
]
SECURITY_SCHEMES: Spec = {
    "signature": {
        "type": "apiKey",
        "in": "header",
        "name": SIGNATURE_HEADER,
        "description": (
            "`sha256=<hex HMAC-SHA256 of '<X-CX-Timestamp>.<raw body>'>` under the "
            "department's secret."
        ),
    },
    "timestamp": {
        "type": "apiKey",
        "in": "header",
        "name": TIMESTAMP_HEADER,
        "description": "Unix seconds when the request was signed; 300 s tolerance.",
    },
}


def document(
    departments: list[str] | None = None, tables: Sequence[RouteTable] = routes.TABLES
) -> Spec:
    """The OpenAPI document of ``tables`` (every route of the hub); ``departments`` become
    the allowed values of the department path parameter ``{name}``."""
    doc: Spec = {
        "openapi": OPENAPI_VERSION,
        "info": copy.deepcopy(INFO),
        "tags": copy.deepcopy(TAGS),
        "paths": registry.paths(tables),
        "components": {
            "securitySchemes": copy.deepcopy(SECURITY_SCHEMES),
            "schemas": {**copy.deepcopy(SCHEMAS), **registry.schemas(tables)},
        },
    }
    _describe_errors_as_served(doc)
    if departments:
        for path in doc["paths"].values():
            for parameter in path.get("parameters", []):
                if parameter["name"] == "name":
                    parameter["schema"]["enum"] = list(departments)
    return doc


# The paths whose errors HubErrorHandler (bot/hub/app.py) answers as HTML pages.
_HTML_ERROR_PREFIXES = ("/departments/", "/console", "/review")


def _describe_errors_as_served(doc: Spec) -> None:
    """Add the errors every route can answer, in the content type the hub answers them in.

    Found by fuzzing (tests/bot/hub/test_openapi_fuzz.py): the request checks in bot/hub/app.py
    answer any route 400 (a NUL anywhere), 413 and 415 (a body too large or of another type),
    and errors on page paths are HTML pages, not the JSON each operation described.
    """
    for path, item in doc["paths"].items():
        on_page = path.startswith(_HTML_ERROR_PREFIXES) and not path.startswith("/api/")
        for method, operation in item.items():
            if method == "parameters":
                continue
            responses = operation["responses"]
            responses.setdefault(
                "400",
                error_spec("A NUL character in the path, query or body, or a malformed body."),
            )
            if _path_parameters(item, operation):
                # Sanic's router answers 404 for a path parameter of the wrong type.
                responses.setdefault("404", error_spec("No such route or record."))
            if "requestBody" in operation:
                responses.setdefault("413", error_spec("The body is larger than 1 MiB."))
                responses.setdefault(
                    "415", error_spec("A body declared as another type than the operation takes.")
                )
            if on_page:
                for status, response in responses.items():
                    if status[0] in "45" and "application/json" in response.get("content", {}):
                        responses[status] = html_spec(response["description"])


def _path_parameters(item: Spec, operation: Spec) -> list[Spec]:
    """The path parameters of ``operation``; integer ones (ids) get the database's key range."""
    found = [
        p for p in item.get("parameters", []) + operation.get("parameters", []) if p["in"] == "path"
    ]
    for parameter in found:
        if parameter["schema"].get("type") == "integer":
            parameter["schema"].setdefault("maximum", MAX_ID)
    return found
