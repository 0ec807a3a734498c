"""One conversation session for CX review (``/review/conversations/<touchpoint_id>``).

What the journey recorded about the session (customer, channel, stage, needs, outcome,
rating, effort, signals, times), the transcript of that session from Rasa's tracker store
(read over Rasa's HTTP API; when Rasa can't be reached, the page says so plainly and
shows everything else), every routing decision with its rules and reason, handoffs with
their deliveries and the department's answer, agents' takeovers and internal notes,
policy moments (what was offered, what was chosen), the session's identity checks (a
security signal: order numbers, emails and codes tried) and the review flag panel
(bot/hub/review/flags.py). The data is assembled by ``bot.review.conversation``; this
module renders it, every value through ``html.escape``. The same view is JSON at
``/api/review/conversations/<touchpoint_id>``.
"""

from __future__ import annotations

from datetime import datetime
from html import escape
from typing import Any

from markupsafe import Markup
from sanic import Sanic
from sanic.request import Request
from sanic.response import HTTPResponse
from sanic.response import json as json_response

from bot.agents.rasa_api import RasaApi
from bot.agents.transcript import Line
from bot.hub.auth import require
from bot.hub.openapi_parts import (
    LOCAL_TIME,
    TO_SIGN_IN,
    error_spec,
    html_spec,
    json_spec,
    schema_ref,
)
from bot.hub.review.flags import flag_panel
from bot.hub.review.layout import API, PREFIX, page
from bot.hub.review.log import (
    LOG_PATH,
    channel_name,
    conversation_href,
    customer_html,
    frustrated_at,
    frustration_html,
    outcome_html,
    time_html,
    when,
)
from bot.hub.web import HubError, in_thread
from bot.review.conversation import Conversation, conversation
from bot.review.flags import flag_of

TAKEOVER_ENDINGS = {
    "active": "has it now",
    "handed_back": "handed back to the assistant",
    "transferred": "transferred to a department",
    "resolved": "resolved it",
    "abandoned": "let it lapse (back to the queue)",
}
SENDERS = {"customer": "Customer", "assistant": "Assistant", "system": ""}
# Identity checks (bot/identity/checks.py) in words.
CHECK_KINDS = {
    "lookup": "Order looked up without verification",
    "order_email": "Order number and the email on it",
    "code_sent": "One-time code emailed",
    "code": "One-time code typed in",
}
CHECK_OUTCOMES = {"ok": "passed", "failed": "failed", "limited": "refused: over the limit"}
# (connect, read) seconds for the transcript: a tracker is one read from Rasa's store.
TRANSCRIPT_TIMEOUT = (2.0, 5.0)


def add_routes(app: Sanic) -> None:
    """Register the conversation page and its JSON API on ``app``."""
    app.add_route(
        conversation_page,
        f"{PREFIX}/conversations/<touchpoint_id:int>",
        methods=["GET"],
        name="review_conversation",
    )
    app.add_route(
        conversation_api,
        f"{API}/conversations/<touchpoint_id:int>",
        methods=["GET"],
        name="review_conversation_api",
    )


async def conversation_page(request: Request, touchpoint_id: int) -> HTTPResponse:
    """The conversation session: facts, transcript, routing, handoffs, agents, the flag."""
    session = await require(request, "review")
    view = await _conversation(request, touchpoint_id)
    flag = await in_thread(flag_of, request.app.ctx.engine, touchpoint_id)
    # Markup: the body is HTML already (a str + Markup would escape the str).
    body = Markup(render_conversation(view, frustrated_at(request)))
    now = datetime.fromtimestamp(request.app.ctx.settings.clock())
    body += flag_panel(touchpoint_id, flag, session.csrf_token, now)
    who = (view.customer or {}).get("name") or "an anonymous visitor"
    return page(
        f"Conversation with {who}",
        body,
        request=request,
        session=session,
        current=LOG_PATH,
    )


async def conversation_api(request: Request, touchpoint_id: int) -> HTTPResponse:
    """The conversation session as JSON (the transcript null, and why, when Rasa is down)."""
    await require(request, "review")
    view = await _conversation(request, touchpoint_id)
    flag = await in_thread(flag_of, request.app.ctx.engine, touchpoint_id)
    data = view.as_json() | {"flag": flag.as_json() if flag else None}
    return json_response(data, headers={"Cache-Control": "no-store"})


