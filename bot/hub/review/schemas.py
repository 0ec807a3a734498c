"""The CX review API's component schemas, as data: what its operations answer, by name.

Declarative data only: each review route's description sits beside its handler
(bot/hub/registry.py) and refers to these with ``schema_ref``; each module's route table
carries its own (``schemas=``), and bot/hub/openapi.py assembles the document.
"""

from __future__ import annotations

from bot.analytics.filters import UNKNOWN_STAGE
from bot.analytics.log_filters import POLICY_CHOICES
from bot.analytics.metrics import GROUPINGS
from bot.hub.openapi_parts import LOCAL_TIME, Spec, schema_ref
from bot.journey.store import OUTCOMES
from bot.routing import STAGES

# -- bot/hub/review/metrics.py ---------------------------------------------------------------
_ROW = {
    "type": "object",
    "description": (
        "`group` (the day YYYY-MM-DD, week YYYY-Www, stage or department, or `total`), then a "
        "value per column: counts are integers, rates fractions (4 places), scores means of "
        "1-5 (2 places), minutes (1 place); null where there was nothing to measure."
    ),
    "properties": {"group": {"type": "string"}},
    "additionalProperties": {"type": "number", "nullable": True},
    "required": ["group"],
}
METRICS_SCHEMAS: dict[str, Spec] = {
    "MetricsTable": {
        "type": "object",
        "properties": {
            "group_by": {"type": "string", "enum": list(GROUPINGS)},
            "since": {"type": "string", **LOCAL_TIME, "description": "Included."},
            "until": {"type": "string", **LOCAL_TIME, "description": "Excluded."},
            "columns": {
                "type": "array",
                "items": {"type": "string"},
                "description": "`group`, the metrics, and `handoffs_<department>` after `handoffs`.",
            },
            "definitions": {
                "type": "object",
                "additionalProperties": {"type": "string"},
                "description": "Each metric's one-sentence definition, by column.",
            },
            "rows": {"type": "array", "items": _ROW},
            "total": _ROW,
            "filters": {
                "type": "object",
                "properties": {
                    name: {"type": "string", "nullable": True}
                    for name in ("channel", "stage", "department", "outcome")
                },
            },
        },
        "required": ["group_by", "since", "until", "columns", "definitions", "rows", "total"],
    }
}

# -- bot/hub/review/log.py -------------------------------------------------------------------
# The log's filters, as query parameters (the page, its downloads and its JSON API).
LOG_FILTERS: list[Spec] = [
    {"name": "since", "in": "query", "description": "First day (YYYY-MM-DD), included.",
     "schema": {"type": "string", "format": "date"}},
    {"name": "until", "in": "query", "description": "Last day (YYYY-MM-DD), included.",
     "schema": {"type": "string", "format": "date"}},
    {"name": "channel", "in": "query", "description": "socketio (website chat), slack, rest.",
     "schema": {"type": "string"}},
    {"name": "stage", "in": "query", "description": "A journey stage, or `unknown`.",
     "schema": {"type": "string", "enum": [*STAGES, UNKNOWN_STAGE]}},
    {"name": "department", "in": "query",
     "description": "A department the touchpoint's needs went to, or `none`.",
     "schema": {"type": "string"}},
    {"name": "need", "in": "query", "description": "A need (intent) the customer raised.",
     "schema": {"type": "string"}},
    {"name": "outcome", "in": "query", "schema": {"type": "string", "enum": list(OUTCOMES)}},
    {"name": "customer", "in": "query", "description": "One customer's id.",
     "schema": {"type": "string"}},
    {"name": "rating", "in": "query",
     "description": "The customer's rating: `1`-`5`, a range such as `1-2`, `rated` or `unrated`.",
     "schema": {"type": "string"}},
    {"name": "frustrated", "in": "query",
     "description": "`yes`: frustration reached the level at which routing.yml brings a person "
     "in (frustration_at_least); `no`: below it.",
     "schema": {"type": "string", "enum": ["yes", "no"]}},
    {"name": "policy", "in": "query",
     "description": "Policy moments in the session: `yes` (any), `taken` (an alternative was "
     "taken), `not_taken` (offered, none taken), `no` (none).",
     "schema": {"type": "string", "enum": list(POLICY_CHOICES)}},
    {"name": "flagged", "in": "query", "description": "Flagged for review or not.",
     "schema": {"type": "string", "enum": ["yes", "no"]}},
    {"name": "identity_failed", "in": "query",
     "description": "`yes`: an identity check of the session (an order number, an email on an "
     "order, a one-time code) failed or was refused by a limit; `no`: none did.",
     "schema": {"type": "string", "enum": ["yes", "no"]}},
    {"name": "q", "in": "query",
     "description": "Words the customer wrote, each required, any case; \"quoted phrases\" "
     "together; % and _ are literal. At most 200 characters.",
     "schema": {"type": "string", "maxLength": 200}},
]  # fmt: skip

