"""The agent console's JSON API, under ``/api/console/``: what the console page calls.

The list beside the chat (queue, mine, recent, search), one conversation, and the
takeover's actions (take, heartbeat, messages, notes, hand back, transfer, resolve). Every
route needs a signed-in agent or admin (bot/hub/auth.py); every POST carries the session's
CSRF token in ``X-CSRF-Token``. The work itself is bot/agents/agent_desk.py's ``AgentDesk``;
each change is pushed to the open consoles (bot/hub/console_push.py). The pages are
bot/hub/console.py's.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from sanic.request import Request
from sanic.response import HTTPResponse
from sanic.response import json as json_response

from bot.agents import (
    AgentDesk,
    AlreadyTaken,
    CannotReach,
    Invalid,
    NotFound,
    NotHolding,
    RelayFailed,
)
from bot.agents.queue import Holder
from bot.hub import console_push
from bot.hub.accounts import Session
from bot.hub.auth import check_csrf, require
from bot.hub.openapi_parts import CONVERSATION_ID, Spec, error_spec, json_body, json_spec
from bot.hub.registry import RouteTable
from bot.hub.schemas import CONSOLE_LIST, CONSOLE_LIST_PARAMETERS, CONSOLE_QUEUE
from bot.hub.web import HubError, in_thread, json_object

T = TypeVar("T")
API = "/api/console"

# -- how the routes are described (bot/hub/registry.py) -------------------------------------
_CHANGING = (
    "Session cookie of an agent or admin, and the session's CSRF token in the "
    "`X-CSRF-Token` header (from GET /api/session)."
)
_NOT_HOLDING = "Not held by this agent, or the lease lapsed."


def _text_body(*fields: str, required: tuple[str, ...] = ()) -> Spec:
    """A JSON object body of texts (``fields``), ``required`` of them required."""
    properties = {field: {"type": "string", "maxLength": 5000} for field in fields}
    schema = {"type": "object", "properties": properties, "required": list(required)}
    return json_body(schema)


def _answers(ok: str, done: str, conflict: str | None = _NOT_HOLDING) -> dict[str, Spec]:
    """What a takeover action answers: ``ok`` with ``done``, else why not."""
    return {
        ok: json_spec(done, {"type": "object"}),
        "400": error_spec("A missing or too long text, or an unknown department."),
        "401": error_spec("Not signed in."),
        "403": error_spec(
            "Another role than agent or admin, or no valid CSRF token, or another site's Origin."
        ),
        "404": error_spec("No such conversation, or no escalation waiting in it."),
        **({"409": error_spec(conflict)} if conflict else {}),
        "502": error_spec(
            "Rasa or Slack did not take it; nothing changed (the message says what to do)."
        ),
    }


routes = RouteTable(tags=["agent console"], path_parameters={"conversation_id": CONVERSATION_ID})
BASE = f"{API}/conversations/<conversation_id>"


# -- the JSON API ------------------------------------------------------------------------------
@routes.route(
    f"{API}/queue",
    name="console_queue",
    summary="Every escalation: waiting ones most pressing first, then taken ones",
    description=(
        "Order: frustration, then the customer's value tier, then the share of the "
        "support team's service level the wait has used, then who came first. "
        "Session cookie of an agent or admin."
    ),
    operation_id="consoleQueue",
    responses={
        "200": json_spec(
            "The queue.",
            CONSOLE_QUEUE,
        ),
        "401": error_spec("Not signed in."),
        "403": error_spec("Signed in with a role other than agent or admin."),
        "502": error_spec("Rasa could not be reached while ending a lapsed takeover."),
    },
)
async def queue_api(request: Request) -> HTTPResponse:
    """Every escalation: the waiting ones in the queue's order, then those being handled."""
    session = await require(request, "console")
    escalations = await call_desk(request, desk(request).queue)
    return _json(
        {
            "escalations": [e.as_json(session.user.id) for e in escalations],
            "lease_seconds": int(desk(request).lease.total_seconds()),
        }
    )