async def _conversation(request: Request, touchpoint_id: int) -> Conversation:
    view = await in_thread(
        conversation, request.app.ctx.engine, touchpoint_id, _rasa(request).tracker
    )
    if view is None:
        raise HubError(404, f"no touchpoint {touchpoint_id} in the journey")
    return view


def _rasa(request: Request) -> RasaApi:
    """Rasa's HTTP API with the hub's URL and token (made once per app), quick to give up:
    without Rasa the page still has everything else to show."""
    ctx = request.app.ctx
    if getattr(ctx, "review_rasa", None) is None:
        settings = ctx.settings
        ctx.review_rasa = RasaApi(
            settings.rasa_api_url, settings.rasa_token, timeout=TRANSCRIPT_TIMEOUT
        )
    return ctx.review_rasa


# -- the page ----------------------------------------------------------------------------------
def render_conversation(view: Conversation, frustrated_level: int) -> str:
    """The page's body, up to (not including) the flag panel."""
    tp, customer = view.touchpoint, view.customer or {}
    who = customer_html(customer.get("id"), customer.get("name"))
    parts = [
        f"<p><a href='{LOG_PATH}'>← Touchpoint log</a></p>",
        f"<h1>Conversation with {who} <small>on {escape(channel_name(tp['channel']))}, "
        f"{time_html(tp['started_at'])}</small></h1>",
        _sessions(view),
        "<section aria-labelledby='facts-heading'><h2 id='facts-heading'>What the journey "
        f"recorded</h2>{_facts(view, frustrated_level)}</section>",
        "<section aria-labelledby='transcript-heading'><h2 id='transcript-heading'>Transcript"
        f"</h2>{_transcript(view)}</section>",
        _section("routing", "Routing decisions", _routing(view.routing), "No need was routed."),
        _section("handoffs", "Handoffs", _handoffs(view.handoffs), "Nothing was handed off."),
        _section("takeovers", "Agents", _takeovers(view.takeovers), "No agent took it over."),
        _section("notes", "Agents' notes", _notes(view.notes), "No internal notes."),
        _section(
            "policy",
            "Policy moments",
            _moments(view.policy_moments),
            "No policy limit came up.",
        ),
        _section(
            "identity-checks",
            "Identity checks",
            _checks(view.identity_checks),
            "No identity check in this session.",
        ),
    ]
    return "".join(parts)


def _section(key: str, title: str, content: str, empty: str) -> str:
    inner = content or f"<p class='empty'>{escape(empty)}</p>"
    return (
        f"<section id='{key}' aria-labelledby='{key}-heading'>"
        f"<h2 id='{key}-heading'>{escape(title)}</h2>{inner}</section>"
    )


def _sessions(view: Conversation) -> str:
    if len(view.sessions) < 2:
        return ""
    items = "".join(
        f"<li aria-current='page'>{time_html(s['started_at'])} (this one)</li>"
        if s["this"]
        else f"<li><a href='{conversation_href(s['touchpoint_id'])}'>"
        f"{time_html(s['started_at'])}</a></li>"
        for s in view.sessions
    )
    return (
        "<nav aria-label='Sessions of this conversation' class='sessions'>"
        f"<p>This conversation had {len(view.sessions)} sessions:</p><ol>{items}</ol></nav>"
    )


