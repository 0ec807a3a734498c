"""The frame every CX review page shares: navigation, style, and the security headers.

Pages are rendered on the server with every value through ``html.escape``; a page that
needs a script passes it in, and the Content-Security-Policy lets only that script (by
nonce) run, so nothing a customer typed can ever execute here.
"""

from __future__ import annotations

import secrets
from html import escape

from sanic.response import HTTPResponse

from bot.hub.accounts import Session
from bot.hub.web import app_page

PREFIX = "/review"
API = "/api/review"

# (path, label) of the review's sections, in the navigation bar's order.
SECTIONS = (
    (PREFIX, "Metrics"),
    (f"{PREFIX}/log", "Touchpoint log"),
    (f"{PREFIX}/flagged", "Flagged"),
)

STYLE = """
body{font-family:system-ui,sans-serif;margin:0;color:#222;background:#fafafa}
.bar{display:flex;gap:1rem;align-items:center;padding:.5rem 1rem;background:#243b2f;color:#fff}
.bar a{color:#fff}.bar a[aria-current=page]{font-weight:700;text-decoration:none}
.bar nav{display:flex;gap:1rem}.bar span{margin-left:auto}.bar form{margin:0}
main{max-width:80rem;margin:1rem auto;padding:0 1rem}
.hint,.empty{color:#666;font-size:.9rem}.problem{color:#b00020;font-weight:600}
table{border-collapse:collapse;width:100%;font-size:.9rem;background:#fff}
td,th{border-bottom:1px solid #ddd;padding:.25rem .45rem;text-align:left;vertical-align:top}
th{background:#f0f0f0}td.num,th.num{text-align:right;font-variant-numeric:tabular-nums}
form.filters{display:flex;flex-wrap:wrap;gap:.5rem 1rem;align-items:flex-end;margin:.5rem 0 1rem}
form.filters label{display:flex;flex-direction:column;font-size:.85rem;font-weight:600}
input,select,textarea,button{font:inherit;padding:.3rem}
dl{display:grid;grid-template-columns:max-content 1fr;gap:.2rem .8rem}dt{font-weight:600}
dd{margin:0;white-space:pre-wrap}
.transcript{list-style:none;padding:.5rem;background:#fff;border:1px solid #ccd;border-radius:6px}
.line{margin:.3rem 0;padding:.3rem .5rem;border-radius:6px;white-space:pre-wrap}
.line--customer{background:#e8f0ff}.line--assistant{background:#f1f1f1}
.line--agent{background:#fff4e0;border-left:3px solid #e08a00}
.line--system{color:#666;font-style:italic;font-size:.9rem}
.line .who{font-weight:600;margin-right:.4rem}.line time{color:#777;font-size:.8rem;margin-left:.4rem}
.tag{display:inline-block;background:#eef;border-radius:4px;padding:0 .3rem;margin:0 .2rem .2rem 0;font-size:.85rem}
figure{margin:1rem 0;background:#fff;border:1px solid #ddd;border-radius:6px;padding:.5rem}
figcaption{font-weight:600;margin-bottom:.3rem}
.charts{display:grid;grid-template-columns:repeat(auto-fit,minmax(min(100%,30rem),1fr));gap:0 1rem}
svg.chart{display:block;width:100%;height:auto}.scroll{overflow-x:auto}
abbr[title]{text-decoration:underline dotted;cursor:help}tr.total th,tr.total td{font-weight:700}
th[scope=row]{white-space:nowrap}
form.inline{display:inline;margin:0}article.flagged{margin:1.5rem 0}
.outcome{white-space:nowrap}.outcome--escalated,.outcome--abandoned{font-weight:600}
.frustrated{color:#b00020;font-weight:600;white-space:nowrap}.flagged{font-weight:600;white-space:nowrap}
.said{font-size:.85rem;color:#444;font-style:italic}nav.pages{margin:1rem 0;font-weight:600}
svg.timeline{display:block;width:100%;min-width:40rem;height:auto}svg.timeline a:focus{outline:2px solid #000}
.legend{display:flex;flex-wrap:wrap;gap:.2rem 1rem;align-items:center;font-size:.85rem}
.legend p{margin:0}.legend ul{display:flex;flex-wrap:wrap;gap:.2rem .8rem;list-style:none;padding:0;margin:0}
.legend svg{vertical-align:middle}.sessions ol{display:flex;gap:1rem;list-style:none;padding:0}
article.handoff{background:#fff;border:1px solid #ddd;border-radius:6px;padding:.2rem .8rem;margin:.6rem 0}
td time{white-space:nowrap}
.identity-failed{color:#b00020;font-weight:600;white-space:nowrap}
.badge.identity-failed{border:1px solid #b00020;border-radius:4px;padding:0 .3rem;background:#fff0f0}
"""


def nav_bar(session: Session, current: str = "") -> str:
    """The review's navigation, who is signed in, and the sign-out button."""
    links = "".join(
        f"<a href='{path}'" + (" aria-current='page'" if path == current else "") + f">{label}</a>"
        for path, label in SECTIONS
    )
    user = session.user
    return (
        f"<header class='bar'><strong>CX review</strong><nav>{links}</nav>"
        f"<span>Signed in as {escape(user.display_name)} ({escape(user.role)})</span>"
        "<form method='post' action='/logout'>"
        f"<input type='hidden' name='csrf_token' value='{escape(session.csrf_token, quote=True)}'>"
        "<button type='submit'>Sign out</button></form></header>"
    )


def page(
    title: str,
    body: str,
    *,
    session: Session | None = None,
    current: str = "",
    script: str = "",
    status: int = 200,
) -> HTTPResponse:
    """A whole review page: ``body`` (already escaped HTML) under the navigation bar.

    ``script``, if any, is the page's only script; it reads the CSRF token from the
    ``csrf-token`` meta tag.
    """
    csrf = session.csrf_token if session else ""
    bar = nav_bar(session, current) if session else ""
    return app_page(
        f"{title} - CX review",
        f"{bar}<main>{body}</main>",
        style=STYLE,
        nonce=secrets.token_urlsafe(16),
        script=script,
        csrf=csrf,
        status=status,
    )


def error_page(status: int, message: str) -> HTTPResponse:
    """An error on a review page, said in HTML, with a way back."""
    body = (
        f"<h1>{status}</h1><p>{escape(message)}</p><p><a href='{PREFIX}'>Back to the review</a></p>"
    )
    return page(f"Error {status}", body, status=status)
