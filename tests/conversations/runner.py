"""Run the conversation suite (tests/conversations/*.yml) against the real assistant.

    .venv/bin/python -m tests.conversations.runner [--smoke] [--only ID]... [--file NAME]
        [--channel rest|socketio|slack]

Starts the action server, the Rasa server, the hub and the handoff dispatcher on free ports
with a fresh var/ directory (as tests/e2e/conftest.py does), then plays each conversation
over the REST channel (or, with --channel, the website's socket.io or Slack: see
tests/conversations/transports.py) with a sender of its own. Before each conversation the
demo back office is reseeded from its fixture and the demo customers' journeys are erased, so no
conversation sees what another one changed or said. Checks what the customer read, the
buttons they got, the back office and the handoffs recorded, and writes
reports/conversations.md. The schema is documented in tests/conversations/README.md.

The checks themselves are plain functions (``check_turn``, ``check_end``, ``expand``...)
tested without servers in tests/conversations/test_runner_checks.py.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

import yaml

from tests.conversations.transports import CHANNELS, RestTransport, make_transport, rest_post

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
REPORT = ROOT / "reports" / "conversations.md"

# A reply is a clarifying question when it asks the customer what they meant instead of
# acting: the assistant's fallback ("not sure I understood... did you mean") and its
# "which option did you pick" when a typed choice was not followed.
CLARIFY_MARKERS = (
    "not sure i understood",
    "did you mean one of these",
    "didn't catch which option",
    "didn't quite catch",
    "could you rephrase",
)
# Said on any turn, these are always failures: the action server failed, or nothing came.
ALWAYS_NEVER = ("having trouble looking that up",)

DEMO_CUSTOMERS = ("C001", "C002", "C003", "C004", "C005")

TURN_KEYS = {"says_any", "says_all", "never_says", "buttons_include", "no_clarifying_question"}
END_KEYS = TURN_KEYS | {"handoff", "no_handoff", "backoffice"}
ORDER_CHECK_KEYS = {
    "order",
    "status",
    "status_not",
    "address_contains",
    "address_unchanged",
    "expected",
    "expected_unchanged",
    "expected_earlier",
    "unchanged",
    "return_label",
    "refund",
}
CONVERSATION_KEYS = {
    "id",
    "description",
    "tags",
    "smoke",
    "known_failure",
    "turns",
    "expect",
}
TURN_FIELDS = {"say", "press", "new_chat", "expect"}


# --------------------------------------------------------------------------------------
# Loading and validating the YAML
# --------------------------------------------------------------------------------------
class SuiteError(ValueError):
    """A conversation file that does not follow the schema (the message says where)."""


@dataclass
class Conversation:
    id: str
    description: str
    tags: list[str]
    turns: list[dict]
    expect: dict
    smoke: bool = False
    known_failure: str | None = None
    file: str = ""


def load_suite(paths: Iterable[Path] | None = None) -> list[Conversation]:
    """Every conversation of ``paths`` (default: tests/conversations/*.yml), validated."""
    paths = sorted(HERE.glob("*.yml")) if paths is None else list(paths)
    found: list[Conversation] = []
    seen: dict[str, str] = {}
    for path in paths:
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
        everywhere = _as_list(data.get("never_says"))  # the file's own, for every conversation
        for raw in data.get("conversations") or []:
            conv = parse_conversation(raw, Path(path).name)
            if everywhere:
                conv.expect = {
                    **conv.expect,
                    "never_says": _as_list(conv.expect.get("never_says")) + everywhere,
                }
            if conv.id in seen:
                raise SuiteError(f"{path}: id {conv.id!r} is also in {seen[conv.id]}")
            seen[conv.id] = Path(path).name
            found.append(conv)
    return found


def parse_conversation(raw: dict, file: str = "") -> Conversation:
    where = f"{file}: {raw.get('id', '<no id>')}"
    if not isinstance(raw, dict) or not raw.get("id"):
        raise SuiteError(f"{where}: a conversation needs an id")
    unknown = set(raw) - CONVERSATION_KEYS
    if unknown:
        raise SuiteError(f"{where}: unknown keys {sorted(unknown)}")
    turns = raw.get("turns") or []
    if not turns:
        raise SuiteError(f"{where}: no turns")
    for i, turn in enumerate(turns, 1):
        if not isinstance(turn, dict):
            raise SuiteError(f"{where}: turn {i} is not a mapping")
        if set(turn) - TURN_FIELDS:
            raise SuiteError(
                f"{where}: turn {i} has unknown keys {sorted(set(turn) - TURN_FIELDS)}"
            )
        if ("say" in turn) == ("press" in turn):
            raise SuiteError(f"{where}: turn {i} needs exactly one of say / press")
        _check_expect_keys(turn.get("expect") or {}, TURN_KEYS, f"{where}: turn {i}")
    expect = raw.get("expect") or {}
    _check_expect_keys(expect, END_KEYS, f"{where}: expect")
    for check in _as_list(expect.get("backoffice")):
        if not isinstance(check, dict) or "order" not in check:
            raise SuiteError(f"{where}: each backoffice check names an order")
        if set(check) - ORDER_CHECK_KEYS:
            raise SuiteError(
                f"{where}: backoffice check keys {sorted(set(check) - ORDER_CHECK_KEYS)}"
            )
    return Conversation(
        id=str(raw["id"]),
        description=str(raw.get("description", "")),
        tags=[str(t) for t in raw.get("tags") or []],
        turns=turns,
        expect=expect,
        smoke=bool(raw.get("smoke", False)),
        known_failure=raw.get("known_failure"),
        file=file,
    )


def _check_expect_keys(expect: dict, allowed: set[str], where: str) -> None:
    if not isinstance(expect, dict):
        raise SuiteError(f"{where}: expect must be a mapping")
    unknown = set(expect) - allowed
    if unknown:
        raise SuiteError(
            f"{where}: unknown expectation {sorted(unknown)} (allowed: {sorted(allowed)})"
        )


def _as_list(value) -> list:
    if value is None:
        return []
    return list(value) if isinstance(value, list) else [value]


# --------------------------------------------------------------------------------------
# Dates: "{date:+4}" and "next tuesday" relative to today, as the fixture is
# --------------------------------------------------------------------------------------
WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


def resolve_day(expr: str, today: date) -> date:
    """``+4`` / ``-3`` (days from today), ``next tuesday`` (the first Tuesday after
    today), ``tuesday after next`` (a week later), or an ISO date."""
    e = str(expr).strip().lower()
    if re.fullmatch(r"[+-]\d+", e):
        return today + timedelta(days=int(e))
    m = re.fullmatch(r"(?:next )?(\w+)( after next)?", e)
    if m and m.group(1) in WEEKDAYS:
        ahead = (WEEKDAYS.index(m.group(1)) - today.weekday()) % 7 or 7
        return today + timedelta(days=ahead + (7 if m.group(2) else 0))
    try:
        return date.fromisoformat(e)
    except ValueError:
        raise SuiteError(
            f"unreadable day {expr!r}: use +N, -N, 'next tuesday' or YYYY-MM-DD"
        ) from None


def day_renderings(d: date, today: date) -> list[str]:
    """Ways a reply can name ``d`` that a reader would take as that day."""
    out = [
        f"{d.day} {d:%B}",
        f"{d:%B} {d.day}",
        f"{d:%b} {d.day}",
        f"{d.day} {d:%b}",
        d.isoformat(),
    ]
    delta = (d - today).days
    if delta == 0:
        out.append("today")
    elif delta == 1:
        out.append("tomorrow")
    return out


PLACEHOLDER = re.compile(r"\{date:([^}]+)\}")


def expand(text: str, today: date) -> list[str]:
    """The alternatives a wanted string stands for: ``"arrives {date:+4}"`` becomes one
    string per rendering of that day; a string without a placeholder is itself."""
    m = PLACEHOLDER.search(text)
    if not m:
        return [text]
    d = resolve_day(m.group(1), today)
    head, tail = text[: m.start()], text[m.end() :]
    return [alt for r in day_renderings(d, today) for alt in expand(head + r + tail, today)]


SAY_PLACEHOLDER = re.compile(r"\{(date|weekday|dom):([^}]+)\}")
CODE_PLACEHOLDER = re.compile(r"\{code:([^}]+)\}")


def render_say(text: str, today: date) -> str:
    """What the customer types, with days relative to today filled in: ``{date:+9}`` is
    "16 December", ``{weekday:+5}`` is "Saturday", ``{dom:+9}`` is "16th"."""

    def fill(m: re.Match) -> str:
        d = resolve_day(m.group(2), today)
        if m.group(1) == "weekday":
            return f"{d:%A}"
        if m.group(1) == "dom":
            suffix = (
                "th" if 11 <= d.day <= 13 else {1: "st", 2: "nd", 3: "rd"}.get(d.day % 10, "th")
            )
            return f"{d.day}{suffix}"
        return f"{d.day} {d:%B}"

    return SAY_PLACEHOLDER.sub(fill, text)


# --------------------------------------------------------------------------------------
# Checks over replies (pure functions)
# --------------------------------------------------------------------------------------
def reply_text(replies: Sequence[dict]) -> str:
    return "\n".join(r.get("text") or "" for r in replies)


def button_titles(replies: Sequence[dict]) -> list[str]:
    return [b.get("title", "") for r in replies for b in r.get("buttons") or []]


def contains(haystack: str, needle: str, today: date) -> bool:
    low = haystack.lower()
    return any(alt.lower() in low for alt in expand(needle, today))


def is_clarifying(replies: Sequence[dict]) -> bool:
    """The assistant asked what the customer meant instead of acting on it."""
    text = reply_text(replies).lower()
    return any(marker in text for marker in CLARIFY_MARKERS)


def check_replies(expect: dict, replies: Sequence[dict], today: date, what: str) -> list[str]:
    """The failures of the reply expectations (``says_any``...) against ``replies``."""
    failures: list[str] = []
    text = reply_text(replies)
    says_any = _as_list(expect.get("says_any"))
    if says_any and not any(contains(text, s, today) for s in says_any):
        failures.append(f"{what}: says none of {says_any}")
    for s in _as_list(expect.get("says_all")):
        if not contains(text, s, today):
            failures.append(f"{what}: does not say {s!r}")
    for s in _as_list(expect.get("never_says")) + list(ALWAYS_NEVER):
        if contains(text, s, today):
            failures.append(f"{what}: says {s!r}, which it should not")
    titles = button_titles(replies)
    for wanted in _as_list(expect.get("buttons_include")):
        if not any(wanted.lower() in t.lower() for t in titles):
            failures.append(f"{what}: no button like {wanted!r} (buttons: {titles})")
    if expect.get("no_clarifying_question") and is_clarifying(replies):
        failures.append(f"{what}: asked a clarifying question instead of acting")
    return failures


def check_turn(expect: dict, replies: Sequence[dict], today: date, number: int) -> list[str]:
    """A turn's failures: its own expectations, and a turn must be answered."""
    what = f"turn {number}"
    failures = [] if replies else [f"{what}: no reply at all"]
    return failures + check_replies(expect or {}, replies, today, what)


def check_handoffs(expect: dict, rows: Sequence[dict]) -> list[str]:
    """``handoff`` (one mapping or a list: department, optionally need) and ``no_handoff``
    against the handoff rows recorded for the conversation."""
    failures: list[str] = []
    for wanted in _as_list(expect.get("handoff")):
        if isinstance(wanted, str):
            wanted = {"department": wanted}
        match = [r for r in rows if all(_field_matches(r.get(k), v) for k, v in wanted.items())]
        if not match:
            got = [(r.get("department"), r.get("need")) for r in rows] or "none"
            failures.append(f"end: no handoff {wanted} (recorded: {got})")
    if expect.get("no_handoff") and rows:
        got = [(r.get("department"), r.get("need")) for r in rows]
        failures.append(f"end: a handoff was recorded, none expected: {got}")
    return failures


def _field_matches(value, wanted) -> bool:
    """A handoff field against a wanted value, or any of a list of them."""
    options = wanted if isinstance(wanted, list) else [wanted]
    return str(value) in {str(o) for o in options}


def check_order(check: dict, now: dict | None, seeded: dict | None, today: date) -> list[str]:
    """One ``backoffice`` check: the order as it is now against what is wanted and what the
    fixture seeded. ``now``/``seeded`` are plain dicts (status, address, expected_delivery,
    has_return_label, refunds)."""
    order = check["order"]
    if now is None:
        return [f"backoffice: {order} not found"]
    seeded = seeded or {}
    failures: list[str] = []
    if "status" in check and now["status"] != check["status"]:
        failures.append(f"backoffice: {order} status is {now['status']}, wanted {check['status']}")
    if "status_not" in check and now["status"] == check["status_not"]:
        failures.append(f"backoffice: {order} status is {now['status']}, which it should not be")
    if (
        "address_contains" in check
        and check["address_contains"].lower() not in now["address"].lower()
    ):
        failures.append(
            f"backoffice: {order} address is {now['address']!r}, wanted it to contain {check['address_contains']!r}"
        )
    if check.get("address_unchanged") and now["address"] != seeded.get("address"):
        failures.append(f"backoffice: {order} address changed to {now['address']!r}")
    if "expected" in check:
        wanted = resolve_day(check["expected"], today)
        if now.get("expected_delivery") != wanted:
            failures.append(
                f"backoffice: {order} expected delivery is {now.get('expected_delivery')}, wanted {wanted}"
            )
    if check.get("expected_unchanged") and now.get("expected_delivery") != seeded.get(
        "expected_delivery"
    ):
        failures.append(
            f"backoffice: {order} expected delivery moved to {now.get('expected_delivery')}"
        )
    if check.get("expected_earlier"):
        before, after = seeded.get("expected_delivery"), now.get("expected_delivery")
        if not (before and after and after < before):
            failures.append(f"backoffice: {order} expected delivery {after} is not before {before}")
    if check.get("unchanged"):
        changed = [k for k in now if now[k] != seeded.get(k)]
        if changed:
            failures.append(f"backoffice: {order} changed ({', '.join(sorted(changed))})")
    if "return_label" in check and bool(now.get("has_return_label")) != bool(check["return_label"]):
        failures.append(
            f"backoffice: {order} return label {'missing' if check['return_label'] else 'created'}"
        )
    if "refund" in check:
        new = now.get("refunds", 0) - seeded.get("refunds", 0)
        if bool(check["refund"]) != (new > 0):
            failures.append(
                f"backoffice: {order} {'no new refund' if check['refund'] else 'a refund was requested'}"
            )
    return failures


def check_end(
    expect: dict,
    all_replies: Sequence[dict],
    handoff_rows: Sequence[dict],
    orders_now: dict[str, dict | None],
    orders_seeded: dict[str, dict | None],
    today: date,
) -> list[str]:
    """The conversation-wide expectations: replies over all turns, handoffs, back office."""
    failures = check_replies(expect, all_replies, today, "conversation")
    failures += check_handoffs(expect, handoff_rows)
    for check in _as_list(expect.get("backoffice")):
        order = check["order"]
        failures += check_order(check, orders_now.get(order), orders_seeded.get(order), today)
    return failures


def pick_button(replies: Sequence[dict], title: str) -> dict | None:
    """The button whose title contains ``title`` (case-insensitive), exact match first."""
    buttons = [b for r in replies for b in r.get("buttons") or []]
    for b in buttons:
        if b.get("title", "").lower() == title.lower():
            return b
    for b in buttons:
        if title.lower() in b.get("title", "").lower():
            return b
    return None


# --------------------------------------------------------------------------------------
# Results and the report
# --------------------------------------------------------------------------------------
@dataclass
class TurnResult:
    said: str
    replies: list[dict]
    clarifying: bool
    failures: list[str] = field(default_factory=list)
    sender: str = ""


@dataclass
class Result:
    conversation: Conversation
    turns: list[TurnResult]
    failures: list[str]
    seconds: float = 0.0
    # The ids the assistant knew the chats by (REST: the senders; socket.io: session ids;
    # Slack: user_channel_thread), for a test to look at their trackers.
    conversation_ids: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return not self.failures


def transcript(result: Result) -> str:
    lines: list[str] = []
    senders = []
    for t in result.turns:
        if t.sender not in senders:
            senders.append(t.sender)
            if len(senders) > 1:
                lines.append("    --- a new chat ---")
        lines.append(f"    customer: {t.said}")
        for r in t.replies:
            text = (r.get("text") or "").replace("\n", "\n              ")
            if text:
                lines.append(f"    bot:      {text}")
            titles = [b.get("title", "") for b in r.get("buttons") or []]
            if titles:
                lines.append(f"              [{'] ['.join(titles)}]")
        if not t.replies:
            lines.append("    bot:      (nothing)")
    return "\n".join(lines)


def render_report(results: Sequence[Result], *, title: str, started: str, seconds: float) -> str:
    total = len(results)
    passed = sum(r.passed for r in results)
    turns = [t for r in results for t in r.turns]
    clarifying = sum(t.clarifying for t in turns)
    out = [
        f"# {title}",
        "",
        f"Run {started}, {seconds:.0f} s; `.venv/bin/python -m tests.conversations.runner`"
        " (schema: tests/conversations/README.md).",
        "",
        "| measure | value |",
        "|---|---|",
        f"| conversations passed | {passed}/{total} ({_pct(passed, total)}) |",
        f"| turns | {len(turns)} |",
        f"| turns answered with a clarifying question | {clarifying}/{len(turns)} ({_pct(clarifying, len(turns))}) |",
        f"| conversations with at least one clarifying question | "
        f"{sum(any(t.clarifying for t in r.turns) for r in results)}/{total} |",
        "",
        "## By tag",
        "",
        "| tag | passed | total | rate |",
        "|---|---|---|---|",
    ]
    by_tag: dict[str, list[Result]] = defaultdict(list)
    by_file: dict[str, list[Result]] = defaultdict(list)
    for r in results:
        by_file[r.conversation.file].append(r)
        for tag in r.conversation.tags or ["(untagged)"]:
            by_tag[tag].append(r)
    for tag in sorted(by_tag, key=lambda t: (-len(by_tag[t]), t)):
        rs = by_tag[tag]
        ok = sum(x.passed for x in rs)
        out.append(f"| {tag} | {ok} | {len(rs)} | {_pct(ok, len(rs))} |")
    out += ["", "## By file", "", "| file | passed | total | rate |", "|---|---|---|---|"]
    for name in sorted(by_file):
        rs = by_file[name]
        ok = sum(x.passed for x in rs)
        out.append(f"| {name} | {ok} | {len(rs)} | {_pct(ok, len(rs))} |")
    kinds = Counter(_failure_kind(f) for r in results for f in r.failures)
    if kinds:
        out += ["", "## Failed checks by kind", "", "| check | failures |", "|---|---|"]
        out += [f"| {k} | {n} |" for k, n in kinds.most_common()]
    known = [r for r in results if r.conversation.known_failure]
    if known:
        out += ["", "## Known failures (marked in the YAML)", ""]
        for r in known:
            state = "still fails" if not r.passed else "now passes: remove the mark"
            out.append(f"- `{r.conversation.id}` ({state}): {r.conversation.known_failure}")
    failed = [r for r in results if not r.passed]
    if failed:
        out += ["", "## Failures", ""]
        for r in failed:
            c = r.conversation
            out += [
                f"### {c.id} ({c.file}; {', '.join(c.tags)})",
                "",
                c.description,
                "",
                *[f"- {f}" for f in r.failures],
                "",
                "```",
                transcript(r),
                "```",
                "",
            ]
    return "\n".join(out) + "\n"


def _failure_kind(failure: str) -> str:
    if "clarifying" in failure:
        return "clarifying question"
    if "says none of" in failure or "does not say" in failure:
        return "missing content (says_any / says_all)"
    if "which it should not" in failure:
        return "said what it should not (never_says)"
    if "no button" in failure:
        return "missing button"
    if "no handoff" in failure:
        return "handoff missing"
    if "a handoff was recorded" in failure:
        return "unexpected handoff"
    if failure.startswith("backoffice"):
        return "back office state"
    if "no reply" in failure:
        return "no reply"
    if "press" in failure:
        return "button to press missing"
    return "other"


def _pct(n: int, d: int) -> str:
    return f"{100.0 * n / d:.1f}%" if d else "n/a"


# --------------------------------------------------------------------------------------
# Talking to the real system
# --------------------------------------------------------------------------------------
class System:
    """A started assistant (or one a test fixture started): its channel (REST unless given
    another transport), back office, journey."""

    def __init__(self, settings, transport=None):
        from bot.backoffice.sql import SqlBackOffice, seed
        from bot.db.engine import make_engine

        self.settings = settings
        self.url = settings.rasa_url
        # The channel conversations are played over (tests/conversations/transports.py):
        # Rasa's REST channel unless a test or --channel gives another.
        self.transport = transport or RestTransport(self.url)
        self.backoffice_engine = make_engine(settings.backoffice_url)
        self.journey_engine = make_engine(settings.journey_url)
        self.backoffice = SqlBackOffice(self.backoffice_engine)
        # The fixture as seeded today, to tell what a conversation changed.
        self._seeded_engine = make_engine("sqlite://")
        seed(self._seeded_engine)
        self.seeded = SqlBackOffice(self._seeded_engine)

    def say(self, sender: str, message: str, timeout: float = 60) -> list[dict]:
        """One turn over the system's channel (REST unless given another transport)."""
        if isinstance(self.transport, RestTransport):
            return rest_post(self.url, sender, message, timeout)
        return self.transport.say(sender, message)

    def latest_code(self, email: str, wait: float = 5.0) -> str | None:
        """The newest one-time code the local mail catcher holds for ``email``."""
        from bot.identity.mail import read_codes

        deadline = time.monotonic() + wait
        while True:
            codes = read_codes(self.settings.var_dir / "mail", email)
            if codes or time.monotonic() > deadline:
                return codes[-1] if codes else None
            time.sleep(0.2)

    def reset(self) -> None:
        """The demo back office as seeded, and no journey for the demo customers."""
        from bot.backoffice.sql import seed
        from bot.journey.privacy import forget_customer

        seed(self.backoffice_engine)
        for customer in DEMO_CUSTOMERS:
            forget_customer(self.journey_engine, customer, None)

    def handoffs(self, senders: Sequence[str]) -> list[dict]:
        from sqlalchemy import select

        from bot.db.schema import handoffs

        with self.journey_engine.connect() as conn:
            rows = conn.execute(
                select(handoffs).where(handoffs.c.conversation_id.in_(list(senders)))
            ).mappings()
            return [dict(r) for r in rows]

    def order_state(self, backoffice, order_id: str) -> dict | None:
        from bot.backoffice import NotFound

        try:
            o = backoffice.order(order_id)
        except NotFound:
            return None
        state = {
            "status": o.status,
            "address": o.address,
            "expected_delivery": o.expected_delivery,
            "has_return_label": backoffice.return_label_of(order_id) is not None,
            "refunds": sum(
                1 for r in backoffice.refunds_of(o.customer_id) if r.order_id == order_id
            ),
        }
        return state


def run_conversation(system: System, conv: Conversation, today: date | None = None) -> Result:
    today = today or date.today()
    started = time.monotonic()
    system.reset()
    channel = system.transport
    base = f"conv-{conv.id}-{uuid.uuid4().hex[:8]}"
    senders = [base]
    turns: list[TurnResult] = []
    failures: list[str] = []
    last: list[dict] = []
    for number, turn in enumerate(conv.turns, 1):
        if turn.get("new_chat"):
            senders.append(f"{base}-{len(senders) + 1}")
            channel.new_chat(senders[-1], base)  # the same customer, a new chat
            last = []
        sender = senders[-1]
        button = None
        if "press" in turn:
            button = pick_button(last, turn["press"])
            if button is None:
                failures.append(
                    f"turn {number}: no button {turn['press']!r} to press (buttons: {button_titles(last)})"
                )
                break
            said, message = f"[presses {button.get('title')}]", button.get("payload", "")
        else:
            said = message = render_say(str(turn["say"]), today)
            if CODE_PLACEHOLDER.search(message):  # the one-time code from the customer's inbox
                message = CODE_PLACEHOLDER.sub(
                    lambda m: system.latest_code(m.group(1).strip()) or "000000", message
                )
                said = message
        try:
            replies = (
                channel.press(sender, button)
                if button is not None
                else channel.say(sender, message)
            )
        except Exception as e:  # noqa: BLE001 - an HTTP error is a failed turn, not a crash
            replies = list(getattr(e, "replies", None) or [])  # what a channel did deliver
            failures.append(f"turn {number}: the {channel.label} call failed: {e}")
        turn_failures = check_turn(turn.get("expect") or {}, replies, today, number)
        turns.append(TurnResult(said, replies, is_clarifying(replies), turn_failures, sender))
        failures += turn_failures
        last = replies
    # Handoffs are recorded under the channel's own ids (Slack's user_channel_thread...).
    conversation_ids = []
    for sender in senders:
        try:
            conversation_ids.append(channel.conversation_id(sender))
        except Exception as e:  # noqa: BLE001 - a chat the channel never opened
            failures.append(f"end: no {channel.label} conversation for {sender}: {e}")
        finally:
            channel.end(sender)
    all_replies = [r for t in turns for r in t.replies]
    orders = {c["order"] for c in _as_list(conv.expect.get("backoffice"))}
    failures += check_end(
        conv.expect,
        all_replies,
        system.handoffs(conversation_ids),
        {o: system.order_state(system.backoffice, o) for o in orders},
        {o: system.order_state(system.seeded, o) for o in orders},
        today,
    )
    return Result(conv, turns, failures, time.monotonic() - started, conversation_ids)


def start_system(var_dir: Path, model: Path | None = None, env: dict[str, str] | None = None):
    """Start the real processes on free ports in ``var_dir`` (serving ``model``, by default
    the newest in models/), with ``env`` added to their environment: (System, processes)."""
    import os

    from bot.runner import ensure_secrets, prepare_databases, processes, wait_ready
    from bot.settings import Settings
    from tests.e2e.conftest import free_port, latest_model

    # As tests/e2e/conftest.py's fresh_settings, plus a free port for the local mail catcher
    # (one-time codes), so this system never collides with another one on this machine.
    settings = Settings.from_env(
        {
            "CX_VAR_DIR": str(var_dir),
            "CX_RASA_PORT": str(free_port()),
            "CX_ACTION_PORT": str(free_port()),
            "CX_HUB_PORT": str(free_port()),
            "CX_MAIL_PORT": str(free_port()),
        }
    )
    settings, _ = ensure_secrets(settings)
    prepare_databases(settings)
    # Every conversation talks from 127.0.0.1: the per-address limits (messages, identity
    # checks) would count the whole suite as one visitor; the per-conversation ones hold.
    per_address = (
        "CX_RATE_IP",
        "CX_RATE_CONNECT_IP",
        "CX_RATE_SLACK_TEAM",
        "CX_IDENTITY_ADDRESS_LIMITS",
    )
    extra = {**{k: "off" for k in per_address}, **(env or {})}
    saved = {k: os.environ.get(k) for k in extra}
    os.environ.update(extra)
    try:
        procs = processes(settings, model=model or latest_model())
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    for proc in procs:
        proc.start(settings.root)
    try:
        wait_ready(procs, timeout=300)
    except BaseException:
        for proc in reversed(procs):
            proc.stop()
        raise
    return System(settings), procs


def select(
    suite: Sequence[Conversation],
    *,
    smoke: bool = False,
    only: Sequence[str] = (),
    files: Sequence[str] = (),
    tags: Sequence[str] = (),
) -> list[Conversation]:
    chosen = list(suite)
    if smoke:
        chosen = [c for c in chosen if c.smoke]
    if only:
        chosen = [c for c in chosen if c.id in set(only)]
    if files:
        chosen = [c for c in chosen if any(c.file.startswith(f) for f in files)]
    if tags:
        chosen = [c for c in chosen if set(c.tags) & set(tags)]
    return chosen


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="python -m tests.conversations.runner", description=__doc__.split("\n")[0]
    )
    p.add_argument("--smoke", action="store_true", help="only the conversations marked smoke: true")
    p.add_argument("--only", action="append", default=[], help="a conversation id (repeatable)")
    p.add_argument("--file", action="append", default=[], help="only this file, e.g. billing")
    p.add_argument("--tag", action="append", default=[], help="only conversations with this tag")
    p.add_argument(
        "--report",
        type=Path,
        help=f"default {REPORT.relative_to(ROOT)} (over another channel: conversations-CHANNEL.md)",
    )
    p.add_argument(
        "--var-dir",
        type=Path,
        help="where the started system keeps its files (default: a new temporary directory)",
    )
    p.add_argument("--json", type=Path, help="also write every transcript and failure as JSON here")
    p.add_argument("--model", type=Path, help="serve this model (default: the newest in models/)")
    p.add_argument("--list", action="store_true", help="list the chosen conversations and exit")
    p.add_argument(
        "--channel",
        choices=CHANNELS,
        default="rest",
        help="play them over this channel (default rest; slack starts a fake Slack)",
    )
    args = p.parse_args(argv)
    if args.report is None:
        args.report = (
            REPORT
            if args.channel == "rest"
            else REPORT.with_name(f"conversations-{args.channel}.md")
        )

    chosen = select(load_suite(), smoke=args.smoke, only=args.only, files=args.file, tags=args.tag)
    if not chosen:
        print("No conversation matches.", file=sys.stderr)
        return 2
    if args.list:
        for c in chosen:
            print(f"{c.id:40} {c.file:16} {' '.join(c.tags)}")
        return 0
    import tempfile

    var_dir = args.var_dir or Path(tempfile.mkdtemp(prefix="cx-conversations-"))
    print(f"==> Starting the assistant in {var_dir}", flush=True)
    clock = time.monotonic()
    stamp = time.strftime("%Y-%m-%d %H:%M")
    slack = None
    env = {}
    if args.channel == "slack":  # the Slack channel posts its replies to a local fake Slack
        from tests.fakes.slack import FakeSlack

        slack = FakeSlack().start()
        env = {
            "SLACK_BOT_TOKEN": slack.token,
            "SLACK_SIGNING_SECRET": slack.signing_secret,
            "SLACK_API_URL": slack.url,
            "SLACK_CHANNEL": "",
        }
    system, procs = start_system(var_dir, args.model, env)
    system.transport = make_transport(args.channel, system.settings, slack)
    results: list[Result] = []
    try:
        for i, conv in enumerate(chosen, 1):
            result = run_conversation(system, conv)
            results.append(result)
            mark = "ok  " if result.passed else "FAIL"
            print(f"[{i:3}/{len(chosen)}] {mark} {conv.id} ({result.seconds:.1f}s)", flush=True)
            for f in result.failures:
                print(f"           - {f}", flush=True)
    finally:
        system.transport.close()
        for proc in reversed(procs):
            proc.stop()
        if slack is not None:
            slack.stop()
    seconds = time.monotonic() - clock
    title = "Conversation suite" + (" (smoke)" if args.smoke else "")
    if args.channel != "rest":
        title += f" over {system.transport.label}"
    if args.only or args.file or args.tag:
        title += " (a selection)"
    report = render_report(results, title=title, started=stamp, seconds=seconds)
    args.report.parent.mkdir(parents=True, exist_ok=True)
    args.report.write_text(report, encoding="utf-8")
    passed = sum(r.passed for r in results)
    turns = [t for r in results for t in r.turns]
    print(
        f"==> {passed}/{len(results)} conversations passed ({_pct(passed, len(results))}); "
        f"clarifying questions on {_pct(sum(t.clarifying for t in turns), len(turns))} of turns; "
        f"report: {args.report}"
    )
    if args.json:
        write_json(args.json, results)
    return 0 if passed == len(results) else 1


def write_json(path: Path, results: Sequence[Result]) -> None:
    path.write_text(
        json.dumps(
            [
                {
                    "id": r.conversation.id,
                    "file": r.conversation.file,
                    "tags": r.conversation.tags,
                    "passed": r.passed,
                    "failures": r.failures,
                    "turns": [
                        {"said": t.said, "replies": t.replies, "clarifying": t.clarifying}
                        for t in r.turns
                    ],
                }
                for r in results
            ],
            indent=1,
        ),
        encoding="utf-8",
    )


if __name__ == "__main__":
    sys.exit(main())