def _facts(view: Conversation, frustrated_level: int) -> str:
    tp, customer = view.touchpoint, view.customer
    signals = tp["signals"]
    rows: list[tuple[str, str]] = []
    if customer:
        text = customer_html(customer["id"], customer["name"])
        if customer.get("tier"):
            text += f" · {escape(customer['tier'])} tier"
        rows.append(("Customer", text))
    else:
        rows.append(("Customer", "Not identified"))
    rows += [
        ("Channel", escape(channel_name(tp["channel"]))),
        ("Journey stage", escape(tp["stage"] or "not known")),
        ("Needs", escape(", ".join(tp["needs"]) or "none raised")),
        ("Departments", escape(", ".join(tp["departments"]) or "none")),
    ]
    if tp["order_ids"]:
        rows.append(("Orders", escape(", ".join(tp["order_ids"]))))
    rows.append(("Outcome", outcome_html(tp["outcome"])))
    rating = f"{tp['rating']} of 5" if tp["rating"] is not None else "not rated"
    comments = [f["comment"] for f in view.feedback if f.get("comment")]
    said = "".join(f" · the customer wrote <q>{escape(c)}</q>" for c in comments)
    rows.append(("Rating", escape(rating) + said))
    effort = f"{tp['effort']} of 5 (5 = very easy)" if tp["effort"] is not None else "not answered"
    rows.append(("Effort", escape(effort)))
    frustration = int(signals.get("frustration") or 0)
    detail = ", ".join(
        f"{label} {int(signals.get(key) or 0)}"
        for key, label in (
            ("repeats", "repeats"),
            ("told_you", "“I already told you”"),
            ("negative_words", "negative words"),
            ("contacts_about_order", "other contacts about the order this week"),
        )
    )
    rows.append(
        (
            "Signals",
            (frustration_html(frustration, frustrated_level) or "frustration 0")
            + f" <span class='hint'>({escape(detail)})</span>",
        )
    )
    rows.append(("Messages from the customer", escape(str(tp["message_count"]))))
    rows.append(("Started", time_html(tp["started_at"])))
    rows.append(("Last activity", time_html(tp["last_activity_at"])))
    rows.append(("Ended", time_html(tp["ended_at"]) if tp["ended_at"] else "not yet"))
    rows.append(("Conversation id", f"<code>{escape(tp['conversation_id'])}</code>"))
    return "<dl id='facts'>" + "".join(f"<dt>{k}</dt><dd>{v}</dd>" for k, v in rows) + "</dl>"


def _transcript(view: Conversation) -> str:
    if view.transcript is None:
        reason = view.transcript_error or "Rasa's HTTP API is not configured"
        return (
            "<p id='transcript-problem' role='alert' class='problem'>The transcript could not "
            f"be loaded from Rasa ({escape(reason)}). Everything else on this page comes from "
            "the journey store and is shown.</p>"
        )
    if not view.transcript:
        return "<p class='empty' id='transcript-empty'>Rasa has no messages for this session.</p>"
    return (
        "<ol id='transcript' class='transcript'>"
        + "".join(_line(line) for line in view.transcript)
        + "</ol>"
    )


def _line(line: Line) -> str:
    who = f"{line.agent} (agent)" if line.sender == "agent" else SENDERS.get(line.sender, "")
    return (
        f"<li class='line line--{escape(line.sender, quote=True)}'>"
        + (f"<span class='who'>{escape(who)}</span>" if who else "")
        + f"<span class='text'>{escape(line.text)}</span>"
        + (f"<time>{when(line.at)}</time>" if line.at else "")
        + "</li>"
    )


def _routing(decisions: list[dict[str, Any]]) -> str:
    if not decisions:
        return ""
    rows = "".join(
        "<tr>"
        f"<td>{time_html(d['created_at'])}</td><td>{escape(d['need'])}</td>"
        f"<td>{escape(d['department'])}</td><td>{escape(d['priority'])}</td>"
        f"<td>{_tags(d['rules'])}</td><td>{escape(d['reason'])}</td></tr>"
        for d in decisions
    )
    return (
        "<table id='routing-table'><thead><tr><th scope='col'>When</th><th scope='col'>Need</th>"
        "<th scope='col'>To</th><th scope='col'>Priority</th><th scope='col'>Rules</th>"
        f"<th scope='col'>Why</th></tr></thead><tbody>{rows}</tbody></table>"
    )


def _handoffs(items: list[dict[str, Any]]) -> str:
    out = []
    for h in items:
        answer = []
        if h["acknowledged_at"]:
            answer.append(f"acknowledged {time_html(h['acknowledged_at'])}")
        if h["resolved_at"]:
            answer.append(f"resolved {time_html(h['resolved_at'])}")
        if h["resolution"]:
            answer.append(f"<q>{escape(h['resolution'])}</q>")
        if not answer:
            answer.append(f"none yet ({escape(h['status'])})")
        deliveries = "".join(f"<li>{_delivery(d)}</li>" for d in h["deliveries"])
        deliveries += "".join(
            f"<li>Received by the built-in {escape(h['department'])} inbox "
            f"{time_html(r['received_at'])}"
            + (f" ({int(r['deliveries'])} deliveries of it)" if r["deliveries"] > 1 else "")
            + "</li>"
            for r in h["received"]
        )
        out.append(
            f"<article class='handoff' id='handoff-{int(h['id'])}'>"
            f"<h3>H-{int(h['id'])} to {escape(h['department'])} "
            f"<small>({escape(h['need'])}, {escape(h['priority'])} priority)</small></h3>"
            "<dl>"
            f"<dt>Handed off</dt><dd>{time_html(h['created_at'])}</dd>"
            f"<dt>Summary</dt><dd>{escape(h['summary'])}</dd>"
            f"<dt>Department's answer</dt><dd>{', '.join(answer)}</dd>"
            "<dt>Delivery</dt><dd>"
            + (
                f"<ul class='deliveries'>{deliveries}</ul>"
                if deliveries
                else "Not sent through the outbox."
            )
            + "</dd></dl></article>"
        )
    return "".join(out)


