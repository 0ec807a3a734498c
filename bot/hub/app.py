"""The hub web app: build it with ``create_app(settings)``, run it with ``run_hub(settings)``.

It serves the built-in department inboxes (a JSON API and a small HTML page), the
acknowledge/resolve API departments call, sign-in, and the agent console
(bot/hub/console.py) and CX review (bot/hub/review/).
Nothing happens at import time: the database engine is made and migrated when the server
starts, in the server's own process.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import os
import socket
import threading
from dataclasses import dataclass, replace
from datetime import datetime

from sanic import Sanic
from sanic.exceptions import PayloadTooLarge, SanicException
from sanic.handlers import ErrorHandler
from sanic.request import Request
from sanic.response import HTTPResponse, json

from bot import monitoring
from bot.db.engine import make_engine
from bot.db.migrate import migrate
from bot.departments import load_departments
from bot.hub import (
    auth,
    console,
    events,
    openapi,
    pages,
    registry,
    review,
    routes,
)
from bot.hub.accounts import Accounts
from bot.hub.settings import HubSettings
from bot.hub.store import HubStore
from bot.hub.web import (
    FALLBACK_POLICY,
    check_content_type,
    check_ids,
    check_no_nul,
)
from bot.proactive.events import EventCatalogue
from bot.redaction import install_log_redaction, keep_tensorflow_out, redactor
from bot.routing import RoutingMap
from bot.services import build_backoffice

log = logging.getLogger(__name__)

# Sanic keeps a registry of apps by name: one name per factory call, in every process.
_app_numbers = itertools.count(1)


class _HubSanic(Sanic):  # type: ignore[misc]  # Sanic is not analysed here
    """Sanic, startable more than once per process (``serve`` in tests, a combined runner).

    Sanic 21.12 rewrites its protocol class at every start ("touch-up") and fails on the
    second app of a process unless ``test_mode`` is on, which rewrites from the saved
    original instead; it changes nothing else but the duplicate-name check, and our names
    are unique anyway.
    """

    test_mode = True


class HubErrorHandler(ErrorHandler):  # type: ignore[misc]  # Sanic is not analysed here
    """Every error as JSON ``{"error": ...}``; on the inbox pages, as a small HTML page."""

    def __init__(self, max_body_bytes: int) -> None:
        super().__init__()
        self.max_body_bytes = max_body_bytes

    def default(self, request: Request, exception: Exception) -> HTTPResponse:
        path = getattr(request, "path", "") or ""
        if isinstance(exception, PayloadTooLarge):
            status = 413
            message = f"the request is larger than the hub's limit of {self.max_body_bytes} bytes"
        elif isinstance(exception, SanicException):
            status = exception.status_code or 500
            message = str(exception) or "error"
        else:
            log.error("%s %s failed", getattr(request, "method", "?"), path, exc_info=exception)
            status, message = 500, "internal error: the hub's log has the details"
        if isinstance(exception, auth.SignInRequired) and not path.startswith("/api/"):
            return auth.sign_in_redirect(request)
        extra = getattr(exception, "extra", None) or {}  # HubError's fields beside "error"
        if path.startswith(pages.PREFIX):
            return pages.error_page(status, message, path, request)
        if path == console.PREFIX or path.startswith(console.PREFIX + "/"):
            return console.error_page(status, message)
        if path == review.PREFIX or path.startswith(review.PREFIX + "/"):
            return review.error_page(status, message, request)
        return json({"error": message, **extra}, status=status)


def create_app(settings: HubSettings) -> Sanic:
    """A new hub app for ``settings``; the journey database is opened when the server starts."""
    app = _HubSanic(
        f"cx_hub_{os.getpid()}_{next(_app_numbers)}",
        error_handler=HubErrorHandler(settings.max_body_bytes),
    )
    app.config.REQUEST_MAX_SIZE = settings.max_body_bytes
    app.config.FALLBACK_ERROR_FORMAT = "json"
    app.ctx.settings = settings
    # Configuration errors (a broken YAML file) surface here, before the server binds.
    app.ctx.departments = load_departments(settings.departments_file)
    app.ctx.routing = RoutingMap.load(settings.routing_file)
    app.ctx.event_types = EventCatalogue.load(settings.events_file)
    # Failed sign-ins are counted on the hub's clock (tests move it by hand).
    app.ctx.limiter = replace(settings.rate_limits, clock=settings.clock).limiter()

    @app.before_server_start  # type: ignore[untyped-decorator]  # Sanic is not analysed here
    async def open_journey(app: Sanic, _loop: object) -> None:
        engine = make_engine(settings.journey_url)
        await asyncio.to_thread(migrate, engine)
        app.ctx.engine = engine

        def now() -> datetime:
            return datetime.fromtimestamp(settings.clock())

        app.ctx.store = HubStore(engine, now=now)
        app.ctx.accounts = Accounts(engine, now=now)
        app.ctx.agents = console.agent_desk(settings, engine, app.ctx.departments, now)
        app.ctx.backoffice = (
            await asyncio.to_thread(build_backoffice, settings)
            if settings.backoffice_url or settings.backoffice_api_url
            else None
        )
        events.open_events(app, engine, now)

    @app.after_server_start  # type: ignore[untyped-decorator]  # Sanic is not analysed here
    async def sweep_takeovers(app: Sanic, _loop: object) -> None:
        console.start_sweeping(app)
        if settings.deliver_news:
            events.start_delivering(app)

    @app.before_server_stop  # type: ignore[untyped-decorator]  # Sanic is not analysed here
    async def stop_sweeping(app: Sanic, _loop: object) -> None:
        console.stop_sweeping(app)
        events.stop_delivering(app)

    @app.after_server_stop  # type: ignore[untyped-decorator]  # Sanic is not analysed here
    async def close_journey(app: Sanic, _loop: object) -> None:
        app.ctx.engine.dispose()

    app.ctx.openapi = openapi.document(sorted(app.ctx.departments))
    accepted = registry.body_types(routes.TABLES)  # as each route declared it

    @app.on_request  # type: ignore[untyped-decorator]  # Sanic is not analysed here
    async def check_request(request: Request) -> None:
        check_content_type(request, accepted)
        check_no_nul(request)
        check_ids(request)

    @app.on_response  # type: ignore[untyped-decorator]  # Sanic is not analysed here
    async def security_headers(request: Request, response: HTTPResponse) -> None:
        # The safety net: pages set their own policy (with their nonce); any other HTML,
        # an error page included, runs nothing and can't be framed.
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        if (response.content_type or "").startswith("text/html"):
            response.headers.setdefault("Content-Security-Policy", FALLBACK_POLICY)

    for table in routes.TABLES:
        table.add_to(app)
    console.add_listeners(app)
    return app


def run_hub(settings: HubSettings) -> int:
    """Serve the hub in this process until Ctrl-C or SIGTERM (``python -m bot.hub``)."""
    keep_tensorflow_out()  # the hub runs no model: spaCy (for the redactor) loads in 2 s
    install_log_redaction()  # no email, phone or card number in the hub's log
    redactor()  # built now rather than on the first log line or page that needs it
    app = create_app(settings)
    app.register_listener(_serve_metrics, "after_server_start")
    print(f"Hub on http://{settings.host}:{settings.port} (API: /api/openapi.json)", flush=True)
    app.run(
        host=settings.host,
        port=settings.port,
        access_log=settings.access_log,
        motd=False,
        workers=1,
    )
    return 0


async def _serve_metrics(app: Sanic, _loop: object) -> None:
    """The hub's Prometheus metrics on loopback: takeovers and the queue, read per scrape."""
    monitoring.serve_hub(app.ctx.engine)


