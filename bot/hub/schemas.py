"""The hub's API schemas, as data: the component schemas its operations refer to by name
(``schema_ref``), and the bodies of the agent console's lists.

Declarative data only: each route's description sits beside its handler
(bot/hub/registry.py) and names these; bot/hub/openapi.py assembles the document.
"""

from __future__ import annotations

from bot.agents import worklist
from bot.hub.openapi_parts import LOCAL_TIME, Spec
from bot.hub.store import STATUSES
from bot.hub.web import MAX_ID

# How sure we are who an escalation's customer is (bot/agents/trust_labels.py).
TRUST: Spec = {
    "type": "object",
    "nullable": True,
    "description": (
        "From the handoff's context packet: `label` in words (\"Verified (signed in on the "
        'website)", "Not verified: says they are ...", "Not verified"). Null for a '
        "handoff from before identity checks whose customer the website chat or Slack named."
    ),
    "properties": {
        "trust": {"type": "string", "enum": ["verified", "claimed", "unknown"]},
        "verified": {"type": "boolean"},
        "label": {"type": "string"},
    },
    "required": ["trust", "verified", "label"],
}

# GET /api/console/queue
CONSOLE_QUEUE: Spec = {
    "type": "object",
    "properties": {
        "escalations": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "conversation_id": {"type": "string"},
                    "channel": {"type": "string"},
                    "handoff_ids": {
                        "type": "array",
                        "items": {"type": "integer"},
                    },
                    "need": {"type": "string"},
                    "summary": {"type": "string"},
                    "priority": {"type": "string"},
                    "customer": {"type": "object"},
                    "identity": TRUST,
                    "frustration": {"type": "integer"},
                    "waiting_seconds": {"type": "integer"},
                    "sla_seconds": {"type": "integer"},
                    "sla_used": {"type": "number"},
                    "overdue": {"type": "boolean"},
                    "why": {"type": "string"},
                    "taken_by": {"type": "object", "nullable": True},
                    "mine": {"type": "boolean"},
                },
            },
        },
        "lease_seconds": {"type": "integer"},
    },
    "required": ["escalations"],
}

# GET /api/console/conversations
CONSOLE_LIST: Spec = {
    "type": "object",
    "properties": {
        "view": {"type": "string"},
        "items": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "conversation_id": {"type": "string"},
                    "name": {"type": "string"},
                    "headline": {"type": "string"},
                    "channel_label": {"type": "string"},
                    "state": {"type": "string"},
                    "waiting": {"type": "boolean"},
                    "mine": {"type": "boolean"},
                },
                "required": ["conversation_id", "name", "headline", "state"],
            },
        },
        "waiting": {"type": "integer"},
    },
    "required": ["view", "items", "waiting"],
}

# Its parameters.
CONSOLE_LIST_PARAMETERS: list[Spec] = [
    {
        "name": "view",
        "in": "query",
        "required": False,
        "schema": {"type": "string", "enum": list(worklist.VIEWS), "default": "queue"},
    },
    {
        "name": "q",
        "in": "query",
        "required": False,
        "description": "What to search for (with `view=search`).",
        "schema": {"type": "string", "maxLength": worklist.MAX_QUERY},
    },
]

