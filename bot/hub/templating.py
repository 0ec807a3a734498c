"""How a hub page is made: a handler gathers data, a Jinja2 template turns it into HTML.

Making a page, in three steps:

1. Write ``bot/hub/templates/<area>/<page>.html``. It starts with
   ``{% extends "layout.html" %}`` and fills ``{% block content %}`` (and, if it needs them,
   ``{% block title %}``, ``{% block subnav %}``, ``{% block scripts %}``). Repeated pieces
   (buttons, badges, tables, times) are macros in ``macros.html``:
   ``{% import "macros.html" as ui %}`` then ``{{ ui.when(item.received_at, now) }}``.
2. Put its CSS in ``bot/hub/static/staff.css`` (the design system: use its classes and
   custom properties rather than new colours) and its behaviour in
   ``bot/hub/static/<page>.js``, loaded with
   ``<script src="{{ static('page.js') }}" defer></script>`` in ``{% block scripts %}``.
   Scripts read the CSRF token from ``<meta name="csrf-token">``. Inline ``style=`` or
   ``<script>`` without ``nonce="{{ nonce }}"`` is refused by the page's policy; a page
   that must hand data to its script uses ``<script type="application/json" id=...
   nonce="{{ nonce }}">{{ data|tojson }}</script>``.
3. In the handler: ``return render_page(request, "area/page.html", session=session,
   area="review", **data)``. ``render_page`` adds the nonce, the navigation for the
   signed-in person's role, the CSRF token, and the security headers (CSP with the nonce,
   nosniff, same-origin referrer, ``Cache-Control: no-store``).

Autoescaping is on for every template: a value is text unless it is ``Markup`` (what a
macro or ``render_fragment`` returns). Escaping is ``html.escape``'s (quotes included), the
same as the hub's pages had before templates. Never build HTML in Python.

Static files are served at ``/static/<name>`` with an ETag; ``static('staff.css')`` gives
the URL with the content's hash (``?v=...``), which is cached for a year (``immutable``):
a changed file gets a new URL, so nobody sees a stale style sheet.
"""

from __future__ import annotations

import hashlib
import html
import mimetypes
import re
from dataclasses import dataclass
from datetime import date, datetime
from functools import cache
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined
from markupsafe import Markup
from sanic.request import Request
from sanic.response import HTTPResponse, raw
from sanic.response import html as html_response

from bot.agents.queue import public_name
from bot.hub.accounts import Session
from bot.hub.openapi_parts import error_spec
from bot.hub.registry import RouteTable
from bot.hub.web import HubError, new_nonce, page_headers

HERE = Path(__file__).parent
TEMPLATES = HERE / "templates"
STATIC = HERE / "static"
STATIC_PREFIX = "/static"

routes = RouteTable(tags=["staff pages"])

# The policy of every templated page: scripts only from this hub's files or carrying the
# page's nonce; styles only from this hub's files (staff.css), never inline.
POLICY = (
    "default-src 'self'; script-src 'nonce-{nonce}' 'self'; style-src 'self'; "
    "img-src {images}; connect-src {connect}; frame-ancestors 'none'; base-uri 'none'; "
    "form-action 'self'"
)

# The staff areas, in the navigation's order: (area, label, path). Inboxes are one link per
# department the person may open.
AREAS = (
    ("console", "Console", "/console"),
    ("department", "Inboxes", "/departments/{department}"),
    ("review", "CX review", "/review"),
)
ROLE_NAMES = {
    "agent": "Agent",
    "department": "Department",
    "analyst": "Analyst",
    "admin": "Admin",
}


def _escape(value: Any) -> Markup:
    """``html.escape`` with quotes, as Markup (so Jinja does not escape it again)."""
    return Markup(html.escape(str(value), quote=True))


def _finalize(value: Any) -> Any:
    # Runs on every {{ ... }} before autoescaping: None shows as nothing, and text is escaped
    # the way html.escape does it (&#x27; for ', &quot; for "), which the hub's pages always
    # used; text without quotes is left to autoescaping (the same result, and faster).
    if value is None:
        return ""
    if hasattr(value, "__html__"):
        return value
    text = str(value)
    if "'" in text or '"' in text:
        return _escape(text)
    return text


