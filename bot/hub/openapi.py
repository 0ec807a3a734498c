"""The OpenAPI 3.0 document of the hub, written by hand next to the routes it describes.

bot/hub/api.py and bot/hub/pages.py register the routes; tests/hub/test_hub.py checks
that every route of the app is described here and that nothing here is missing a route.
"""

from __future__ import annotations

import copy

from bot.handoff.signing import SIGNATURE_HEADER, TIMESTAMP_HEADER
from bot.hub import console_live, registry, review, routes, templating
from bot.hub.openapi_parts import (
    LOCAL_TIME,
    TO_SIGN_IN,
    error_spec,
    html_spec,
    javascript_spec,
    json_spec,
    schema_ref,
)
from bot.hub.store import STATUSES
from bot.hub.web import MAX_ID

SIGNED = [{"signature": [], "timestamp": []}]  # both headers together
SIGNED_IN_STAFF = (
    "Built-in inbox page: for a signed-in member of the department (role `department`) or an "
    "admin, with the session cookie; forms carry the session's `csrf_token` and must come "
    "from this site (Origin). Without a session: a redirect to /login."
)

BAD_SIGNATURE = error_spec(
    "Missing, stale (more than 300 s from the hub's clock) or wrong signature headers."
)
NO_SECRET = error_spec("The hub has no signing secret configured for that department.")
NOT_ALLOWED = html_spec(
    "Signed in with another role or department, or (forms) no valid CSRF token or another"
    " site's Origin."
)

DEPARTMENT = {
    "name": "name",
    "in": "path",
    "required": True,
    "description": "A department from departments.yml.",
    "schema": {"type": "string"},
}
HANDOFF_ID = {
    "name": "handoff_id",
    "in": "path",
    "required": True,
    "description": "The handoff's id (the number in the customer's reference H-<id>).",
    "schema": {"type": "integer", "minimum": 1},
}

