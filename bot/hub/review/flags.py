"""Flagging conversations for review, and turning their messages into NLU training data.

The conversation page shows ``flag_panel`` (plain forms, no script needed); the flagged
list (``/review/flagged``, review/flagged.html) shows each flagged conversation's customer messages with an
intent picker, and the kept examples download as Rasa NLU YAML (``/review/examples.yml``).
Forms post back and redirect (303), so the pages work without JavaScript; the same
actions are in the JSON API under ``/api/review/``.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any, TypeVar

from markupsafe import Markup
from sanic.request import Request
from sanic.response import HTTPResponse, redirect
from sanic.response import json as json_response
from sanic.response import text as text_response

from bot.analytics import flags as review_flags
from bot.analytics.flags import Example, Flag, Invalid, NotFound
from bot.hub.accounts import Session
from bot.hub.auth import check_csrf, require
from bot.hub.openapi_parts import error_spec, html_spec, json_body, json_spec, schema_ref
from bot.hub.registry import RouteTable
from bot.hub.review import schemas
from bot.hub.review.layout import API, PREFIX, page
from bot.hub.templating import render_fragment
from bot.hub.web import HubError, in_thread, json_object

T = TypeVar("T")

# -- how the routes are described (bot/hub/registry.py) ----------------------------------------
_TOUCHPOINT_ID = {
    "name": "touchpoint_id",
    "in": "path",
    "required": True,
    "schema": {"type": "integer", "minimum": 1},
}
_EXAMPLE_ID = {
    "name": "example_id",
    "in": "path",
    "required": True,
    "schema": {"type": "integer", "minimum": 1},
}
_SIGNED_IN = "For a signed-in analyst or admin (session cookie)."
_CHANGING = (
    _SIGNED_IN + " Carries the session's CSRF token in `X-CSRF-Token` (or a form's `csrf_token`)."
)
_FORM = {"content": {"application/x-www-form-urlencoded": {"schema": {"type": "object"}}}}
_REDIRECT = {"description": "Done: back to the page (303)."}
_DENIED = error_spec("Not signed in, another role, or no valid CSRF token.")

routes = RouteTable(
    path_parameters={"touchpoint_id": _TOUCHPOINT_ID, "example_id": _EXAMPLE_ID},
    schemas=schemas.FLAG_SCHEMAS,
)


def flag_panel(
    touchpoint_id: int, flag: Flag | None, csrf_token: str, now: datetime | None = None
) -> Markup:
    """The conversation page's flag section (review/_flag_panel.html)."""
    return render_fragment(
        "review/_flag_panel.html",
        flag=flag,
        csrf=csrf_token,
        action=f"{PREFIX}/touchpoints/{touchpoint_id}",
        max_note=review_flags.MAX_NOTE_LENGTH,
        prefix=PREFIX,
        now=now,
    )


# -- pages and forms ---------------------------------------------------------------------------
@routes.route(
    f"{PREFIX}/flagged",
    name="review_flagged",
    summary="Flagged conversations with their messages and intent pickers (HTML)",
    description=_SIGNED_IN,
    parameters=[{"name": "before", "in": "query", "schema": {"type": "integer"}}],
    responses={
        "200": html_spec("The page."),
        "302": {"description": "To /login."},
        "400": error_spec("A bad `before`."),
        "403": _DENIED,
    },
)
async def flagged_page(request: Request) -> HTTPResponse:
    """Flagged conversations, newest flag first, each message with an intent picker."""
    session = await require(request, "review")
    before = _int_arg(request, "before")
    engine = request.app.ctx.engine
    items = await in_thread(review_flags.flagged, engine, review_flags.FLAGGED_PAGE + 1, before)
    more = len(items) > review_flags.FLAGGED_PAGE
    items = items[: review_flags.FLAGGED_PAGE]
    kept = await in_thread(review_flags.examples, engine, [i["flag"].touchpoint_id for i in items])
    intents = await in_thread(_intents, request)
    by_message = {(e.touchpoint_id, e.text): e for e in kept}
    for item in items:  # each customer message with the example kept from it, if any
        tid = item["flag"].touchpoint_id
        item["examples"] = [
            (line, by_message.get((tid, " ".join(line.split())))) for line in item["lines"]
        ]
    return page(
        "Flagged conversations",
        request=request,
        session=session,
        current=f"{PREFIX}/flagged",
        template="review/flagged.html",
        items=items,
        intents=intents,
        more=more,
        prefix=PREFIX,
        api=API,
        now=_now(request),
    )


