"""The built-in department inbox page, for a team without a system of its own.

Server-rendered from bot/hub/templates/inbox/ with plain forms (no JavaScript). Only for
signed-in staff of that department (or an admin), and every form carries the session's
CSRF token (bot/hub/auth.py). The handler gathers the cards' data; the template shows it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sanic.request import Request
from sanic.response import HTTPResponse, redirect

from bot.departments import Department
from bot.hub.api import transition
from bot.hub.auth import check_csrf, require
from bot.hub.openapi_parts import DEPARTMENT, HANDOFF_ID, TO_SIGN_IN, html_spec
from bot.hub.registry import RouteTable
from bot.hub.store import PRIORITY_ORDER, HandoffNotFound
from bot.hub.templating import error_page as shared_error_page
from bot.hub.templating import render_page
from bot.hub.web import HubError, department, in_thread, store

PREFIX = "/departments/"
SHOWN = ("open", "acknowledged")  # still waiting for the team


SIGNED_IN_STAFF = (
    "Built-in inbox page: for a signed-in member of the department (role `department`) or an "
    "admin, with the session cookie; forms carry the session's `csrf_token` and must come "
    "from this site (Origin). Without a session: a redirect to /login."
)
NOT_ALLOWED = html_spec(
    "Signed in with another role or department, or (forms) no valid CSRF token or another"
    " site's Origin."
)

routes = RouteTable(
    tags=["built-in inbox"], path_parameters={"name": DEPARTMENT, "handoff_id": HANDOFF_ID}
)


@routes.route(
    "/departments/<name>",
    summary="The department's inbox page (open and acknowledged handoffs)",
    description=SIGNED_IN_STAFF,
    operation_id="inboxPage",
    responses={
        "200": html_spec("The page."),
        "303": TO_SIGN_IN,
        "403": NOT_ALLOWED,
        "404": html_spec("No such department."),
    },
)
async def inbox_page(request: Request, name: str) -> HTTPResponse:
    """The team's waiting handoffs, most urgent first, each with its buttons."""
    dept = department(request, name)
    session = await require(request, "department", dept.name)
    items = await in_thread(store(request).inbox, dept.name, SHOWN, 500)
    items.sort(key=lambda i: PRIORITY_ORDER.get(i["priority"], len(PRIORITY_ORDER)))
    now = datetime.fromtimestamp(request.app.ctx.settings.clock())
    return render_page(
        request,
        "inbox/inbox.html",
        session=session,
        area="department",
        title=f"{dept.name.capitalize()} inbox",
        dept=dept,
        items=[card(dept, item) for item in items],
        waiting=sum(1 for i in items if i["status"] == "open"),
        now=now,
    )


@routes.route(
    "/departments/<name>/handoffs/<handoff_id:int>/acknowledge",
    "POST",
    name="inbox_page_acknowledge",
    summary="The inbox page's Acknowledge button",
    description=SIGNED_IN_STAFF,
    operation_id="inboxPageAcknowledge",
    request={
        "required": False,
        "content": {"application/x-www-form-urlencoded": {"schema": {"type": "object"}}},
    },
    responses={
        "303": {"description": "Done: back to the inbox page (no session: to /login)."},
        "403": NOT_ALLOWED,
        "404": html_spec("No such department, or no such handoff in it."),
        "409": html_spec("The handoff is no longer open."),
    },
)
async def acknowledge_form(request: Request, name: str, handoff_id: int) -> HTTPResponse:
    """The Acknowledge button."""
    dept = await _own_handoff(request, name, handoff_id)
    await transition(request, handoff_id, "acknowledge")
    return redirect(f"/departments/{dept.name}", status=303)


