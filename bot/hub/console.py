"""The agent console: the live escalation queue, and taking a conversation over.

Two server-rendered pages with a small script each (``/console`` polls the queue,
``/console/conversations/<id>`` polls the transcript and holds the takeover's lease), and
the JSON API they call under ``/api/console/``. Every route needs a signed-in agent or
admin (bot/hub/auth.py); every POST carries the session's CSRF token in ``X-CSRF-Token``.
Values are escaped on the server (html.escape) and set as text in the browser
(``textContent``), and a Content-Security-Policy lets only the page's own script run.
The work itself is bot/agents/desk.py's ``AgentDesk``.
"""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
from collections.abc import Callable
from datetime import datetime, timedelta
from html import escape
from typing import Any, TypeVar

from sanic import Sanic
from sanic.request import Request
from sanic.response import HTTPResponse
from sanic.response import json as json_response
from sqlalchemy.engine import Engine

from bot.agents import (
    AgentDesk,
    AlreadyTaken,
    CannotReach,
    Invalid,
    NotFound,
    NotHolding,
    RasaApi,
    RelayFailed,
)
from bot.agents.queue import Holder
from bot.agents.relay import Relay
from bot.agents.trust import WARNING
from bot.channels.slack_api import SlackWebApi
from bot.departments import Department
from bot.hub import console_live
from bot.hub.accounts import Session
from bot.hub.auth import CSRF_HEADER, check_csrf, require
from bot.hub.settings import HubSettings
from bot.hub.store import HubStore
from bot.hub.web import HubError, app_page, in_thread, json_object

log = logging.getLogger(__name__)
T = TypeVar("T")

PREFIX = "/console"
API = "/api/console"
QUEUE_POLL_MS = 2500
TRANSCRIPT_POLL_MS = 2000
MAX_SWEEP_SECONDS = 15.0  # a lapsed takeover is noticed within this, even with no console open


def add_routes(app: Sanic) -> None:
    """Register the console's pages and JSON API on ``app``."""
    app.add_route(queue_page, PREFIX, methods=["GET"], name="console_queue_page")
    app.add_route(
        conversation_page,
        f"{PREFIX}/conversations/<conversation_id>",
        methods=["GET"],
        name="console_conversation_page",
    )
    app.add_route(queue_api, f"{API}/queue", methods=["GET"], name="console_queue")
    base = f"{API}/conversations/<conversation_id>"
    app.add_route(conversation_api, base, methods=["GET"], name="console_conversation")
    for path, handler in (
        ("take", take),
        ("heartbeat", heartbeat),
        ("messages", send_message),
        ("notes", add_note),
        ("hand-back", hand_back),
        ("transfer", transfer),
        ("resolve", resolve),
    ):
        app.add_route(
            handler, f"{base}/{path}", methods=["POST"], name=f"console_{handler.__name__}"
        )


def agent_desk(
    settings: HubSettings,
    engine: Engine,
    departments: dict[str, Department],
    now: Callable[[], datetime],
) -> AgentDesk:
    """The console's AgentDesk: Rasa's API (and Slack's, when configured) as the settings say."""
    relay = Relay(
        RasaApi(settings.rasa_api_url, settings.rasa_token),
        SlackWebApi.from_env(settings.secrets),
    )
    return AgentDesk(
        engine,
        relay,
        departments,
        HubStore(engine, now=now),
        now=now,
        lease=timedelta(seconds=settings.takeover_lease_seconds),
    )


def start_sweeping(app: Sanic) -> None:
    """Expire lapsed takeovers in the background, so an abandoned chat never waits for a
    console to be opened before it goes back to the queue."""
    desk: AgentDesk = app.ctx.agents
    every = min(desk.lease.total_seconds() / 3, MAX_SWEEP_SECONDS)

    async def sweep() -> None:
        while True:
            await asyncio.sleep(every)
            try:
                await in_thread(desk.expire_stale)
            except Exception:  # the next round tries again; the log says why
                log.exception("sweeping lapsed takeovers failed")

    app.ctx.takeover_sweeper = asyncio.get_running_loop().create_task(sweep())


