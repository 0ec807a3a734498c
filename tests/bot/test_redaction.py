"""Personal data redaction (issue 9, bot/redaction.py): how well, how fast, and where.

- Recall per kind and precision on a labelled set of support messages
  (tests/bot/data/pii_labelled.yml), with no hard negative (order and invoice numbers,
  dates, prices, tracking numbers, non-Luhn 16-digit numbers) touched; the figures print.
- Properties (hypothesis): idempotent, never raises, every generated Luhn-valid card and
  every generated email in random text is removed.
- Wiring: a handoff delivered over real HTTP to a local department, a journey touchpoint,
  a log record of a process that installed the redaction, and the CX exports hold none.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import insert, select

from bot.analytics.flags import Example, nlu_yaml
from bot.analytics.log import touchpoint_log
from bot.analytics.log_export import LogExport, csv_lines, json_chunks
from bot.analytics.log_filters import LogFilters
from bot.db.migrate import migrate
from bot.db.schema import feedback, review_examples, touchpoints, users
from bot.db.schema import handoffs as handoffs_table
from bot.departments import load_departments
from bot.handoff import HandoffRequest
from bot.handoff.dispatcher import Dispatcher
from bot.journey.signals import UserMessage
from bot.journey.store import JourneyStore, Turn
from bot.redaction import (
    KINDS,
    PLACEHOLDERS,
    WITHHELD,
    find_pii,
    luhn_ok,
    redact,
    redactor,
)
from tests.fakes.clock import WEDNESDAY_10AM, Clock

ROOT = Path(__file__).resolve().parents[2]
LABELLED = Path(__file__).parent / "data" / "pii_labelled.yml"
CARD = "4111 1111 1111 1111"
CARD_DIGITS = CARD.replace(" ", "")
EMAIL = "jane.doe@example.com"
PHONE = "+44 20 7946 0958"


# -- the labelled set ---------------------------------------------------------------------------
def _labelled(section: str = "messages") -> list[tuple[str, set[tuple[str, int, int]]]]:
    items = []
    for item in yaml.safe_load(LABELLED.read_text(encoding="utf-8"))[section]:
        text, gold = item["text"], set()
        for label in item["pii"]:
            at = -1
            for _ in range(label.get("nth", 0) + 1):
                at = text.index(label["text"], at + 1)
            gold.add((label["kind"], at, at + len(label["text"])))
        items.append((text, gold))
    return items


def _measure(items: list[tuple[str, set[tuple[str, int, int]]]]) -> dict:
    """Recall per kind, precision, and what was missed, wrongly found or touched."""
    hit = {k: 0 for k in KINDS}
    total = {k: 0 for k in KINDS}
    predicted = correct = 0
    misses, wrong = [], []
    for text, gold in items:
        found = {(f.kind, f.start, f.end) for f in find_pii(text)}
        predicted += len(found)
        correct += len(found & gold)
        for kind, start, end in gold:
            total[kind] += 1
            if (kind, start, end) in found:
                hit[kind] += 1
            else:
                misses.append((kind, text[start:end], text))
        wrong += [(kind, text[s:e], text) for kind, s, e in found - gold]
    negatives = [text for text, gold in items if not gold]
    return {
        "recall": {k: hit[k] / total[k] for k in KINDS},
        "counts": {k: f"{hit[k]}/{total[k]}" for k in KINDS},
        "total": total,
        "precision": correct / predicted,
        "precision_counts": f"{correct}/{predicted}",
        "misses": misses,
        "wrong": wrong,
        "negatives": len(negatives),
        "touched": [text for text in negatives if redact(text) != text],
    }


def test_recall_and_precision_on_the_labelled_set():
    """Recall >= 0.95 per kind, precision >= 0.95, no hard negative touched.

    ``messages`` (184) were written alongside the redactor, whose rules were fixed on them:
    a development set. ``heldout`` (40) were written after it was frozen; measured once
    before any change they gave email 7/7, phone 15/16, card 7/7, precision 29/30, and 1 of
    14 negatives touched (a spaced UPS tracking number, and "call 555 0134" missed); both
    were then fixed, so neither set is blind any more.
    """
    dev, held = _labelled("messages"), _labelled("heldout")
    assert len(dev) + len(held) >= 150, "the labelled set is too small"
    for name, items in (("development", dev), ("held-out", held), ("all", dev + held)):
        m = _measure(items)
        print(
            f"\nPII redaction, {name} set, {len(items)} messages ({m['negatives']} hard "
            "negatives): "
            + ", ".join(f"{k} recall {m['recall'][k]:.3f} ({m['counts'][k]})" for k in KINDS)
            + f"; precision {m['precision']:.3f} ({m['precision_counts']})"
            + f"; negatives touched {len(m['touched'])}"
        )
    assert all(m["total"][k] >= 30 for k in KINDS), m["total"]
    assert m["negatives"] >= 50
    assert all(r >= 0.95 for r in m["recall"].values()), m["misses"]
    assert m["precision"] >= 0.95, m["wrong"]
    assert m["touched"] == [], "hard negatives must come out unchanged"


def test_order_invoice_and_handoff_numbers_of_the_demo_survive():
    text = (
        "ORD-10001 ORD-10042 order #10042 ord10042 INV-50004 H-12 on 2026-11-24 at 10:30, "
        "$1,299.99, tracking 1Z999AA10123456784, 4111 1111 1111 1112"
    )
    assert redact(text) == text


def test_per_message_time():
    """Redaction runs on every turn and log record: it must stay well under a millisecond
    for a typical message, and plain text (no "@", no run of digits) skips spaCy."""
    redact("warm up 4111 1111 1111 1111")  # the tokenizer is built on first use
    texts = [t for t, _ in _labelled() + _labelled("heldout")]
    fresh = [f"{t} ({i})" for i in range(5) for t in texts]  # past the cache
    start = time.perf_counter()
    for t in fresh:
        redactor().redact(t)
    per_message = (time.perf_counter() - start) / len(fresh)
    plain = "where is my order, it was supposed to come yesterday and I'm not happy"
    start = time.perf_counter()
    for i in range(2000):
        redactor().redact(plain + "!" * (i % 7))
    per_plain = (time.perf_counter() - start) / 2000
    print(
        f"\nredaction per message: labelled set {per_message * 1e6:.0f} µs (mean of "
        f"{len(fresh)}), plain text {per_plain * 1e6:.1f} µs"
    )
    assert per_message < 0.002 and per_plain < 0.0001


# -- properties -----------------------------------------------------------------------------------
def _luhn_complete(body: str) -> str:
    """``body`` with the check digit that makes it pass Luhn."""
    return next(body + d for d in "0123456789" if luhn_ok(body + d))


@st.composite
def cards(draw) -> str:
    length = draw(st.integers(13, 19))
    first = draw(st.sampled_from("3456"))
    rest = draw(st.text("0123456789", min_size=length - 2, max_size=length - 2))
    digits = _luhn_complete(first + rest)
    style = draw(st.sampled_from(["plain", "space", "dash"]))
    if style == "plain":
        return digits
    groups = [digits[i : i + 4] for i in range(0, len(digits), 4)]
    return (" " if style == "space" else "-").join(groups)


@st.composite
def emails(draw) -> str:
    word = st.text("abcdefghijklmnopqrstuvwxyz0123456789", min_size=1, max_size=12)
    local = draw(word) + draw(st.sampled_from(["", ".", "_", "+", "-"])) + draw(word)
    labels = draw(st.lists(word, min_size=1, max_size=3))
    tld = draw(st.text("abcdefghijklmnopqrstuvwxyz", min_size=2, max_size=6))
    return f"{local}@{'.'.join(labels)}.{tld}"


# Text around the needle: anything, but not glued to it (a digit or a word character
# right next to it would make it part of a longer number or address).
around = st.text(max_size=80)


def _glue(before: str, needle: str, after: str) -> str:
    return f"{before} : {needle} ; {after}"


FAST = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@FAST
@given(st.text(max_size=300))
def test_redaction_never_raises_and_is_idempotent(text):
    once = redact(text)
    assert isinstance(once, str)
    assert redact(once) == once


@FAST
@given(st.lists(st.one_of(st.text(max_size=20), cards(), emails(), st.just(PHONE)), max_size=8))
def test_redaction_is_idempotent_on_mixed_text(parts):
    text = " ".join(parts)
    once = redact(text)
    assert redact(once) == once


@FAST
@given(around, cards(), around)
def test_any_luhn_valid_card_in_random_text_is_removed(before, card, after):
    out = redact(_glue(before, card, after))
    assert PLACEHOLDERS["card"] in out
    assert card not in out


@FAST
@given(around, emails(), around)
def test_any_generated_email_in_random_text_is_removed(before, email, after):
    out = redact(_glue(before, email, after))
    assert PLACEHOLDERS["email"] in out
    assert email not in out


# -- wiring: handoffs to departments ----------------------------------------------------------------
class Department:
    """A department's webhook on a free local port, keeping every body it receives."""

    def __init__(self) -> None:
        bodies = self.bodies = []

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                bodies.append(self.rfile.read(int(self.headers.get("Content-Length", 0))))
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"{}")

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def department():
    receiver = Department()
    yield receiver
    receiver.close()


