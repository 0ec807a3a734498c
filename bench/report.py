"""`make bench`: run every benchmark, each beside its baseline, and write reports/bench.md.

Targets (issue 4): journey logging adds at most 5 ms to the median turn; the dispatcher
delivers at least 200 handoffs per second to a local receiver. Each benchmark runs in its
own process, on SQLite and (when it answers) on the local PostgreSQL.
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
POSTGRES = os.environ.get("TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")


def run(script: str, *args: str) -> dict:
    out = subprocess.run(
        [sys.executable, str(ROOT / "bench" / script), *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"},
        timeout=900,
    )
    if out.returncode != 0:
        raise RuntimeError(f"{script} {' '.join(args)} failed:\n{out.stderr[-2000:]}")
    # The benchmark prints one JSON object (possibly indented) before any summary line.
    text = out.stdout
    return json.loads(text[text.index("{") : text.rindex("}") + 1])


def postgres_answers() -> bool:
    try:
        from sqlalchemy import create_engine, text

        with create_engine(POSTGRES, future=True).connect() as conn:
            conn.execute(text("select 1"))
        return True
    except Exception:
        return False


def machine() -> str:
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor() or "unknown CPU",
    )
    load = os.getloadavg()[0]
    return (
        f"{os.cpu_count()} cores ({cpu}), Python {platform.python_version()}, "
        f"load average {load:.2f} when started"
    )


def main() -> int:
    databases = [("SQLite", None)] + ([("PostgreSQL", POSTGRES)] if postgres_answers() else [])
    rows_turn, rows_dispatch = [], []
    for name, url in databases:
        extra = ["--url", url] if url else []
        print(f"==> journey logging on {name}", flush=True)
        t = run("turn_logging.py", "--turns", "300", *extra)
        rows_turn.append(
            f"| {name} | {t['baseline_median_ms']} "
            f"| **{t['one_record_added_median_ms']}** "
            f"({'met' if t['one_record_added_median_ms'] <= 5 else 'NOT met'}) "
            f"| **{t['added_median_ms']}** ({'met' if t['added_median_ms'] <= 5 else 'NOT met'}) "
            f"| {t['logged_p95_ms']} |"
        )
        print(f"==> handoff dispatcher on {name}", flush=True)
        d = run("dispatch.py", "--n", "2000", *extra)
        rows_dispatch.append(
            f"| {name} | **{d['handoffs_per_second']}** | {d['baseline_raw_posts_per_second']} "
            f"| {d['ratio_to_baseline']} | {d['distinct_keys']}/{d['handoffs']}, "
            f"{d['bad_signatures']} bad signatures | ≥ 200/s "
            f"| {'met' if d['handoffs_per_second'] >= 200 else 'NOT met'} |"
        )
    report = f"""# Benchmarks, {datetime.now():%Y-%m-%d %H:%M}

Machine: {machine()}. Reproduce: `make bench`.

## Journey logging on the turn path (`bench/turn_logging.py`)
Baseline: serving a need (`desk.serve`, order status) alone. Logged: the same turn as the
actions run it. Most turns record the touchpoint once (a greeting, an answer to the form,
thanks, goodbye); a message that raises a need with all its details records it twice (note,
then serve): the worst case. 300 turns over conversations of 2-12 messages, milliseconds;
target: at most 5 ms added to the median turn.

| database | baseline median | added, turn recording once (median) | added, worst-case turn recording twice (median) | worst-case p95 |
|---|---|---|---|---|
{chr(10).join(rows_turn)}

## Handoff delivery (`bench/dispatch.py`)
2000 handoffs over 50 conversations, delivered by the dispatcher (outbox -> signed POST ->
a receiver in its own process that verifies every signature and counts distinct keys).
Baseline: the same signed POSTs sent one after another on one keep-alive session, no
database: the ceiling for a sequential sender here.

| database | dispatcher (handoffs/s) | baseline (POSTs/s) | ratio | arrived | target | |
|---|---|---|---|---|---|---|
{chr(10).join(rows_dispatch)}

Figures move with the machine's load (2 shared cores); run again before drawing conclusions
from a small difference.
"""
    out = ROOT / "reports" / "bench.md"
    out.parent.mkdir(exist_ok=True)
    out.write_text(report)
    print(report)
    print(f"(written to {out.relative_to(ROOT)})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