@routes.route(
    f"{PREFIX}/examples.yml",
    name="review_nlu",
    summary="The kept examples as Rasa NLU YAML (a download for data/nlu/)",
    description=_SIGNED_IN,
    responses={
        "200": {
            "description": "Rasa NLU training data, format 3.1.",
            "content": {
                "application/x-yaml": {
                    # Described as what the YAML holds: clients (and schemathesis) parse it.
                    "schema": {
                        "type": "object",
                        "properties": {
                            "version": {"type": "string"},
                            "nlu": {"type": "array", "items": {"type": "object"}},
                        },
                        "required": ["version", "nlu"],
                    }
                }
            },
        },
        "302": {"description": "To /login."},
        "403": _DENIED,
    },
)
async def nlu_export(request: Request) -> HTTPResponse:
    """Every kept example as Rasa NLU YAML, to save under data/nlu/."""
    await require(request, "review")
    kept = await in_thread(review_flags.examples, request.app.ctx.engine)
    stamp = datetime.fromtimestamp(request.app.ctx.settings.clock()).strftime("%Y%m%d")
    return text_response(
        review_flags.nlu_yaml(kept),
        content_type="application/x-yaml; charset=utf-8",
        headers={
            "Content-Disposition": f'attachment; filename="reviewed_examples_{stamp}.yml"',
            "X-Content-Type-Options": "nosniff",
        },
    )


@routes.route(
    f"{PREFIX}/touchpoints/<touchpoint_id:int>/flag",
    "POST",
    name="review_flag_form",
    summary="Flag form (tags, note)",
    description=_CHANGING,
    request=_FORM,
    responses={
        "303": _REDIRECT,
        "400": error_spec("Bad tags or note."),
        "403": _DENIED,
        "404": error_spec("No such touchpoint."),
    },
)
async def flag_form(request: Request, touchpoint_id: int) -> HTTPResponse:
    """The panel's Flag / Save button."""
    session = await _changing(request)
    tags = (request.form.get("tags") or "").split(",")
    await _act(
        review_flags.set_flag,
        request.app.ctx.engine,
        touchpoint_id,
        tags,
        request.form.get("note"),
        session.user.id,
        _now(request),
    )
    return redirect(f"{PREFIX}/conversations/{touchpoint_id}#flag-heading", status=303)


@routes.route(
    f"{PREFIX}/touchpoints/<touchpoint_id:int>/unflag",
    "POST",
    name="review_unflag_form",
    summary="Remove-flag form",
    description=_CHANGING,
    request=_FORM,
    responses={"303": _REDIRECT, "403": _DENIED},
)
async def unflag_form(request: Request, touchpoint_id: int) -> HTTPResponse:
    """The panel's Remove button."""
    await _changing(request)
    await in_thread(review_flags.clear_flag, request.app.ctx.engine, touchpoint_id)
    return redirect(f"{PREFIX}/conversations/{touchpoint_id}#flag-heading", status=303)