# How sure we are who an escalation's customer is (bot/agents/trust.py).
_TRUST = {
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

_DOCUMENT = {
    "openapi": "3.0.3",
    "info": {
        "title": "CX assistant hub",
        "version": "0.1.0",
        "description": (
            "The hub of the customer-support assistant: the built-in department inboxes and "
            "the API departments call to acknowledge and resolve handoffs.\n\n"
            "Department routes are signed with that department's secret (the environment "
            "variable named by `secret_env` in departments.yml): `X-CX-Timestamp` is the "
            "current unix time in seconds, and `X-CX-Signature` is `sha256=` followed by the "
            "hex HMAC-SHA256 of `<timestamp>.<raw body>` (a GET signs the empty body). "
            "Requests more than 300 seconds from the hub's clock are refused. Errors are "
            'JSON objects: `{"error": "what went wrong"}`. Bodies are limited to 1 MiB.'
        ),
    },
    "tags": [
        {"name": "department API", "description": "Called by a department's own system."},
        {"name": "built-in inbox", "description": "HTML pages for teams without a system."},
        {"name": "hub", "description": "Health, routing map, this document."},
    ],
    "paths": {
        "/api/departments/{name}/events": {
            "parameters": [DEPARTMENT],
            "post": {
                "tags": ["department API"],
                "summary": "Tell the customer first: a department event (shipment.delayed...)",
                "description": (
                    "A department's system reports something the customer should hear from us "
                    "before they ask (bot/config/proactive.yml lists the types and what each "
                    "needs). The assistant tells them on their live channel, outside their quiet "
                    "hours, or at their next contact, with what we can do as buttons. The same "
                    "id again answers 200 with `duplicate: true` and tells nobody twice."
                ),
                "operationId": "receiveEvent",
                "security": SIGNED,
                "requestBody": {
                    "required": True,
                    "content": {"application/json": {"schema": schema_ref("DepartmentEvent")}},
                },
                "responses": {
                    "202": json_spec(
                        "Taken in; the customer will be told.", schema_ref("EventTaken")
                    ),
                    "200": json_spec(
                        "A repeat of an event already taken in.", schema_ref("EventTaken")
                    ),
                    "400": error_spec(
                        "Not JSON, an unknown type, a type of another department, or a "
                        "missing or malformed field (the message names it)."
                    ),
                    "401": BAD_SIGNATURE,
                    "404": error_spec("No such department."),
                    "422": error_spec("The order, invoice or customer is not in the back office."),
                    "503": error_spec(
                        "No signing secret for the department, or no back office configured."
                    ),
                },
            },
        },
        "/api/departments/{name}/events/{event_id}": {
            "parameters": [
                DEPARTMENT,
                {
                    "name": "event_id",
                    "in": "path",
                    "required": True,
                    "description": "The department's own id for the event.",
                    "schema": {"type": "string"},
                },
            ],
            "get": {
                "tags": ["department API"],
                "summary": "Where an event is: told, held for quiet hours, waiting, and the choice",
                "operationId": "eventStatus",
                "security": SIGNED,
                "responses": {
                    "200": json_spec("The event and its outcome.", schema_ref("EventState")),
                    "401": BAD_SIGNATURE,
                    "404": error_spec("No such department, or no such event of this department."),
                    "503": NO_SECRET,
                },
            },
        },
        "/departments/{name}": {
            "parameters": [DEPARTMENT],
            "get": {
                "tags": ["built-in inbox"],
                "summary": "The department's inbox page (open and acknowledged handoffs)",
                "description": SIGNED_IN_STAFF,
                "operationId": "inboxPage",
                "responses": {
                    "200": html_spec("The page."),
                    "303": TO_SIGN_IN,
                    "403": NOT_ALLOWED,
                    "404": html_spec("No such department."),
                },
            },
        },
        "/departments/{name}/handoffs/{handoff_id}/acknowledge": {
            "parameters": [DEPARTMENT, HANDOFF_ID],
            "post": {
                "tags": ["built-in inbox"],
                "summary": "The inbox page's Acknowledge button",
                "description": SIGNED_IN_STAFF,
                "operationId": "inboxPageAcknowledge",
                "requestBody": {
                    "required": False,
                    "content": {
                        "application/x-www-form-urlencoded": {"schema": {"type": "object"}}
                    },
                },
                "responses": {
                    "303": {"description": "Done: back to the inbox page (no session: to /login)."},
                    "403": NOT_ALLOWED,
                    "404": html_spec("No such department, or no such handoff in it."),
                    "409": html_spec("The handoff is no longer open."),
                },
            },
        },
        "/departments/{name}/handoffs/{handoff_id}/resolve": {
            "parameters": [DEPARTMENT, HANDOFF_ID],
            "post": {
                "tags": ["built-in inbox"],
                "summary": "The inbox page's Resolve button",
                "description": SIGNED_IN_STAFF,
                "operationId": "inboxPageResolve",
                "requestBody": {
                    "required": True,
                    "content": {
                        "application/x-www-form-urlencoded": {
                            "schema": {
                                "type": "object",
                                "properties": {"resolution": {"type": "string", "minLength": 1}},
                                "required": ["resolution"],
                            }
                        }
                    },
                },
                "responses": {
                    "303": {"description": "Done: back to the inbox page (no session: to /login)."},
                    "400": html_spec("No resolution given."),
                    "403": NOT_ALLOWED,
                    "404": html_spec("No such department, or no such handoff in it."),
                    "409": html_spec("The handoff is already resolved."),
                },
            },
        },
        "/": {
            "get": {
                "tags": ["sign-in"],
                "summary": "To the signed-in user's home page, or to the sign-in page",
                "operationId": "home",
                "responses": {"303": {"description": "To the user's home or /login."}},
            },
        },
        "/login": {
            "get": {
                "tags": ["sign-in"],
                "summary": "The sign-in page",
                "operationId": "loginPage",
                "parameters": [
                    {
                        "name": "next",
                        "in": "query",
                        "required": False,
                        "description": "A path on this hub to go to after signing in.",
                        "schema": {"type": "string"},
                    }
                ],
                "responses": {"200": html_spec("The sign-in form.")},
            },
            "post": {
                "tags": ["sign-in"],
                "summary": "Sign in with username and password (sets the session cookie)",
                "operationId": "login",
                "requestBody": {
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
                "responses": {
                    "303": {"description": "Signed in: to `next` or the user's home page."},
                    "401": html_spec("Wrong username or password: the form again."),
                    "403": error_spec("Posted from another site (Origin)."),
                    "429": html_spec(
                        "Too many failed sign-ins for this username from this address (or"
                        " from this address): the form again with when to retry; the"
                        " `Retry-After` header gives the seconds."
                    ),
                },
            },
        },
        "/logout": {
            "post": {
                "tags": ["sign-in"],
                "summary": "Sign out (the form carries the session's csrf_token)",
                "operationId": "logout",
                "responses": {
                    "303": {"description": "Signed out: to /login."},
                    "403": error_spec("No valid CSRF token, or another site's Origin."),
                },
            },
        },
        "/api/session": {
            "get": {
                "tags": ["sign-in"],
                "summary": "The signed-in user and their session's CSRF token",
                "operationId": "whoAmI",
                "responses": {
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
            },
        },
        "/widget.js": {
            "get": {
                "tags": ["website chat"],
                "summary": "The chat widget a web site embeds with one script tag",
                "operationId": "widgetScript",
                "responses": {"200": javascript_spec("The widget.")},
            },
        },
        "/widget/socket.io.min.js": {
            "get": {
                "tags": ["website chat"],
                "summary": "The socket.io client the widget loads (from npm, installed at set-up)",
                "operationId": "socketIoClient",
                "responses": {
                    "200": javascript_spec(
                        "socket.io-client, as pinned in bot/widget/package-lock.json."
                    ),
                    "503": error_spec("Not installed: run `make setup`."),
                },
            },
        },
        "/demo": {
            "get": {
                "tags": ["website chat"],
                "summary": "A demo storefront with the chat widget (this machine only)",
                "operationId": "demoPage",
                "parameters": [
                    {
                        "name": "as",
                        "in": "query",
                        "required": False,
                        "description": "A demo customer id (bot/backoffice/fixture.yml) to sign in as.",
                        "schema": {"type": "string"},
                    }
                ],
                "responses": {
                    "200": html_spec("The storefront, with a customer token for `as` if given."),
                    "403": error_spec("Not asked from this machine."),
                    "404": error_spec("No such demo customer."),
                    "503": error_spec("CX_WIDGET_SECRET is not set."),
                },
            },
        },
        # -- the agent console (bot/hub/console.py) ---------------------------------------------
        "/console": {
            "get": {
                "tags": ["agent console"],
                "summary": "The escalation queue page (refreshes itself every few seconds)",
                "description": (
                    "For a signed-in agent or admin. Without a session: a redirect to /login."
                ),
                "operationId": "consoleQueuePage",
                "responses": {
                    "200": html_spec("The queue page."),
                    "303": {"description": "Not signed in: to /login?next=/console."},
                    "403": html_spec("Signed in with a role other than agent or admin."),
                },
            },
        },
        "/console/conversations/{conversation_id}": {
            "parameters": [
                {
                    "name": "conversation_id",
                    "in": "path",
                    "required": True,
                    "description": "Rasa's conversation (sender) id.",
                    "schema": {"type": "string"},
                }
            ],
            "get": {
                "tags": ["agent console"],
                "summary": "One conversation: transcript, packet, journey, take over and reply",
                "description": (
                    "For a signed-in agent or admin. Without a session: a redirect to /login."
                ),
                "operationId": "consoleConversationPage",
                "responses": {
                    "200": html_spec("The conversation page."),
                    "303": {"description": "Not signed in: to /login?next=<this page>."},
                    "403": html_spec("Signed in with a role other than agent or admin."),
                    "404": html_spec("No such conversation in the journey."),
                },
            },
        },
        "/api/console/queue": {
            "get": {
                "tags": ["agent console"],
                "summary": "Every escalation: waiting ones most pressing first, then taken ones",
                "description": (
                    "Order: frustration, then the customer's value tier, then the share of the "
                    "support team's service level the wait has used, then who came first. "
                    "Session cookie of an agent or admin."
                ),
                "operationId": "consoleQueue",
                "responses": {
                    "200": json_spec(
                        "The queue.",
                        {
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
                                            "identity": _TRUST,
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
                        },
                    ),
                    "401": error_spec("Not signed in."),
                    "403": error_spec("Signed in with a role other than agent or admin."),
                    "502": error_spec("Rasa could not be reached while ending a lapsed takeover."),
                },
            },
        },
        "/api/console/conversations/{conversation_id}": {
            "parameters": [
                {
                    "name": "conversation_id",
                    "in": "path",
                    "required": True,
                    "description": "Rasa's conversation (sender) id.",
                    "schema": {"type": "string"},
                }
            ],
            "get": {
                "tags": ["agent console"],
                "summary": "One conversation as the console shows it",
                "description": (
                    "The escalation, the live takeover and earlier ones, internal notes, the "
                    "context packet, how sure we are who the customer is (`identity`, as on "
                    "the queue), the customer's journey, and the transcript read from Rasa "
                    "(`transcript_error` says why when Rasa can't be read)."
                ),
                "operationId": "consoleConversation",
                "parameters": [
                    {
                        "name": "journey",
                        "in": "query",
                        "required": False,
                        "description": "`0` leaves the customer's journey out (`null`).",
                        "schema": {"type": "string", "enum": ["0", "1"], "default": "1"},
                    }
                ],
                "responses": {
                    "200": json_spec("The conversation.", {"type": "object"}),
                    "401": error_spec("Not signed in."),
                    "403": error_spec("Signed in with a role other than agent or admin."),
                    "404": error_spec("No such conversation in the journey."),
                },
            },
        },
        **{
            f"/api/console/conversations/{{conversation_id}}/{action}": {
                "parameters": [
                    {
                        "name": "conversation_id",
                        "in": "path",
                        "required": True,
                        "description": "Rasa's conversation (sender) id.",
                        "schema": {"type": "string"},
                    }
                ],
                "post": {
                    "tags": ["agent console"],
                    "summary": summary,
                    "description": (
                        "Session cookie of an agent or admin, and the session's CSRF token in "
                        "the `X-CSRF-Token` header (from GET /api/session)."
                    ),
                    "operationId": operation,
                    **(
                        {
                            "requestBody": {
                                "required": True,
                                "content": {
                                    "application/json": {
                                        "schema": {
                                            "type": "object",
                                            "properties": {
                                                field: {"type": "string", "maxLength": 5000}
                                                for field in fields
                                            },
                                            "required": list(required),
                                        }
                                    }
                                },
                            }
                        }
                        if fields
                        else {}
                    ),
                    "responses": {
                        ok: json_spec(done, {"type": "object"}),
                        "400": error_spec("A missing or too long text, or an unknown department."),
                        "401": error_spec("Not signed in."),
                        "403": error_spec(
                            "Another role than agent or admin, or no valid CSRF token, or "
                            "another site's Origin."
                        ),
                        "404": error_spec("No such conversation, or no escalation waiting in it."),
                        **({"409": error_spec(conflict)} if conflict else {}),
                        "502": error_spec(
                            "Rasa or Slack did not take it; nothing changed (the message says "
                            "what to do)."
                        ),
                    },
                },
            }
            for action, operation, summary, fields, required, ok, done, conflict in (
                (
                    "take",
                    "consoleTake",
                    "Take the conversation over: the assistant pauses, the customer is told",
                    (),
                    (),
                    "200",
                    "Taken: `{takeover}` (taking it again renews the lease).",
                    "Another agent holds it (`taken_by` names them), or its channel can't "
                    "receive messages from a person.",
                ),
                (
                    "heartbeat",
                    "consoleHeartbeat",
                    "Renew the agent's lease (the console page does it every 20 s)",
                    (),
                    (),
                    "200",
                    "Renewed: `{takeover}`.",
                    "Not held by this agent, or the lease lapsed (back in the queue).",
                ),
                (
                    "messages",
                    "consoleSendMessage",
                    "Send the agent's message to the customer on their channel",
                    ("text",),
                    ("text",),
                    "201",
                    "Sent.",
                    "Not held by this agent, or the lease lapsed.",
                ),
                (
                    "notes",
                    "consoleAddNote",
                    "Add an internal note (never sent to the customer)",
                    ("text",),
                    ("text",),
                    "201",
                    "Added: `{note}`.",
                    None,
                ),
                (
                    "hand-back",
                    "consoleHandBack",
                    "Hand the conversation back to the assistant (with an internal note)",
                    ("note",),
                    (),
                    "200",
                    "Handed back: the assistant answers again.",
                    "Not held by this agent, or the lease lapsed.",
                ),
                (
                    "transfer",
                    "consoleTransfer",
                    "Transfer to a department with the context packet and the agent's note",
                    ("department", "note"),
                    ("department", "note"),
                    "200",
                    "Transferred: `{handoff}` with the promise the customer was given.",
                    "Not held by this agent, or the lease lapsed.",
                ),
                (
                    "resolve",
                    "consoleResolve",
                    "Resolve the escalation with a summary; the assistant answers again",
                    ("summary",),
                    ("summary",),
                    "200",
                    "Resolved: the touchpoint is resolved with its last handoff.",
                    "Not held by this agent, or the lease lapsed.",
                ),
            )
        },
    },
    "components": {
        "securitySchemes": {
            "signature": {
                "type": "apiKey",
                "in": "header",
                "name": SIGNATURE_HEADER,
                "description": (
                    "`sha256=<hex HMAC-SHA256 of '<X-CX-Timestamp>.<raw body>'>` under the "
                    "department's secret."
                ),
            },
            "timestamp": {
                "type": "apiKey",
                "in": "header",
                "name": TIMESTAMP_HEADER,
                "description": "Unix seconds when the request was signed; 300 s tolerance.",
            },
        },
        "schemas": {
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
        },
    },
}


def document(departments: list[str] | None = None) -> dict:
    """The OpenAPI document; ``departments`` become the allowed values of ``{name}``."""
    doc = copy.deepcopy(_DOCUMENT)
    doc["paths"].update(registry.paths(routes.TABLES))
    doc["paths"].update(review.openapi_paths())
    doc["paths"].update(console_live.OPENAPI_PATHS)
    doc["paths"].update(templating.OPENAPI_PATHS)
    doc["components"]["schemas"].update(review.openapi_schemas())
    _describe_errors_as_served(doc)
    if departments:
        for path in doc["paths"].values():
            for parameter in path.get("parameters", []):
                if parameter["name"] == "name":
                    parameter["schema"]["enum"] = list(departments)
    return doc


# The paths whose errors HubErrorHandler (bot/hub/app.py) answers as HTML pages.
_HTML_ERROR_PREFIXES = ("/departments/", "/console", "/review")


def _describe_errors_as_served(doc: dict) -> None:
    """Add the errors every route can answer, in the content type the hub answers them in.

    Found by fuzzing (tests/hub/test_openapi_fuzz.py): the request checks in bot/hub/app.py
    answer any route 400 (a NUL anywhere), 413 and 415 (a body too large or of another type),
    and errors on page paths are HTML pages, not the JSON each operation described.
    """
    for path, item in doc["paths"].items():
        on_page = path.startswith(_HTML_ERROR_PREFIXES) and not path.startswith("/api/")
        for method, operation in item.items():
            if method == "parameters":
                continue
            responses = operation["responses"]
            responses.setdefault(
                "400",
                error_spec("A NUL character in the path, query or body, or a malformed body."),
            )
            if _path_parameters(item, operation):
                # Sanic's router answers 404 for a path parameter of the wrong type.
                responses.setdefault("404", error_spec("No such route or record."))
            if "requestBody" in operation:
                responses.setdefault("413", error_spec("The body is larger than 1 MiB."))
                responses.setdefault(
                    "415", error_spec("A body declared as another type than the operation takes.")
                )
            if on_page:
                for status, response in responses.items():
                    if status[0] in "45" and "application/json" in response.get("content", {}):
                        responses[status] = html_spec(response["description"])


def _path_parameters(item: dict, operation: dict) -> list[dict]:
    """The path parameters of ``operation``; integer ones (ids) get the database's key range."""
    found = [
        p for p in item.get("parameters", []) + operation.get("parameters", []) if p["in"] == "path"
    ]
    for parameter in found:
        if parameter["schema"].get("type") == "integer":
            parameter["schema"].setdefault("maximum", MAX_ID)
    return found