@routes.route(
    f"{API}/conversations",
    name="console_list",
    summary="The console's list beside the chat: queue, mine, recent, or a search",
    description=(
        "Session cookie of an agent or admin. `queue`: the escalations (waiting ones "
        "most pressing first, then those being handled); `mine`: the chats you hold, "
        "then those you ended in the last day; `recent`: the latest conversations; "
        "`search`: those whose customer, words or handoff match `q`."
    ),
    operation_id="consoleConversations",
    parameters=CONSOLE_LIST_PARAMETERS,
    responses={
        "200": json_spec(
            "The list, each item a card.",
            CONSOLE_LIST,
        ),
        "400": error_spec("An unknown view, or an empty or too long search."),
        "401": error_spec("Not signed in."),
        "403": error_spec("Signed in with a role other than agent or admin."),
    },
)
async def list_api(request: Request) -> HTTPResponse:
    """The list beside the chat: ``?view=queue|mine|recent|search`` (``&q=`` to search)."""
    session = await require(request, "console")
    view = request.args.get("view") or "queue"
    query = request.args.get("q")
    items = await call_desk(request, desk(request).worklist, view, session.user.id, query)
    waiting = (
        sum(1 for i in items if i["waiting"])
        if view == "queue"
        else await call_desk(request, _waiting_count, desk(request))
    )
    return _json({"view": view, "items": items, "waiting": waiting})


def _waiting_count(agents: AgentDesk) -> int:
    return sum(1 for e in agents.queue() if e.taken_by is None)


@routes.route(
    BASE,
    name="console_conversation",
    summary="One conversation as the console shows it",
    description=(
        "The escalation, the live takeover and earlier ones, internal notes, the "
        "context packet, how sure we are who the customer is (`identity`, as on "
        "the queue), the customer's journey, and the transcript read from Rasa "
        "(`transcript_error` says why when Rasa can't be read)."
    ),
    operation_id="consoleConversation",
    parameters=[
        {
            "name": "journey",
            "in": "query",
            "required": False,
            "description": "`0` leaves the customer's journey out (`null`).",
            "schema": {"type": "string", "enum": ["0", "1"], "default": "1"},
        }
    ],
    responses={
        "200": json_spec("The conversation.", {"type": "object"}),
        "401": error_spec("Not signed in."),
        "403": error_spec("Signed in with a role other than agent or admin."),
        "404": error_spec("No such conversation in the journey."),
    },
)
async def conversation_api(request: Request, conversation_id: str) -> HTTPResponse:
    """One conversation as the console shows it (transcript from Rasa, packet, journey...);
    ``?journey=0`` leaves the journey out (the page's polls: it is on the page already)."""
    session = await require(request, "console")
    with_journey = request.args.get("journey", "1") not in ("0", "false", "no")
    view = await call_desk(
        request, desk(request).conversation, conversation_id, session.user.id, with_journey
    )
    return _json(view)


@routes.route(
    f"{BASE}/take",
    "POST",
    name="console_take",
    summary="Take the conversation over: the assistant pauses, the customer is told",
    description=_CHANGING,
    operation_id="consoleTake",
    responses=_answers(
        "200",
        "Taken: `{takeover}` (taking it again renews the lease).",
        "Another agent holds it (`taken_by` names them), or its channel can't "
        "receive messages from a person.",
    ),
)
async def take(request: Request, conversation_id: str) -> HTTPResponse:
    """Take the conversation over: the assistant pauses and the customer is told."""
    session = await _changing(request)
    held = await call_desk(request, desk(request).take, conversation_id, _holder(session))
    _changed(request, conversation_id)
    return _json({"takeover": held.as_json(session.user.id)})


@routes.route(
    f"{BASE}/heartbeat",
    "POST",
    name="console_heartbeat",
    summary="Renew the agent's lease (the console page does it every 20 s)",
    description=_CHANGING,
    operation_id="consoleHeartbeat",
    responses=_answers(
        "200",
        "Renewed: `{takeover}`.",
        "Not held by this agent, or the lease lapsed (back in the queue).",
    ),
)
async def heartbeat(request: Request, conversation_id: str) -> HTTPResponse:
    """Renew the agent's lease on the conversation (the console page does it every 20 s)."""
    session = await _changing(request)
    held = await call_desk(request, desk(request).heartbeat, conversation_id, _holder(session))
    return _json({"takeover": held.as_json(session.user.id)})


@routes.route(
    f"{BASE}/messages",
    "POST",
    name="console_send_message",
    summary="Send the agent's message to the customer on their channel",
    description=_CHANGING,
    operation_id="consoleSendMessage",
    request=_text_body("text", required=("text",)),
    responses=_answers("201", "Sent."),
)
async def send_message(request: Request, conversation_id: str) -> HTTPResponse:
    """Send the agent's message to the customer on the customer's channel."""
    session = await _changing(request)
    text = json_object(request).get("text")
    await call_desk(request, desk(request).say, conversation_id, _holder(session), text)
    console_push.tell(request, "conversation", conversation_id)
    return _json({"sent": True}, status=201)


