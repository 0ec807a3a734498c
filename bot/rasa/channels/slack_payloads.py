"""What Slack sends the channel: request bodies checked for the shapes read, and what is read.

Two kinds of request reach /webhooks/slack/webhook: Events API deliveries (JSON) and
interactivity payloads (a form field holding JSON, for a button clicked). Each body is
checked before anything reads it, so a malformed request gets 400, never 500. Apart from
the channel (bot/rasa/channels/slack.py) because these are the data shapes of Slack's side of
the protocol, pure functions of a request with no Rasa state.
"""

from __future__ import annotations

import json
from typing import Any

from sanic.request import Request

JSON = "application/json"
FORM = "application/x-www-form-urlencoded"
# Message subtypes that are still a person writing; others (edits, deletions, joins) are not.
USER_SUBTYPES = (None, "thread_broadcast", "file_share")


class MalformedRequest(ValueError):
    """A signed request whose body is not what Slack sends; answered with 400."""


def media_type(request: Request) -> str:
    """The request's content type without its parameters, lower-cased."""
    return (request.headers.get("content-type") or "").split(";")[0].strip().lower()


def event_body(request: Request) -> dict[str, Any]:
    """The Events API body, checked for the shapes this channel reads."""
    try:
        payload = json.loads(request.body or b"")
    except ValueError:
        raise MalformedRequest("The body is not valid JSON.") from None
    if not isinstance(payload, dict):
        raise MalformedRequest("The body is JSON but not an object.")
    if not isinstance(payload.get("type"), str):  # every Events API body names its type
        raise MalformedRequest("'type' is missing: expected a Slack Events API payload.")
    event = payload.get("event", {})
    if not isinstance(event, dict):
        raise MalformedRequest("'event' must be an object.")
    for key in ("type", "subtype", "text", "user", "channel", "channel_type", "ts", "thread_ts"):
        if event.get(key) is not None and not isinstance(event[key], str):
            raise MalformedRequest(f"'event.{key}' must be a string.")
    if payload.get("event_id") is not None and not isinstance(payload["event_id"], str):
        raise MalformedRequest("'event_id' must be a string.")
    return payload


def interaction_body(request: Request) -> dict[str, Any]:
    """The interactivity payload (a form field holding JSON), checked for what is read."""
    raw = request.form.get("payload")
    try:
        payload = json.loads(raw) if raw else None
    except ValueError:
        raise MalformedRequest("The 'payload' form field is not valid JSON.") from None
    if not isinstance(payload, dict):
        raise MalformedRequest("Expected a 'payload' form field holding a JSON object.")
    for key in ("user", "channel", "message"):
        if payload.get(key) is not None and not isinstance(payload[key], dict):
            raise MalformedRequest(f"'{key}' must be an object.")
    actions = payload.get("actions")
    if actions is not None and not (
        isinstance(actions, list) and all(isinstance(a, dict) for a in actions)
    ):
        raise MalformedRequest("'actions' must be a list of objects.")
    if actions and not isinstance(payload.get("user"), dict):
        raise MalformedRequest("'user' is missing.")
    return payload


def event_keys(payload: dict[str, Any]) -> list[str]:
    """What identifies an event: Slack's event id, and the message's place (channel/ts),
    which a retry shares and so does the same message delivered as an app_mention."""
    event = payload["event"]
    keys = [payload.get("event_id") or ""]
    if event.get("channel") and event.get("ts"):
        keys.append(f"{event['channel']}/{event['ts']}")
    return [k for k in keys if k]


def event_metadata(payload: dict[str, Any]) -> dict[str, Any]:
    """Rasa's Slack metadata of an Events API body, plus the author (``slack_user``)."""
    event = payload.get("event") or {}
    # As stock: the users who installed the app, or the app's bot user (mentions of
    # them are taken out of the text). Never the author: that is slack_user.
    users = payload.get("authed_users")
    if not isinstance(users, list):
        authorizations = payload.get("authorizations")
        first = authorizations[0] if isinstance(authorizations, list) and authorizations else {}
        users = [first["user_id"]] if isinstance(first, dict) and first.get("user_id") else []
    return {
        "out_channel": event.get("channel"),
        "thread_id": event.get("thread_ts") or event.get("ts"),
        "users": [u for u in users if isinstance(u, str)],
        "slack_user": event.get("user"),
        "event_id": payload.get("event_id"),
    }


def interaction_metadata(payload: dict[str, Any]) -> dict[str, Any]:
    """Rasa's Slack metadata of an interactivity payload, plus the clicker (``slack_user``)."""
    message = payload.get("message") or {}
    # A click in an ephemeral message comes without "message": its container says where.
    container = payload.get("container")
    container = container if isinstance(container, dict) else {}
    user = (payload.get("user") or {}).get("id")
    return {
        "out_channel": (payload.get("channel") or {}).get("id"),
        "thread_id": message.get("thread_ts")
        or message.get("ts")
        or container.get("thread_ts")
        or container.get("message_ts"),
        "users": [user] if user else [],
        "slack_user": user,
    }
