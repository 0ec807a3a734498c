"""Department events in: a department's system tells the hub first, the customer hears next.

``POST /api/departments/<name>/events`` takes one event (bot/proactive/events.py), signed
with that department's webhook secret like every department route. A new event answers
202 and wakes the delivery worker; the same id again answers 200 with ``duplicate: true``
and tells nobody twice. ``GET /api/departments/<name>/events/<id>`` shows where it is: told
on which channel, held for quiet hours, waiting for the next contact, and what the
customer chose.

The worker (bot/proactive/deliver.py) runs in the hub, next to the agent console's relay:
both reach customers through Rasa's HTTP API and Slack's Web API.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import datetime

from sanic import Sanic
from sanic.request import Request
from sanic.response import HTTPResponse, json
from sqlalchemy.engine import Engine

from bot.agents.rasa_api import RasaApi
from bot.backoffice import BackOffice, NotFound
from bot.hub.openapi_parts import (
    BAD_SIGNATURE,
    DEPARTMENT,
    NO_SECRET,
    SIGNED,
    error_spec,
    json_body,
    json_spec,
    schema_ref,
)
from bot.hub.registry import RouteTable
from bot.hub.web import HubError, check_signature, department, in_thread, json_object
from bot.proactive.deliver import Deliverer
from bot.proactive.events import IncomingEvent, InvalidEvent
from bot.proactive.store import ProactiveStore
from bot.rasa.channels.slack_api import SlackWebApi

log = logging.getLogger(__name__)


routes = RouteTable(
    tags=["department API"],
    path_parameters={
        "name": DEPARTMENT,
        "event_id": {
            "name": "event_id",
            "in": "path",
            "required": True,
            "description": "The department's own id for the event.",
            "schema": {"type": "string"},
        },
    },
)


@routes.route(
    "/api/departments/<name>/events",
    "POST",
    name="event_in",
    summary="Tell the customer first: a department event (shipment.delayed...)",
    description=(
        "A department's system reports something the customer should hear from us "
        "before they ask (bot/config/proactive.yml lists the types and what each "
        "needs). The assistant tells them on their live channel, outside their quiet "
        "hours, or at their next contact, with what we can do as buttons. The same "
        "id again answers 200 with `duplicate: true` and tells nobody twice."
    ),
    operation_id="receiveEvent",
    security=SIGNED,
    request=json_body(schema_ref("DepartmentEvent")),
    responses={
        "202": json_spec("Taken in; the customer will be told.", schema_ref("EventTaken")),
        "200": json_spec("A repeat of an event already taken in.", schema_ref("EventTaken")),
        "400": error_spec(
            "Not JSON, an unknown type, a type of another department, or a "
            "missing or malformed field (the message names it)."
        ),
        "401": BAD_SIGNATURE,
        "404": error_spec("No such department."),
        "422": error_spec("The order, invoice or customer is not in the back office."),
        "503": error_spec("No signing secret for the department, or no back office configured."),
    },
)
async def receive_event(request: Request, name: str) -> HTTPResponse:
    """Take a department's event once; the customer is told as soon as it suits them."""
    dept = department(request, name)
    check_signature(request, dept)
    body = json_object(request)
    try:
        incoming = request.app.ctx.event_types.check(dept.name, body)
    except InvalidEvent as e:
        raise HubError(400, str(e)) from None
    customer_id = await in_thread(customer_of, request.app.ctx.backoffice, incoming)
    event, new = await in_thread(request.app.ctx.proactive.take_in, incoming, customer_id)
    if new:
        request.app.ctx.deliverer.wake.set()
    return json(
        {"id": event.event_id, "state": event.state, "duplicate": not new},
        status=202 if new else 200,
    )


@routes.route(
    "/api/departments/<name>/events/<event_id>",
    summary="Where an event is: told, held for quiet hours, waiting, and the choice",
    operation_id="eventStatus",
    security=SIGNED,
    responses={
        "200": json_spec("The event and its outcome.", schema_ref("EventState")),
        "401": BAD_SIGNATURE,
        "404": error_spec("No such department, or no such event of this department."),
        "503": NO_SECRET,
    },
)
async def event_status(request: Request, name: str, event_id: str) -> HTTPResponse:
    """Where a department's event is now, and what its customer chose."""
    dept = department(request, name)
    check_signature(request, dept)
    event = await in_thread(request.app.ctx.proactive.by_event_id, event_id)
    if event is None or event.department != dept.name:
        raise HubError(404, f"no {dept.name} event with id {event_id!r}")
    return json(event.as_dict())


def customer_of(backoffice: BackOffice | None, event: IncomingEvent) -> str:
    """The back office's customer the event is about; 422 for an unknown reference."""
    if backoffice is None:
        raise HubError(503, "the hub has no back office to look the customer up in")
    try:
        if event.order_id:
            return backoffice.order(event.order_id).customer_id
        if event.invoice_id:
            return backoffice.invoice(event.invoice_id).customer_id
        return backoffice.customer(event.customer_id or "").id
    except NotFound:
        what = event.type.about
        reference = event.order_id or event.invoice_id or event.customer_id
        raise HubError(422, f"no {what} {reference!r} in the back office") from None


def open_events(app: Sanic, engine: Engine, now: Callable[[], datetime]) -> None:
    """The event store and the delivery worker, on the hub's journey database."""
    settings = app.ctx.settings
    app.ctx.proactive = ProactiveStore(engine, now)
    app.ctx.deliverer = Deliverer(
        engine,
        RasaApi(settings.rasa_api_url, settings.rasa_token),
        SlackWebApi.from_env(settings.secrets),
        now=now,
    )


def start_delivering(app: Sanic) -> None:
    """Run the delivery worker in a thread of the hub's process (it blocks on HTTP)."""
    stop = threading.Event()
    worker = threading.Thread(
        target=app.ctx.deliverer.run_forever, args=(stop,), name="proactive-delivery", daemon=True
    )
    app.ctx.delivery_stop = stop
    worker.start()
    app.ctx.delivery_worker = worker


def stop_delivering(app: Sanic) -> None:
    stop = getattr(app.ctx, "delivery_stop", None)
    if stop is not None:
        stop.set()
        app.ctx.deliverer.wake.set()
        app.ctx.delivery_worker.join(timeout=20)
