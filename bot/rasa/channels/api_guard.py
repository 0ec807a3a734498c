"""Malformed bodies to Rasa's own HTTP API get a 400 or 415 that says why, not a 500.

Rasa 3.6's handlers (rasa/server.py) read ``request.json`` unchecked: ``[]``, ``"x"``,
``null`` or broken JSON sent to ``/model/parse``, ``/conversations/<id>/messages``,
``.../trigger_intent``, ``.../execute`` or ``.../tracker/events`` end in a 500 ("An
unexpected error occurred", or Sanic's bare "Internal Server Error"). The REST channel
(bot/rasa/channels/rest.py) installs this check on the Rasa server's app as a request
middleware: it looks only at those routes, answers in Rasa's own error format, and lets
every well-formed request through untouched, so the API stays Rasa's.
"""

from __future__ import annotations

import json
import re
from typing import Any

from sanic import Sanic, response
from sanic.request import Request
from sanic.response import HTTPResponse

_CONVERSATION = r"^/conversations/[^/]+"
# (method, path, what the body must be, the string fields it must hold)
ROUTES: list[tuple[str, re.Pattern[str], str, tuple[str, ...]]] = [
    ("POST", re.compile(r"^/model/parse/?$"), "object", ("text",)),
    ("POST", re.compile(_CONVERSATION + r"/messages/?$"), "object", ("text", "sender")),
    ("POST", re.compile(_CONVERSATION + r"/trigger_intent/?$"), "object", ("name",)),
    ("POST", re.compile(_CONVERSATION + r"/execute/?$"), "object", ("name",)),
    ("POST", re.compile(_CONVERSATION + r"/tracker/events/?$"), "events", ()),
    ("PUT", re.compile(_CONVERSATION + r"/tracker/events/?$"), "event list", ()),
]


def install(app: Sanic) -> None:
    """Check the bodies of Rasa's JSON API routes on ``app`` before Rasa reads them."""
    if getattr(app.ctx, "cx_api_guard", False):  # one check, however many channels ask
        return
    app.ctx.cx_api_guard = True
    app.register_middleware(check_api_body, "request")


async def check_api_body(request: Request) -> HTTPResponse | None:
    """A 400/415 answer for a malformed body to one of ``ROUTES``; None lets it through."""
    if body_unread(request):
        return None  # Sanic is answering an error (a 413) and runs request middleware first
    for method, path, shape, fields in ROUTES:
        if request.method == method and path.match(request.path):
            problem = _problem(request, shape, fields)
            if problem:
                return _error(*problem)
            return None
    return None


def _problem(request: Request, shape: str, fields: tuple[str, ...]) -> tuple[int, str] | None:
    kind = (request.headers.get("content-type") or "").split(";")[0].strip().lower()
    if kind and kind != "application/json" and not kind.endswith("+json"):
        return 415, f"The body must be application/json, not {kind}."
    try:
        body: Any = json.loads(request.body or b"")
    except ValueError:  # includes UnicodeDecodeError
        return 400, f"The body is not valid JSON: expected {_expected(shape, fields)}."
    if shape == "object" or (shape == "events" and not isinstance(body, list)):
        if not isinstance(body, dict):
            return 400, f"The body must be {_expected(shape, fields)}."
        events = [body] if shape == "events" else []
        for name in fields:
            if not isinstance(body.get(name), str):
                return (
                    400,
                    f"'{name}' is missing or not a string: expected {_expected(shape, fields)}.",
                )
    else:
        if not isinstance(body, list):
            return 400, f"The body must be {_expected(shape, fields)}."
        events = body
        if shape == "events" and not events:
            return 400, "The body is an empty list: send one event or a list of events."
    for event in events:
        if not isinstance(event, dict) or not isinstance(event.get("event"), str):
            return (
                400,
                'Each event must be an object with an "event" name, like {"event": "restart"}.',
            )
    if has_nul(body):  # the channels remove it from what customers type; the API refuses it
        return 400, "NUL characters (\\u0000) are not allowed: PostgreSQL cannot store them."
    return None


def has_nul(value: Any) -> bool:
    """Whether a JSON value holds a NUL character anywhere (PostgreSQL can't store one)."""
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(has_nul(k) or has_nul(v) for k, v in value.items())
    if isinstance(value, list):
        return any(has_nul(v) for v in value)
    return False


def _expected(shape: str, fields: tuple[str, ...]) -> str:
    if shape == "object":
        return "a JSON object with " + " and ".join(f"'{f}'" for f in fields)
    if shape == "events":
        return 'an event object like {"event": "restart"}, or a list of them'
    return 'a list of event objects like [{"event": "restart"}]'


def body_unread(request: Request) -> bool:
    """Whether Sanic stopped reading this request's body (over the size limit): it answers
    with that error after running the request middleware, which must then stand aside."""
    stream = request.stream
    return stream is not None and bool(getattr(stream, "request_body", None))


def _error(status: int, message: str) -> HTTPResponse:
    from rasa import __version__  # Rasa's error format, so clients parse it as they do Rasa's

    return response.json(
        {
            "version": __version__,
            "status": "failure",
            "message": message,
            "reason": "BadRequest" if status == 400 else "UnsupportedMediaType",
            "details": {},
            "help": None,
            "code": status,
        },
        status=status,
    )