def stop_sweeping(app: Sanic) -> None:
    sweeper = getattr(app.ctx, "takeover_sweeper", None)
    if sweeper is not None:
        sweeper.cancel()


# -- pages -------------------------------------------------------------------------------------
async def queue_page(request: Request) -> HTTPResponse:
    """The escalation queue, refreshed every few seconds by the page's script."""
    session = await require(request, "console")
    nonce = secrets.token_urlsafe(16)
    body = f"""{_bar(session)}
<main>
<h1>Escalations</h1>
<p id="updated" role="status" aria-live="polite">Loading the queue…</p>
<section aria-labelledby="waiting-heading">
<h2 id="waiting-heading">Waiting <span id="waiting-count" class="count"></span></h2>
<p class="hint">Most pressing first: frustration, then the customer's tier, then how much of
the service level their wait has used.</p>
<ol id="waiting" class="queue"></ol>
<p id="waiting-empty" class="empty" hidden>Nobody is waiting for a person.</p>
</section>
<section aria-labelledby="taken-heading">
<h2 id="taken-heading">Being handled <span id="taken-count" class="count"></span></h2>
<ol id="taken" class="queue"></ol>
<p id="taken-empty" class="empty" hidden>No conversation is taken over right now.</p>
</section>
</main>"""
    script = QUEUE_SCRIPT.replace("$POLL_MS", str(QUEUE_POLL_MS))
    return _page("Escalations", body, nonce, script, session.csrf_token)


async def conversation_page(request: Request, conversation_id: str) -> HTTPResponse:
    """One conversation: packet and journey, the live transcript, and the agent's buttons."""
    session = await require(request, "console")
    view = await _desk(request, desk(request).conversation, conversation_id, session.user.id)
    nonce = secrets.token_urlsafe(16)
    packet = view["packet"] if isinstance(view["packet"], dict) else {}
    customer = packet.get("customer") if isinstance(packet.get("customer"), dict) else {}
    journey_customer = (view["journey"] or {}).get("customer") or {}
    who = customer.get("name") or journey_customer.get("name") or "Anonymous visitor"
    options = "".join(
        f"<option value='{escape(d['name'], quote=True)}'>{escape(d['title'])} "
        f"({escape(d['name'])})</option>"
        for d in view["departments"]
    )
    heartbeat_ms = max(1000, int(view["lease_seconds"] * 1000 / 4.5))
    body = f"""{_bar(session)}
<main id="conversation" data-conversation-id="{escape(conversation_id, quote=True)}"
 data-poll-ms="{TRANSCRIPT_POLL_MS}" data-heartbeat-ms="{heartbeat_ms}">
<p><a href="{PREFIX}">← Back to the queue</a></p>
<h1>{escape(str(who))} <small>on {escape(_channel_name(view["channel"]))}</small></h1>
<p id="status" role="status" aria-live="polite">Loading…</p>
<p id="problem" role="alert" class="problem" hidden></p>
<div class="columns">
<section class="chat" aria-labelledby="transcript-heading">
<h2 id="transcript-heading">Conversation</h2>
<ol id="transcript" class="transcript" aria-live="polite"></ol>
<div id="controls">
<button type="button" id="take" hidden>Take over</button>
<form id="send-form" hidden>
<label for="message">Message to the customer</label>
<textarea id="message" name="message" maxlength="5000" rows="3"
 placeholder="Enter sends, Shift+Enter for a new line"></textarea>
<button type="submit" id="send">Send</button>
</form>
<details id="finish" hidden><summary>Hand back, transfer or resolve</summary>
<form id="hand-back-form">
<label for="hand-back-note">Note for colleagues (internal)</label>
<input id="hand-back-note" name="note" maxlength="5000">
<button type="submit" id="hand-back">Hand back to the assistant</button>
</form>
<form id="transfer-form">
<label for="transfer-department">Transfer to</label>
<select id="transfer-department" name="department">{options}</select>
<label for="transfer-note">What the team needs to know</label>
<input id="transfer-note" name="note" maxlength="5000" required>
<button type="submit" id="transfer">Transfer</button>
</form>
<form id="resolve-form">
<label for="resolve-summary">Summary of what was done</label>
<textarea id="resolve-summary" name="summary" maxlength="5000" rows="2" required></textarea>
<button type="submit" id="resolve">Resolve</button>
</form>
</details>
</div>
</section>
<aside>
<section aria-labelledby="notes-heading">
<h2 id="notes-heading">Internal notes</h2>
<p class="hint">For colleagues only: never sent to the customer.</p>
<ol id="notes" class="notes"></ol>
<form id="note-form">
<label for="note-text">Add a note</label>
<textarea id="note-text" name="note" maxlength="5000" rows="2"></textarea>
<button type="submit" id="add-note">Add note</button>
</form>
</section>
<section aria-labelledby="packet-heading">
<h2 id="packet-heading">Context packet</h2>
{_render_trust(view.get("identity"))}
{_render_packet(packet)}
</section>
<section aria-labelledby="journey-heading">
<h2 id="journey-heading">Journey</h2>
{_render_journey(view["journey"], view.get("identity"))}
</section>
<section aria-labelledby="history-heading">
<h2 id="history-heading">Takeovers</h2>
<ol id="history" class="notes"></ol>
</section>
</aside>
</div>
</main>"""
    script = CONVERSATION_SCRIPT + console_live.SCRIPT  # typing both ways, and "seen"
    return _page(f"Conversation with {who}", body, nonce, script, session.csrf_token)


