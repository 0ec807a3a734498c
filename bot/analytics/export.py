"""The metrics table as text for a terminal, as CSV and as JSON.

The CLI (``python -m bot report``), the review page (bot/hub/review/metrics.py), the CSV
download and the JSON API all render the one ``MetricsTable`` that ``metrics_table`` builds,
so they show the same numbers.
"""

from __future__ import annotations

import csv
import io
from typing import Any

from bot.analytics.metric_definitions import DEFINITIONS
from bot.analytics.metric_groups import TOTAL
from bot.analytics.metrics import MetricsTable

FORMATS = ("table", "csv", "json")
MISSING = "-"  # a rate or mean over nothing (no ended conversations, no ratings...)


def as_csv(table: MetricsTable) -> str:
    """One line per group and the total last; rates are fractions, empty where undefined."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(table.columns)
    for row in [*table.rows, table.total]:
        writer.writerow(["" if row[c] is None else row[c] for c in table.columns])
    return out.getvalue()


def as_json(table: MetricsTable) -> dict[str, Any]:
    """The table as JSON-ready data, with each metric's definition."""
    return {
        "group_by": table.group_by,
        "since": table.since.isoformat(timespec="seconds"),
        "until": table.until.isoformat(timespec="seconds"),
        "columns": list(table.columns),
        "definitions": DEFINITIONS,
        "rows": table.rows,
        "total": table.total,
    }


def as_text(table: MetricsTable) -> str:
    """An aligned table for a terminal: percentages, means, minutes; the total last."""
    titles, kinds = table.titles(), table.kinds()
    cells = [[titles[c] for c in table.columns]]
    for row in [*table.rows, table.total]:
        cells.append([cell_text(row[c], kinds[c]) for c in table.columns])
    widths = [max(len(line[i]) for line in cells) for i in range(len(table.columns))]

    def line(values: list[str]) -> str:
        first = values[0].ljust(widths[0])
        rest = (v.rjust(w) for v, w in zip(values[1:], widths[1:], strict=True))
        return "  ".join([first, *rest]).rstrip()

    rule = "-" * len(line(cells[0]))
    body = [line(c) for c in cells[1:-1]]
    handoffs = ", ".join(table.departments)
    legend = (
        f"Rates are shares of ended conversations (self-served, escalated, abandoned) or of "
        f"the handoffs decided (in SLA), policy moments (alt taken) and conversations about "
        f"a need (repeat 7d); ratings and effort are means of 1-5; pickup is the median in "
        f"minutes; {handoffs}: handoffs to each department. "
        f"'{MISSING}': nothing to measure. Definitions: python -m bot report --format json."
    )
    return "\n".join([line(cells[0]), rule, *body, rule, line(cells[-1]), "", legend]) + "\n"


def cell_text(value: Any, kind: str) -> str:
    """One value as the terminal and the review page show it: a rate as a percentage, a
    score with 2 decimals, minutes with 1, '-' where there was nothing to measure."""
    if value is None:
        return MISSING
    if kind == "rate":
        return f"{100 * value:.1f}%"
    if kind == "score":
        return f"{value:.2f}"
    if kind == "minutes":
        return f"{value:.1f}"
    return str(value)


__all__ = ["FORMATS", "MISSING", "TOTAL", "as_csv", "as_json", "as_text", "cell_text"]
