"""`make bench`: run every benchmark, each beside its reference, and write reports/bench.md.

- bench/turns.py: our assistant over REST at 1, 4 and 16 conversations at once, beside stock
  Rasa (`rasa init`'s bot, trained by the run) and an echo floor on Rasa's web stack; cold
  starts, peak memory, training times. Targets (issue 8): plain turn p50 ≤ 1.5x stock's,
  action turn p50 ≤ 2.5x, ≥ 40 messages/s at 16 at once with no errors.
- bench/understanding.py: DIET over three seeds and a TF-IDF + linear SVM baseline on the
  held-out split, Bitext and CLINC; the department-threshold sweep. Targets: Bitext
  department accuracy ≥ 0.93, DIET's error no higher than the baseline's, ≥ 0.85 of CLINC
  routed nowhere.
- bench/turn_logging.py and bench/dispatch.py (issue 4): journey logging adds at most 5 ms to
  the median turn; the dispatcher delivers at least 200 handoffs/s to a local receiver.
Each runs in its own process, on SQLite and (when it answers) on the local PostgreSQL.
`--only turns` (etc.) runs a part and writes reports/bench-partial.md.tmp instead.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bot.rasa.training import last_training  # noqa: E402

POSTGRES = os.environ.get("TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")


def run(script: str, *args: str) -> dict:
    """Run one benchmark script; its progress goes to the terminal, its JSON comes back."""
    out = subprocess.run(
        [sys.executable, str(ROOT / "bench" / script), *args],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONWARNINGS": "ignore"},
        timeout=1200,
    )
    if out.returncode != 0:
        raise RuntimeError(f"{script} {' '.join(args)} failed (its messages are above)")
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


def verdict(value: float, target: float, at_most: bool) -> str:
    """'met', or 'NOT met' and by how much, for a figure against its target."""
    if (value <= target) if at_most else (value >= target):
        return "met"
    if at_most:
        return f"NOT met: {value / target:.2f}x the limit"
    return f"NOT met: {target - value:.3g} short"


def logging_and_dispatch(databases: list[tuple[str, str | None]]) -> str:
    rows_turn, rows_dispatch = [], []
    for name, url in databases:
        extra = ["--url", url] if url else []
        print(f"==> journey logging on {name}", flush=True)
        t = run("turn_logging.py", "--turns", "300", *extra)
        rows_turn.append(
            f"| {name} | {t['baseline_median_ms']} "
            f"| **{t['one_record_added_median_ms']}** "
            f"({verdict(t['one_record_added_median_ms'], 5, at_most=True)}) "
            f"| **{t['added_median_ms']}** ({verdict(t['added_median_ms'], 5, at_most=True)}) "
            f"| {t['logged_p95_ms']} |"
        )
        print(f"==> handoff dispatcher on {name}", flush=True)
        d = run("dispatch.py", "--n", "2000", *extra)
        rows_dispatch.append(
            f"| {name} | **{d['handoffs_per_second']}** | {d['baseline_raw_posts_per_second']} "
            f"| {d['ratio_to_baseline']} | {d['distinct_keys']}/{d['handoffs']}, "
            f"{d['bad_signatures']} bad signatures | ≥ 200/s "
            f"| {verdict(d['handoffs_per_second'], 200, at_most=False)} |"
        )
    return f"""## Journey logging on the turn path (`bench/turn_logging.py`)
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
"""


PLAIN_TARGET, ACTION_TARGET, THROUGHPUT_TARGET = 1.5, 2.5, 40.0


def turns_section(result: dict) -> str:
    """Turn latency and throughput, ours beside stock Rasa and the echo floor."""
    targets = {t["name"]: t for t in result["targets"]}
    stock = targets["stock Rasa (rasa init)"]
    ours = [t for t in result["targets"] if t["name"].startswith("ours")]
    stock_greeting = {r["concurrency"]: r["turns"]["greeting"]["p50"] for r in stock["runs"]}
    rows, ratio_rows = [], []
    for target in result["targets"]:
        for run_ in target["runs"]:
            turns = " / ".join(
                f"{kind} {t.get('p50', '-')} / {t.get('p95', '-')} / {t.get('p99', '-')} (n={t['n']})"
                for kind, t in run_["turns"].items()
            )
            rows.append(
                f"| {target['name']} | {run_['concurrency']} | {run_['messages']} | {run_['errors']} "
                f"| **{run_['messages_per_second']}** | {turns} |"
            )
    for target in ours:
        for run_ in target["runs"]:
            c = run_["concurrency"]
            plain = run_["turns"]["greeting"]["p50"] / stock_greeting[c]
            action = run_["turns"]["order status"]["p50"] / stock_greeting[c]
            stock_rate = next(r for r in stock["runs"] if r["concurrency"] == c)[
                "messages_per_second"
            ]
            throughput = (
                f"{run_['messages_per_second']} msg/s, {run_['errors']} errors: "
                + verdict(run_["messages_per_second"], THROUGHPUT_TARGET, at_most=False)
                + ("" if run_["errors"] == 0 else " (errors)")
                if c == 16
                else f"{run_['messages_per_second']} msg/s"
            )
            ratio_rows.append(
                f"| {target['name']} | {c} | {plain:.2f}x ({verdict(plain, PLAIN_TARGET, at_most=True)}) "
                f"| {action:.2f}x ({verdict(action, ACTION_TARGET, at_most=True)}) "
                f"| {run_['messages_per_second'] / stock_rate:.2f}x | {throughput} |"
            )
    starts, memory = [], []
    for target in result["targets"]:
        for name, seconds in target["cold_start_s"].items():
            starts.append(f"| {target['name']} | {name} | {seconds} |")
        for name, mb in target["peak_memory_mb"].items():
            memory.append(f"| {target['name']} | {name} | {mb} |")
    ours_training = last_training(ROOT / "models")
    training = (
        f"| ours (config.yml: NLU and dialogue) | {ours_training['seconds']} s | "
        f"`make train`, {ours_training['finished']} (load {ours_training['load_average_after']} after) |"
        if ours_training
        else "| ours | not recorded | run `make train` to record it |"
    )
    return f"""## Conversation turns over REST, beside stock Rasa (`bench/turns.py`)
