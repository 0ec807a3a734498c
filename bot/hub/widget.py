"""The website chat widget's files, and the demo storefront that shows it off.

``/widget.js`` is the one script a web site embeds (bot/widget/widget.js, ours);
``/widget/socket.io.min.js`` is the socket.io client it loads, installed from the npm
registry at set-up (bot/widget/package-lock.json) and never copied into the repository.
``/demo`` is a small storefront with the widget, for trying the assistant in a browser.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import yaml
from sanic.request import Request
from sanic.response import HTTPResponse, html, raw

from bot.backoffice.sql import FIXTURE
from bot.hub.openapi_parts import error_spec, html_spec, javascript_spec
from bot.hub.registry import RouteTable
from bot.hub.templating import environment
from bot.hub.web import HubError, new_nonce, page_headers, page_policy, require_local
from bot.rasa.channels.tokens import mint_customer_token

WIDGET_DIR = Path(__file__).resolve().parent.parent / "widget"
WIDGET_JS = WIDGET_DIR / "widget.js"
SOCKET_IO_JS = WIDGET_DIR / "node_modules" / "socket.io-client" / "dist" / "socket.io.min.js"
JAVASCRIPT = "application/javascript; charset=utf-8"


routes = RouteTable(tags=["website chat"])


@routes.route(
    "/widget.js",
    summary="The chat widget a web site embeds with one script tag",
    operation_id="widgetScript",
    responses={"200": javascript_spec("The widget.")},
)
async def widget_script(request: Request) -> HTTPResponse:
    # Revalidated on every load, so a site picks up a new widget at once.
    return _script(WIDGET_JS, cache="no-cache")


@routes.route(
    "/widget/socket.io.min.js",
    name="socket_io",
    summary="The socket.io client the widget loads (from npm, installed at set-up)",
    operation_id="socketIoClient",
    responses={
        "200": javascript_spec("socket.io-client, as pinned in bot/widget/package-lock.json."),
        "503": error_spec("Not installed: run `make setup`."),
    },
)
async def socket_io_script(request: Request) -> HTTPResponse:
    if not SOCKET_IO_JS.exists():
        raise HubError(
            503, "the socket.io client is not installed: run `make setup` (it runs npm ci)"
        )
    return _script(SOCKET_IO_JS, cache="public, max-age=3600")


@routes.route(
    "/demo",
    summary="A demo storefront with the chat widget (this machine only)",
    operation_id="demoPage",
    parameters=[
        {
            "name": "as",
            "in": "query",
            "required": False,
            "description": "A demo customer id (bot/backoffice/fixture.yml) to sign in as.",
            "schema": {"type": "string"},
        }
    ],
    responses={
        "200": html_spec("The storefront, with a customer token for `as` if given."),
        "403": error_spec("Not asked from this machine."),
        "404": error_spec("No such demo customer."),
        "503": error_spec("CX_WIDGET_SECRET is not set."),
    },
)
async def demo_page(request: Request) -> HTTPResponse:
    """The demo storefront, signed in as the demo customer ``?as=`` names (or a guest).

    It hands out a customer token for any demo customer, so it answers on this machine only.
    """
    require_local(request, "the demo storefront only answers on this machine (http://127.0.0.1)")
    settings = request.app.ctx.settings
    customers = demo_customers()
    chosen = request.args.get("as", "")
    if chosen and chosen not in customers:
        raise HubError(404, f"no demo customer {chosen!r}; try one of {', '.join(customers)}")
    if chosen and not settings.widget_secret:
        raise HubError(503, "CX_WIDGET_SECRET is not set: `make run` generates one into var/")
    token = mint_customer_token(settings.widget_secret, chosen) if chosen else ""
    nonce = new_nonce()
    page = (
        environment()
        .get_template("demo.html")
        .render(
            nonce=nonce,
            widget_src=f"{request.scheme}://{request.host}/widget.js",
            rasa_url=settings.rasa_url,
            customer_token=token,
            customer_name=customers.get(chosen, "Guest"),
            customers=customers,
            chosen=chosen,
        )
    )
    # Only the page's own nonce'd script and this hub's script files run; the widget talks
    # to Rasa's socket.io (http and ws) and shows images from http(s) links. Its styles are
    # inline (the shop's attributes, the widget's shadow-DOM sheet), so style-src allows them.
    rasa = urlsplit(settings.rasa_url)
    ws = urlunsplit(("wss" if rasa.scheme == "https" else "ws", rasa.netloc, "", "", ""))
    policy = page_policy(
        nonce,
        styles="'self' 'unsafe-inline'",
        connect=f"'self' {settings.rasa_url.rstrip('/')} {ws}",
        images="'self' data: http: https:",
    )
    return html(page, headers={"Cache-Control": "no-store", **page_headers(policy)})


@cache
def demo_customers() -> dict[str, str]:
    """The back-office demo customers (bot/backoffice/fixture.yml): id -> name."""
    data = yaml.safe_load(FIXTURE.read_text(encoding="utf-8"))
    return {c["id"]: c["name"] for c in data["customers"]}


def _script(path: Path, cache: str) -> HTTPResponse:
    return raw(
        path.read_bytes(),
        content_type=JAVASCRIPT,
        headers={"Cache-Control": cache, "X-Content-Type-Options": "nosniff"},
    )
