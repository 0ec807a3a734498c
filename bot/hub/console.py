"""The agent console: a two-pane workspace, the conversation list beside the open chat.

Pages (templates in ``bot/hub/templates/console/``, behaviour in ``static/console.js``):
``/console`` is the workspace with no chat open, ``/console/conversations/<id>`` the same
with that conversation open (``?part=context`` answers its context panel alone). The JSON
API under ``/api/console/`` is what the page calls (bot/hub/console_api.py): the list
(queue, mine, recent, search), one conversation, and the takeover's actions. News reaches an open console by
push (bot/hub/console_push.py); the page polls only when the stream can't be had.

Every route needs a signed-in agent or admin (bot/hub/auth.py); every POST carries the
session's CSRF token in ``X-CSRF-Token``. Values are escaped by the templates
(autoescaping) and set as text in the browser (``textContent``). The work itself is
bot/agents/agent_desk.py's ``AgentDesk``; the words for codes are bot/agents/labels.py's.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any, TypeVar

from sanic import Sanic
from sanic.request import Request
from sanic.response import HTTPResponse, html
from sqlalchemy.engine import Engine

from bot.agents import (
    AgentDesk,
    RasaApi,
    context,
    labels,
    saved_replies,
)
from bot.agents.queue import public_name
from bot.agents.relay import Relay
from bot.backoffice import BackOffice
from bot.backoffice import NotFound as BackOfficeNotFound
from bot.backoffice.base import order_or_none
from bot.backoffice.model import Order
from bot.departments import Department
from bot.hub import console_push, templating
from bot.hub.accounts import Session
from bot.hub.auth import require
from bot.hub.console_api import call_desk, desk
from bot.hub.openapi_parts import CONVERSATION_ID, html_spec
from bot.hub.registry import RouteTable
from bot.hub.settings import HubSettings
from bot.hub.store import HubStore
from bot.hub.templating import render_fragment, render_page
from bot.hub.web import in_thread
from bot.rasa.channels.slack_api import SlackWebApi

log = logging.getLogger(__name__)
T = TypeVar("T")

PREFIX = "/console"
POLL_MS = 2500  # the page's fallback when the event stream can't be had
MAX_SWEEP_SECONDS = 15.0  # a lapsed takeover is noticed within this, even with no console open
MAX_ORDERS = 5
VIEWS = (("queue", "Queue"), ("mine", "Mine"), ("recent", "Recent"))
# The console's keyboard shortcuts, as its help overlay lists them (console.js acts on them).
SHORTCUTS = (
    ("?", "Show or hide this list"),
    ("j / k", "Next / previous conversation in the list"),
    ("Enter", "Open the selected conversation"),
    ("Alt + ↓ / Alt + ↑", "Open the next / previous conversation"),
    ("1 / 2 / 3", "Show the queue / mine / recent"),
    ("/", "Search conversations"),
    ("t", "Take over the open conversation"),
    ("r", "Write to the customer"),
    ("/ or Ctrl + Space (in the message box)", "Saved replies"),
    ("n", "Add an internal note"),
    ("Alt + h", "Hand back to the assistant: an optional note, then Enter"),
    ("Alt + t", "Transfer: pick the team, Tab to the note, then Enter"),
    ("Alt + r", "Resolve: the summary, then Enter"),
    ("Esc", "Close a menu or this list; leave a field"),
)


def add_listeners(app: Sanic) -> None:
    """End the console's open event streams when the hub stops, so it stops at once."""

    async def stop_pushing(app: Sanic, _loop: object) -> None:
        await console_push.stop(app)

    app.register_listener(stop_pushing, "before_server_stop")


routes = RouteTable(tags=["agent console"], path_parameters={"conversation_id": CONVERSATION_ID})


def agent_desk(
    settings: HubSettings,
    engine: Engine,
    departments: dict[str, Department],
    now: Callable[[], datetime],
) -> AgentDesk:
    """The console's AgentDesk: Rasa's API (and Slack's, when configured) as the settings say."""
    relay = Relay(
        RasaApi(settings.rasa_api_url, settings.rasa_token),
        SlackWebApi.from_env(settings.secrets),
    )
    return AgentDesk(
        engine,
        relay,
        departments,
        HubStore(engine, now=now),
        now=now,
        lease=timedelta(seconds=settings.takeover_lease_seconds),
    )


def start_sweeping(app: Sanic) -> None:
    """Expire lapsed takeovers in the background, so an abandoned chat never waits for a
    console to be opened before it goes back to the queue."""
    desk: AgentDesk = app.ctx.agents
    every = min(desk.lease.total_seconds() / 3, MAX_SWEEP_SECONDS)

    async def sweep() -> None:
        while True:
            await asyncio.sleep(every)
            try:
                await in_thread(desk.expire_stale)
            except Exception:  # the next round tries again; the log says why
                log.exception("sweeping lapsed takeovers failed")

    app.ctx.takeover_sweeper = asyncio.get_running_loop().create_task(sweep())


def stop_sweeping(app: Sanic) -> None:
    sweeper = getattr(app.ctx, "takeover_sweeper", None)
    if sweeper is not None:
        sweeper.cancel()