Started by this run, on this machine: the **echo floor** (Rasa's web stack, Sanic, answering
the REST channel's contract with an echo: HTTP and JSON only), **stock Rasa** (`rasa init`'s
starter bot, Rasa's default config, trained in a temporary folder, in-memory tracker store)
and **our assistant** (action server, Rasa, hub, dispatcher, as `make run` starts them) on
SQLite{" and on PostgreSQL (journey store and Rasa's tracker store)" if len(ours) > 1 else ""}.
Each virtual customer has its own sender id and sends one message at a time, waiting for the
answer. Ours: a greeting, a billing need, the e-mail address that completes the handoff
(back office, outbox, journey), an order status question (custom action, back office,
journey logging). Stock: greeting, mood, goodbye. A turn counts as an error when the
answer is not the one expected. Latencies in ms, p50 / p95 / p99 per turn type.

| server | at once | messages | errors | msg/s | turns: p50 / p95 / p99 ms |
|---|---|---|---|---|---|
{chr(10).join(rows)}

Ours against stock Rasa, same concurrency (targets: plain turn p50 ≤ {PLAIN_TARGET}x stock's
greeting, action turn p50 ≤ {ACTION_TARGET}x, ≥ {THROUGHPUT_TARGET:.0f} msg/s at 16 at once with no
errors). Plain turn: our greeting; action turn: our order status; stock: its greeting.

| server | at once | plain turn p50 vs stock | action turn p50 vs stock | throughput vs stock | throughput |
|---|---|---|---|---|---|
{chr(10).join(ratio_rows)}

Cold start, from starting the processes to each answering its ready check (seconds; ours
starts its four processes together):

| server | process | seconds |
|---|---|---|
{chr(10).join(starts)}

Peak memory (resident, VmHWM, MiB) of each process at the end of the run:

| server | process | MiB |
|---|---|---|
{chr(10).join(memory)}

Training:

| model | time | measured |
|---|---|---|
| stock Rasa (rasa init, default config) | {result["stock_training_seconds"]} s | this run |
{training}
"""


def understanding_section(u: dict) -> str:
    """DIET across seeds, the shipped model's sweep, and the TF-IDF + SVM baseline."""
    seeds = u["diet_seed_summary"]
    base = u["baseline"]
    shipped = u["shipped"]

    def spread(key: str) -> str:
        s = seeds[key]
        return f"{s['mean']:.3f} ± {s['sd']:.3f} ({s['min']:.3f}-{s['max']:.3f})"

    def error_ratio(diet: float, baseline: float) -> str:
        ratio = (1 - diet) / (1 - baseline) if baseline < 1 else float("inf")
        return f"{ratio:.2f} ({verdict(ratio, 1.0, at_most=True)})"

    held_intent = seeds["held_out_intent_accuracy"]["mean"]
    held_top = seeds["held_out_top_intent_accuracy"]["mean"]
    held_dept = seeds["held_out_department_accuracy"]["mean"]
    per_seed = "\n".join(
        f"| {s['seed']} | {s['train_seconds']} | {s['held_out_intent_accuracy']:.3f} "
        f"| {s['held_out_top_intent_accuracy']:.3f} | {s['held_out_fell_back']:.3f} "
        f"| {s['held_out_department_accuracy']:.3f} | {s['bitext_department_accuracy']:.3f} "
        f"| {s['clinc_routed_nowhere']:.3f} |"
        for s in u["diet_per_seed"]
    )
    sweep = "\n".join(
        f"| {t['threshold']:.1f}{' (configured)' if t['configured'] else ''} "
        f"| {t['bitext_department_accuracy']:.3f} | {t['clinc_routed_nowhere']:.3f} |"
        for t in shipped["sweep"]
    )
    return f"""## Understanding (`bench/understanding.py`)
The measures of `make eval` (reports/eval.md), in this run, plus a baseline and seeds.
DIET (config.yml's NLU pipeline) trained NLU-only on 80% of data/nlu ({u["train_n"]} examples;
every 5th example of each intent, {u["held_out_n"]}, held out), once per random seed; each
model scored on the held-out fifth, on Bitext ({u["bitext_n"]} in-scope messages, department
accuracy) and on CLINC's out-of-scope set ({u["clinc_n"]} messages, share routed to no
department). The public sets are never trained on.

| DIET seed | training s | held-out intent accuracy | held-out top intent (before the fallback) | held-out fell back | held-out department accuracy | Bitext department accuracy | CLINC routed nowhere |
|---|---|---|---|---|---|---|---|
{per_seed}
| **mean ± sd (min-max)** | | {spread("held_out_intent_accuracy")} | {spread("held_out_top_intent_accuracy")} | {spread("held_out_fell_back")} | {spread("held_out_department_accuracy")} | {spread("bitext_department_accuracy")} | {spread("clinc_routed_nowhere")} |

Intent accuracy counts a message the assistant answers with a clarifying question (below
the FallbackClassifier's threshold) as wrong; the top intent is DIET's best guess before
that threshold, the figure comparable with the baseline, which never falls back.

The shipped model (models/, trained on all the data, seed 42): Bitext department accuracy
**{shipped["bitext_department_accuracy"]:.3f}** (target ≥ 0.93: {verdict(shipped["bitext_department_accuracy"], 0.93, at_most=False)}),
CLINC out-of-scope routed nowhere **{shipped["clinc_routed_nowhere"]:.3f}** (target ≥ 0.85:
{verdict(shipped["clinc_routed_nowhere"], 0.85, at_most=False)}), {shipped["parse_ms_per_message"]} ms per message in process.
How the department threshold (bot/config/routing.yml) trades in-scope routing against
out-of-scope rejection:

| department threshold | Bitext department accuracy | CLINC routed nowhere |
|---|---|---|
{sweep}

Baseline: TF-IDF (word 1-2-grams, character 2-5-grams) + linear SVM, trained on the same
80% (held-out figures) and on all the data (public sets) in {base["train_seconds"]} s. For
out-of-scope rejection it routes nowhere when its top score is below a margin
({base["margin"]}), chosen so it rejects as much of CLINC as the shipped model
({base["clinc_routed_nowhere"]:.3f}); without that margin its Bitext accuracy is
{base["bitext_department_accuracy_no_rejection"]:.3f} but it rejects nothing.

| measure | DIET | baseline | DIET's error / baseline's error (target ≤ 1) |
|---|---|---|---|
| held-out intent accuracy, top intent (DIET: mean of seeds) | {held_top:.3f} | {base["held_out_intent_accuracy"]:.3f} | {error_ratio(held_top, base["held_out_intent_accuracy"])} |
| held-out intent accuracy, after DIET's fallback (DIET asks instead) | {held_intent:.3f} | {base["held_out_intent_accuracy"]:.3f} | {error_ratio(held_intent, base["held_out_intent_accuracy"])} |
| held-out department accuracy | {held_dept:.3f} | {base["held_out_department_accuracy"]:.3f} | {error_ratio(held_dept, base["held_out_department_accuracy"])} |
| Bitext department accuracy at the same CLINC rejection (shipped model) | {shipped["bitext_department_accuracy"]:.3f} | {base["bitext_department_accuracy"]:.3f} | {error_ratio(shipped["bitext_department_accuracy"], base["bitext_department_accuracy"])} |
"""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", choices=["logging", "turns", "understanding"], nargs="+")
    args = parser.parse_args()
    parts = set(args.only or ["logging", "turns", "understanding"])
    started = time.monotonic()
    header = f"Machine: {machine()}. Reproduce: `make bench`."
    databases = [("SQLite", None)] + ([("PostgreSQL", POSTGRES)] if postgres_answers() else [])
    sections = []
    if "turns" in parts:
        print("==> conversation turns beside stock Rasa (bench/turns.py)", flush=True)
        postgres = ["--postgres", POSTGRES] if len(databases) > 1 else []
        sections.append(turns_section(run("turns.py", *postgres)))
    if "understanding" in parts:
        print(
            "==> understanding: DIET over three seeds, the baseline (bench/understanding.py)",
            flush=True,
        )
        sections.append(understanding_section(run("understanding.py")))
    if "logging" in parts:
        sections.append(logging_and_dispatch(databases))
    minutes = (time.monotonic() - started) / 60
    report = f"""# Benchmarks, {datetime.now():%Y-%m-%d %H:%M}

{header} The whole run took {minutes:.1f} minutes.

{chr(10).join(sections)}
Figures move with the machine's load (2 shared cores); every speed figure above is
measured beside its reference in the same run, so read the ratios first.
"""
    out = ROOT / "reports" / ("bench.md" if not args.only else "bench-partial.md.tmp")
    out.parent.mkdir(exist_ok=True)
    out.write_text(report)
    print(report)
    print(f"(written to {out.relative_to(ROOT)})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