def test_a_handoff_reaches_its_department_without_card_phone_or_typed_email(
    handoffs, engine, department
):
    said = f"charged twice on {CARD}, call me on {PHONE} or write to {EMAIL}"
    handoffs.hand_off(
        HandoffRequest(
            department="billing",
            need="charged_twice",
            conversation_id="pii-1",
            summary=f"Customer says: {said}",
            channel="rest",
            customer_id="C001",
            context={
                "customer": {"id": "C001", "name": "Jane Doe", "email": EMAIL},
                "invoice_id": "INV-50004",
                "customer_said": said,
                "transcript": [f"customer: {said}", "assistant: Sorry about that."],
                "agent_note": f"card {CARD_DIGITS} per customer",
            },
        )
    )
    secrets = {f"CX_WEBHOOK_SECRET_{d.upper()}": "s" for d in ("sales", "billing", "delivery")}
    secrets["CX_WEBHOOK_SECRET_SUPPORT"] = "s"
    with Dispatcher(
        engine, load_departments(hub_url=department.url), secrets=secrets, timeout=5
    ) as dispatcher:
        report = dispatcher.run_once()
    assert len(department.bodies) == 1, report
    body = department.bodies[0].decode()
    payload = json.loads(body)
    for secret_digits in (CARD, CARD_DIGITS, "7946 0958"):
        assert secret_digits not in body
    assert payload["context"]["customer_said"].count("[card]") == 1
    assert "[phone]" in payload["summary"] and "[email]" in payload["context"]["transcript"][0]
    # What the department needs to reply and to act is kept.
    assert payload["context"]["customer"]["email"] == EMAIL
    assert payload["context"]["invoice_id"] == "INV-50004"
    with engine.connect() as conn:  # and the inbox and console read the same record
        row = conn.execute(select(handoffs_table.c.summary, handoffs_table.c.context)).one()
    assert CARD not in row.summary and CARD_DIGITS not in row.context


