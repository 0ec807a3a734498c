"""Rasa's own tools keep working on the project as Rasa users expect."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import yaml

from bot.settings import ROOT
from tests.e2e.conftest import latest_model

RASA = str(Path(sys.executable).parent / "rasa")
# Responses only custom actions utter, and the button-only intents, are the only warnings
# `rasa data validate` may give; anything else is a real problem in the data.
ALLOWED_WARNING = re.compile(
    r"The utterance '(utter_[a-z_]+)' is not used in any story or rule"
    r"|The intent 'choose_option' is listed in the domain file, but is not found in the NLU training data"
    r"|The intent '(?:rate_conversation|rate_effort|skip_feedback|proactive_news)' is listed in the domain file,"
    r" but is not found in the NLU training data"
)


def test_rasa_data_validate_is_clean():
    result = subprocess.run(
        [RASA, "data", "validate"], cwd=ROOT, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    warnings = [
        line for line in (result.stdout + result.stderr).splitlines() if "UserWarning" in line
    ]
    unexpected = [w for w in warnings if not ALLOWED_WARNING.search(w)]
    assert unexpected == []
    # Every response reported as unused must really be uttered by the code.
    code = "".join(
        p.read_text()
        for p in list((ROOT / "bot").rglob("*.py")) + list((ROOT / "actions").rglob("*.py"))
    )
    form_questions = {
        f"utter_ask_{slot}"
        for slot in yaml.safe_load((ROOT / "domain.yml").read_text())["forms"]["need_form"][
            "required_slots"
        ]
    }
    # A department's news is worded by the response its event type names (proactive.yml).
    news = {
        spec["response"]
        for spec in yaml.safe_load((ROOT / "bot/config/proactive.yml").read_text())[
            "events"
        ].values()
    }
    for warning in warnings:
        m = ALLOWED_WARNING.search(warning)
        if m and m.group(1) and m.group(1) not in form_questions | news:
            assert f'"{m.group(1)}"' in code, (
                f"{m.group(1)} is neither in a rule nor uttered by the code"
            )


def test_every_need_passes_rasa_test_stories(tmp_path):
    result = subprocess.run(
        [
            RASA,
            "test",
            "core",
            "--stories",
            "tests/test_stories.yml",
            "--model",
            str(latest_model()),
            "--out",
            str(tmp_path),
            "--fail-on-prediction-errors",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    failed = (
        (tmp_path / "failed_test_stories.yml").read_text()
        if (tmp_path / "failed_test_stories.yml").exists()
        else ""
    )
    assert result.returncode == 0, failed or result.stderr[-3000:]
    assert "None of the test stories failed" in failed


def test_classify_cli_writes_one_json_object_per_line():
    lines = (
        "where is my order ORD-10001\n\nI want to speak to a human\nwhat's the capital of peru\n"
    )
    result = subprocess.run(
        [sys.executable, "-m", "bot", "classify", "--model", str(latest_model())],
        cwd=ROOT,
        input=lines,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(rows) == 4
    assert set(rows[0]) == {"text", "intent", "confidence", "department", "stage", "entities"}
    assert rows[0]["intent"] == "order_status" and rows[0]["department"] == "delivery"
    assert rows[0]["entities"] == [
        {"entity": "order_id", "value": "ORD-10001", "start": 18, "end": 27}
    ]
    assert rows[1]["intent"] is None
    assert rows[2]["department"] == "support"
    assert rows[3]["department"] is None