def error_page(status: int, message: str) -> HTTPResponse:
    """An error on a console page, said in HTML, with a way back to the queue."""
    body = (
        f"<main><h1>{status}</h1><p>{escape(message)}</p>"
        f"<p><a href='{PREFIX}'>Back to the queue</a></p></main>"
    )
    return _page(f"Error {status}", body, secrets.token_urlsafe(16), "", status=status)


# -- the JSON API ------------------------------------------------------------------------------
async def queue_api(request: Request) -> HTTPResponse:
    """Every escalation: the waiting ones in the queue's order, then those being handled."""
    session = await require(request, "console")
    escalations = await _desk(request, desk(request).queue)
    return _json(
        {
            "escalations": [e.as_json(session.user.id) for e in escalations],
            "lease_seconds": int(desk(request).lease.total_seconds()),
        }
    )


async def conversation_api(request: Request, conversation_id: str) -> HTTPResponse:
    """One conversation as the console shows it (transcript from Rasa, packet, journey...);
    ``?journey=0`` leaves the journey out (the page's polls: it is on the page already)."""
    session = await require(request, "console")
    with_journey = request.args.get("journey", "1") not in ("0", "false", "no")
    view = await _desk(
        request, desk(request).conversation, conversation_id, session.user.id, with_journey
    )
    return _json(view)


async def take(request: Request, conversation_id: str) -> HTTPResponse:
    """Take the conversation over: the assistant pauses and the customer is told."""
    session = await _changing(request)
    held = await _desk(request, desk(request).take, conversation_id, _holder(session))
    return _json({"takeover": held.as_json(session.user.id)})


async def heartbeat(request: Request, conversation_id: str) -> HTTPResponse:
    """Renew the agent's lease on the conversation (the console page does it every 20 s)."""
    session = await _changing(request)
    held = await _desk(request, desk(request).heartbeat, conversation_id, _holder(session))
    return _json({"takeover": held.as_json(session.user.id)})


async def send_message(request: Request, conversation_id: str) -> HTTPResponse:
    """Send the agent's message to the customer on the customer's channel."""
    session = await _changing(request)
    text = json_object(request).get("text")
    await _desk(request, desk(request).say, conversation_id, _holder(session), text)
    return _json({"sent": True}, status=201)


async def add_note(request: Request, conversation_id: str) -> HTTPResponse:
    """Add an internal note (never sent to the customer)."""
    session = await _changing(request)
    text = json_object(request).get("text")
    note = await _desk(request, desk(request).note, conversation_id, _holder(session), text)
    return _json({"note": note}, status=201)


async def hand_back(request: Request, conversation_id: str) -> HTTPResponse:
    """Give the conversation back to the assistant, with an internal note."""
    session = await _changing(request)
    note = json_object(request).get("note") or ""
    held = await _desk(request, desk(request).hand_back, conversation_id, _holder(session), note)
    return _json({"takeover": held.as_json(session.user.id)})


