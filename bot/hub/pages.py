"""The built-in department inbox page, for a team without a system of its own.

Server-rendered HTML with plain forms (no JavaScript); every value goes through
html.escape. Only for signed-in staff of that department (or an admin), and every form
carries the session's CSRF token (bot/hub/auth.py).
"""

from __future__ import annotations

from html import escape

from sanic import Sanic
from sanic.request import Request
from sanic.response import HTTPResponse, html, redirect

from bot.departments import Department
from bot.hub.api import transition
from bot.hub.auth import check_csrf, require
from bot.hub.store import PRIORITY_ORDER, HandoffNotFound
from bot.hub.web import (
    HubError,
    department,
    in_thread,
    new_nonce,
    page_headers,
    page_policy,
    store,
)

PREFIX = "/departments/"
SHOWN = ("open", "acknowledged")  # still waiting for the team

STYLE = """
body{font-family:system-ui,sans-serif;margin:2rem auto;max-width:60rem;padding:0 1rem;color:#222}
article{border:1px solid #ccc;border-radius:6px;padding:1rem;margin:1rem 0}
.urgent{border-color:#c00}.high{border-color:#e80}
dl{display:grid;grid-template-columns:max-content 1fr;gap:.2rem 1rem}dt{font-weight:600}
dd{margin:0}ol{background:#f6f6f6;padding:.5rem 2rem;font-size:.9rem}
form{display:inline-block;margin-right:1rem;vertical-align:top}
textarea{width:24rem;height:3rem;display:block}
"""


def add_routes(app: Sanic) -> None:
    """Register the inbox page and its two form actions on ``app``."""
    app.add_route(inbox_page, "/departments/<name>", methods=["GET"], name="inbox_page")
    app.add_route(
        acknowledge_form,
        "/departments/<name>/handoffs/<handoff_id:int>/acknowledge",
        methods=["POST"],
        name="inbox_page_acknowledge",
    )
    app.add_route(
        resolve_form,
        "/departments/<name>/handoffs/<handoff_id:int>/resolve",
        methods=["POST"],
        name="inbox_page_resolve",
    )


async def inbox_page(request: Request, name: str) -> HTTPResponse:
    """The team's waiting handoffs, most urgent first, each with its buttons."""
    dept = department(request, name)
    session = await require(request, "department", dept.name)
    items = await in_thread(store(request).inbox, dept.name, SHOWN, 500)
    items.sort(key=lambda i: PRIORITY_ORDER.get(i["priority"], len(PRIORITY_ORDER)))
    nonce = new_nonce()
    page = render_inbox(dept, items, session.csrf_token, session.user.display_name, nonce)
    return html(page, headers=page_headers(page_policy(nonce)))


async def acknowledge_form(request: Request, name: str, handoff_id: int) -> HTTPResponse:
    """The Acknowledge button."""
    dept = await _own_handoff(request, name, handoff_id)
    await transition(request, handoff_id, "acknowledge")
    return redirect(f"/departments/{dept.name}", status=303)


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


def render_inbox(
    dept: Department, items: list[dict], csrf_token: str, user_name: str, nonce: str = ""
) -> str:
    """The whole page for ``dept``, its forms signed with the session's ``csrf_token``."""
    title = f"{dept.name.capitalize()} inbox"
    waiting = sum(1 for i in items if i["status"] == "open")
    csrf = f"<input type='hidden' name='csrf_token' value='{escape(csrf_token, quote=True)}'>"
    cards = "".join(_card(dept, item, csrf) for item in items) or "<p>Nothing waiting.</p>"
    return _page(
        title,
        f"<p class='who'>Signed in as {escape(user_name)} "
        f"<form method='post' action='/logout'>{csrf}<button>Sign out</button></form></p>"
        f"<h1>{escape(title)}</h1>"
        f"<p>{waiting} new, {len(items) - waiting} acknowledged. Promise to customers: "
        f"an answer {escape(dept.channel)} within {dept.sla_hours} h.</p>{cards}",
        nonce,
    )


def error_page(status: int, message: str, path: str) -> HTTPResponse:
    """An error on the inbox pages, said in HTML, with a link back to the inbox."""
    inbox = "/".join(path.split("/")[:3])  # /departments/<name>
    body = (
        f"<h1>{status}</h1><p>{escape(message)}</p>"
        f"<p><a href='{escape(inbox, quote=True)}'>Back to the inbox</a></p>"
    )
    nonce = new_nonce()
    page = _page(f"Error {status}", body, nonce)
    return html(page, status=status, headers=page_headers(page_policy(nonce)))


def _page(title: str, body: str, nonce: str) -> str:
    return (
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>"
        "<link rel='icon' href='data:,'>"
        f"<title>{escape(title)}</title><style nonce='{escape(nonce, quote=True)}'>{STYLE}</style>"
        f"</head><body>{body}</body></html>"
    )


def _card(dept: Department, item: dict, csrf: str) -> str:
    context = item["context"] if isinstance(item["context"], dict) else {}
    base = f"/departments/{escape(dept.name)}/handoffs/{int(item['handoff_id'])}"
    rows = [
        ("Customer", _customer(context, item.get("customer_id"))),
        ("Need", escape(str(item.get("need") or ""))),
        ("Priority", escape(str(item.get("priority") or ""))),
        ("Status", escape(item["status"])),
        ("Received", escape(item["received_at"] or "")),
        ("Summary", escape(str(item.get("summary") or ""))),
    ]
    for key, label in (("order_id", "Order"), ("invoice_id", "Invoice")):
        if context.get(key):
            rows.append((label, escape(str(context[key]))))
    if context.get("customer_said"):
        rows.append(("Customer said", escape(str(context["customer_said"]))))
    details = "".join(f"<dt>{label}</dt><dd>{value}</dd>" for label, value in rows)
    transcript = context.get("transcript") or []
    lines = "".join(f"<li>{escape(str(line))}</li>" for line in transcript)
    buttons = ""
    if item["status"] == "open":
        buttons += (
            f"<form method='post' action='{base}/acknowledge'>{csrf}"
            "<button type='submit'>Acknowledge</button></form>"
        )
    buttons += (
        f"<form method='post' action='{base}/resolve'>{csrf}"
        "<label>What was done<textarea name='resolution' required></textarea></label>"
        "<button type='submit'>Resolve</button></form>"
    )
    priority = escape(str(item.get("priority") or ""), quote=True)
    return (
        f"<article class='{priority}' id='handoff-{int(item['handoff_id'])}'>"
        f"<h2>H-{int(item['handoff_id'])}</h2><dl>{details}</dl>"
        + (f"<h3>Transcript</h3><ol>{lines}</ol>" if lines else "")
        + f"{buttons}</article>"
    )


def _customer(context: dict, customer_id: str | None) -> str:
    customer = context.get("customer") if isinstance(context.get("customer"), dict) else {}
    parts = [
        customer.get("name"),
        customer.get("email"),
        customer.get("id") or customer_id,
        customer.get("tier") and f"{customer['tier']} tier",
    ]
    return escape(" · ".join(str(p) for p in parts if p)) or "anonymous visitor"