@routes.route(
    f"{BASE}/notes",
    "POST",
    name="console_add_note",
    summary="Add an internal note (never sent to the customer)",
    description=_CHANGING,
    operation_id="consoleAddNote",
    request=_text_body("text", required=("text",)),
    responses=_answers("201", "Added: `{note}`.", None),
)
async def add_note(request: Request, conversation_id: str) -> HTTPResponse:
    """Add an internal note (never sent to the customer)."""
    session = await _changing(request)
    text = json_object(request).get("text")
    note = await call_desk(request, desk(request).note, conversation_id, _holder(session), text)
    console_push.tell(request, "conversation", conversation_id)
    return _json({"note": note}, status=201)


@routes.route(
    f"{BASE}/hand-back",
    "POST",
    name="console_hand_back",
    summary="Hand the conversation back to the assistant (with an internal note)",
    description=_CHANGING,
    operation_id="consoleHandBack",
    request=_text_body("note"),
    responses=_answers("200", "Handed back: the assistant answers again."),
)
async def hand_back(request: Request, conversation_id: str) -> HTTPResponse:
    """Give the conversation back to the assistant, with an internal note."""
    session = await _changing(request)
    note = json_object(request).get("note") or ""
    held = await call_desk(
        request, desk(request).hand_back, conversation_id, _holder(session), note
    )
    _changed(request, conversation_id)
    return _json({"takeover": held.as_json(session.user.id)})


@routes.route(
    f"{BASE}/transfer",
    "POST",
    name="console_transfer",
    summary="Transfer to a department with the context packet and the agent's note",
    description=_CHANGING,
    operation_id="consoleTransfer",
    request=_text_body("department", "note", required=("department", "note")),
    responses=_answers("200", "Transferred: `{handoff}` with the promise the customer was given."),
)
async def transfer(request: Request, conversation_id: str) -> HTTPResponse:
    """Hand the conversation to a department with its context and the agent's note."""
    session = await _changing(request)
    body = json_object(request)
    handoff = await call_desk(
        request,
        desk(request).transfer,
        conversation_id,
        _holder(session),
        str(body.get("department") or ""),
        body.get("note"),
    )
    _changed(request, conversation_id)
    return _json({"handoff": handoff})


@routes.route(
    f"{BASE}/resolve",
    "POST",
    name="console_resolve",
    summary="Resolve the escalation with a summary; the assistant answers again",
    description=_CHANGING,
    operation_id="consoleResolve",
    request=_text_body("summary", required=("summary",)),
    responses=_answers("200", "Resolved: the touchpoint is resolved with its last handoff."),
)
async def resolve(request: Request, conversation_id: str) -> HTTPResponse:
    """Resolve the escalation with the agent's summary; the assistant answers again."""
    session = await _changing(request)
    summary = json_object(request).get("summary")
    held = await call_desk(
        request, desk(request).resolve, conversation_id, _holder(session), summary
    )
    _changed(request, conversation_id)
    return _json({"takeover": held.as_json(session.user.id)})


# -- helpers -----------------------------------------------------------------------------------
def desk(request: Request) -> AgentDesk:
    found: AgentDesk = request.app.ctx.agents
    return found


async def _changing(request: Request) -> Session:
    """The session of a state-changing request: a console user with the CSRF token."""
    session = await require(request, "console")
    check_csrf(request, session)
    return session


def _changed(request: Request, conversation_id: str) -> None:
    """Tell every open console now: the lists, and the consoles showing this chat."""
    console_push.tell(request, "queue")
    console_push.tell(request, "conversation", conversation_id)


def _holder(session: Session) -> Holder:
    user = session.user
    return Holder(user.id, user.username, user.display_name)


async def call_desk(request: Request, fn: Callable[..., T], *args: Any) -> T:
    """Run a desk call off the event loop, its errors as HTTP answers."""
    try:
        return await in_thread(fn, *args)
    except AlreadyTaken as e:
        raise HubError(409, str(e), taken_by=e.holder.display_name) from None
    except (NotHolding, CannotReach) as e:
        raise HubError(409, str(e)) from None
    except NotFound as e:
        raise HubError(404, str(e)) from None
    except Invalid as e:
        raise HubError(400, str(e)) from None
    except RelayFailed as e:
        raise HubError(502, str(e)) from None


def _json(data: Any, status: int = 200) -> HTTPResponse:
    return json_response(data, status=status, headers={"Cache-Control": "no-store"})