async def transfer(request: Request, conversation_id: str) -> HTTPResponse:
    """Hand the conversation to a department with its context and the agent's note."""
    session = await _changing(request)
    body = json_object(request)
    handoff = await _desk(
        request,
        desk(request).transfer,
        conversation_id,
        _holder(session),
        str(body.get("department") or ""),
        body.get("note"),
    )
    return _json({"handoff": handoff})


async def resolve(request: Request, conversation_id: str) -> HTTPResponse:
    """Resolve the escalation with the agent's summary; the assistant answers again."""
    session = await _changing(request)
    summary = json_object(request).get("summary")
    held = await _desk(request, desk(request).resolve, conversation_id, _holder(session), summary)
    return _json({"takeover": held.as_json(session.user.id)})


# -- helpers -----------------------------------------------------------------------------------
def desk(request: Request) -> AgentDesk:
    return request.app.ctx.agents


async def _changing(request: Request) -> Session:
    """The session of a state-changing request: a console user with the CSRF token."""
    session = await require(request, "console")
    check_csrf(request, session)
    return session


def _holder(session: Session) -> Holder:
    user = session.user
    return Holder(user.id, user.username, user.display_name)


async def _desk(request: Request, fn: Callable[..., T], *args: Any) -> T:
    """Run a desk call off the event loop, its errors as HTTP answers."""
    try:
        return await in_thread(fn, *args)
    except AlreadyTaken as e:
        raise HubError(409, str(e), taken_by=e.holder.display_name) from None
    except (NotHolding, CannotReach) as e:
        raise HubError(409, str(e)) from None
    except NotFound as e:
        raise HubError(404, str(e)) from None
    except Invalid as e:
        raise HubError(400, str(e)) from None
    except RelayFailed as e:
        raise HubError(502, str(e)) from None


def _json(data: Any, status: int = 200) -> HTTPResponse:
    return json_response(data, status=status, headers={"Cache-Control": "no-store"})


def _channel_name(channel: str) -> str:
    return {"socketio": "the website chat", "slack": "Slack", "rest": "the REST API"}.get(
        channel, channel
    )


def _bar(session: Session) -> str:
    user = session.user
    return (
        "<header class='bar'><strong>Agent console</strong>"
        f"<span>Signed in as {escape(user.display_name)} ({escape(user.role)})</span>"
        "<form method='post' action='/logout'>"
        f"<input type='hidden' name='csrf_token' value='{escape(session.csrf_token, quote=True)}'>"
        "<button type='submit'>Sign out</button></form></header>"
    )


def _page(
    title: str, body: str, nonce: str, script: str, csrf: str = "", status: int = 200
) -> HTTPResponse:
    return app_page(
        f"{title} - Agent console",
        body,
        style=STYLE,
        nonce=nonce,
        script=script,
        csrf=csrf,
        status=status,
    )


PACKET_FIELDS = (
    ("need", "Need"),
    ("stage", "Journey stage"),
    ("order_id", "Order"),
    ("invoice_id", "Invoice"),
    ("customer_said", "Customer said"),
    ("preferred_channel", "Channel"),
    ("transferred_by", "Transferred by"),
    ("agent_note", "Agent's note"),
)


def _render_trust(identity: dict | None) -> str:
    """How sure we are who the customer is, as a badge; with a warning unless verified.

    None (an older handoff whose customer the channel named) shows nothing, as before."""
    if not identity:
        return ""
    verified = bool(identity.get("verified"))
    trust = str(identity.get("trust") or "unknown")
    mark = "✔" if verified else "⚠"
    badge = (
        f"<p id='identity' class='trust trust--{escape(trust, quote=True)}'>"
        f"<span class='badge' aria-hidden='true'>{mark}</span> "
        f"<span class='trust-label'>{escape(str(identity.get('label') or ''))}</span></p>"
    )
    return badge if verified else badge + _warning("identity-warning")


def _warning(element_id: str) -> str:
    return f"<p id='{element_id}' class='identity-warning' role='note'>{escape(WARNING)}.</p>"