# -- pages -------------------------------------------------------------------------------------
@routes.route(
    PREFIX,
    name="console_queue_page",
    summary="The escalation queue page (refreshes itself every few seconds)",
    description="For a signed-in agent or admin. Without a session: a redirect to /login.",
    operation_id="consoleQueuePage",
    responses={
        "200": html_spec("The queue page."),
        "303": {"description": "Not signed in: to /login?next=/console."},
        "403": html_spec("Signed in with a role other than agent or admin."),
    },
)
async def queue_page(request: Request) -> HTTPResponse:
    """The workspace with no conversation open: the list (queue, mine, recent, search)."""
    session = await require(request, "console")
    return render_page(
        request,
        "console/workspace.html",
        session=session,
        area="console",
        title="Escalations",
        conversation=None,
        **_workspace(request),
    )


@routes.route(
    f"{PREFIX}/conversations/<conversation_id>",
    name="console_conversation_page",
    summary="The workspace with one conversation open beside the list",
    description=(
        "For a signed-in agent or admin. Without a session: a redirect to /login. "
        "`?part=context` answers the context panel alone (an HTML fragment)."
    ),
    operation_id="consoleConversationPage",
    parameters=[
        {
            "name": "part",
            "in": "query",
            "required": False,
            "description": "`context`: only the context panel (packet, orders, journey).",
            "schema": {"type": "string", "enum": ["context"]},
        }
    ],
    responses={
        "200": html_spec("The page (or the context panel)."),
        "303": {"description": "Not signed in: to /login?next=<this page>."},
        "403": html_spec("Signed in with a role other than agent or admin."),
        "404": html_spec("No such conversation in the journey."),
    },
)
async def conversation_page(request: Request, conversation_id: str) -> HTTPResponse:
    """The workspace with one conversation open beside the list: its chat, the agent's
    actions, and the context panel (packet, orders, journey). ``?part=context`` answers the
    context panel alone, which the console fetches again whenever the conversation changes."""
    session = await require(request, "console")
    view = await call_desk(request, desk(request).conversation, conversation_id, session.user.id)
    extras = await in_thread(_extras, request.app, view, session)
    if request.args.get("part") == "context":
        body = render_fragment("console/_context.html", ctx=extras["context"])
        return html(body, headers={"Cache-Control": "no-store"})
    packet = _object(view["packet"])
    customer = _object(packet.get("customer"))
    journey_customer = (view["journey"] or {}).get("customer") or {}
    who = customer.get("name") or journey_customer.get("name") or "Anonymous visitor"
    return render_page(
        request,
        "console/workspace.html",
        session=session,
        area="console",
        title=f"Conversation with {who}",
        conversation={
            "id": conversation_id,
            "who": str(who),
            "channel": labels.channel(view["channel"]),
            "heartbeat_ms": max(1000, int(view["lease_seconds"] * 1000 / 4.5)),
            "departments": view["departments"],
            "saved_replies": extras["saved_replies"],
        },
        ctx=extras["context"],
        **_workspace(request),
    )


def error_page(status: int, message: str) -> HTTPResponse:
    """An error on a console page, in the shared look, with a way back to the queue."""
    return templating.error_page(
        None, status, message, back=PREFIX, back_label="Back to the queue", area="console"
    )


# -- helpers -----------------------------------------------------------------------------------
def _workspace(request: Request) -> dict[str, Any]:
    """What every workspace page shows besides the conversation: timings, shortcuts, views."""
    return {
        "poll_ms": POLL_MS,
        "shortcuts": SHORTCUTS,
        "views": VIEWS,
    }


def _extras(app: Sanic, view: dict[str, Any], session: Session) -> dict[str, Any]:
    """The context panel (with the customer's orders from the back office) and the saved
    replies filled in for this conversation."""
    packet = _object(view["packet"])
    customer = _object(packet.get("customer"))
    journey_customer = (view.get("journey") or {}).get("customer") or {}
    customer_id = customer.get("id") or journey_customer.get("id")
    orders = _orders(getattr(app.ctx, "backoffice", None), customer_id, packet.get("order_id"))
    panel = context.panel(view, orders)
    about = next((o for o in panel["orders"] if o["current"]), None)
    identity = view.get("identity")
    if about is not None and identity is not None and not identity.get("verified"):
        # A visitor who only named an order: a saved reply sent in one click must not tell
        # them what is in the parcel; the agent fills the blanks once it is checked.
        about = {"id": about["id"]}
    if about is None and packet.get("order_id"):
        about = {"id": str(packet["order_id"])}
    values = saved_replies.values_of(
        customer.get("name") or journey_customer.get("name"),
        public_name(session.user.display_name),
        about,
    )
    replies = getattr(app.ctx, "saved_replies", None)
    if replies is None:
        replies = app.ctx.saved_replies = saved_replies.load()
    return {"context": panel, "saved_replies": [r.fill(values) for r in replies]}


def _object(value: object) -> dict[str, Any]:
    """``value`` if it is a JSON object, else an empty one."""
    return value if isinstance(value, dict) else {}


def _orders(backoffice: BackOffice | None, customer_id: str | None, order_id: Any) -> list[Order]:
    """The customer's orders, newest first (the one the chat is about first of all); the
    chat's order alone for a customer we can't name; none without a back office."""
    if backoffice is None:
        return []
    found: list[Order] = []
    try:
        if customer_id:
            found = sorted(
                backoffice.orders_of(str(customer_id)), key=lambda o: o.placed_at, reverse=True
            )
        if order_id and not any(o.id == order_id for o in found):
            order = order_or_none(backoffice, str(order_id))
            found = ([order] if order is not None else []) + found
    except (BackOfficeNotFound, OSError, ValueError) as e:  # the panel shows what it has
        log.info("orders for the console not read: %s", e)
    found.sort(key=lambda o: o.id != order_id)
    return found[:MAX_ORDERS]
