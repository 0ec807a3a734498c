"""What every hub route shares: errors, department lookup, signatures, the loopback guard."""

from __future__ import annotations

import asyncio
import ipaddress
import json
import logging
import re
import secrets
from collections.abc import Callable
from typing import Any, TypeVar
from urllib.parse import unquote, unquote_plus, urlsplit

from sanic.exceptions import SanicException
from sanic.request import Request

from bot.departments import Department, MissingSecretError
from bot.handoff.signing import SIGNATURE_HEADER, TIMESTAMP_HEADER, verify_any
from bot.hub.store import HubStore
from bot.rasa.channels.api_guard import has_nul  # the same rule as for Rasa's API

log = logging.getLogger(__name__)
T = TypeVar("T")


# Every HTML answer without a policy of its own gets this one (bot/hub/app.py): nothing runs,
# nothing loads from elsewhere, and no other site may frame it.
FALLBACK_POLICY = (
    "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; "
    "frame-ancestors 'none'; base-uri 'none'"
)


def new_nonce() -> str:
    """A fresh nonce for one page's own ``<style>`` and ``<script>`` elements."""
    return secrets.token_urlsafe(16)


def page_policy(
    nonce: str,
    *,
    styles: str | None = None,
    connect: str = "'self'",
    images: str = "'self' data:",
    script_files: bool = True,
) -> str:
    """The Content-Security-Policy of a hub page: only scripts carrying ``nonce`` (or this
    hub's own script files) run; no other site may frame it.

    ``styles`` replaces the nonce for style-src (a page whose styles are inline attributes
    or built by a script); ``connect`` is where its scripts may connect, ``images`` where
    its images may come from; ``script_files=False`` lets only the nonce'd script run.
    The staff pages use bot/hub/templating.py's policy (styles from files only); this one
    serves the widget's demo page.
    """
    style_src = styles or f"'nonce-{nonce}'"
    script_src = f"'nonce-{nonce}' 'self'" if script_files else f"'nonce-{nonce}'"
    return (
        f"default-src 'self'; script-src {script_src}; style-src {style_src}; "
        f"img-src {images}; connect-src {connect}; frame-ancestors 'none'; base-uri 'none'; "
        "form-action 'self'"
    )


def page_headers(policy: str) -> dict[str, str]:
    """The security headers of an HTML page with ``policy`` as its Content-Security-Policy."""
    return {
        "Content-Security-Policy": policy,
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "same-origin",
    }


class HubError(SanicException):  # type: ignore[misc]  # Sanic is not analysed here
    """An error the hub answers with ``{"error": message, **extra}`` and ``status``."""

    def __init__(self, status: int, message: str, /, **extra: Any) -> None:
        super().__init__(message, status_code=status, extra=extra)


