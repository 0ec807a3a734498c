"""What every hub route shares: errors, department lookup, signatures, the loopback guard."""

from __future__ import annotations

import asyncio
import ipaddress
import json
import logging
from collections.abc import Callable
from typing import TypeVar
from urllib.parse import urlsplit

from sanic.exceptions import SanicException
from sanic.request import Request

from bot.departments import Department, MissingSecretError
from bot.handoff.signing import SIGNATURE_HEADER, TIMESTAMP_HEADER, verify
from bot.hub.store import HubStore

log = logging.getLogger(__name__)
T = TypeVar("T")


class HubError(SanicException):
    """An error the hub answers with ``{"error": message, **extra}`` and ``status``."""

    def __init__(self, status: int, message: str, /, **extra):
        super().__init__(message, status_code=status, extra=extra)


async def in_thread(fn: Callable[..., T], *args, **kwargs) -> T:
    """Run blocking database work off the event loop."""
    return await asyncio.to_thread(fn, *args, **kwargs)


def store(request: Request) -> HubStore:
    return request.app.ctx.store


def department(request: Request, name: str) -> Department:
    """The department ``name`` from departments.yml, or 404."""
    found = request.app.ctx.departments.get(name)
    if found is None:
        known = ", ".join(sorted(request.app.ctx.departments))
        raise HubError(404, f"no department named {name!r} (departments: {known})")
    return found


def check_signature(request: Request, dept: Department) -> None:
    """401 unless the request is signed with ``dept``'s secret within the time tolerance.

    The signed message is ``X-CX-Timestamp + "." + body`` (bot/handoff/signing.py); a GET
    signs the empty body.
    """
    settings = request.app.ctx.settings
    try:
        secret = dept.webhook_secret(settings.secrets)
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
    if verify(secret, timestamp, request.body, signature, now=now, tolerance=tolerance):
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


def json_object(request: Request) -> dict:
    """The request body as a JSON object, or 400 saying what is wrong with it."""
    try:
        data = json.loads(request.body)
    except ValueError as e:  # includes UnicodeDecodeError
        raise HubError(400, f"the body is not valid JSON: {e}") from None
    if not isinstance(data, dict):
        raise HubError(400, "the body must be a JSON object")
    return data


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