@cache
def environment() -> Environment:
    """The hub's one Jinja2 environment (built on first use, not at import)."""
    env = Environment(
        loader=FileSystemLoader(str(TEMPLATES)),
        autoescape=True,
        finalize=_finalize,
        undefined=StrictUndefined,  # a misspelt variable is an error, not an empty string
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["e"] = env.filters["escape"] = _escape  # the same escaping as {{ }}
    env.globals["static"] = static_url
    env.filters["when"] = human_time
    env.filters["iso"] = iso_time
    env.filters["percent"] = percent
    return env


# -- rendering ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class NavLink:
    """One link of the staff navigation."""

    area: str
    label: str
    href: str
    current: bool = False


def navigation(
    session: Session | None, departments: Any, area: str = "", path: str = ""
) -> list[NavLink]:
    """The areas ``session``'s person may open, as links; the one for ``area`` is current."""
    if session is None:
        return []
    user = session.user
    links: list[NavLink] = []
    for key, label, href in AREAS:
        if key == "department":
            for name in departments or ():
                if user.may_open("department", name) and name != "support":
                    target = href.format(department=name)
                    links.append(NavLink(key, f"{name.capitalize()} inbox", target, path == target))
        elif user.may_open(key):
            links.append(NavLink(key, label, href, area == key))
    return links


def signed_in(session: Session | None) -> dict[str, str | None] | None:
    """Who is signed in, said once: the name without a role in brackets ("Alex (admin)" is
    "Alex"), and the role beside it as a badge."""
    if session is None:
        return None
    user = session.user
    return {
        "name": public_name(user.display_name),
        "role": ROLE_NAMES.get(user.role, user.role.capitalize()),
        "department": user.department,
    }


def render_fragment(template: str, **context: Any) -> Markup:
    """A template rendered to HTML (Markup), e.g. a page's body for a test or a partial."""
    return Markup(environment().get_template(template).render(**context))


def render_page(
    request: Request,
    template: str,
    *,
    session: Session | None = None,
    area: str = "",
    status: int = 200,
    connect: str = "'self'",
    images: str = "'self' data:",
    headers: dict[str, str] | None = None,
    **context: Any,
) -> HTTPResponse:
    """``template`` rendered into a whole page with its security headers.

    ``session`` (the signed-in person) gives the navigation and the CSRF token; ``area``
    ("console", "department", "review") marks the current one. ``connect`` and ``images``
    widen the policy's connect-src/img-src for a page that needs it.
    """
    nonce = new_nonce()
    departments = getattr(request.app.ctx, "departments", {}) if request else {}
    settings = getattr(request.app.ctx, "settings", None) if request else None
    if settings is not None and "now" not in context:  # what times in human form count from
        context["now"] = datetime.fromtimestamp(settings.clock())
    body = (
        environment()
        .get_template(template)
        .render(
            nonce=nonce,
            csrf=session.csrf_token if session else "",
            nav=navigation(session, departments, area, request.path if request else ""),
            person=signed_in(session),
            area=area,
            **context,
        )
    )
    policy = POLICY.format(nonce=nonce, images=images, connect=connect)
    all_headers = {**page_headers(policy), "Cache-Control": "no-store", **(headers or {})}
    return html_response(body, status=status, headers=all_headers)


def error_page(
    request: Request | None,
    status: int,
    message: str,
    *,
    back: str = "/",
    back_label: str = "Back",
    session: Session | None = None,
    area: str = "",
) -> HTTPResponse:
    """An error said as a page of the shared look, with a way back."""
    return render_page(
        request,
        "error.html",
        session=session,
        area=area,
        status=status,
        code=status,
        message=message,
        back=back,
        back_label=back_label,
    )


# -- times and numbers in human form ----------------------------------------------------------
def _as_datetime(value: Any) -> datetime | None:
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return value
    if isinstance(value, date):
        return datetime.combine(value, datetime.min.time())
    try:
        return datetime.fromisoformat(str(value))
    except ValueError:
        return None


def human_time(value: Any, now: datetime | None = None) -> str:
    """A local time as people say it: "today 09:04", "yesterday 17:30", "Mon 10 Mar 09:04",
    "10 Mar 2024"; "just now" and "12 min ago" within the hour."""
    when = _as_datetime(value)
    if when is None:
        return "" if value is None else str(value)
    now = now or datetime.now()
    ago = (now - when).total_seconds()
    if 0 <= ago < 60:
        return "just now"
    if 0 <= ago < 3600:
        return f"{int(ago // 60)} min ago"
    days = (now.date() - when.date()).days
    clock = f"{when:%H:%M}"
    if days == 0:
        return f"today {clock}"
    if days == 1:
        return f"yesterday {clock}"
    if when.year == now.year:
        return f"{when:%a} {when.day} {when:%b} {clock}"
    return f"{when.day} {when:%b %Y}"


def iso_time(value: Any) -> str:
    """The machine-readable form for ``<time datetime=...>``, to the second."""
    when = _as_datetime(value)
    return when.isoformat(timespec="seconds") if when else ""


def percent(value: float | None, base: int | None = None) -> str:
    """A rate as "33.3%", with its base when given: "33.3% of 6"."""
    if value is None:
        return "-"
    shown = f"{value * 100:.1f}%"
    return f"{shown} of {base}" if base is not None else shown


# -- static files ------------------------------------------------------------------------------
_SAFE_NAME = re.compile(r"^[A-Za-z0-9_-]+(?:/[A-Za-z0-9_-]+)*\.(?:css|js|svg|png|woff2)$")
CONTENT_TYPES = {
    ".css": "text/css; charset=utf-8",
    ".js": "application/javascript; charset=utf-8",
    ".svg": "image/svg+xml",
}


@dataclass(frozen=True)
class StaticFile:
    body: bytes
    etag: str
    content_type: str

    @property
    def version(self) -> str:
        return self.etag.strip('"')[:12]


@cache
def _static_file(name: str, mtime_ns: int) -> StaticFile:
    body = (STATIC / name).read_bytes()
    suffix = Path(name).suffix
    kind = CONTENT_TYPES.get(suffix) or mimetypes.guess_type(name)[0] or "application/octet-stream"
    return StaticFile(body, f'"{hashlib.sha256(body).hexdigest()[:32]}"', kind)


def static_file(name: str) -> StaticFile | None:
    """The file ``name`` under bot/hub/static/, read once per change; None if there is none."""
    if not _SAFE_NAME.match(name):
        return None
    path = STATIC / name
    try:
        mtime = path.stat().st_mtime_ns
    except OSError:
        return None
    if not path.is_file():
        return None
    return _static_file(name, mtime)


def static_url(name: str) -> str:
    """The URL of a static file with its content's hash, so it can be cached for good."""
    found = static_file(name)
    if found is None:
        raise FileNotFoundError(f"no static file {name!r} in {STATIC}")
    return f"{STATIC_PREFIX}/{name}?v={found.version}"


@routes.route(
    f"{STATIC_PREFIX}/<name:path>",
    name="static_file",
    summary="A style sheet or script of the staff pages (bot/hub/static/)",
    description=(
        "With `?v=` set to the content's hash (as the pages link it) it is cached "
        "for a year; otherwise it is revalidated with its ETag."
    ),
    operation_id="staticFile",
    parameters=[
        {
            "name": "name",
            "in": "path",
            "required": True,
            "schema": {"type": "string"},
            "description": "The file's path under bot/hub/static/, e.g. `staff.css`.",
        },
        {
            "name": "v",
            "in": "query",
            "required": False,
            "schema": {"type": "string"},
            "description": "The content's hash, as the pages link it.",
        },
    ],
    responses={
        "200": {
            "description": "The file.",
            "content": {
                "text/css": {"schema": {"type": "string"}},
                "application/javascript": {"schema": {"type": "string"}},
            },
        },
        "304": {"description": "Not modified (If-None-Match matched the ETag)."},
        "404": error_spec("No such file."),
    },
)
async def serve_static(request: Request, name: str) -> HTTPResponse:
    """A file of bot/hub/static/, with its ETag; a year's caching for a hashed URL."""
    found = static_file(name)
    if found is None:
        raise HubError(404, f"no static file {name!r}")
    versioned = request.args.get("v") == found.version
    headers = {
        "ETag": found.etag,
        "Cache-Control": "public, max-age=31536000, immutable" if versioned else "no-cache",
        "X-Content-Type-Options": "nosniff",
    }
    if request.headers.get("if-none-match") == found.etag:
        return HTTPResponse(status=304, headers=headers)
    return raw(found.body, content_type=found.content_type, headers=headers)
