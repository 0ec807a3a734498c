"""``python -m bot report`` shows, as a table, CSV or JSON, exactly what metrics_table computes."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import pytest

from bot.__main__ import main
from bot.analytics.cli import parse_since, parse_until
from bot.analytics.export import as_text
from bot.analytics.metrics import metrics_table
from bot.db.engine import make_engine
from bot.db.migrate import migrate
from tests.bot.analytics.conftest import SINCE, UNTIL, load

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture
def journey_file(tmp_path):
    """A journey database file holding the hand-built journey (conftest.py)."""
    url = f"sqlite:///{tmp_path / 'journey.db'}"
    engine = make_engine(url)
    migrate(engine)
    load(engine)
    yield url, engine
    engine.dispose()


def report(url: str, *args: str) -> str:
    """Run the CLI as a user would, in its own process."""
    out = subprocess.run(
        [sys.executable, "-m", "bot", "report", "--since", "2025-03-10", "--until", "2025-03-11",
         *args],
        cwd=ROOT, env={**os.environ, "CX_JOURNEY_URL": url}, capture_output=True, text=True,
        timeout=120,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    return out.stdout


@pytest.mark.parametrize("by", ["day", "department"])
def test_csv_json_and_table_agree_with_metrics_table(journey_file, by):
    url, engine = journey_file
    # --until 2025-03-11 includes that day: the window ends at 2025-03-12 00:00.
    table = metrics_table(engine, SINCE, UNTIL, by)
    rows = [*table.rows, table.total]

    csv_rows = list(csv.DictReader(io.StringIO(report(url, "--by", by, "--format", "csv"))))
    assert csv_rows == [{c: "" if r[c] is None else str(r[c]) for c in table.columns} for r in rows]

    data = json.loads(report(url, "--by", by, "--format", "json"))
    assert data["columns"] == list(table.columns)
    assert data["rows"] == table.rows and data["total"] == table.total
    assert data["since"] == "2025-03-10T00:00:00" and data["until"] == "2025-03-12T00:00:00"
    assert "Self-service rate" in data["definitions"]["self_service_rate"]

    text = report(url, "--by", by)
    assert text.endswith(as_text(table))
    assert text.startswith("CX metrics from 2025-03-10 00:00 to 2025-03-12 00:00, by " + by)


def test_the_terminal_table_shows_the_hand_checked_figures(journey_file):
    url, _ = journey_file
    lines = report(url).splitlines()
    tuesday = next(line for line in lines if line.startswith("2025-03-11")).split()
    header = next(line for line in lines if line.startswith("day")).split()
    shown = dict(zip(header, tuesday, strict=False))
    # Tuesday: 4 conversations, 2 of 3 ended ones escalated, pickups 12 and 570 minutes.
    assert shown["conversations"] == "4" and shown["escalated"] == "66.7%"
    # (Later headings are two words each; the values are checked by what they look like.)
    # In SLA: run today, hD's deadline (2025-03-12 13:00) has long passed without an
    # acknowledgement, so 3 of 4 (hC, hE, hF met).
    assert "291.0" in tuesday and "75.0%" in tuesday
    total = next(line for line in lines if line.startswith("total")).split()
    assert total[1] == "7" and "16.7%" in total


def test_filters_from_the_command_line(journey_file):
    url, _ = journey_file
    data = json.loads(report(url, "--channel", "slack", "--format", "json"))
    assert data["total"]["conversations"] == 2  # tp3 and tp4


def test_bad_dates_are_refused_with_what_to_write(journey_file, capsys, monkeypatch):
    url, _ = journey_file
    monkeypatch.setenv("CX_JOURNEY_URL", url)
    assert main(["report", "--since", "last tuesday"]) == 2
    assert "expected 7d, 4w or a date like 2025-03-01" in capsys.readouterr().err
    assert main(["report", "--since", "2025-03-10", "--until", "2025-03-01"]) == 2


def test_since_and_until_words():
    now = datetime(2025, 3, 12, 10, 30)
    assert parse_since("7d", now) == datetime(2025, 3, 6)  # today and the 6 days before
    assert parse_since("1d", now) == datetime(2025, 3, 12)
    assert parse_since("2w", now) == datetime(2025, 2, 27)
    assert parse_since("2025-03-01", now) == datetime(2025, 3, 1)
    assert parse_until(None, now) == now
    assert parse_until("2025-03-11", now) == datetime(2025, 3, 12)  # the day is included


def test_demo_data_from_the_command_line(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("CX_JOURNEY_URL", f"sqlite:///{tmp_path / 'demo.db'}")
    assert main(["demo-data", "--touchpoints", "300", "--seed", "3", "--days", "5"]) == 0
    out = capsys.readouterr().out
    assert "300 / 300 touchpoints (100%)" in out and "Loaded 300 touchpoints" in out
    assert main(["demo-data", "--touchpoints", "300", "--seed", "3"]) == 1
    assert "already in this store" in capsys.readouterr().err
    assert main(["report", "--since", "7d", "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["total"]["conversations"] == 300