@dataclass
class HubServer:
    """A hub serving from a background thread (see ``serve``); ``stop()`` ends it."""

    url: str
    _loop: asyncio.AbstractEventLoop
    _thread: threading.Thread
    _stopped: asyncio.Event

    def stop(self, timeout: float = 10) -> None:
        self._loop.call_soon_threadsafe(self._stopped.set)
        self._thread.join(timeout)


def serve(settings: HubSettings, port: int | None = None, timeout: float = 30) -> HubServer:
    """Start the hub in a background thread of this process and return once it answers.

    For embedding (tests, a combined runner). ``port`` defaults to the settings' port; 0
    picks a free one, and the returned ``url`` says which.
    """
    app = create_app(settings)
    sock = socket.socket(socket.AF_INET6 if ":" in settings.host else socket.AF_INET)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((settings.host, settings.port if port is None else port))
    sock.listen(100)
    bound = sock.getsockname()[1]
    host = f"[{settings.host}]" if ":" in settings.host else settings.host
    loop = asyncio.new_event_loop()
    ready = threading.Event()
    failure: list[BaseException] = []
    stopped = asyncio.Event()

    async def main() -> None:
        try:
            server = await app.create_server(
                sock=sock, return_asyncio_server=True, access_log=settings.access_log
            )
            await server.startup()
            await server.before_start()
            await server.after_start()
        except BaseException as e:
            failure.append(e)
            ready.set()
            raise
        ready.set()
        await stopped.wait()
        await server.before_stop()
        server.close()
        await server.wait_closed()
        await server.after_stop()

    def run() -> None:
        asyncio.set_event_loop(loop)
        try:
            loop.run_until_complete(main())
        except BaseException:
            if not failure:
                log.exception("the hub stopped with an error")
        finally:
            sock.close()
            loop.close()

    thread = threading.Thread(target=run, name="cx-hub", daemon=True)
    thread.start()
    if not ready.wait(timeout):
        raise TimeoutError(f"the hub did not start within {timeout} s")
    if failure:
        raise RuntimeError(f"the hub could not start: {failure[0]}") from failure[0]
    return HubServer(f"http://{host}:{bound}", loop, thread, stopped)
