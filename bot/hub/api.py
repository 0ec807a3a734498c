"""The hub's JSON API: the built-in inbox's webhook receiver, handoff status, routing.

Every route is declared once, beside its handler, with its OpenAPI description
(bot/hub/registry.py); bot/hub/openapi.py assembles them into /api/openapi.json. Department
routes are signed with that department's secret, the way the assistant signs the webhooks
it sends (bot/handoff/signing.py).
"""

from __future__ import annotations

from typing import Any

from sanic.request import Request
from sanic.response import HTTPResponse, json

from bot.handoff.messages import UPDATE
from bot.hub.openapi_parts import (
    BAD_SIGNATURE,
    DEPARTMENT,
    HANDOFF_ID,
    NO_SECRET,
    SIGNED,
    error_spec,
    json_body,
    json_spec,
    schema_ref,
)
from bot.hub.registry import RouteTable
from bot.hub.store import STATUSES, HandoffNotFound, KeyReused, TransitionNotAllowed
from bot.hub.web import (
    MAX_ID,
    NUL_REFUSED,
    HubError,
    check_signature,
    department,
    in_thread,
    json_object,
    store,
)
from bot.proactive.outcomes import MAX_NOTE_CHARS, outcome_event, parse_promise

IDEMPOTENCY_HEADER = "Idempotency-Key"
MAX_KEY_LENGTH = 64  # inbox.idempotency_key is String(64)
MAX_BY_CHARS = 100  # handoffs.acknowledged_by is String(100)
DEFAULT_LIMIT, MAX_LIMIT = 100, 500


routes = RouteTable(path_parameters={"name": DEPARTMENT, "handoff_id": HANDOFF_ID})


@routes.route(
    "/health",
    tags=["hub"],
    summary="Liveness",
    operation_id="health",
    responses={
        "200": json_spec(
            "The hub is up and its journey database migrated.",
            {
                "type": "object",
                "properties": {"ok": {"type": "boolean", "enum": [True]}},
                "required": ["ok"],
            },
        )
    },
)
async def health(request: Request) -> HTTPResponse:
    """Liveness: the server answers (the database was migrated before it started listening)."""
    return json({"ok": True})


@routes.route(
    "/api/openapi.json",
    name="openapi",
    tags=["hub"],
    summary="This document",
    operation_id="openapi",
    responses={"200": json_spec("OpenAPI 3.0 document.", {"type": "object"})},
)
async def openapi_json(request: Request) -> HTTPResponse:
    """The OpenAPI 3.0 document of every hub route (assembled when the app was made)."""
    return json(request.app.ctx.openapi)


@routes.route(
    "/api/routing",
    tags=["hub"],
    summary="Which department owns each intent, and its journey stage",
    description="bot/config/routing.yml as data.",
    operation_id="routing",
    responses={"200": json_spec("The routing map.", schema_ref("RoutingMap"))},
)
async def routing(request: Request) -> HTTPResponse:
    """The intent -> department/stage map (bot/config/routing.yml), as data."""
    routing_map = request.app.ctx.routing
    return json(
        {
            "department_threshold": routing_map.department_threshold,
            "intents": routing_map.as_dict(),
        }
    )


@routes.route(
    "/api/departments/<name>/handoffs",
    "POST",
    name="receive",
    tags=["department API"],
    summary="Receive a handoff (the built-in inbox's webhook)",
    description=(
        "Exactly what a department's own system implements: the assistant's "
        "dispatcher POSTs each handoff here, signed, with an Idempotency-Key that "
        "stays the same on every retry. A delivery is stored once per key; a "
        "repeat answers 200 with `duplicate: true` and is counted."
    ),
    operation_id="receiveHandoff",
    security=SIGNED,
    parameters=[
        {
            "name": "Idempotency-Key",
            "in": "header",
            "required": True,
            "description": "One key per delivery, the same on every retry.",
            "schema": {"type": "string", "minLength": 1, "maxLength": 64},
        }
    ],
    request=json_body(schema_ref("Delivery")),
    responses={
        "200": json_spec("Stored, or recognised as a repeat.", schema_ref("Received")),
        "400": error_spec("No Idempotency-Key, a body that is not JSON, or no integer handoff_id."),
        "401": BAD_SIGNATURE,
        "404": error_spec("No such department."),
        "409": error_spec("The Idempotency-Key was used before for another delivery."),
        "413": error_spec("The body is larger than 1 MiB."),
        "503": NO_SECRET,
    },
)
async def receive_handoff(request: Request, name: str) -> HTTPResponse:
    """The built-in inbox's webhook: store a signed delivery once per Idempotency-Key."""
    dept = department(request, name)
    check_signature(request, dept)
    key = (request.headers.get(IDEMPOTENCY_HEADER) or "").strip()
    if not key:
        raise HubError(400, f"missing {IDEMPOTENCY_HEADER} header: send one key per delivery")
    if len(key) > MAX_KEY_LENGTH:
        raise HubError(400, f"{IDEMPOTENCY_HEADER} is longer than {MAX_KEY_LENGTH} characters")
    # Stored as the bytes sent, where a NUL is the JSON escape \u0000: safe on any database.
    payload = json_object(request, allow_nul=True)
    handoff_id = payload.get("handoff_id")
    if type(handoff_id) is not int or not 0 < handoff_id <= MAX_ID:  # not bool, not "12"
        # Beyond MAX_ID PostgreSQL's INTEGER column refused it: that was a 500.
        raise HubError(400, f"the body must hold handoff_id, a positive integer up to {MAX_ID}")
    # handoff.update: a later contact joined an open handoff (bot/handoff/handoffs.py).
    kind = "update" if payload.get("type") == UPDATE else "handoff"
    try:
        delivery = await in_thread(
            store(request).receive, dept.name, key, handoff_id, request.body.decode("utf-8"), kind
        )
    except KeyReused as e:
        raise HubError(409, str(e)) from None
    return json(
        {"received": True, "duplicate": delivery.duplicate, "deliveries": delivery.deliveries}
    )


