"""The console's context panel, as data a template shows: packet, orders, journey.

Everything a code would say is said in words (bot/agents/labels.py); a past conversation
is a link to it in the console; the orders come from the back office with their status,
items and value. Plain Python: bot/hub/console.py renders it with
``templates/console/_context.html``, and renders it again whenever the conversation
changes, so the panel never shows a handoff open that was just resolved.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from bot.agents import labels
from bot.agents.trust_labels import WARNING
from bot.backoffice.model import Order
from bot.support.parsing import money

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
# Shown in a place of their own, or machinery an agent has no use for.
_NOT_A_ROW = {
    "customer",
    "signals",
    "already_offered",
    "transcript",
    "agent_chat",
    "identity",
    "preferences",
    "from_department",
}
ORDER_STATUS = {
    "placed": "Placed, not packed yet",
    "packed": "Packed, not shipped yet",
    "shipped": "On its way",
    "delivered": "Delivered",
    "cancelled": "Cancelled",
}


def panel(view: dict[str, Any], orders: Iterable[Order] = ()) -> dict[str, Any]:
    """What the context panel shows for ``view`` (AgentDesk.conversation's answer)."""
    raw = view.get("packet")
    packet: dict[str, Any] = raw if isinstance(raw, dict) else {}
    identity = view.get("identity")
    verified = bool(identity and identity.get("verified"))
    return {
        "identity": identity,
        "warning": WARNING if identity and not verified else None,
        "packet_rows": packet_rows(packet),
        "offered": offered(packet),
        "packet_lines": [
            labels.transcript_line(str(line)) for line in packet.get("transcript") or [] if line
        ],
        "has_packet": bool(packet),
        "orders": [order_row(o, packet.get("order_id")) for o in orders],
        "journey": journey(view.get("journey"), identity),
    }


def packet_rows(packet: dict[str, Any]) -> list[tuple[str, str]]:
    """The packet as (label, text) rows, codes in words; anything unknown as its text."""
    rows: list[tuple[str, str]] = []
    customer = packet.get("customer") if isinstance(packet.get("customer"), dict) else {}
    if customer:
        parts = [customer.get(k) for k in ("name", "email", "id")]
        text = " · ".join(str(p) for p in parts if p) or "anonymous visitor"
        if customer.get("tier"):
            text += f" ({customer['tier']} tier)"
        rows.append(("Customer", text))
    for key, label in PACKET_FIELDS:
        value = packet.get(key)
        if value in (None, "", []):
            continue
        if key == "need":
            value = labels.need(str(value))
        elif key == "preferred_channel":
            value = labels.channel(str(value))
        elif key == "customer_said":
            value = labels.said(str(value))
        rows.append((label, str(value)))
    signals = packet.get("signals")
    if isinstance(signals, dict):
        words = labels.signals(signals)
        frustration = signals.get("frustration")
        if frustration:
            words.insert(0, f"frustration {frustration} of 5")
        if words:
            rows.append(("Signals", "; ".join(words)))
    for key, value in packet.items():
        if key in _NOT_A_ROW or key in dict(PACKET_FIELDS) or value in (None, "", [], {}):
            continue
        text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
        rows.append((key.replace("_", " ").capitalize(), text))
    return rows


def offered(packet: dict[str, Any]) -> list[str]:
    """What the assistant already offered, in the button titles the customer saw."""
    found = []
    for moment in packet.get("already_offered") or []:
        if not isinstance(moment, dict):
            continue
        options = [labels.option(str(o)) for o in moment.get("offered") or []]
        text = f"{str(moment.get('policy') or '').replace('_', ' ')}: {', '.join(options)}"
        if moment.get("chosen"):
            text += f" (chose {labels.option(str(moment['chosen']))})"
        found.append(text)
    return found


def order_row(order: Order, current: str | None = None) -> dict[str, Any]:
    """One order as the panel lists it: status in words, items, value, the dates that matter."""
    when = []
    if order.delivered_at:
        when.append(f"delivered {order.delivered_at:%d %b}")
    elif order.expected_delivery and order.status not in ("cancelled",):
        when.append(f"expected {order.expected_delivery:%d %b}")
    if order.carrier:
        when.append(f"with {order.carrier}" + (f" ({order.last_scan})" if order.last_scan else ""))
    return {
        "id": order.id,
        "status": ORDER_STATUS.get(order.status, order.status.capitalize()),
        "status_code": order.status,
        "items": ", ".join(order.items),
        "value": money(order.total),
        "placed": f"{order.placed_at:%d %b %Y}",
        "expected": f"{order.expected_delivery:%A %d %B}" if order.expected_delivery else None,
        "when": ", ".join(when),
        "current": order.id == current,
    }


def known_as(found: Iterable[dict[str, Any]]) -> str:
    """How the customer shows up, in words: an email or Slack user as it is, and the
    channels' own session ids (meaningless to a person) as how many chats on each."""
    said: list[str] = []
    sessions: dict[str, int] = {}
    for i in found:
        kind, value = str(i.get("kind") or ""), str(i.get("value") or "")
        if kind == "email":
            said.append(value)
        elif kind == "slack":
            said.append(f"Slack user {value}")
        else:
            sessions[kind] = sessions.get(kind, 0) + 1
    for kind, n in sessions.items():
        said.append(f"{n} {labels.channel(kind)} session{'s' if n != 1 else ''}")
    return ", ".join(said)


def journey(journey: dict[str, Any] | None, identity: dict[str, Any] | None) -> dict[str, Any]:
    """The customer's journey as the panel shows it: touchpoints (past ones are links into
    the console) and their open handoffs anywhere, each in words."""
    if not journey or not journey.get("customer"):
        return {"customer": None}
    customer = journey["customer"]
    known = known_as(journey.get("identities") or [])
    return {
        "customer": customer,
        "name": str(customer.get("name") or customer["id"]),
        "known_as": known,
        "warning": WARNING if identity and not identity.get("verified") else None,
        "touchpoints": [
            {
                "conversation_id": t["conversation_id"],
                "this": t["this_conversation"],
                "at": t["started_at"],
                "channel": labels.channel(t["channel"]),
                "stage": t["stage"] or "",
                "needs": ", ".join(labels.need(n) for n in t["needs"]),
                "departments": ", ".join(labels.department(d) for d in t["departments"]),
                "outcome": labels.outcome(t["outcome"])
                + (" (this chat)" if t["this_conversation"] else ""),  # fmt: skip
            }
            for t in journey.get("touchpoints") or []
        ],
        "open_handoffs": [
            {
                "reference": f"H-{int(h['id'])}",
                "department": labels.department(h["department"]),
                "status": labels.status(h["status"]),
                "priority": h["priority"],
                "summary": h["summary"],
                "conversation_id": h.get("conversation_id"),
            }
            for h in journey.get("open_handoffs") or []
        ],
    }