@routes.route(
    "/departments/<name>/handoffs/<handoff_id:int>/resolve",
    "POST",
    name="inbox_page_resolve",
    summary="The inbox page's Resolve button",
    description=SIGNED_IN_STAFF,
    operation_id="inboxPageResolve",
    request={
        "required": True,
        "content": {
            "application/x-www-form-urlencoded": {
                "schema": {
                    "type": "object",
                    "properties": {"resolution": {"type": "string", "minLength": 1}},
                    "required": ["resolution"],
                }
            }
        },
    },
    responses={
        "303": {"description": "Done: back to the inbox page (no session: to /login)."},
        "400": html_spec("No resolution given."),
        "403": NOT_ALLOWED,
        "404": html_spec("No such department, or no such handoff in it."),
        "409": html_spec("The handoff is already resolved."),
    },
)
async def resolve_form(request: Request, name: str, handoff_id: int) -> HTTPResponse:
    """The Resolve button, with what was done."""
    dept = await _own_handoff(request, name, handoff_id)
    resolution = (request.form.get("resolution") or "").strip()
    if not resolution:
        raise HubError(400, "say what was done before resolving")
    await transition(request, handoff_id, "resolve", resolution)
    return redirect(f"/departments/{dept.name}", status=303)


async def _own_handoff(request: Request, name: str, handoff_id: int) -> Department:
    """The department, once the user may act for it and the handoff is that department's."""
    dept = department(request, name)
    check_csrf(request, await require(request, "department", dept.name))
    try:
        handoff = await in_thread(store(request).handoff, handoff_id)
    except HandoffNotFound as e:
        raise HubError(404, str(e)) from None
    if handoff["department"] != dept.name:
        raise HubError(404, f"handoff {handoff_id} is not in the {dept.name} inbox")
    return dept


def error_page(
    status: int, message: str, path: str, request: Request | None = None
) -> HTTPResponse:
    """An error on the inbox pages, said as a page of the shared look, with a way back."""
    inbox = "/".join(path.split("/")[:3])  # /departments/<name>
    session = getattr(request.ctx, "session", None) if request is not None else None
    return shared_error_page(
        request,
        status,
        message,
        back=inbox,
        back_label="Back to the inbox",
        session=session,
        area="department",
    )


def card(dept: Department, item: dict[str, Any]) -> dict[str, Any]:
    """What one handoff's card shows: its facts as (label, text) rows, and its transcript."""
    context = item["context"] if isinstance(item["context"], dict) else {}
    need = str(item.get("need") or "")
    rows = [
        ("Customer", _customer(context, item.get("customer_id"))),
        ("Need", f"{need.replace('_', ' ').capitalize()} ({need})" if need else "-"),
        ("Summary", str(item.get("summary") or "")),
    ]
    for key, label in (("order_id", "Order"), ("invoice_id", "Invoice")):
        if context.get(key):
            rows.append((label, str(context[key])))
    if context.get("customer_said"):
        rows.append(("Customer said", str(context["customer_said"])))
    return {
        "id": int(item["handoff_id"]),
        "base": f"/departments/{dept.name}/handoffs/{int(item['handoff_id'])}",
        "need_label": need.replace("_", " ").capitalize() or "Handoff",
        "priority": str(item.get("priority") or ""),
        "status": item["status"],
        "received_at": item["received_at"],
        "rows": rows,
        "transcript": [str(line) for line in context.get("transcript") or []],
        # Later contacts about the same need and order that joined this handoff, and what
        # the customer added for the team (issue 21): what they said then, and when, so the
        # department reads one story.
        "updates": [
            {
                "received_at": u.get("received_at"),
                "customer_said": str(u.get("customer_said") or ""),
                "channel": str(u.get("channel") or ""),
                "contacts": u.get("contacts"),
                "update_kind": "addition"
                if u.get("update_kind") == "addition"
                else "repeat_contact",
            }
            for u in item.get("updates") or []
        ],
    }


def _customer(context: dict[str, Any], customer_id: str | None) -> str:
    found = context.get("customer")
    customer: dict[str, Any] = found if isinstance(found, dict) else {}
    parts = [
        customer.get("name"),
        customer.get("email"),
        customer.get("id") or customer_id,
        customer.get("tier") and f"{customer['tier']} tier",
    ]
    return " · ".join(str(p) for p in parts if p) or "anonymous visitor"
