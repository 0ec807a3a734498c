"""The pieces the hub's routes are described with: a response of each content type, a
reference to a component schema, the hub's local time, the sign-in redirect, and what the
department routes share (their path parameters, signature and its errors).

Each route's description sits beside its handler (bot/hub/registry.py); bot/hub/openapi.py
assembles the document. Both build on these, so this module imports no page module.
"""

from __future__ import annotations

from typing import Any

Spec = dict[str, Any]  # a piece of the OpenAPI document, as JSON data

TO_SIGN_IN: Spec = {"description": "Not signed in: to /login?next=<this page>."}
# Times are the hub's local wall-clock time as stored, ISO 8601 without an offset: not RFC 3339
# `date-time`, which requires one (schemathesis found every such field mis-described).
LOCAL_TIME: Spec = {
    "pattern": r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?$",
    "description": "The hub's local time, ISO 8601 without a UTC offset.",
}


def error_spec(description: str) -> Spec:
    """An error response: the JSON ``Error`` schema."""
    return {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
    }


def html_spec(description: str) -> Spec:
    """A response that is an HTML page."""
    return {"description": description, "content": {"text/html": {"schema": {"type": "string"}}}}


def javascript_spec(description: str) -> Spec:
    """A response that is a JavaScript file."""
    return {
        "description": description,
        "content": {"application/javascript": {"schema": {"type": "string"}}},
    }


def json_spec(description: str, schema: Spec) -> Spec:
    """A JSON response of ``schema``."""
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def json_body(schema: Spec, required: bool = True) -> Spec:
    """A JSON request body of ``schema`` (the registry reads its accepted types from here)."""
    return {"required": required, "content": {"application/json": {"schema": schema}}}


def schema_ref(name: str) -> Spec:
    """A reference to the component schema ``name``."""
    return {"$ref": f"#/components/schemas/{name}"}


# -- what the department routes share --------------------------------------------------------
SIGNED: list[Spec] = [{"signature": [], "timestamp": []}]  # both headers together
BAD_SIGNATURE = error_spec(
    "Missing, stale (more than 300 s from the hub's clock) or wrong signature headers."
)
NO_SECRET = error_spec("The hub has no signing secret configured for that department.")
DEPARTMENT: Spec = {
    "name": "name",
    "in": "path",
    "required": True,
    "description": "A department from departments.yml.",
    "schema": {"type": "string"},
}
HANDOFF_ID: Spec = {
    "name": "handoff_id",
    "in": "path",
    "required": True,
    "description": "The handoff's id (the number in the customer's reference H-<id>).",
    "schema": {"type": "integer", "minimum": 1},
}
CONVERSATION_ID: Spec = {
    "name": "conversation_id",
    "in": "path",
    "required": True,
    "description": "Rasa's conversation (sender) id.",
    "schema": {"type": "string"},
}