_NULLABLE_TEXT = {"type": "string", "nullable": True}
_TEXT_LIST = {"type": "array", "items": {"type": "string"}}
_RECORD = {
    "type": "object",
    "properties": {
        "id": {"type": "integer"},
        "conversation_id": {"type": "string"},
        "started_at": {"type": "string", **LOCAL_TIME},
        "last_activity_at": {"type": "string", **LOCAL_TIME},
        "ended_at": {**_NULLABLE_TEXT, **LOCAL_TIME},
        "customer_id": _NULLABLE_TEXT,
        "customer_name": _NULLABLE_TEXT,
        "tier": _NULLABLE_TEXT,
        "channel": {"type": "string"},
        "stage": _NULLABLE_TEXT,
        "needs": _TEXT_LIST,
        "departments": _TEXT_LIST,
        "order_ids": _TEXT_LIST,
        "outcome": {"type": "string", "enum": list(OUTCOMES)},
        "rating": {"type": "integer", "nullable": True},
        "effort": {"type": "integer", "nullable": True},
        "frustration": {"type": "integer"},
        "repeats": {"type": "integer"},
        "told_you": {"type": "integer"},
        "negative_words": {"type": "integer"},
        "contacts_about_order": {"type": "integer"},
        "message_count": {"type": "integer"},
        "flagged": {"type": "boolean"},
        "flag_tags": _TEXT_LIST,
        "identity_checks_failed": {
            "type": "integer",
            "minimum": 0,
            "description": "The session's identity checks that failed or were refused.",
        },
    },
}
LOG_SCHEMAS: dict[str, Spec] = {
    "TouchpointRecord": _RECORD,
    "TouchpointEntry": {
        "allOf": [
            schema_ref("TouchpointRecord"),
            {
                "type": "object",
                "properties": {
                    "signals": {"type": "object", "additionalProperties": {"type": "integer"}},
                    "frustrated": {"type": "boolean"},
                    "flag": {"type": "object", "nullable": True},
                    "matched": {**_TEXT_LIST, "description": "Lines that matched `q`."},
                    "links": {"type": "object"},
                },
            },
        ]
    },
    "TouchpointPage": {
        "type": "object",
        "properties": {
            "filters": {"type": "object"},
            "touchpoints": {"type": "array", "items": schema_ref("TouchpointEntry")},
            "next_cursor": _NULLABLE_TEXT,
            "searched_until": {**_NULLABLE_TEXT, **LOCAL_TIME},
        },
        "required": ["filters", "touchpoints", "next_cursor", "searched_until"],
    },
    "TouchpointExport": {
        "type": "object",
        "properties": {
            "exported_at": {"type": "string", **LOCAL_TIME},
            "filters": {"type": "object"},
            "limit": {"type": "integer"},
            "columns": _TEXT_LIST,
            "touchpoints": {"type": "array", "items": schema_ref("TouchpointRecord")},
            "count": {"type": "integer"},
            "truncated": {"type": "boolean"},
        },
    },
}

# -- bot/hub/review/conversation.py ----------------------------------------------------------
_LIST = {"type": "array", "items": {"type": "object"}}
CONVERSATION_SCHEMAS: dict[str, Spec] = {
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
            "joined_handoffs": {
                **_LIST,
                "description": "Open handoffs of earlier conversations this session joined "
                "(a repeat contact, sent to the department as a handoff.update): id, "
                "department, need, order_id, invoice_id, status, created_at, "
                "conversation_id, joined_at, customer_said.",
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

# -- bot/hub/review/journey.py ---------------------------------------------------------------
JOURNEY_SCHEMAS: dict[str, Spec] = {
    "Journey": {
        "type": "object",
        "properties": {
            "customer": {
                "type": "object",
                "properties": {
                    "id": {"type": "string"},
                    "name": {"type": "string", "nullable": True},
                    "tier": {"type": "string", "nullable": True},
                    "since": {"type": "string", **LOCAL_TIME, "nullable": True},
                },
            },
            "identities": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {"kind": {"type": "string"}, "value": {"type": "string"}},
                },
            },
            "touchpoints": {"type": "array", "items": {"type": "object"}},
            "total": {"type": "integer"},
            "truncated": {"type": "boolean"},
        },
        "required": ["customer", "identities", "touchpoints", "total", "truncated"],
    }
}

# -- bot/hub/review/flags.py -----------------------------------------------------------------
FLAG_SCHEMAS: dict[str, Spec] = {
    "ReviewFlagState": {
        "type": "object",
        "properties": {
            "flagged": {"type": "boolean"},
            "flag": {
                "type": "object",
                "nullable": True,
                "properties": {
                    "touchpoint_id": {"type": "integer"},
                    "conversation_id": {"type": "string"},
                    "tags": {"type": "array", "items": {"type": "string"}},
                    "note": {"type": "string", "nullable": True},
                    "flagged_by": {"type": "string"},
                    "flagged_at": {"type": "string"},
                },
            },
        },
        "required": ["flagged"],
    },
    "ReviewExample": {
        "type": "object",
        "properties": {
            "id": {"type": "integer"},
            "touchpoint_id": {"type": "integer"},
            "text": {"type": "string"},
            "intent": {"type": "string"},
            "predicted_intent": {"type": "string", "nullable": True},
            "labelled_by": {"type": "string"},
            "labelled_at": {"type": "string"},
        },
        "required": ["id", "touchpoint_id", "text", "intent"],
    },
}
