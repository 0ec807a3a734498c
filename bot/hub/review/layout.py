"""The frame every CX review page shares: the review's sections under the staff navigation.

Pages are templates under bot/hub/templates/review/ extending ``review/base.html`` (the
shared layout with the review's own navigation); ``page`` renders one with the security
headers of every staff page (bot/hub/templating.py). Nothing a customer typed can run here:
autoescaping, and a Content-Security-Policy that lets only this hub's files and the page's
nonce run.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from markupsafe import Markup
from sanic.request import Request
from sanic.response import HTTPResponse

from bot.hub.accounts import Session
from bot.hub.templating import render_page

PREFIX = "/review"
API = "/api/review"

# (path, label) of the review's sections, in the navigation bar's order.
SECTIONS = (
    (PREFIX, "Metrics"),
    (f"{PREFIX}/log", "Touchpoint log"),
    (f"{PREFIX}/flagged", "Flagged"),
)


def page(
    title: str,
    body: str = "",
    *,
    request: Request | None = None,
    session: Session | None = None,
    current: str = "",
    template: str = "review/page.html",
    scripts: Sequence[str] = (),
    status: int = 200,
    **context: Any,
) -> HTTPResponse:
    """A whole review page: ``template`` (or, for a module not yet moved to its own
    template, ``body``) under the staff and review navigation; ``scripts`` are files of
    bot/hub/static/."""
    return render_page(
        request,
        template,
        session=session,
        area="review",
        status=status,
        title=title,
        body=Markup(body),
        sections=SECTIONS,
        current=current,
        scripts=scripts,
        **context,
    )


def error_page(status: int, message: str, request: Request | None = None) -> HTTPResponse:
    """An error on a review page, said as a page, with a way back."""
    session = getattr(request.ctx, "session", None) if request is not None else None
    return page(
        f"Error {status}",
        request=request,
        session=session,
        template="review/error.html",
        status=status,
        code=status,
        message=message,
        back=PREFIX,
    )
