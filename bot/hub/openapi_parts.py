"""The pieces the hub's OpenAPI document is built from: a response of each content type,
a reference to a component schema, the hub's local time and the sign-in redirect.

bot/hub/openapi.py assembles the document and the review modules (bot/hub/review/) describe
their own routes; both build on these, so this module imports neither.
"""

from __future__ import annotations

TO_SIGN_IN = {"description": "Not signed in: to /login?next=<this page>."}
# Times are the hub's local wall-clock time as stored, ISO 8601 without an offset: not RFC 3339
# `date-time`, which requires one (schemathesis found every such field mis-described).
LOCAL_TIME = {
    "pattern": r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?$",
    "description": "The hub's local time, ISO 8601 without a UTC offset.",
}


def error_spec(description: str) -> dict:
    """An error response: the JSON ``Error`` schema."""
    return {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
    }


def html_spec(description: str) -> dict:
    """A response that is an HTML page."""
    return {"description": description, "content": {"text/html": {"schema": {"type": "string"}}}}


def javascript_spec(description: str) -> dict:
    """A response that is a JavaScript file."""
    return {
        "description": description,
        "content": {"application/javascript": {"schema": {"type": "string"}}},
    }


def json_spec(description: str, schema: dict) -> dict:
    """A JSON response of ``schema``."""
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def schema_ref(name: str) -> dict:
    """A reference to the component schema ``name``."""
    return {"$ref": f"#/components/schemas/{name}"}
