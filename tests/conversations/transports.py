"""How the conversation suite talks to the assistant: one transport per channel.

A transport plays the customer on one of Rasa's channels and hands back what the customer
got in the shape Rasa's REST channel returns (``[{"text": ..., "buttons": [{"title",
"payload"}]}]``), so the suite's checks (tests/conversations/runner.py) read the same
whatever the channel:

- ``RestTransport``: POST /webhooks/rest/webhook (the default; the answer is the replies).
- ``SocketIOTransport``: the website widget's socket.io channel (bot/rasa/channels/web.py), one
  socket and server-side session per chat; replies are the ``bot_uttered`` events, buttons
  their ``quick_replies``; a pressed button sends its payload, as the widget does.
- ``SlackTransport``: signed Events API payloads into /webhooks/slack/webhook, one thread
  per chat, replies read from the fake Slack's Web API (tests/fakes/slack.py); buttons are
  Slack blocks, mapped back to titles and payloads; a pressed button is a signed
  ``block_actions`` interaction carrying the button's value.

Socket.io and Slack have no request/answer pair, so a turn is over when the conversation's
tracker has recorded it (Rasa saves the tracker after the turn's replies went out); the
transport then waits (briefly) until everything the tracker says the assistant uttered
in that turn has arrived on the channel, text and buttons, and raises ``ChannelError`` when
it does not: a channel that loses a reply or its buttons fails the conversation even when
its own checks would not notice.

``conversation_id(sender)`` is the id the assistant knows the chat by (the widget's
session id; Slack's ``user_channel_thread``): handoffs and the journey are recorded under it.
"""

from __future__ import annotations

import itertools
import json
import queue
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import requests

CHANNELS = ("rest", "socketio", "slack")
TURN_TIMEOUT = 60.0  # seconds a turn may take before the channel counts as broken
ARRIVAL_GRACE = 5.0  # seconds, once the turn is recorded, for its replies to arrive
POLL = 0.05  # seconds between looks at the tracker or the fake Slack


class ChannelError(RuntimeError):
    """The channel refused a message, or did not deliver what the assistant said (then
    ``replies`` is what did arrive)."""

    def __init__(self, message: str, replies: list[dict] | None = None):
        super().__init__(message)
        self.replies = replies or []


class Transport:
    """One channel's way to play a customer (see the module doc). Senders are the runner's
    names for chats; a transport opens the channel's conversation on a sender's first turn."""

    label = "?"  # how failures name the channel ("the REST call failed")

    def say(self, sender: str, message: str) -> list[dict]:
        raise NotImplementedError

    def press(self, sender: str, button: dict) -> list[dict]:
        """Press ``button`` (one of the last replies' buttons): by default, send its payload."""
        return self.say(sender, str(button.get("payload", "")))

    def new_chat(self, sender: str, person: str) -> None:
        """``sender`` is a new chat of the customer who talked as ``person`` before."""

    def conversation_id(self, sender: str) -> str:
        return sender

    def end(self, sender: str) -> None:
        """The chat is over: let go of what it holds (a socket)."""

    def close(self) -> None:
        """Let go of everything."""


def rest_post(url: str, sender: str, message: str, timeout: float = 60) -> list[dict]:
    """One REST turn, waiting as told when rate limited (twice at most)."""
    for attempt in range(3):
        r = requests.post(
            f"{url}/webhooks/rest/webhook",
            json={"sender": sender, "message": message},
            timeout=timeout,
        )
        if r.status_code == 429 and attempt < 2:  # a rate limit: wait as told
            time.sleep(float(r.headers.get("Retry-After", "2")))
            continue
        r.raise_for_status()
        return r.json()
    return []


class RestTransport(Transport):
    """Rasa's REST channel: the sender is the conversation id, the answer the replies."""

    label = "REST"

    def __init__(self, rasa_url: str, timeout: float = 60):
        self.url = rasa_url
        self.timeout = timeout

    def say(self, sender: str, message: str) -> list[dict]:
        return rest_post(self.url, sender, message, self.timeout)


# --------------------------------------------------------------------------------------
# What a turn recorded, and whether the channel delivered it (pure functions)
# --------------------------------------------------------------------------------------
def turn_is_recorded(events: Sequence[dict], user_turns: int) -> bool:
    """Whether the tracker's ``events`` hold ``user_turns`` customer messages and the
    assistant has finished answering the last one (it listens again)."""
    users = sum(1 for e in events if e.get("event") == "user")
    return (
        users >= user_turns
        and bool(events)
        and events[-1].get("event") == "action"
        and events[-1].get("name") == "action_listen"
    )