# -- wiring: the journey store --------------------------------------------------------------------
def test_a_touchpoint_holds_no_card_phone_or_email(engine):
    migrate(engine)
    journey = JourneyStore(engine, now=Clock())
    messages = (
        UserMessage("I was charged twice", "charged_twice", WEDNESDAY_10AM),
        UserMessage(f"my card is {CARD}, ORD-10002", "inform", WEDNESDAY_10AM),
        UserMessage(f"{EMAIL} / {PHONE}", "inform", WEDNESDAY_10AM),
    )
    touchpoint = journey.record(
        Turn(
            conversation_id="pii-tp",
            channel="rest",
            session_started_at=WEDNESDAY_10AM,
            messages=messages,
        )
    )
    journey.rate("pii-tp", 2, f"nobody called me back on {PHONE}")
    with engine.connect() as conn:
        text = conn.execute(
            select(touchpoints.c.customer_text).where(touchpoints.c.id == touchpoint.id)
        ).scalar_one()
        comment = conn.execute(select(feedback.c.comment)).scalar_one()
    assert text == "I was charged twice\nmy card is [card], ORD-10002\n[email] / [phone]"
    assert comment == "nobody called me back on [phone]"


# -- wiring: CX exports -----------------------------------------------------------------------------
def test_cx_exports_hold_no_card_even_for_rows_written_before_redaction(engine):
    migrate(engine)
    with engine.begin() as conn:
        # Written as an older version stored it: the customer's words unredacted.
        tp_id = conn.execute(
            insert(touchpoints).values(
                conversation_id="legacy",
                session_started_at=WEDNESDAY_10AM,
                channel="rest",
                customer_text=f"refund to {CARD} please\nor call {PHONE}",
                message_count=2,
                started_at=WEDNESDAY_10AM,
                last_activity_at=WEDNESDAY_10AM,
            )
        ).inserted_primary_key[0]
        user_id = conn.execute(
            insert(users).values(
                username="eve",
                display_name="Eve",
                role="analyst",
                password_hash="x",
                created_at=WEDNESDAY_10AM,
            )
        ).inserted_primary_key[0]
        conn.execute(
            insert(review_examples).values(
                touchpoint_id=tp_id,
                text=f"refund to {CARD} please",
                text_sha256="0" * 64,
                intent="refund_request",
                labelled_by=user_id,
                labelled_at=WEDNESDAY_10AM,
            )
        )
    # The touchpoint log's search shows the matching lines: redacted.
    page = touchpoint_log(engine, LogFilters(text="refund"), scan_seconds=None)
    assert page.entries and page.entries[0]["matched"] == ["refund to [card] please"]
    # The CSV and JSON downloads.
    export = LogExport(engine, LogFilters(text="refund"))
    csv_text = "".join(csv_lines(export))
    export = LogExport(engine, LogFilters(text="refund"))
    json_text = "".join(json_chunks(export, WEDNESDAY_10AM))
    assert json.loads(json_text)["count"] == 1
    # The NLU export of examples kept in review.
    kept = [
        Example(1, tp_id, f"refund to {CARD} please", "refund_request", None, "Eve", WEDNESDAY_10AM)
    ]
    nlu = nlu_yaml(kept)
    assert "refund to [card] please" in nlu
    for text in (csv_text, json_text, nlu):
        assert CARD not in text and CARD_DIGITS not in text and "7946" not in text