@routes.route(
    "/api/departments/<name>/handoffs",
    name="inbox",
    tags=["department API"],
    summary="The department's inbox, newest first",
    operation_id="listInbox",
    security=SIGNED,
    parameters=[
        {
            "name": "status",
            "in": "query",
            "required": False,
            "description": "Only handoffs in this status (default: all).",
            "schema": {"type": "string", "enum": list(STATUSES)},
        },
        {
            "name": "limit",
            "in": "query",
            "required": False,
            "schema": {"type": "integer", "minimum": 1, "maximum": 500, "default": 100},
        },
    ],
    responses={
        "200": json_spec(
            "What arrived, with each handoff's current state.",
            {
                "type": "object",
                "properties": {
                    "department": {"type": "string"},
                    "handoffs": {"type": "array", "items": schema_ref("InboxItem")},
                },
                "required": ["department", "handoffs"],
            },
        ),
        "400": error_spec("Unknown status or a bad limit."),
        "401": BAD_SIGNATURE,
        "404": error_spec("No such department."),
        "503": NO_SECRET,
    },
)
async def list_inbox(request: Request, name: str) -> HTTPResponse:
    """A department's inbox, newest first; ``?status=`` narrows it, ``?limit=`` caps it."""
    dept = department(request, name)
    check_signature(request, dept)
    status = request.args.get("status")
    if status is not None and status not in STATUSES:
        raise HubError(400, f"status must be one of {', '.join(STATUSES)}, got {status!r}")
    raw_limit = request.args.get("limit", str(DEFAULT_LIMIT))
    if not raw_limit.isdigit() or not 1 <= int(raw_limit) <= MAX_LIMIT:
        raise HubError(400, f"limit must be a whole number from 1 to {MAX_LIMIT}")
    items = await in_thread(
        store(request).inbox, dept.name, [status] if status else STATUSES, int(raw_limit)
    )
    return json({"department": dept.name, "handoffs": items})


@routes.route(
    "/api/handoffs/<handoff_id:int>/acknowledge",
    "POST",
    name="ack",
    tags=["department API"],
    summary="Acknowledge a handoff (open -> acknowledged)",
    description=(
        "Signed with the secret of the handoff's department. Body: empty, or a "
        "JSON object with any of `by` (who is on it), `promised_by` (the local "
        "time they promise an answer by; it replaces the service level's) and "
        "`customer_note`. With a promise or a note, the customer is told (their "
        "live channel outside quiet hours, else their next contact, once), and a "
        "later contact about the same need and order hears who is on it and by "
        "when."
    ),
    operation_id="acknowledgeHandoff",
    security=SIGNED,
    request=json_body(schema_ref("Acknowledgement"), required=False),
    responses={
        "200": json_spec("The updated handoff.", schema_ref("Handoff")),
        "400": error_spec("by, promised_by or customer_note is of the wrong kind or too long."),
        "401": BAD_SIGNATURE,
        "404": error_spec(
            "No such handoff (said only to a caller signed by a department: else 401)."
        ),
        "409": json_spec(
            "The handoff is no longer open; `status` says what it is.",
            schema_ref("Conflict"),
        ),
        "503": NO_SECRET,
    },
)
async def acknowledge(request: Request, handoff_id: int) -> HTTPResponse:
    """The department has seen the handoff and is on it; optional body ``{"by": "Dana",
    "promised_by": "2026-12-08T17:00", "customer_note": "..."}``."""
    return json(await move(request, handoff_id, "acknowledge"))