def last_turn_utterances(events: Sequence[dict]) -> list[dict]:
    """What the assistant said after the last customer message, as REST replies."""
    start = max((i for i, e in enumerate(events) if e.get("event") == "user"), default=-1)
    said = []
    for e in events[start + 1 :]:
        if e.get("event") != "bot":
            continue
        reply: dict[str, Any] = {"text": e.get("text") or ""}
        buttons = (e.get("data") or {}).get("buttons") or []
        if buttons:
            reply["buttons"] = [
                {"title": b.get("title", ""), "payload": b.get("payload", "")} for b in buttons
            ]
        said.append(reply)
    return said


def _words(text: str) -> str:
    return " ".join((text or "").split())


def undelivered(said: Sequence[dict], replies: Sequence[dict]) -> list[str]:
    """What of ``said`` (the tracker's utterances of a turn) is not in ``replies`` (what
    arrived on the channel): each utterance's text (channels may split it into
    paragraphs, so it is compared with the arrivals' text run together, whitespace aside)
    and each of its buttons (title and payload). Extra arrivals are not a loss."""
    arrived = _words(" ".join(r.get("text") or "" for r in replies))
    buttons = [(b.get("title"), b.get("payload")) for r in replies for b in r.get("buttons") or []]
    missing: list[str] = []
    for s in said:
        text = _words(s.get("text") or "")
        if text and text not in arrived:
            missing.append(f"reply {text[:80]!r} never arrived")
        for b in s.get("buttons") or []:
            if (b.get("title"), b.get("payload")) not in buttons:
                missing.append(f"button {b.get('title')!r} ({b.get('payload')!r}) never arrived")
    return missing


def from_socketio(data: Any) -> dict:
    """A ``bot_uttered`` event as a REST reply (``quick_replies`` become ``buttons``)."""
    if not isinstance(data, dict):
        return {"text": str(data)}
    reply = {k: v for k, v in data.items() if k != "quick_replies"}
    quick = data.get("quick_replies") or []
    if quick:
        reply["buttons"] = [
            {"title": q.get("title", ""), "payload": q.get("payload", "")} for q in quick
        ]
    return reply


def from_slack(fields: dict) -> dict:
    """A chat.postMessage the bot made as a REST reply: its text, and the buttons of its
    ``actions`` blocks (title = the button's text, payload = its value)."""
    reply: dict[str, Any] = {"text": fields.get("text") or ""}
    blocks = fields.get("blocks") or []
    if isinstance(blocks, str):  # a form-encoded post carries its blocks as JSON
        blocks = json.loads(blocks)
    buttons = [
        {"title": (e.get("text") or {}).get("text", ""), "payload": e.get("value", "")}
        for block in blocks
        if block.get("type") == "actions"
        for e in block.get("elements") or []
        if e.get("type") == "button"
    ]
    if buttons:
        reply["buttons"] = buttons
    return reply


# --------------------------------------------------------------------------------------
# Channels without an answer to the request
# --------------------------------------------------------------------------------------
class _TrackedTransport(Transport):
    """Shared by socket.io and Slack: turns end when the tracker has them."""

    grace = ARRIVAL_GRACE  # seconds for a recorded turn's replies to arrive

    def __init__(self, rasa_url: str, rasa_token: str):
        self.url = rasa_url
        self.token = rasa_token

    def events(self, conversation_id: str) -> list[dict]:
        r = requests.get(
            f"{self.url}/conversations/{conversation_id}/tracker",
            params={"token": self.token},
            timeout=10,
        )
        r.raise_for_status()
        return r.json().get("events") or []

    def wait_for_turn(self, conversation_id: str, user_turns: int) -> list[dict]:
        """The tracker's events once it has the ``user_turns``-th message answered."""
        deadline = time.monotonic() + TURN_TIMEOUT
        while True:
            events = self.events(conversation_id)
            if turn_is_recorded(events, user_turns):
                return events
            if time.monotonic() > deadline:
                raise ChannelError(
                    f"the assistant did not finish turn {user_turns} of {conversation_id} "
                    f"within {TURN_TIMEOUT:.0f} s"
                )
            time.sleep(POLL)

    def collect(self, said: list[dict], arrived) -> list[dict]:
        """Replies from ``arrived()`` (all of this turn's so far) once they hold ``said``;
        ChannelError naming what is missing after the grace period."""
        deadline = time.monotonic() + self.grace
        while True:
            replies = arrived()
            missing = undelivered(said, replies)
            if not missing:
                return replies
            if time.monotonic() > deadline:
                raise ChannelError(
                    f"{self.label} did not deliver what the assistant said: " + "; ".join(missing),
                    list(replies),
                )
            time.sleep(POLL)