def _delivery(d: dict[str, Any]) -> str:
    """One outbox row in words: its state, attempts and its last answer (status or error)."""
    attempts = f"{d['attempts']} attempt{'s' if d['attempts'] != 1 else ''}"
    last = []
    if d["last_status"] is not None:
        last.append(f"HTTP {int(d['last_status'])}")
    if d["last_error"]:
        last.append(escape(d["last_error"]))
    answer = f"; last answer: {' · '.join(last)}" if last else ""
    if d["state"] == "sent":
        return f"Delivered {time_html(d['sent_at'])} after {attempts}{answer}."
    if d["state"] == "dead":
        return f"Given up {time_html(d['dead_at'])} after {attempts}{answer}."
    retry = f"; next try {time_html(d['next_attempt_at'])}" if d["next_attempt_at"] else ""
    return f"Waiting to be delivered: {attempts} so far{answer}{retry}."


def _takeovers(items: list[dict[str, Any]]) -> str:
    if not items:
        return ""
    rows = "".join(
        f"<li><strong>{escape(t['agent'])}</strong> took over {time_html(t['started_at'])} and "
        f"{escape(TAKEOVER_ENDINGS.get(t['status'], t['status']))}"
        + (f" {time_html(t['ended_at'])}" if t["ended_at"] and t["status"] != "active" else "")
        + (f": <q>{escape(t['note'])}</q>" if t["note"] else "")
        + "</li>"
        for t in items
    )
    return f"<ol id='takeover-list'>{rows}</ol>"


def _notes(items: list[dict[str, Any]]) -> str:
    if not items:
        return ""
    rows = "".join(
        f"<li><strong>{escape(n['author'])}</strong> {time_html(n['created_at'])}: "
        f"<span class='note'>{escape(n['text'])}</span></li>"
        for n in items
    )
    return f"<ol id='note-list'>{rows}</ol>"


def _moments(items: list[dict[str, Any]]) -> str:
    if not items:
        return ""
    rows = []
    for m in items:
        if m["chosen"]:
            chosen = f"took <strong>{escape(m['chosen'])}</strong>"
        elif m["asked_for_person"]:
            chosen = "asked for a person"
        else:
            chosen = "nothing taken"
        offered = _tags(m["offered"])
        rows.append(
            f"<tr><td>{time_html(m['created_at'])}</td><td>{escape(m['need'])}</td>"
            f"<td>{escape(m['policy'])}</td><td>{escape(m['reason'])}</td>"
            f"<td>{offered}</td><td>{chosen}</td></tr>"
        )
    return (
        "<table id='policy-table'><thead><tr><th scope='col'>When</th><th scope='col'>Need</th>"
        "<th scope='col'>Policy</th><th scope='col'>Why not</th><th scope='col'>Offered</th>"
        f"<th scope='col'>Customer</th></tr></thead><tbody>{''.join(rows)}</tbody></table>"
    )


def _checks(items: list[dict[str, Any]]) -> str:
    """The session's identity checks, failed and refused ones marked (a security signal)."""
    if not items:
        return ""
    rows = []
    for c in items:
        outcome = CHECK_OUTCOMES.get(c["outcome"], c["outcome"])
        bad = c["outcome"] in ("failed", "limited")
        rows.append(
            f"<tr class='check check--{escape(c['outcome'], quote=True)}'>"
            f"<td>{time_html(c['at'])}</td>"
            f"<td>{escape(CHECK_KINDS.get(c['kind'], c['kind']))}</td>"
            + (
                f"<td><strong class='identity-failed'>{escape(outcome)}</strong></td>"
                if bad
                else f"<td>{escape(outcome)}</td>"
            )
            + f"<td>{escape(c['order_id'] or '-')}</td>"
            f"<td><code>{escape(c['address'] or 'not known')}</code></td></tr>"
        )
    failed = sum(c["outcome"] in ("failed", "limited") for c in items)
    summary = (
        f"<p class='hint'>{failed} of {len(items)} failed or were refused by a limit.</p>"
        if failed
        else ""
    )
    return (
        f"{summary}<table id='identity-checks-table'><thead><tr><th scope='col'>When</th>"
        "<th scope='col'>Check</th><th scope='col'>Outcome</th><th scope='col'>Order</th>"
        f"<th scope='col'>Address</th></tr></thead><tbody>{''.join(rows)}</tbody></table>"
    )