def _render_packet(packet: dict) -> str:
    """The context packet as a definition list; anything unknown shown as JSON text."""
    if not packet:
        return "<p class='empty'>No handoff, so no packet.</p>"
    rows: list[tuple[str, str]] = []
    customer = packet.get("customer") if isinstance(packet.get("customer"), dict) else {}
    if customer:
        parts = [customer.get(k) for k in ("name", "email", "id")]
        text = " · ".join(str(p) for p in parts if p) or "anonymous visitor"
        if customer.get("tier"):
            text += f" ({customer['tier']} tier)"
        rows.append(("Customer", escape(text)))
    for key, label in PACKET_FIELDS:
        if packet.get(key) not in (None, "", []):
            rows.append((label, escape(str(packet[key]))))
    signals = packet.get("signals")
    if isinstance(signals, dict) and signals:
        rows.append(("Signals", escape(", ".join(f"{k} {v}" for k, v in signals.items()))))
    offered = packet.get("already_offered")
    if isinstance(offered, list) and offered:
        items = "".join(
            f"<li>{escape(str(o.get('policy')))}: {escape(', '.join(map(str, o.get('offered') or [])))}"
            + (f" (chose {escape(str(o['chosen']))})" if o.get("chosen") else "")
            + "</li>"
            for o in offered
            if isinstance(o, dict)
        )
        rows.append(("Already offered", f"<ul>{items}</ul>"))
    shown = {"customer", "signals", "already_offered", "transcript", "agent_chat", "identity"}
    shown |= {k for k, _ in PACKET_FIELDS}
    for key, value in packet.items():
        if key not in shown and value not in (None, "", [], {}):
            text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
            rows.append((escape(key), escape(text)))
    details = "".join(f"<dt>{label}</dt><dd>{value}</dd>" for label, value in rows)
    lines = [str(line) for line in packet.get("transcript") or [] if line]
    transcript = (
        "<details><summary>Transcript in the packet</summary><ol class='packet-lines'>"
        + "".join(f"<li>{escape(line)}</li>" for line in lines)
        + "</ol></details>"
        if lines
        else ""
    )
    return f"<dl id='packet'>{details}</dl>{transcript}"


def _render_journey(journey: dict | None, identity: dict | None = None) -> str:
    """The customer's touchpoints across channels and departments, and open handoffs
    (with the warning to check who this is first, unless the customer is verified)."""
    if not journey or not journey.get("customer"):
        return "<p class='empty'>An anonymous visitor: no journey yet.</p>"
    warning = _warning("journey-warning") if identity and not identity.get("verified") else ""
    customer = journey["customer"]
    known = ", ".join(f"{i['kind']} {i['value']}" for i in journey.get("identities") or [])
    rows = "".join(
        "<tr"
        + (" class='current'" if t["this_conversation"] else "")
        + ">"
        + "".join(
            f"<td>{escape(str(v))}</td>"
            for v in (
                (t["started_at"] or "")[:16].replace("T", " "),
                _channel_name(t["channel"]),
                t["stage"] or "",
                ", ".join(t["needs"]),
                ", ".join(t["departments"]),
                t["outcome"] + (" (this chat)" if t["this_conversation"] else ""),
            )
        )
        + "</tr>"
        for t in journey.get("touchpoints") or []
    )
    table = (
        "<table id='journey'><thead><tr><th>When</th><th>Channel</th><th>Stage</th>"
        f"<th>Needs</th><th>Departments</th><th>Outcome</th></tr></thead><tbody>{rows}</tbody>"
        "</table>"
        if rows
        else "<p class='empty'>No touchpoints yet.</p>"
    )
    waiting = "".join(
        f"<li>H-{int(h['id'])} {escape(h['department'])} · {escape(h['status'])} · "
        f"{escape(h['priority'])}: {escape(h['summary'])}</li>"
        for h in journey.get("open_handoffs") or []
    )
    return (
        warning
        + f"<p>{escape(str(customer.get('name') or customer['id']))}"
        + (f" · {escape(str(customer['tier']))} tier" if customer.get("tier") else "")
        + (f" · known as {escape(known)}" if known else "")
        + f"</p>{table}<h3>Open handoffs</h3>"
        + (f"<ul id='open-handoffs'>{waiting}</ul>" if waiting else "<p class='empty'>None.</p>")
    )