@dataclass
class _Socket:
    client: Any
    session_id: str
    events: queue.Queue = field(default_factory=queue.Queue)
    turns: int = 0


class SocketIOTransport(_TrackedTransport):
    """The website widget's channel: a socket.io client per chat (see the module doc)."""

    label = "socket.io"
    inbox = queue.Queue  # where a socket's events land (a test may lose some on purpose)

    def __init__(self, rasa_url: str, rasa_token: str):
        super().__init__(rasa_url, rasa_token)
        self.sockets: dict[str, _Socket] = {}

    def _socket(self, sender: str) -> _Socket:
        if sender in self.sockets:
            return self.sockets[sender]
        import socketio

        got: queue.Queue = self.inbox()
        client = socketio.Client(reconnection=False)
        for name in ("session_confirm", "bot_uttered", "error_message"):
            client.on(name, lambda data, name=name: got.put((name, data)))
        # A new visitor (no session token): the server opens a session and binds the socket.
        client.connect(self.url, auth={}, transports=["polling"], wait_timeout=10)
        client.emit("session_request", {})
        deadline = time.monotonic() + 10
        while True:
            try:
                name, data = got.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                client.disconnect()
                raise ChannelError("no session_confirm within 10 s of connecting") from None
            if name == "session_confirm":
                break
        sock = _Socket(client, data["session_id"], got)
        self.sockets[sender] = sock
        return sock

    def conversation_id(self, sender: str) -> str:
        if sender not in self.sockets:
            raise ChannelError(f"{sender} never connected: no session")
        return self.sockets[sender].session_id

    def say(self, sender: str, message: str) -> list[dict]:
        sock = self._socket(sender)
        # The acknowledgement comes once the assistant has handled the message.
        ack = sock.client.call("user_uttered", {"message": message}, timeout=TURN_TIMEOUT)
        if not isinstance(ack, dict) or "id" not in ack:
            problems = [d for n, d in list(sock.events.queue) if n == "error_message"]
            raise ChannelError(f"the message was refused: {ack} {problems}")
        sock.turns += 1
        said = last_turn_utterances(self.wait_for_turn(sock.session_id, sock.turns))
        arrived: list[dict] = []

        def drain() -> list[dict]:
            while True:
                try:
                    name, data = sock.events.get_nowait()
                except queue.Empty:
                    return arrived
                if name == "bot_uttered":
                    arrived.append(from_socketio(data))

        return list(self.collect(said, drain))

    def end(self, sender: str) -> None:
        sock = self.sockets.pop(sender, None)
        if sock is not None:
            sock.client.disconnect()

    def close(self) -> None:
        for sender in list(self.sockets):
            self.end(sender)


_ts = itertools.count(1)


def new_ts() -> str:
    """A Slack message ts ("seconds.micro") unique in this process (each conversation has a
    DM channel of its own, so the channel's dedup key, channel/ts, never repeats)."""
    return f"{int(time.time())}.{next(_ts):06d}"


@dataclass
class _Thread:
    user: str
    channel: str
    thread_ts: str | None = None
    turns: int = 0
    seen: int = 0  # posts in the thread already handed back