# The component schemas of the department API and the hub's own routes.
SCHEMAS: dict[str, Spec] = {
    "Error": {
        "type": "object",
        "properties": {"error": {"type": "string"}},
        "required": ["error"],
    },
    "Conflict": {
        "type": "object",
        "properties": {
            "error": {"type": "string"},
            "status": {"type": "string", "enum": list(STATUSES)},
        },
        "required": ["error", "status"],
    },
    "DepartmentEvent": {
        "type": "object",
        "description": (
            "One event. `order_id`, `invoice_id` or `customer_id` as the type names it "
            "(shipment.*, refund.issued: order; invoice.failed: invoice; "
            "subscription.renewal_due: customer), plus the type's own fields."
        ),
        "properties": {
            "id": {"type": "string", "minLength": 1, "maxLength": 255},
            "type": {
                "type": "string",
                "enum": [
                    "shipment.delayed",
                    "shipment.delivered",
                    "refund.issued",
                    "invoice.failed",
                    "subscription.renewal_due",
                ],
            },
            "order_id": {"type": "string"},
            "invoice_id": {"type": "string"},
            "customer_id": {"type": "string"},
            "new_date": {"type": "string", "format": "date"},
            "reason": {"type": "string", "maxLength": 500},
            "amount": {"type": "number", "minimum": 0},
        },
        "required": ["id", "type"],
    },
    "EventTaken": {
        "type": "object",
        "properties": {
            "id": {"type": "string"},
            "state": {"type": "string"},
            "duplicate": {"type": "boolean"},
        },
        "required": ["id", "state", "duplicate"],
    },
    "EventState": {
        "type": "object",
        "properties": {
            "id": {"type": "string"},
            "type": {"type": "string"},
            "department": {"type": "string"},
            "customer_id": {"type": "string"},
            "order_id": {"type": "string", "nullable": True},
            "invoice_id": {"type": "string", "nullable": True},
            "details": {"type": "object"},
            "state": {
                "type": "string",
                "enum": ["pending", "sending", "waiting", "delivered", "told"],
            },
            "received_at": {"type": "string"},
            "deliver_after": {"type": "string"},
            "held_for_quiet_hours": {"type": "boolean"},
            "attempts": {"type": "integer"},
            "last_error": {"type": "string", "nullable": True},
            "channel": {"type": "string", "nullable": True},
            "delivered_at": {"type": "string", "nullable": True},
            "choice": {"type": "string", "nullable": True},
        },
        "required": ["id", "type", "state", "customer_id"],
    },
    "Delivery": {
        "type": "object",
        "description": (
            "What the assistant's dispatcher sends; only handoff_id is required here, "
            "the rest is stored as sent. `type` says which message it is: "
            "`handoff.created` (a new handoff with its whole context packet) or "
            "`handoff.update` (a later contact of the same customer about the same "
            "need and order or invoice joined that open handoff instead of opening a "
            "second one: what they said, how many contacts so far, the priority now; "
            "or the customer added information to their open handoff). "
            "`update_kind` tells the two updates apart: `repeat_contact` (one per "
            "handoff and conversation) or `addition` (one per thing added: "
            "`customer_said` is what the customer asked us to pass on). "
            "Each update has its own Idempotency-Key, the same on every retry. A "
            "receiver that predates `type` may treat a body without it as "
            "`handoff.created`."
        ),
        "properties": {
            "type": {"type": "string", "enum": ["handoff.created", "handoff.update"]},
            "handoff_id": {"type": "integer", "minimum": 1, "maximum": MAX_ID},
            "department": {"type": "string"},
            "need": {"type": "string"},
            "priority": {"type": "string", "enum": ["normal", "high", "urgent"]},
            "conversation_id": {"type": "string"},
            "channel": {"type": "string"},
            "customer_id": {"type": "string", "nullable": True},
            "created_at": {"type": "string", **LOCAL_TIME},
            "summary": {"type": "string"},
            "promise": {
                "type": "string",
                "description": "handoff.created: what the customer was promised.",
            },
            "context": {
                "type": "object",
                "description": "handoff.created: the context packet.",
            },
            "update_kind": {
                "type": "string",
                "enum": ["repeat_contact", "addition"],
                "description": (
                    "handoff.update: a later contact joined it (`repeat_contact`), or "
                    "the customer added information (`addition`)."
                ),
            },
            "contacts": {
                "type": "integer",
                "minimum": 1,
                "description": (
                    "handoff.update: conversations about it so far (an addition from "
                    "the chat that opened it, with no later contact, says 1)."
                ),
            },
            "customer_said": {
                "type": "string",
                "nullable": True,
                "description": (
                    "handoff.update: the message that joined it, or what the customer "
                    "added (redacted)."
                ),
            },
            "transcript": {"type": "array", "items": {"type": "string"}},
            "signals": {"type": "object"},
        },
        "required": ["handoff_id"],
        "additionalProperties": True,
    },
    "Acknowledgement": {
        "type": "object",
        "properties": {
            "by": {"type": "string", "minLength": 1, "maxLength": 100},
            "promised_by": {
                "type": "string",
                "format": "date-time",
                "description": "Local time, e.g. 2026-12-08T17:00.",
            },
            "customer_note": {"type": "string", "minLength": 1, "maxLength": 500},
        },
    },
    "Received": {
        "type": "object",
        "properties": {
            "received": {"type": "boolean", "enum": [True]},
            "duplicate": {"type": "boolean"},
            "deliveries": {"type": "integer", "minimum": 1},
        },
        "required": ["received", "duplicate", "deliveries"],
    },
    "Handoff": {
        "type": "object",
        "properties": {
            "id": {"type": "integer"},
            "department": {"type": "string"},
            "need": {"type": "string"},
            "conversation_id": {"type": "string"},
            "customer_id": {"type": "string", "nullable": True},
            "channel": {"type": "string"},
            "priority": {"type": "string", "enum": ["normal", "high", "urgent"]},
            "summary": {"type": "string"},
            "context": {"type": "object", "description": "The context packet."},
            "status": {"type": "string", "enum": list(STATUSES)},
            "created_at": {"type": "string", **LOCAL_TIME},
            "acknowledged_at": {
                "type": "string",
                **LOCAL_TIME,
                "nullable": True,
            },
            "resolved_at": {"type": "string", **LOCAL_TIME, "nullable": True},
            "resolution": {"type": "string", "nullable": True},
            "order_id": {"type": "string", "nullable": True},
            "invoice_id": {"type": "string", "nullable": True},
            "promised_by": {
                "type": "string",
                **LOCAL_TIME,
                "nullable": True,
                "description": "When an answer is due: the service level, or the "
                "time the department promised when acknowledging.",
            },
            "acknowledged_by": {"type": "string", "nullable": True},
            "customer_note": {
                "type": "string",
                "nullable": True,
                "description": "What the department asked us to tell the customer.",
            },
        },
        "required": ["id", "department", "status", "priority", "summary", "context"],
    },
    "InboxItem": {
        "type": "object",
        "properties": {
            "handoff_id": {"type": "integer"},
            "status": {"type": "string", "enum": list(STATUSES)},
            "need": {"type": "string", "nullable": True},
            "priority": {"type": "string", "nullable": True},
            "summary": {"type": "string", "nullable": True},
            "context": {"type": "object", "nullable": True},
            "conversation_id": {"type": "string", "nullable": True},
            "customer_id": {"type": "string", "nullable": True},
            "channel": {"type": "string", "nullable": True},
            "acknowledged_at": {
                "type": "string",
                **LOCAL_TIME,
                "nullable": True,
            },
            "resolved_at": {"type": "string", **LOCAL_TIME, "nullable": True},
            "resolution": {"type": "string", "nullable": True},
            "received_at": {"type": "string", **LOCAL_TIME},
            "deliveries": {"type": "integer", "minimum": 1},
            "idempotency_key": {"type": "string"},
            "updates": {
                "type": "array",
                "description": "The handoff.update deliveries it got, oldest first.",
                "items": {
                    "type": "object",
                    "properties": {
                        "received_at": {"type": "string", **LOCAL_TIME},
                        "conversation_id": {"type": "string", "nullable": True},
                        "channel": {"type": "string", "nullable": True},
                        "customer_said": {"type": "string", "nullable": True},
                        "contacts": {"type": "integer", "nullable": True},
                        "priority": {"type": "string", "nullable": True},
                        "update_kind": {
                            "type": "string",
                            "nullable": True,
                            "enum": ["repeat_contact", "addition", None],
                            "description": "repeat_contact: a later chat joined the "
                            "handoff; addition: the customer added something for the "
                            "team.",
                        },
                    },
                },
            },
        },
        "required": ["handoff_id", "status", "received_at", "deliveries", "updates"],
    },
    "RoutingMap": {
        "type": "object",
        "properties": {
            "department_threshold": {"type": "number", "minimum": 0, "maximum": 1},
            "intents": {
                "type": "object",
                "additionalProperties": {
                    "type": "object",
                    "properties": {
                        "department": {"type": "string"},
                        "stage": {
                            "type": "string",
                            "description": "A journey stage, or from_customer.",
                        },
                    },
                    "required": ["department", "stage"],
                },
            },
        },
        "required": ["department_threshold", "intents"],
    },
}
