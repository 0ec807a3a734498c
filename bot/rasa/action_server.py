"""The action server: rasa_sdk's own app, with its requests checked before it reads them.

Stock rasa_sdk (``python -m rasa_sdk``) reads ``request.json.get(...)``, so a body that is
JSON but not an object (``[]``, ``"x"``) ends in a 500 that echoes the request body back,
``{}`` gets a 200 ``null``, and a body of any size is read. Started as
``python -m bot.rasa.action_server --actions actions --port 5055`` (bot/runner.py), it answers
malformed calls with 400, a non-JSON content type with 415, a body over
``CX_ACTION_MAX_BODY_BYTES`` with 413, and an unexpected error with a 500 that keeps the
request to the log. Rasa's calls are unchanged. Synchronous actions run in a bounded thread
pool (bot/rasa/action_threads.py), so a slow back office never stalls the other conversations.
"""

from __future__ import annotations

import hmac
import json
import logging
import time
import zlib
from collections.abc import Awaitable, Callable
from typing import Any

from rasa_sdk import utils
from rasa_sdk.endpoint import create_app as create_sdk_app
from rasa_sdk.endpoint import create_argument_parser
from rasa_sdk.plugin import plugin_manager
from sanic import Sanic, response
from sanic.exceptions import PayloadTooLarge, SanicException
from sanic.request import Request
from sanic.response import HTTPResponse

from bot.rasa import action_threads
from bot.rasa.channels.api_guard import body_unread
from bot.redaction import install_log_redaction, keep_tensorflow_out
from bot.settings import (
    ACTION_MAX_BODY_ENV,
    ACTION_SECRET_ENV,
    DEFAULT_ACTION_MAX_BODY_BYTES,
    Settings,
)

logger = logging.getLogger(__name__)

DEFAULT_MAX_BODY_BYTES = DEFAULT_ACTION_MAX_BODY_BYTES  # the why: bot/settings.py
MAX_BODY_ENV = ACTION_MAX_BODY_ENV
EXPECTED = 'expected a JSON object like {"next_action": "action_name", "tracker": {...}}'


def create_app(
    actions: str = "actions",
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
    secret: str | None = None,
    warm: bool = False,
    threads: int = action_threads.DEFAULT_THREADS,
    **sdk_options: Any,
) -> Sanic:
    """rasa_sdk's app for ``actions``, with request checks and a body limit.

    ``secret``: calls must carry it in ``X-CX-Action-Secret`` (Rasa sends it, from
    endpoints.yml's ``headers``), else 401. ``warm``: build the actions' services and spaCy
    pipelines before serving, so the first customer does not wait for them. ``threads``:
    how many synchronous actions run at once, each in its own thread, off the event loop.
    """
    action_threads.install(threads)  # before rasa_sdk's executor registers the actions
    app = create_sdk_app(actions, **sdk_options)
    app.config.REQUEST_MAX_SIZE = max_body_bytes
    app.register_middleware(_check_action_call, "request")
    if secret is not None:
        app.register_middleware(_caller_check(secret), "request")
    if warm:
        app.register_listener(_warm_up, "before_server_start")

    # Replaces rasa_sdk's, which echoes the request body. (Sanic's sources are not read by mypy.)
    @app.exception(Exception)  # type: ignore[untyped-decorator]
    async def errors(request: Request, exception: Exception) -> HTTPResponse:
        if isinstance(exception, PayloadTooLarge):
            return _error(413, f"the request is larger than the limit of {max_body_bytes} bytes")
        if isinstance(exception, SanicException) and (exception.status_code or 500) < 500:
            return _error(exception.status_code, str(exception))
        logger.error("%s %s failed", request.method, request.path, exc_info=exception)
        return _error(500, "internal error: the action server's log has the details")

    return app