@routes.route(
    f"{PREFIX}/examples",
    "POST",
    name="review_example_form",
    summary="Keep-as-example form (touchpoint_id, text, intent)",
    description=_CHANGING,
    request=_FORM,
    responses={
        "303": _REDIRECT,
        "400": error_spec("Bad text or unknown intent."),
        "403": _DENIED,
        "404": error_spec("No such touchpoint."),
    },
)
async def example_form(request: Request) -> HTTPResponse:
    """A message kept as an example of the picked intent, from the flagged list."""
    session = await _changing(request)
    touchpoint_id = _int_value(request.form.get("touchpoint_id"), "touchpoint_id")
    await _keep(
        request,
        session,
        touchpoint_id,
        request.form.get("text") or "",
        request.form.get("intent") or "",
    )
    return redirect(f"{PREFIX}/flagged#tp-{touchpoint_id}", status=303)


@routes.route(
    f"{PREFIX}/examples/<example_id:int>/drop",
    "POST",
    name="review_drop_example_form",
    summary="Remove-example form",
    description=_CHANGING,
    request=_FORM,
    responses={"303": _REDIRECT, "403": _DENIED, "404": error_spec("No such example.")},
)
async def drop_example_form(request: Request, example_id: int) -> HTTPResponse:
    """A kept example's Remove button."""
    await _changing(request)
    await _act(review_flags.drop_example, request.app.ctx.engine, example_id)
    return redirect(f"{PREFIX}/flagged", status=303)


# -- the JSON API ------------------------------------------------------------------------------
@routes.route(
    f"{API}/touchpoints/<touchpoint_id:int>/flag",
    "DELETE",
    name="review_flag_api",
    summary="Remove a touchpoint's flag",
    description=_CHANGING,
    responses={
        "200": json_spec("Not flagged (any more).", {"type": "object"}),
        "401": error_spec("Not signed in."),
        "403": _DENIED,
    },
)
@routes.route(
    f"{API}/touchpoints/<touchpoint_id:int>/flag",
    name="review_flag_api",
    summary="A touchpoint's review flag",
    description=_SIGNED_IN,
    responses={
        "200": json_spec("The flag, if any.", schema_ref("ReviewFlagState")),
        "401": error_spec("Not signed in."),
        "403": _DENIED,
    },
)
@routes.route(
    f"{API}/touchpoints/<touchpoint_id:int>/flag",
    "PUT",
    name="review_flag_api",
    summary="Flag a touchpoint, or change its tags and note",
    description=_CHANGING,
    request=json_body(
        {
            "type": "object",
            "properties": {
                "tags": {
                    "type": "array",
                    "items": {"type": "string"},
                    "maxItems": review_flags.MAX_TAGS,
                },
                "note": {"type": "string"},
            },
        }
    ),
    responses={
        "200": json_spec("Flagged.", schema_ref("ReviewFlagState")),
        "400": error_spec("Bad tags or note, or not JSON."),
        "401": error_spec("Not signed in."),
        "403": _DENIED,
        "404": error_spec("No such touchpoint."),
    },
)
async def flag_api(request: Request, touchpoint_id: int) -> HTTPResponse:
    """GET a touchpoint's flag, PUT ``{"tags": [...], "note": "..."}``, or DELETE it."""
    engine = request.app.ctx.engine
    if request.method == "GET":
        await require(request, "review")
        flag = await in_thread(review_flags.flag_of, engine, touchpoint_id)
        return json_response(
            {"flagged": flag is not None, "flag": flag.as_json() if flag else None}
        )
    session = await _changing(request)
    if request.method == "DELETE":
        removed = await in_thread(review_flags.clear_flag, engine, touchpoint_id)
        return json_response({"flagged": False, "removed": removed})
    data = json_object(request)
    tags = data.get("tags", [])
    if not isinstance(tags, list):
        raise HubError(400, "tags must be a list of strings")
    note = data.get("note")
    if note is not None and not isinstance(note, str):
        raise HubError(400, "note must be a string")
    flag = await _act(
        review_flags.set_flag, engine, touchpoint_id, tags, note, session.user.id, _now(request)
    )
    return json_response({"flagged": True, "flag": flag.as_json()})