STYLE = """
body{font-family:system-ui,sans-serif;margin:0;color:#222;background:#fafafa}
.bar{display:flex;gap:1rem;align-items:center;padding:.5rem 1rem;background:#1f2a44;color:#fff}
.bar span{margin-left:auto}.bar form{margin:0}
main{max-width:72rem;margin:1rem auto;padding:0 1rem}
.hint,.empty{color:#666;font-size:.9rem}.problem{color:#b00020;font-weight:600}
.queue{list-style:none;padding:0}.queue li{background:#fff;border:1px solid #ccd;
border-left:6px solid #889;border-radius:6px;margin:.5rem 0;padding:.6rem .8rem}
.queue li.urgent{border-left-color:#c00}.queue li.high{border-left-color:#e80}
.queue li.overdue .wait{color:#b00020;font-weight:600}.queue .meta{color:#555;font-size:.9rem}
.columns{display:grid;grid-template-columns:minmax(0,3fr) minmax(0,2fr);gap:1.5rem}
@media (max-width:800px){.columns{grid-template-columns:1fr}}
.transcript{list-style:none;padding:.5rem;background:#fff;border:1px solid #ccd;
border-radius:6px;max-height:28rem;overflow-y:auto}
.line{margin:.3rem 0;padding:.3rem .5rem;border-radius:6px;white-space:pre-wrap}
.line--customer{background:#e8f0ff}.line--assistant{background:#f1f1f1}
.line--agent{background:#fff4e0;border-left:3px solid #e08a00}
.line--system{color:#666;font-style:italic;font-size:.9rem}
.line .who{font-weight:600;margin-right:.4rem}.line time{color:#777;font-size:.8rem;margin-left:.4rem}
.notes{padding-left:1.2rem}.notes li{margin:.3rem 0;white-space:pre-wrap}
label{display:block;margin:.6rem 0 .2rem;font-weight:600}
textarea,input,select{width:100%;box-sizing:border-box;padding:.4rem;font:inherit}
button{margin-top:.4rem;padding:.4rem 1rem;font:inherit}
dl{display:grid;grid-template-columns:max-content 1fr;gap:.2rem .8rem}dt{font-weight:600}
dd{margin:0;white-space:pre-wrap}table{border-collapse:collapse;width:100%;font-size:.9rem}
td,th{border-bottom:1px solid #ddd;padding:.2rem .4rem;text-align:left}tr.current{background:#fff4e0}
.trust{display:inline-block;margin:.2rem 0;padding:.1rem .5rem;border-radius:4px;font-weight:600;
border:1px solid}.trust--verified{color:#0a5c2b;background:#e6f4ea;border-color:#0a5c2b}
.trust--claimed,.trust--unknown{color:#8a4b00;background:#fff4e0;border-color:#c77700}
.queue .trust{font-size:.85rem;margin-left:.4rem}
.identity-warning{color:#b00020;font-weight:600;margin:.3rem 0}
"""

# Shared by both pages' scripts: elements built from text, never from HTML strings.
_COMMON_JS = r"""
"use strict";
const csrf = document.querySelector("meta[name=csrf-token]").content;
function el(tag, attrs, children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) if (v !== null && v !== undefined) node.setAttribute(k, v);
  for (const c of children || []) node.append(typeof c === "string" ? document.createTextNode(c) : c);
  return node;
}
function minutes(seconds) {
  const m = Math.floor(seconds / 60);
  return m < 60 ? m + " min" : Math.floor(m / 60) + " h " + (m % 60) + " min";
}
function signIn() { location.href = "/login?next=" + encodeURIComponent(location.pathname); }
async function call(method, url, body) {
  const headers = { Accept: "application/json" };
  if (method !== "GET") headers[$CSRF_HEADER] = csrf;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const r = await fetch(url, { method, headers, credentials: "same-origin",
    body: body === undefined ? undefined : JSON.stringify(body) });
  if (r.status === 401) { signIn(); throw new Error("signed out"); }
  let data = {};
  try { data = await r.json(); } catch (e) { /* not JSON */ }
  if (!r.ok) throw new Error(data.error || ("the hub answered " + r.status));
  return data;
}
""".replace("$CSRF_HEADER", json.dumps(CSRF_HEADER))