@routes.route(
    "/api/handoffs/<handoff_id:int>/resolve",
    "POST",
    tags=["department API"],
    summary="Resolve a handoff (open or acknowledged -> resolved)",
    description=(
        "Signed with the secret of the handoff's department. When every handoff of "
        "the conversation is resolved, the conversation's newest touchpoint gets "
        "the outcome `resolved`. The customer of a verified handoff is told it is "
        "resolved, with `customer_note` when given (never the internal "
        "`resolution`), on their live channel outside quiet hours or at their "
        "next contact, once; questions about it afterwards (\"where's my "
        'refund?") answer from the note.'
    ),
    operation_id="resolveHandoff",
    security=SIGNED,
    request=json_body(
        {
            "type": "object",
            "properties": {
                "resolution": {
                    "type": "string",
                    "minLength": 1,
                    "description": "What was done, for the journey record.",
                },
                "customer_note": {
                    "type": "string",
                    "minLength": 1,
                    "maxLength": 500,
                    "description": "What to tell the customer.",
                },
            },
            "required": ["resolution"],
        }
    ),
    responses={
        "200": json_spec("The updated handoff.", schema_ref("Handoff")),
        "400": error_spec("The body is not JSON, has no resolution, or a bad customer_note."),
        "401": BAD_SIGNATURE,
        "404": error_spec(
            "No such handoff (said only to a caller signed by a department: else 401)."
        ),
        "409": json_spec("The handoff is already resolved.", schema_ref("Conflict")),
        "503": NO_SECRET,
    },
)
async def resolve(request: Request, handoff_id: int) -> HTTPResponse:
    """The department has closed the handoff; body ``{"resolution": "what was done",
    "customer_note": "what to tell the customer"}`` (the note is optional)."""
    return json(await move(request, handoff_id, "resolve"))


async def move(request: Request, handoff_id: int, action: str) -> dict[str, Any]:
    """Check the handoff's department signed the request, then make the move."""
    try:
        handoff = await in_thread(store(request).handoff, handoff_id)
    except HandoffNotFound as e:
        # Only a signed caller may learn which ids exist: unsigned probes get 401, not 404.
        _check_signed_by_any_department(request)
        raise HubError(404, str(e)) from None
    dept = request.app.ctx.departments.get(handoff["department"])
    if dept is None:
        raise HubError(
            503,
            f"handoff {handoff_id} belongs to department {handoff['department']!r}, "
            "which departments.yml no longer defines",
        )
    check_signature(request, dept)
    resolution = None
    if action == "resolve":
        body = json_object(request)
        resolution = body.get("resolution")
        if not isinstance(resolution, str) or not resolution.strip():
            raise HubError(400, 'resolve needs {"resolution": "what was done"}, a non-empty text')
    else:
        body = _optional_json_object(request)
    extras = _outcome_fields(body, action)
    moved = await transition(request, handoff_id, action, resolution, **extras)
    # Outcomes flow back: the customer hears it, like a department's event (bot/proactive/).
    event = outcome_event(moved, action, extras.get("customer_note"))
    proactive = getattr(request.app.ctx, "proactive", None)
    if event is not None and proactive is not None:
        _, new = await in_thread(
            proactive.take_in, event, moved["customer_id"], moved["department"]
        )
        if new:
            request.app.ctx.deliverer.wake.set()
    return moved


def _optional_json_object(request: Request) -> dict[str, Any]:
    """An acknowledge's body: none at all, or a JSON object (by, promised_by, customer_note);
    anything else is a 4xx that says what is wrong, as for every JSON route."""
    if not (request.body or b"").strip():
        return {}
    return json_object(request)


def _outcome_fields(body: dict[str, Any], action: str) -> dict[str, Any]:
    """``by``, ``promised_by`` and ``customer_note`` from a move's body, or 400 saying which is wrong."""
    extras: dict[str, Any] = {}
    note = body.get("customer_note")
    if note is not None:
        if not isinstance(note, str) or not note.strip() or len(note) > MAX_NOTE_CHARS:
            raise HubError(400, f"customer_note must be a text of 1 to {MAX_NOTE_CHARS} characters")
        if "\x00" in note:
            raise HubError(400, NUL_REFUSED)
        extras["customer_note"] = note.strip()
    if action == "acknowledge":
        by = body.get("by")
        if by is not None:
            if not isinstance(by, str) or not by.strip() or len(by) > MAX_BY_CHARS or "\x00" in by:
                raise HubError(400, f"by must be a name of 1 to {MAX_BY_CHARS} characters")
            extras["by"] = by.strip()
        try:
            extras["promised_by"] = parse_promise(body.get("promised_by"))
        except ValueError as e:
            raise HubError(400, str(e)) from None
    return extras


async def transition(
    request: Request, handoff_id: int, action: str, resolution: str | None = None, **extras: Any
) -> dict[str, Any]:
    """Make the move, answering 404 for an unknown handoff and 409 for an impossible move."""
    try:
        return await in_thread(store(request).transition, handoff_id, action, resolution, **extras)
    except HandoffNotFound as e:
        raise HubError(404, str(e)) from None
    except TransitionNotAllowed as e:
        raise HubError(409, str(e), status=e.status) from None


def _check_signed_by_any_department(request: Request) -> None:
    """401 unless some department with a secret signed the request (for unknown handoffs)."""
    refusal = HubError(401, "bad signature: not signed by any department's secret")
    for dept in request.app.ctx.departments.values():
        try:
            check_signature(request, dept)
        except HubError as e:
            if e.status_code == 401:
                refusal = e
            continue
        return
    raise refusal