class SlackTransport(_TrackedTransport):
    """Slack's Events API and interactivity into the real channel, replies from the fake
    Slack's Web API (``slack``: a tests.fakes.slack.FakeSlack the assistant posts to).

    Each runner sender is a thread of a DM; a new chat of the same customer is a new
    thread of the same Slack user. Users are made up (``U0CX...``), unknown to the back
    office, so a customer is as anonymous as on REST until they give their email."""

    label = "Slack"

    def __init__(self, rasa_url: str, rasa_token: str, slack):
        super().__init__(rasa_url, rasa_token)
        self.slack = slack
        self.webhook = f"{rasa_url}/webhooks/slack/webhook"
        self.threads: dict[str, _Thread] = {}

    def _thread(self, sender: str, person: str | None = None) -> _Thread:
        if sender not in self.threads:
            if person is not None and person in self.threads:
                user = self.threads[person].user
            else:
                user = "U0CX" + uuid.uuid4().hex[:8].upper()
            self.threads[sender] = _Thread(user, "D" + user[1:])
        return self.threads[sender]

    def new_chat(self, sender: str, person: str) -> None:
        self._thread(sender, person)

    def conversation_id(self, sender: str) -> str:
        t = self._thread(sender)
        if t.thread_ts is None:
            raise ChannelError(f"{sender} has not written on Slack yet: no thread, no id")
        # Rasa's id with conversation_granularity: thread.
        return f"{t.user}_{t.channel}_{t.thread_ts}"

    def say(self, sender: str, message: str) -> list[dict]:
        from tests.fakes.slack import message_event

        t = self._thread(sender)
        ts = new_ts()
        event = message_event(
            message,
            user=t.user,
            channel=t.channel,
            ts=ts,
            thread_ts=t.thread_ts,
            event_id=f"EvCX{uuid.uuid4().hex}",
        )
        t.thread_ts = t.thread_ts or ts  # the first message starts the thread
        answer = self.slack.deliver(self.webhook, event, timeout=30)
        if answer.status_code != 200:
            raise ChannelError(f"the Slack webhook answered {answer.status_code}: {answer.text}")
        return self._replies(sender, t)

    def press(self, sender: str, button: dict) -> list[dict]:
        """Slack's ``block_actions`` for ``button`` of the newest post that carries it."""
        from tests.fakes.slack import sign

        t = self._thread(sender)
        value = str(button.get("payload", ""))
        posts = [
            p
            for p in self.slack.posts(channel=t.channel, thread_ts=t.thread_ts)
            if any(b["payload"] == value for b in from_slack(p.fields).get("buttons", []))
        ]
        if not posts:
            raise ChannelError(f"no post in the thread carries the button {button}")
        post = posts[-1]
        element = next(
            e
            for block in post.fields.get("blocks") or []
            if block.get("type") == "actions"
            for e in block.get("elements") or []
            if e.get("value") == value
        )
        interaction = {
            "type": "block_actions",
            "team": {"id": "T0FAKE", "domain": "fake"},
            "user": {"id": t.user, "username": t.user.lower(), "team_id": "T0FAKE"},
            "api_app_id": "A0FAKE",
            "container": {"type": "message", "message_ts": post.ts, "channel_id": t.channel},
            "channel": {"id": t.channel, "name": "directmessage"},
            "message": {
                "type": "message",
                "user": "U0BOT",
                "ts": post.ts,
                "thread_ts": t.thread_ts,
                "text": post.text,
                "blocks": post.fields.get("blocks"),
            },
            "actions": [
                {
                    "type": "button",
                    "action_id": f"cx-{uuid.uuid4().hex[:6]}",
                    "block_id": "cx-buttons",
                    "text": element.get("text"),
                    "value": value,
                    "action_ts": f"{time.time():.6f}",
                }
            ],
            "trigger_id": f"{uuid.uuid4().int % 10**12}.fake",
            "response_url": "http://127.0.0.1:9/unused",
        }
        body = urlencode({"payload": json.dumps(interaction)}).encode()
        headers = {
            "Content-Type": "application/x-www-form-urlencoded",
            **sign(self.slack.signing_secret, body),
        }
        answer = requests.post(self.webhook, data=body, headers=headers, timeout=30)
        if answer.status_code != 200:
            raise ChannelError(f"the Slack webhook answered {answer.status_code}: {answer.text}")
        return self._replies(sender, t)

    def _replies(self, sender: str, t: _Thread) -> list[dict]:
        t.turns += 1
        said = last_turn_utterances(self.wait_for_turn(self.conversation_id(sender), t.turns))
        posts: list = []

        def arrived() -> list[dict]:
            posts[:] = self.slack.posts(channel=t.channel, thread_ts=t.thread_ts)[t.seen :]
            return [from_slack(p.fields) for p in posts]

        try:
            return self.collect(said, arrived)
        finally:  # what arrived belongs to this turn, delivered in full or not
            t.seen += len(posts)

    def end(self, sender: str) -> None:
        self.threads.pop(sender, None)

    def close(self) -> None:
        self.threads.clear()


def make_transport(channel: str, settings, slack=None) -> Transport:
    """The transport for ``channel`` (rest, socketio, slack) to the assistant of
    ``settings``; Slack needs the fake Slack the assistant posts to."""
    if channel == "rest":
        return RestTransport(settings.rasa_url)
    if channel == "socketio":
        return SocketIOTransport(settings.rasa_url, settings.rasa_token)
    if channel == "slack":
        if slack is None:
            raise ValueError("the Slack transport needs the fake Slack the assistant posts to")
        return SlackTransport(settings.rasa_url, settings.rasa_token, slack)
    raise ValueError(f"unknown channel {channel!r}: one of {', '.join(CHANNELS)}")
