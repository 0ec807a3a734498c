"""Sign-in for the hub's pages and their JSON APIs: who is asking, and may they?

Every page and API for people (agent console, department inboxes, CX review) starts with
``await require(request, area)``: no session -> the sign-in page (pages) or 401 (APIs);
the wrong role -> 403. Every state-changing request also passes ``check_csrf``: the form
field ``csrf_token`` or the ``X-CSRF-Token`` header must carry the session's token, and a
cross-site ``Origin`` is refused. The machine-to-machine department API keeps its HMAC
signatures (bot/hub/api.py) and needs no session.

Password guessing is slowed by rate limits on failed sign-ins (bot/ratelimit.py): per
username and client address (``CX_RATE_LOGIN_FAILURES``, default 10 per 15 minutes) and per
address whatever the username (``CX_RATE_LOGIN_IP_FAILURES``, default 50 per 15 minutes).
Over either, every sign-in from there, even with the right password, gets 429 with
``Retry-After`` until the window passes. A success clears its username+address count (not
the address's: one valid account must not reset a sweep over other usernames). The
address-wide count is taken after the password check, so parallel guesses over many
usernames may pass it by the number in flight; the username+address count is exact.
"""

from __future__ import annotations

import math
from urllib.parse import quote, urlsplit

from sanic.request import Request
from sanic.response import HTTPResponse, json, redirect

from bot.hub.accounts import ABSOLUTE_TIMEOUT, Accounts, Session
from bot.hub.openapi_parts import error_spec, html_spec, json_spec
from bot.hub.registry import RouteTable
from bot.hub.templating import render_page
from bot.hub.web import HubError, in_thread
from bot.ratelimit import Verdict

COOKIE = "cx_hub_session"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "X-CSRF-Token"


class SignInRequired(HubError):
    """No live session: pages redirect to the sign-in page, APIs answer 401."""

    def __init__(self) -> None:
        super().__init__(401, "sign in first")


routes = RouteTable(tags=["sign-in"])


def accounts(request: Request) -> Accounts:
    found: Accounts = request.app.ctx.accounts
    return found


async def current_session(request: Request) -> Session | None:
    """The request's signed-in session, if its cookie names a live one."""
    if not hasattr(request.ctx, "session"):
        request.ctx.session = await in_thread(
            accounts(request).session, request.cookies.get(COOKIE)
        )
    session: Session | None = request.ctx.session
    return session


async def require(request: Request, area: str, department: str | None = None) -> Session:
    """The signed-in session, if its user's role covers ``area``; else 401/redirect or 403."""
    session = await current_session(request)
    if session is None:
        raise SignInRequired()
    if not session.user.may_open(area, department):
        raise HubError(403, f"{session.user.username} ({session.user.role}) may not open this")
    return session


def check_csrf(request: Request, session: Session) -> None:
    """403 unless a state-changing request carries the session's CSRF token."""
    token = request.headers.get(CSRF_HEADER)
    if token is None and request.content_type.startswith(
        ("application/x-www-form-urlencoded", "multipart/form-data")
    ):
        token = request.form.get(CSRF_FIELD)
    if not session.csrf_ok(token):
        raise HubError(403, "the form's CSRF token is missing or wrong: reload the page")
    _check_origin(request)


def sign_in_redirect(request: Request) -> HTTPResponse:
    """Where a page request without a session goes: the sign-in page, then back here."""
    target = request.path + (f"?{request.query_string}" if request.query_string else "")
    return redirect(f"/login?next={quote(target, safe='')}", status=303)


@routes.route(
    "/login",
    summary="The sign-in page",
    operation_id="loginPage",
    parameters=[
        {
            "name": "next",
            "in": "query",
            "required": False,
            "description": "A path on this hub to go to after signing in.",
            "schema": {"type": "string"},
        }
    ],
    responses={"200": html_spec("The sign-in form.")},
)
async def login_page(request: Request) -> HTTPResponse:
    return _login_html(request, _safe_next(request.args.get("next")))


def _login_html(
    request: Request,
    target: str,
    problem: str = "",
    status: int = 200,
    headers: dict[str, str] | None = None,
) -> HTTPResponse:
    return render_page(
        request, "login.html", status=status, headers=headers, target=target, problem=problem
    )


def _sign_in_keys(request: Request, username: str) -> tuple[str, str]:
    """The rate-limit keys of a sign-in: username and address, and the address alone."""
    limits = request.app.ctx.settings.rate_limits
    ip = limits.client_ip(request.ip, request.headers.get("x-forwarded-for"))
    return f"login:user-ip:{username.strip().lower()}|{ip}", f"login:ip:{ip}"


def _locked_out(request: Request, target: str, verdict: Verdict) -> HTTPResponse:
    wait = verdict.retry_after_seconds
    minutes = math.ceil(wait / 60)
    when = f"{minutes} minute{'s' * (minutes != 1)}" if wait > 60 else f"{wait} seconds"
    problem = f"Too many failed sign-ins from here. Please try again in {when}."
    return _login_html(request, target, problem, status=429, headers={"Retry-After": str(wait)})