QUEUE_SCRIPT = (
    "(() => {"
    + _COMMON_JS
    + r"""
const POLL_MS = $POLL_MS;
let shape = "";
function card(e) {
  const name = e.customer.name || "Anonymous visitor";
  const tier = e.customer.tier ? e.customer.tier + " tier" : "tier unknown";
  const classes = [e.priority, e.overdue ? "overdue" : "", e.mine ? "mine" : ""].join(" ").trim();
  const held = e.taken_by
    ? el("p", { class: "held" }, [(e.mine ? "You have" : e.taken_by.display_name + " has") + " this conversation"])
    : "";
  // How sure we are who it is; none for an older handoff whose customer the channel named.
  const who = e.identity
    ? el("span", { class: "trust trust--" + e.identity.trust }, [(e.identity.verified ? "✔ " : "⚠ ") + e.identity.label])
    : "";
  return el("li", { class: classes, "data-conversation-id": e.conversation_id }, [
    el("a", { href: "/console/conversations/" + encodeURIComponent(e.conversation_id), class: "open" }, [name]),
    " · " + tier + " · " + e.priority + " · " + e.channel,
    who,
    el("p", {}, [e.summary]),
    el("p", { class: "meta" }, [
      el("span", { class: "wait" }, ["Waiting " + minutes(e.waiting_seconds) + " of " + minutes(e.sla_seconds)]),
      " · frustration " + e.frustration + " · " + e.need,
    ]),
    held,
  ]);
}
function render(list, items) {
  const target = document.getElementById(list);
  target.replaceChildren(...items.map(card));
  document.getElementById(list + "-count").textContent = "(" + items.length + ")";
  document.getElementById(list + "-empty").hidden = items.length > 0;
}
async function refresh() {
  try {
    const data = await call("GET", "/api/console/queue");
    const items = data.escalations;
    // Rebuilt only when something but the clock changed, so focus and clicks survive a poll.
    const now = JSON.stringify(items.map((e) => [e.conversation_id, e.taken_by, e.mine, e.priority, e.frustration, e.overdue, e.identity]));
    if (now !== shape) {
      shape = now;
      render("waiting", items.filter((e) => !e.taken_by));
      render("taken", items.filter((e) => e.taken_by));
    } else {
      for (const e of items) {
        const li = [...document.querySelectorAll("li[data-conversation-id]")].find((n) => n.dataset.conversationId === e.conversation_id);
        const wait = li && li.querySelector(".wait");
        if (wait) wait.textContent = "Waiting " + minutes(e.waiting_seconds) + " of " + minutes(e.sla_seconds);
      }
    }
    document.getElementById("updated").textContent = "Updated " + new Date().toLocaleTimeString();
  } catch (e) {
    document.getElementById("updated").textContent = "Could not refresh the queue (" + e.message + "); trying again.";
  } finally {
    setTimeout(refresh, POLL_MS);
  }
}
refresh();
})();"""
)

