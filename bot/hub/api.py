"""The hub's JSON API: the built-in inbox's webhook receiver, handoff status, routing.

Every route is described in bot/hub/openapi.py (served at /api/openapi.json); a test
checks the two agree. Department routes are signed with that department's secret, the way
the assistant signs the webhooks it sends (bot/handoff/signing.py).
"""

from __future__ import annotations

from sanic import Sanic
from sanic.request import Request
from sanic.response import HTTPResponse, json

from bot.handoff.desk import UPDATE
from bot.hub import openapi
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


def add_routes(app: Sanic) -> None:
    """Register the JSON API on ``app``."""
    app.add_route(health, "/health", methods=["GET"], name="health")
    app.add_route(openapi_json, "/api/openapi.json", methods=["GET"], name="openapi")
    app.add_route(routing, "/api/routing", methods=["GET"], name="routing")
    app.add_route(
        receive_handoff, "/api/departments/<name>/handoffs", methods=["POST"], name="receive"
    )
    app.add_route(list_inbox, "/api/departments/<name>/handoffs", methods=["GET"], name="inbox")
    app.add_route(
        acknowledge, "/api/handoffs/<handoff_id:int>/acknowledge", methods=["POST"], name="ack"
    )
    app.add_route(
        resolve, "/api/handoffs/<handoff_id:int>/resolve", methods=["POST"], name="resolve"
    )


async def health(request: Request) -> HTTPResponse:
    """Liveness: the server answers (the database was migrated before it started listening)."""
    return json({"ok": True})


async def openapi_json(request: Request) -> HTTPResponse:
    """The OpenAPI 3.0 document of every hub route."""
    return json(openapi.document(sorted(request.app.ctx.departments)))


async def routing(request: Request) -> HTTPResponse:
    """The intent -> department/stage map (bot/config/routing.yml), as data."""
    routing_map = request.app.ctx.routing
    return json(
        {
            "department_threshold": routing_map.department_threshold,
            "intents": routing_map.as_dict(),
        }
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
    # handoff.update: a later contact joined an open handoff (bot/handoff/desk.py).
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


async def acknowledge(request: Request, handoff_id: int) -> HTTPResponse:
    """The department has seen the handoff and is on it; optional body ``{"by": "Dana",
    "promised_by": "2026-12-08T17:00", "customer_note": "..."}``."""
    return json(await move(request, handoff_id, "acknowledge"))


async def resolve(request: Request, handoff_id: int) -> HTTPResponse:
    """The department has closed the handoff; body ``{"resolution": "what was done",
    "customer_note": "what to tell the customer"}`` (the note is optional)."""
    return json(await move(request, handoff_id, "resolve"))


async def move(request: Request, handoff_id: int, action: str) -> dict:
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


def _optional_json_object(request: Request) -> dict:
    """An acknowledge's body: none at all, or a JSON object (by, promised_by, customer_note);
    anything else is a 4xx that says what is wrong, as for every JSON route."""
    if not (request.body or b"").strip():
        return {}
    return json_object(request)


def _outcome_fields(body: dict, action: str) -> dict:
    """``by``, ``promised_by`` and ``customer_note`` from a move's body, or 400 saying which is wrong."""
    extras: dict = {}
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
    request: Request, handoff_id: int, action: str, resolution=None, **extras
) -> dict:
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
