"""The touchpoint log's downloads: every matching touchpoint, in batches, as CSV or JSON.

Apart from the log's paging (bot/analytics/log.py), which it reads one keyset page at a time,
because a download is its own concern: a cap on its size, flat records without personal
data, and cells a spreadsheet will not run as formulas.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from datetime import datetime
from typing import Any

from sqlalchemy.engine import Connection, Engine

from bot.analytics.filters import Filters
from bot.analytics.log import MAX_PAGE_SIZE, touchpoint_log
from bot.analytics.log_filters import LogFilters, as_log_filters, describe_filters
from bot.redaction import redact_data

EXPORT_LIMIT = 100_000  # rows in one CSV or JSON download; the file and its headers say so
EXPORT_COLUMNS = (
    "id", "conversation_id", "started_at", "last_activity_at", "ended_at", "customer_id",
    "customer_name", "tier", "channel", "stage", "needs", "departments", "order_ids",
    "outcome", "rating", "effort", "frustration", "repeats", "told_you", "negative_words",
    "contacts_about_order", "message_count", "flagged", "flag_tags", "identity_checks_failed",
)  # fmt: skip
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


class LogExport:
    """Every touchpoint matching ``filters``, newest first, in batches, at most ``cap``.

    Iterate ``batches()``; afterwards ``count`` says how many were read and ``truncated``
    whether more matched than the cap let through. Each batch is one keyset page read on
    its own connection, so a long download holds no transaction open.
    """

    def __init__(
        self,
        bind: Engine | Connection,
        filters: LogFilters | Filters | None = None,
        cap: int = EXPORT_LIMIT,
        batch: int = MAX_PAGE_SIZE,
    ):
        self.bind = bind
        self.filters = as_log_filters(filters)
        self.cap = cap
        self.batch = batch
        self.count = 0
        self.truncated = False

    def batches(self) -> Iterator[list[dict[str, Any]]]:
        after = None
        while self.count < self.cap:
            size = min(self.batch, self.cap - self.count)
            page = touchpoint_log(self.bind, self.filters, size, after, scan_seconds=None)
            self.count += len(page.entries)
            if page.entries:
                yield page.entries
            if page.next_cursor is None:
                return
            after = page.next_cursor
        # Without a time limit a page has a next cursor only when another row matched.
        self.truncated = True


def export_record(entry: dict[str, Any]) -> dict[str, Any]:
    """One log entry as a flat, JSON-ready record with ``EXPORT_COLUMNS``."""
    signals, flag = entry["signals"], entry.get("flag")
    record = {
        **{k: entry.get(k) for k in EXPORT_COLUMNS},
        "frustration": entry["frustration"],
        "flagged": flag is not None,
        "flag_tags": list(flag["tags"]) if flag else [],
        "identity_checks_failed": int(entry.get("identity_failures") or 0),
    }
    for key in ("repeats", "told_you", "negative_words", "contacts_about_order"):
        record[key] = int(signals.get(key) or 0)
    for key in ("started_at", "last_activity_at", "ended_at"):
        if record[key] is not None:
            record[key] = record[key].isoformat(timespec="seconds")
    # What people typed (a customer's name, an analyst's tags) leaves without personal data.
    for key in ("customer_name", "flag_tags"):
        record[key] = redact_data(record[key])
    return record


def csv_lines(export: LogExport) -> Iterator[str]:
    """The export as CSV text, the header first, a chunk per batch.

    Lists are joined with ``;``. A cell that a spreadsheet would run as a formula (starting
    with = + - @) gets a leading apostrophe: customers' names are customers' input.
    """
    yield _csv_line(EXPORT_COLUMNS)
    for entries in export.batches():
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\r\n")
        for entry in entries:
            record = export_record(entry)
            writer.writerow([_csv_cell(record[k]) for k in EXPORT_COLUMNS])
        yield out.getvalue()


def json_chunks(export: LogExport, exported_at: datetime) -> Iterator[str]:
    """The export as one JSON document, written as it goes: what it holds, the rows, then
    how many there were and whether the cap cut them short."""
    head = {
        "exported_at": exported_at.isoformat(timespec="seconds"),
        "filters": describe_filters(export.filters),
        "limit": export.cap,
        "columns": list(EXPORT_COLUMNS),
    }
    yield json.dumps(head, ensure_ascii=False)[:-1] + ', "touchpoints": ['
    first = True
    for entries in export.batches():
        records = ",".join(json.dumps(export_record(e), ensure_ascii=False) for e in entries)
        yield ("" if first else ",") + records
        first = False
    yield f'], "count": {export.count}, "truncated": {json.dumps(export.truncated)}}}'


def _csv_line(values) -> str:
    out = io.StringIO()
    csv.writer(out, lineterminator="\r\n").writerow(values)
    return out.getvalue()


def _csv_cell(value: Any) -> Any:
    if isinstance(value, list):
        value = ";".join(str(v) for v in value)
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return "" if value is None else value