@routes.route(
    f"{API}/examples",
    name="review_examples_api",
    summary="Every kept training example",
    description=_SIGNED_IN,
    responses={
        "200": json_spec(
            "The examples.",
            {
                "type": "object",
                "properties": {"examples": {"type": "array", "items": schema_ref("ReviewExample")}},
            },
        ),
        "401": error_spec("Not signed in."),
        "403": _DENIED,
    },
)
@routes.route(
    f"{API}/examples",
    "POST",
    name="review_examples_api",
    summary="Keep a customer message as an example of an intent",
    description=_CHANGING,
    request=json_body(
        {
            "type": "object",
            "required": ["touchpoint_id", "text", "intent"],
            "properties": {
                "touchpoint_id": {"type": "integer", "minimum": 1},
                "text": {"type": "string"},
                "intent": {
                    "type": "string",
                    "description": "An intent of domain.yml.",
                },
            },
        }
    ),
    responses={
        "201": json_spec("Kept.", schema_ref("ReviewExample")),
        "400": error_spec("Bad text or unknown intent, or not JSON."),
        "401": error_spec("Not signed in."),
        "403": _DENIED,
        "404": error_spec("No such touchpoint."),
    },
)
async def examples_api(request: Request) -> HTTPResponse:
    """GET every kept example; POST ``{"touchpoint_id", "text", "intent"}`` keeps one."""
    if request.method == "GET":
        await require(request, "review")
        kept = await in_thread(review_flags.examples, request.app.ctx.engine)
        return json_response({"examples": [e.as_json() for e in kept]})
    session = await _changing(request)
    data = json_object(request)
    text, intent = data.get("text"), data.get("intent")
    if not isinstance(text, str) or not isinstance(intent, str):
        raise HubError(400, "text and intent must be strings")
    example = await _keep(
        request, session, _int_value(data.get("touchpoint_id"), "touchpoint_id"), text, intent
    )
    return json_response(example.as_json(), status=201)


@routes.route(
    f"{API}/examples/<example_id:int>",
    "DELETE",
    name="review_example_api",
    summary="Forget a kept example",
    description=_CHANGING,
    responses={
        "200": json_spec("Deleted.", {"type": "object"}),
        "401": error_spec("Not signed in."),
        "403": _DENIED,
        "404": error_spec("No such example."),
    },
)
async def example_api(request: Request, example_id: int) -> HTTPResponse:
    """DELETE a kept example."""
    await _changing(request)
    await _act(review_flags.drop_example, request.app.ctx.engine, example_id)
    return json_response({"deleted": example_id})


# -- helpers -----------------------------------------------------------------------------------
async def _changing(request: Request) -> Session:
    session = await require(request, "review")
    check_csrf(request, session)
    return session


async def _keep(
    request: Request, session: Session, touchpoint_id: int, text: str, intent: str
) -> Example:
    if not intent:
        raise HubError(400, "pick the intent this message should have had")
    intents = await in_thread(_intents, request)
    return await _act(
        review_flags.keep_example,
        request.app.ctx.engine,
        touchpoint_id,
        text,
        intent,
        intents,
        session.user.id,
        _now(request),
    )


async def _act(fn: Callable[..., T], *args: Any) -> T:
    """Run a flags function; its NotFound and Invalid become 404 and 400."""
    try:
        return await in_thread(fn, *args)
    except NotFound as e:
        raise HubError(404, str(e)) from None
    except Invalid as e:
        raise HubError(400, str(e)) from None


def _intents(request: Request) -> list[str]:
    return review_flags.domain_intents(request.app.ctx.settings.domain_file)


def _now(request: Request) -> datetime:
    return datetime.fromtimestamp(request.app.ctx.settings.clock())


def _int_arg(request: Request, name: str) -> int | None:
    raw = request.args.get(name)
    return None if raw in (None, "") else _int_value(raw, name)


def _int_value(raw: Any, name: str) -> int:
    try:
        value = int(raw)
    except (TypeError, ValueError):
        raise HubError(400, f"{name} must be a whole number") from None
    if value < 1:
        raise HubError(400, f"{name} must be 1 or more")
    return value