@routes.route(
    "/login",
    "POST",
    summary="Sign in with username and password (sets the session cookie)",
    operation_id="login",
    request={
        "required": True,
        "content": {
            "application/x-www-form-urlencoded": {
                "schema": {
                    "type": "object",
                    "properties": {
                        "username": {"type": "string"},
                        "password": {"type": "string"},
                        "next": {"type": "string"},
                    },
                    "required": ["username", "password"],
                }
            }
        },
    },
    responses={
        "303": {"description": "Signed in: to `next` or the user's home page."},
        "401": html_spec("Wrong username or password: the form again."),
        "403": error_spec("Posted from another site (Origin)."),
        "429": html_spec(
            "Too many failed sign-ins for this username from this address (or"
            " from this address): the form again with when to retry; the"
            " `Retry-After` header gives the seconds."
        ),
    },
)
async def login(request: Request) -> HTTPResponse:
    """Check the password; on success set the session cookie and go where the user was going."""
    _check_origin(request)
    form = request.form
    target = _safe_next(form.get("next"))
    username = form.get("username") or ""
    limits, limiter = request.app.ctx.settings.rate_limits, request.app.ctx.limiter
    user_key, ip_key = _sign_in_keys(request, username)
    # Not even the right password gets in until the window passes. The username+address
    # attempt is counted before the password is checked, so parallel guesses can't slip
    # past the limit; a success takes it back (reset).
    for verdict in (
        limiter.peek(ip_key, limits.login_ip_failures),
        limiter.hit(user_key, limits.login_failures),
    ):
        if not verdict.allowed:
            return _locked_out(request, target, verdict)
    user = await in_thread(accounts(request).authenticate, username, form.get("password") or "")
    if user is None:
        limiter.hit(ip_key, limits.login_ip_failures)
        return _login_html(request, target, "Wrong username or password.", status=401)
    limiter.reset(user_key)
    token, _session = await in_thread(accounts(request).sign_in, user)
    response = redirect(target or user.home, status=303)
    response.cookies[COOKIE] = token
    cookie = response.cookies[COOKIE]
    cookie["httponly"] = True
    cookie["samesite"] = "Lax"
    cookie["path"] = "/"
    cookie["max-age"] = int(ABSOLUTE_TIMEOUT.total_seconds())
    if request.scheme == "https" or request.app.ctx.settings.secure_cookies:
        cookie["secure"] = True
    return response


@routes.route(
    "/logout",
    "POST",
    summary="Sign out (the form carries the session's csrf_token)",
    operation_id="logout",
    responses={
        "303": {"description": "Signed out: to /login."},
        "403": error_spec("No valid CSRF token, or another site's Origin."),
    },
)
async def logout(request: Request) -> HTTPResponse:
    session = await current_session(request)
    if session is not None:
        check_csrf(request, session)
        await in_thread(accounts(request).sign_out, request.cookies.get(COOKIE))
    response = redirect("/login", status=303)
    del response.cookies[COOKIE]
    return response


@routes.route(
    "/",
    summary="To the signed-in user's home page, or to the sign-in page",
    operation_id="home",
    responses={"303": {"description": "To the user's home or /login."}},
)
async def home(request: Request) -> HTTPResponse:
    session = await current_session(request)
    return redirect(session.user.home if session else "/login", status=303)


@routes.route(
    "/api/session",
    summary="The signed-in user and their session's CSRF token",
    operation_id="whoAmI",
    responses={
        "200": json_spec(
            "The session cookie's user.",
            {
                "type": "object",
                "properties": {
                    "username": {"type": "string"},
                    "display_name": {"type": "string"},
                    "role": {"type": "string"},
                    "department": {"type": "string", "nullable": True},
                    "csrf_token": {"type": "string"},
                    "expires_at": {"type": "string"},
                },
                "required": ["username", "role", "csrf_token"],
            },
        ),
        "401": error_spec("Not signed in."),
    },
)
async def who_am_i(request: Request) -> HTTPResponse:
    """The signed-in user and the CSRF token their page's scripts send with each change."""
    session = await current_session(request)
    if session is None:
        raise SignInRequired()
    user = session.user
    return json(
        {
            "username": user.username,
            "display_name": user.display_name,
            "role": user.role,
            "department": user.department,
            "csrf_token": session.csrf_token,
            "expires_at": session.expires_at.isoformat(timespec="seconds"),
        },
        headers={"Cache-Control": "no-store"},
    )


def _safe_next(target: str | None) -> str:
    """Only a path on this hub: never another site (an open redirect)."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return ""
    return target


def _check_origin(request: Request) -> None:
    # Browsers send Origin on cross-site POSTs: a form posted from another site is refused
    # even before its CSRF token is looked at (and sign-in itself has no token yet).
    origin = request.headers.get("origin")
    if origin and urlsplit(origin).netloc != request.host:
        raise HubError(403, "cross-site request refused")