def _tags(values: list) -> str:
    return "".join(f"<span class='tag'>{escape(str(v))}</span>" for v in values)


# -- OpenAPI -----------------------------------------------------------------------------------
_TOUCHPOINT_ID = {
    "name": "touchpoint_id",
    "in": "path",
    "required": True,
    "description": "The touchpoint (one session of a conversation).",
    "schema": {"type": "integer", "minimum": 1},
}
OPENAPI_PATHS = {
    f"{PREFIX}/conversations/{{touchpoint_id}}": {
        "parameters": [_TOUCHPOINT_ID],
        "get": {
            "tags": ["CX review"],
            "summary": "One conversation session: facts, transcript, routing, handoffs, agents, "
            "identity checks",
            "description": (
                "For a signed-in analyst or admin (session cookie). The transcript is read from "
                "Rasa's HTTP API; when Rasa can't be reached the page says so and shows the rest."
            ),
            "operationId": "reviewConversationPage",
            "responses": {
                "200": html_spec("The conversation page."),
                "303": TO_SIGN_IN,
                "403": html_spec("Signed in with a role other than analyst or admin."),
                "404": html_spec("No such touchpoint."),
            },
        },
    },
    f"{API}/conversations/{{touchpoint_id}}": {
        "parameters": [_TOUCHPOINT_ID],
        "get": {
            "tags": ["CX review"],
            "summary": "One conversation session as JSON",
            "description": (
                "For a signed-in analyst or admin (session cookie). `transcript` is null and "
                "`transcript_error` says why when Rasa can't be read."
            ),
            "operationId": "reviewConversation",
            "responses": {
                "200": json_spec("The conversation session.", schema_ref("ReviewConversation")),
                "401": error_spec("Not signed in."),
                "403": error_spec("Signed in with a role other than analyst or admin."),
                "404": error_spec("No such touchpoint."),
            },
        },
    },
}
_LIST = {"type": "array", "items": {"type": "object"}}
OPENAPI_SCHEMAS = {
    "ReviewConversation": {
        "type": "object",
        "properties": {
            "touchpoint": {"type": "object"},
            "customer": {"type": "object", "nullable": True},
            "sessions": _LIST,
            "transcript": {
                "type": "array",
                "nullable": True,
                "items": {
                    "type": "object",
                    "properties": {
                        "sender": {
                            "type": "string",
                            "enum": ["customer", "assistant", "agent", "system"],
                        },
                        "text": {"type": "string"},
                        "at": {"type": "string", **LOCAL_TIME, "nullable": True},
                        "agent": {"type": "string", "nullable": True},
                    },
                },
            },
            "transcript_error": {"type": "string", "nullable": True},
            "routing": _LIST,
            "handoffs": {
                **_LIST,
                "description": "Each with `deliveries` (outbox rows: state, attempts, "
                "last_status, last_error, sent_at, dead_at) and `received` (built-in inbox).",
            },
            "takeovers": _LIST,
            "notes": _LIST,
            "policy_moments": _LIST,
            "feedback": _LIST,
            "identity_checks": {
                "type": "array",
                "description": "The session's identity checks, oldest first.",
                "items": {
                    "type": "object",
                    "properties": {
                        "at": {"type": "string", **LOCAL_TIME},
                        "kind": {
                            "type": "string",
                            "enum": ["lookup", "order_email", "code_sent", "code"],
                        },
                        "outcome": {"type": "string", "enum": ["ok", "failed", "limited"]},
                        "order_id": {"type": "string", "nullable": True},
                        "address": {
                            "type": "string",
                            "nullable": True,
                            "description": "The client's IP address, when the channel knows it.",
                        },
                        "channel": {"type": "string"},
                        "customer_id": {"type": "string", "nullable": True},
                    },
                },
            },
            "flag": {"type": "object", "nullable": True},
        },
        "required": ["touchpoint", "transcript", "transcript_error", "handoffs"],
    }
}