async def _check_action_call(request: Request) -> HTTPResponse | None:
    """400/415 for a call to /webhook that rasa_sdk could not read; None lets it through."""
    if request.method != "POST" or request.path.rstrip("/") != "/webhook":
        return None
    if body_unread(request):
        return None  # Sanic is answering an error (a 413) and runs request middleware first
    kind = (request.headers.get("content-type") or "").split(";")[0].strip().lower()
    if kind and kind != "application/json" and not kind.endswith("+json"):
        return _error(415, f"the body must be application/json, not {kind}: {EXPECTED}")
    body = request.body or b""
    try:
        if request.headers.get("content-encoding") == "deflate":
            body = zlib.decompress(body)
        call = json.loads(body)
    except (ValueError, zlib.error):  # ValueError includes UnicodeDecodeError
        return _error(400, f"the body is not valid JSON: {EXPECTED}")
    if not isinstance(call, dict):
        return _error(400, f"the body is JSON but not an object: {EXPECTED}")
    if not isinstance(call.get("next_action"), str) or not call["next_action"]:
        return _error(400, f"'next_action' is missing or not a string: {EXPECTED}")
    tracker = call.get("tracker")
    if not isinstance(tracker, dict) or not isinstance(tracker.get("sender_id"), str):
        return _error(400, f"'tracker' must be an object with a 'sender_id' string: {EXPECTED}")
    if not isinstance(tracker.get("events", []), list):
        return _error(400, "'tracker.events' must be a list")
    for key in ("slots", "latest_message", "domain"):
        where = call if key == "domain" else tracker
        if where.get(key) is not None and not isinstance(where[key], dict):
            return _error(400, f"'{key}' must be an object")
    return None


SECRET_HEADER = "X-CX-Action-Secret"
SECRET_ENV = ACTION_SECRET_ENV


def _caller_check(secret: str) -> Callable[[Request], Awaitable[HTTPResponse | None]]:
    """Middleware: 401 unless the request carries ``secret`` (compared in constant time).

    Only ``/health`` stays open. The action server runs code with the back office's and
    the journey's credentials; without this, anything that can reach its port could make
    it hand off, change an address or read a customer's orders.
    """
    expected = secret.encode("utf-8")

    async def check(request: Request) -> HTTPResponse | None:
        if request.path.rstrip("/") == "/health":
            return None
        given = (request.headers.get(SECRET_HEADER) or "").encode("utf-8")
        if hmac.compare_digest(given, expected):
            return None
        return _error(401, f"calls to the action server must carry Rasa's {SECRET_HEADER} header")

    return check


async def _warm_up(_app: Sanic, _loop: Any) -> None:
    """Build what the first call would otherwise wait for: measured at over 5 s under load
    (database engines and migrations, the back office, two spaCy pipelines)."""
    from bot import services
    from bot.redaction import redactor
    from bot.support.outgoing import shared_guard

    started = time.monotonic()
    services.desk()
    shared_guard()
    redactor()
    logger.info("Action services ready in %.1fs", time.monotonic() - started)


async def _serve_metrics(_app: Sanic, _loop: Any) -> None:
    """The action server's Prometheus metrics on loopback, its journey-store writes timed."""
    from bot import monitoring, services

    monitoring.serve_actions(services.desk().handoffs.engine)


def _error(status: int, message: str) -> HTTPResponse:
    return response.json({"error": message}, status=status)


def main(argv: list[str] | None = None) -> None:
    """``python -m bot.rasa.action_server``: rasa_sdk's command line, this app."""
    # No action runs a model: importing the actions' spaCy pipelines would otherwise pull in
    # TensorFlow (measured: ready in 12.7 s with it, 3.8 s without, and far less memory).
    keep_tensorflow_out()
    args = create_argument_parser().parse_args(argv)
    utils.configure_colored_logging(args.loglevel)
    utils.update_sanic_log_level()
    install_log_redaction()  # no email, phone or card number in the action server's log
    try:
        settings = Settings.from_env()
    except ValueError as e:  # a bad value: its variable and what is wrong, no traceback
        raise SystemExit(str(e)) from None
    secret = settings.action_secret or None
    if secret is None:
        logger.warning("%s is not set: the action server takes calls from anyone", SECRET_ENV)
    app = create_app(
        args.actions,
        settings.action_max_body_bytes,
        secret=secret,
        warm=True,
        threads=settings.action_threads,
        cors_origins=args.cors,
        auto_reload=args.auto_reload,
    )
    app.register_listener(_serve_metrics, "before_server_start")  # after the warm-up
    plugin_manager().hook.attach_sanic_app_extensions(app=app)  # as rasa_sdk's run() does
    host = settings.action_server_host
    logger.info("Action endpoint is up and running on http://%s:%s", host, args.port)
    app.run(host, args.port, workers=utils.number_of_sanic_workers())


if __name__ == "__main__":
    main()