def test_a_customer_name_holding_an_email_is_redacted_in_the_export(engine):
    migrate(engine)
    journey = JourneyStore(engine, now=Clock())
    # Some channels only know an address to call the customer by.
    journey.record(
        Turn(
            conversation_id="named",
            channel="rest",
            session_started_at=WEDNESDAY_10AM,
            customer_id="C-N",
            customer_name=EMAIL,
        )
    )
    export = LogExport(engine, LogFilters())
    csv_text = "".join(csv_lines(export))
    assert EMAIL not in csv_text and "[email]" in csv_text


# -- wiring: logs -------------------------------------------------------------------------------------
LOGGING_PROCESS = f"""
import logging, sys
from bot.redaction import install_log_redaction
logging.basicConfig(level=logging.INFO, stream=sys.stdout, format="%(name)s %(message)s")
install_log_redaction()
log = logging.getLogger("cx.test")
log.info("customer said %s", "my card is {CARD}")
log.warning("reply to {EMAIL} or {PHONE}")
try:
    raise ValueError("bad card {CARD_DIGITS}")
except ValueError:
    log.exception("failed for %s", "{EMAIL}")
# A handler added after installation (as Rasa and Sanic add theirs) is covered too.
late = logging.StreamHandler(sys.stdout)
late.setFormatter(logging.Formatter("late %(message)s %(request)s"))
access = logging.getLogger("sanic.access")
access.addHandler(late)
access.propagate = False
access.info("done", extra={{"request": "GET /x?email={EMAIL}", "host": "h"}})
log.info("order ORD-10002 on 2026-11-24 for $12.00")
log.info("a bad format %d for {CARD}", "x")
"""


def test_a_process_that_installs_log_redaction_writes_no_personal_data():
    out = subprocess.run(
        [sys.executable, "-c", LOGGING_PROCESS],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    log = out.stdout
    for value in (CARD, CARD_DIGITS, EMAIL, PHONE):
        assert value not in log, log
    assert "customer said my card is [card]" in log
    assert "ValueError: bad card [card]" in log  # the traceback too
    assert "late done GET /x?email=[email]" in log
    assert "order ORD-10002 on 2026-11-24 for $12.00" in log  # the rest untouched
    assert WITHHELD in log  # what could not be formatted, hence not checked, is not written


def test_the_hub_and_dispatcher_redact_without_loading_tensorflow():
    """keep_tensorflow_out() keeps spaCy's optional TensorFlow import out of model-free processes."""
    import subprocess
    import sys

    code = (
        "import sys\n"
        "from bot.redaction import keep_tensorflow_out, redact\n"
        "keep_tensorflow_out()\n"
        "assert redact('card 4111 1111 1111 1111') == 'card [card]', redact('card 4111 1111 1111 1111')\n"
        "print(type(sys.modules.get('tensorflow')).__name__)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip() == "NoneType"  # the placeholder, never the real module