CONVERSATION_SCRIPT = (
    "(() => {"
    + _COMMON_JS
    + r"""
const main = document.getElementById("conversation");
const id = main.dataset.conversationId;
const api = "/api/console/conversations/" + encodeURIComponent(id);
const live = api + "?journey=0";  // the journey is on the page already
const POLL_MS = Number(main.dataset.pollMs), HEARTBEAT_MS = Number(main.dataset.heartbeatMs);
const $ = (x) => document.getElementById(x);
let mine = false, heartbeat = null, shown = "", busy = false, pollProblem = false;

// A problem from polling clears itself once polling works again; an action's stays.
function problem(text, fromPoll) {
  $("problem").textContent = text || "";
  $("problem").hidden = !text;
  pollProblem = Boolean(text && fromPoll);
}
function when(iso) { return iso ? new Date(iso).toLocaleTimeString() : ""; }
function line(l) {
  const who = l.sender === "agent" ? l.agent + " (agent)" : l.sender === "customer" ? "Customer"
    : l.sender === "assistant" ? "Assistant" : "";
  return el("li", { class: "line line--" + l.sender, "data-message-id": l.id || null }, [
    who ? el("span", { class: "who" }, [who]) : "",
    el("span", { class: "text" }, [l.text]),
    el("time", { datetime: l.at || "" }, [when(l.at)]),
  ]);
}
function render(view) {
  const t = view.takeover;
  mine = Boolean(t && t.mine);
  let status;
  if (t) status = (mine ? "You have" : t.agent.display_name + " has") + " taken this conversation over; the assistant is paused.";
  else if (view.escalation) status = "Waiting for a person since " + when(view.escalation.created_at) + ": " + view.escalation.why + ".";
  else status = "The assistant has this conversation.";
  if (!view.reachable) status += " This channel can't receive messages from a person.";
  if (view.paused && !t) status += " (The assistant is paused.)";
  $("status").textContent = status;
  $("take").hidden = !(view.escalation && !t && view.reachable);
  $("send-form").hidden = !mine;
  $("finish").hidden = !mine;
  const lines = view.transcript || [];
  const key = JSON.stringify(lines.map((l) => [l.sender, l.text, l.at]));
  if (key !== shown) {
    shown = key;
    const box = $("transcript");
    const atEnd = box.scrollTop + box.clientHeight >= box.scrollHeight - 20;
    box.replaceChildren(...lines.map(line));
    if (atEnd) box.scrollTop = box.scrollHeight;
  }
  $("notes").replaceChildren(...view.notes.map((n) =>
    el("li", {}, [el("strong", {}, [n.author]), " " + when(n.at) + ": ", n.text])));
  $("history").replaceChildren(...view.takeovers.map((h) =>
    el("li", {}, [h.agent.display_name + ": " + h.status.replace("_", " ") + " (" + when(h.started_at) +
      (h.ended_at ? " to " + when(h.ended_at) : "") + ")" + (h.note ? " - " + h.note : "")])));
  if (mine && !heartbeat) heartbeat = setInterval(beat, HEARTBEAT_MS);
  if (!mine && heartbeat) { clearInterval(heartbeat); heartbeat = null; }
}
async function refresh() {
  try {
    const view = await call("GET", live);
    render(view);
    if (view.transcript_error) problem("Transcript unavailable: " + view.transcript_error, true);
    else if (pollProblem) problem("");
  } catch (e) {
    problem("Could not refresh (" + e.message + "); trying again.", true);
  }
}
async function loop() { await refresh(); setTimeout(loop, POLL_MS); }
async function beat() {
  try { await call("POST", api + "/heartbeat"); }
  catch (e) { problem(e.message); refresh(); }
}
async function act(path, body, done) {
  if (busy) return;
  busy = true;
  problem("");
  try {
    await call("POST", api + path, body);
    if (done) done();
  } catch (e) {
    problem(e.message);
  } finally {
    busy = false;
    refresh();
  }
}
$("take").addEventListener("click", () => act("/take"));
$("send-form").addEventListener("submit", (ev) => {
  ev.preventDefault();
  const text = $("message").value.trim();
  if (text) act("/messages", { text }, () => { $("message").value = ""; $("message").focus(); });
});
$("message").addEventListener("keydown", (ev) => {
  if (ev.key === "Enter" && !ev.shiftKey) { ev.preventDefault(); $("send-form").requestSubmit(); }
});
$("note-form").addEventListener("submit", (ev) => {
  ev.preventDefault();
  const text = $("note-text").value.trim();
  if (text) act("/notes", { text }, () => { $("note-text").value = ""; });
});
$("hand-back-form").addEventListener("submit", (ev) => {
  ev.preventDefault();
  act("/hand-back", { note: $("hand-back-note").value.trim() }, () => { $("hand-back-note").value = ""; });
});
$("transfer-form").addEventListener("submit", (ev) => {
  ev.preventDefault();
  act("/transfer", { department: $("transfer-department").value, note: $("transfer-note").value.trim() },
    () => { $("transfer-note").value = ""; });
});
$("resolve-form").addEventListener("submit", (ev) => {
  ev.preventDefault();
  act("/resolve", { summary: $("resolve-summary").value.trim() }, () => { $("resolve-summary").value = ""; });
});
loop();
})();"""
)