async def in_thread(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Run blocking database work off the event loop."""
    return await asyncio.to_thread(fn, *args, **kwargs)


def store(request: Request) -> HubStore:
    found: HubStore = request.app.ctx.store
    return found


def department(request: Request, name: str) -> Department:
    """The department ``name`` from departments.yml, or 404."""
    found: Department | None = request.app.ctx.departments.get(name)
    if found is None:
        known = ", ".join(sorted(request.app.ctx.departments))
        raise HubError(404, f"no department named {name!r} (departments: {known})")
    return found


def check_signature(request: Request, dept: Department) -> None:
    """401 unless the request is signed with ``dept``'s secret within the time tolerance.

    The signed message is ``X-CX-Timestamp + "." + body`` (bot/handoff/signing.py); a GET
    signs the empty body. During a rotation the previous secret (``<secret_env>_PREVIOUS``)
    is accepted too.
    """
    settings = request.app.ctx.settings
    try:
        accepted = dept.webhook_secrets(settings.secrets)
    except MissingSecretError as e:
        log.error("%s", e)
        raise HubError(
            503,
            f"the hub has no signing secret for department {dept.name!r}: "
            f"set {dept.secret_env} in the hub's environment",
        ) from None
    timestamp = request.headers.get(TIMESTAMP_HEADER)
    signature = request.headers.get(SIGNATURE_HEADER)
    now = settings.clock()
    tolerance = settings.signature_tolerance
    if verify_any(accepted, timestamp, request.body, signature, now=now, tolerance=tolerance):
        return
    if not timestamp or not signature:
        reason = f"missing {SIGNATURE_HEADER} or {TIMESTAMP_HEADER} header"
    elif not (timestamp.isascii() and timestamp.isdigit()):
        reason = f"{TIMESTAMP_HEADER} must be unix seconds"
    elif abs(now - int(timestamp)) > tolerance:
        reason = (
            f"{TIMESTAMP_HEADER} is more than {tolerance} s away from the hub's clock "
            "(a replay, or the sender's clock is wrong)"
        )
    else:
        reason = f"{SIGNATURE_HEADER} does not match the body signed with {dept.name}'s secret"
    raise HubError(401, f"bad signature: {reason}")


def json_object(request: Request, *, allow_nul: bool = False) -> dict[str, Any]:
    """The request body as a JSON object, or 400 saying what is wrong with it.

    A body declared as something other than JSON (a form, text/plain) gets 415; a body
    sent with no Content-Type at all is read as JSON.
    """
    kind = _media_type(request)
    if kind and kind != "application/json" and not kind.endswith("+json"):
        raise HubError(415, f"the body must be application/json, not {kind}")
    try:
        data = json.loads(request.body)
    except ValueError as e:  # includes UnicodeDecodeError
        raise HubError(400, f"the body is not valid JSON: {e}") from None
    if not isinstance(data, dict):
        raise HubError(400, "the body must be a JSON object")
    if not allow_nul and has_nul(data):
        raise HubError(400, NUL_REFUSED)
    return data


# PostgreSQL refuses NUL in text, and no person types one: said before any query is made.
NUL_REFUSED = "NUL characters (\\u0000, %00) are not allowed in the request"


def check_no_nul(request: Request) -> None:
    """400 when the path, the query or a form field holds a NUL character."""
    form = request.form if request.body and _media_type(request) in FORM_TYPES else {}
    if (
        "\x00" in unquote(request.path)
        or "\x00" in unquote_plus(request.query_string)
        or any(has_nul(v) for v in form.values())
    ):
        raise HubError(400, NUL_REFUSED)


# Ids are INTEGER columns: 32-bit on PostgreSQL, 64-bit on SQLite. A larger id in a path
# made the database driver fail (a 500); no row can have one, so it is a 404.
MAX_ID = 2**31 - 1


def check_ids(request: Request) -> None:
    """404 when an integer path parameter (an id) is beyond what any database key can hold."""
    for value in (request.match_info or {}).values():
        if type(value) is int and abs(value) > MAX_ID:
            raise HubError(404, f"no such record: {value} is beyond the largest possible id")


def _media_type(request: Request) -> str:
    return (request.headers.get("content-type") or "").split(";")[0].strip().lower()


FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


def check_content_type(request: Request, accepted: dict[tuple[str, str], tuple[str, ...]]) -> None:
    """415 when a request's body is declared as a type its route does not take.

    ``accepted`` is what each route declared it takes (bot/hub/registry.py's ``body_types``).

    A body without a Content-Type is left to the route (it reads it as JSON or finds no
    form fields).
    """
    if not request.body or request.route is None:
        return
    kind = _media_type(request)
    path = re.sub(r"<(\w+)(?::[^>]*)?>", r"{\1}", request.route.path).strip("/")
    kinds = accepted.get((request.method, path))
    if not kind or kinds is None or kind in kinds:
        return
    if "application/json" in kinds and kind.endswith("+json"):
        return
    raise HubError(415, f"this route takes {' or '.join(kinds)}, not {kind}")


def require_local(request: Request, refusal: str | None = None) -> None:
    """403 unless the request comes from this machine and names it (Host, and Origin if sent).

    The minimal guard for the built-in inbox pages until the agent console brings sign-in:
    the peer address stops other machines, the Host check stops DNS rebinding, and the
    Origin check stops other web sites from posting the forms (CSRF).
    """
    origin = request.headers.get("origin")
    local = (
        _is_loopback(request.ip)
        and _is_loopback(_hostname("//" + request.headers.get("host", "")))
        and (origin is None or _is_loopback(_hostname(origin)))
    )
    if not local:
        raise HubError(
            403,
            refusal
            or "the built-in department inbox only answers on this machine: open it at "
            "http://127.0.0.1 or http://localhost (sign-in arrives with the agent console)",
        )


def _hostname(url: str) -> str | None:
    try:
        return urlsplit(url).hostname
    except ValueError:  # e.g. an unclosed IPv6 bracket
        return None


def _is_loopback(host: str | None) -> bool:
    if not host:
        return False
    if host.lower() == "localhost":
        return True
    try:
        address = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    mapped = getattr(address, "ipv4_mapped", None)  # ::ffff:127.0.0.1 on a dual-stack socket
    return address.is_loopback or bool(mapped and mapped.is_loopback)
