"""Messages per second with one vs two Rasa servers behind nginx, on this machine.

Usage: .venv/bin/python bench/scale.py [--conversations 16] [--rounds 2] [--out reports/scale.md]

For 1 and then 2 Rasa servers, starts the scale-out layout of deploy/README.md
(tests/scale/cluster.py: PostgreSQL tracker and journey stores, Redis lock store, 2 action
servers behind nginx, the hub, a dispatcher, nginx in front) and drives the same load
through nginx: ``--conversations`` virtual customers at once, each holding the 20-turn
conversation of the load test (tests/load_driver.py), ``--rounds`` times with fresh senders.
Everything else is the same between the two runs, so the ratio is what the second Rasa
server buys on this machine. CPU seconds per process kind are read from /proc, to show where
the cores went. Writes a Markdown report (reports/scale.md) and prints it.
Not part of `make bench`: it needs PostgreSQL, Redis and nginx (`make nginx`).
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests import load_driver  # noqa: E402
from tests.load_driver import TURNS, Conversation, converse, percentile  # noqa: E402
from tests.scale.cluster import cluster  # noqa: E402

TICKS = os.sysconf("SC_CLK_TCK")


def log(message: str) -> None:
    print(f"    {message}", file=sys.stderr, flush=True)


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of one process so far (0 once it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / TICKS


def machine_busy() -> tuple[float, float]:
    """(busy, total) jiffies of the whole machine from /proc/stat."""
    values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = values[3] + values[4]  # idle + iowait
    return sum(values) - idle, sum(values)


def kernel_and_steal() -> tuple[float, float]:
    """(interrupt handling, time the hypervisor gave to other guests) in jiffies so far.

    Loopback TCP between the processes is handled in softirq, counted to no process; steal
    is CPU this virtual machine wanted and did not get.
    """
    values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    return values[5] + values[6], values[7]


def postgres_seconds() -> float:
    """CPU seconds of every PostgreSQL process on the machine (other databases' included)."""
    total = 0.0
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if (entry / "comm").read_text().strip() == "postgres":
                    total += cpu_seconds(int(entry.name))
            except OSError:
                continue
    return total


def kind(name: str) -> str:
    return name.rstrip("0123456789 ") or name


def drive(url: str, conversations: int, label: str) -> dict:
    """One round: ``conversations`` customers at once, 20 turns each, through nginx."""
    convos = [Conversation(n, f"{label}-{n:02d}") for n in range(conversations)]
    gate = threading.Barrier(conversations)
    began = time.perf_counter()
    with ThreadPoolExecutor(max_workers=conversations) as pool:
        done = list(pool.map(lambda c: converse(url, c, gate.wait), convos))
    elapsed = time.perf_counter() - began
    latencies = [s for c in done for s in c.latencies]
    problems = sum(len(c.errors) + len(c.wrong) + len(c.crosstalk) for c in done)
    return {
        "turns": len(latencies),
        "seconds": elapsed,
        "msg_per_s": len(latencies) / elapsed,
        "p50_ms": statistics.median(latencies) * 1000,
        "p95_ms": percentile(latencies, 95) * 1000,
        "problems": problems,
        "apologies": sum(load_driver.APOLOGY in r for c in done for r in c.replies),
    }


def measure(rasa: int, conversations: int, rounds: int, work: Path) -> dict:
    log(f"starting the layout with {rasa} Rasa server(s)")
    started = time.monotonic()
    with cluster(work / f"rasa{rasa}", rasa=rasa, actions=2, dispatchers=1) as running:
        log(f"ready in {time.monotonic() - started:.0f} s")
        # Warm-up, not measured: each action server builds its services on its first call,
        # and each Rasa loads lazily what its first turns need.
        for i in range(4 * rasa):
            requests.post(
                f"{running.url}/webhooks/rest/webhook",
                json={"sender": f"warmup-{rasa}-{i}", "message": "where is my order ORD-99999?"},
                timeout=120,
            ).raise_for_status()
        results = []
        cpu: dict[str, float] = {}
        with load_driver.load_customers(running.settings.backoffice_url, conversations):
            for r in range(rounds):
                before = {p.name: cpu_seconds(p.popen.pid) for p in running.procs}
                me_before = time.process_time()
                busy_before, total_before = machine_busy()
                postgres_before = postgres_seconds()
                irq_before, steal_before = kernel_and_steal()
                result = drive(running.url, conversations, f"bench{rasa}-{int(time.time())}-{r}")
                busy_after, total_after = machine_busy()
                result["machine_busy"] = (busy_after - busy_before) / (total_after - total_before)
                cpu["PostgreSQL (every database on it)"] = cpu.get(
                    "PostgreSQL (every database on it)", 0.0
                ) + (postgres_seconds() - postgres_before)
                irq_after, steal_after = kernel_and_steal()
                for name, spent in (
                    ("kernel: interrupts (loopback network)", irq_after - irq_before),
                    ("steal (hypervisor)", steal_after - steal_before),
                ):
                    cpu[name] = cpu.get(name, 0.0) + spent / TICKS
                cpu["machine, all processes"] = (
                    cpu.get("machine, all processes", 0.0) + (busy_after - busy_before) / TICKS
                )
                for p in running.procs:
                    spent = cpu_seconds(p.popen.pid) - before[p.name]
                    cpu[kind(p.name)] = cpu.get(kind(p.name), 0.0) + spent
                cpu["load generator (this process)"] = cpu.get(
                    "load generator (this process)", 0.0
                ) + (time.process_time() - me_before)
                results.append(result)
                log(
                    f"{rasa} Rasa, round {r + 1}: {result['turns']} turns in "
                    f"{result['seconds']:.1f} s = {result['msg_per_s']:.1f} msg/s, p50 "
                    f"{result['p50_ms']:.0f} ms, p95 {result['p95_ms']:.0f} ms, machine "
                    f"{result['machine_busy']:.0%} busy, {result['problems']} problems"
                )
        seconds = sum(r["seconds"] for r in results)
    return {"rasa": rasa, "rounds": results, "cpu": cpu, "seconds": seconds}


def report(runs: list[dict], conversations: int, rounds: int, facts: dict) -> str:
    def total(run: dict, key: str) -> float:
        return sum(r[key] for r in run["rounds"])

    rows = []
    for run in runs:
        turns = total(run, "turns")
        rows.append(
            (
                run["rasa"],
                turns,
                turns / total(run, "seconds"),
                statistics.median(r["p50_ms"] for r in run["rounds"]),
                max(r["p95_ms"] for r in run["rounds"]),
                statistics.mean(r["machine_busy"] for r in run["rounds"]),
                sum(r["problems"] for r in run["rounds"]),
                sum(r["apologies"] for r in run["rounds"]),
            )
        )
    one, two = rows[0][2], rows[1][2]
    ratio = two / one
    lines = [
        "# Scale-out: one vs two Rasa servers behind nginx",
        "",
        f"Measured {facts['when']} by `bench/scale.py` on {facts['cores']} cores "
        f"({facts['cpu']}), {facts['memory_gib']:.0f} GiB; load average at start "
        f"{facts['load']}. Python {platform.python_version()}.",
        "",
        "Layout (tests/scale/cluster.py, deploy/README.md): PostgreSQL tracker and journey "
        "stores, Redis lock store, 2 action servers behind nginx, the hub, one dispatcher, "
        "nginx in front; only the number of Rasa servers changes. Load: "
        f"{conversations} customers at once, each holding the 20-turn conversation of the load "
        f"test (tests/load_driver.py) one message at a time, {rounds} rounds of "
        f"{conversations * TURNS} turns per layout, through nginx.",
        "",
        "| Rasa servers | turns | msg/s | p50 ms | p95 ms | machine busy | wrong/unanswered | apologies |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for rasa, turns, rate, p50, p95, busy, problems, apologies in rows:
        lines.append(
            f"| {rasa} | {turns} | {rate:.1f} | {p50:.0f} | {p95:.0f} | {busy:.0%} | "
            f"{problems} | {apologies} |"
        )
    lines += [
        "",
        f"**Ratio, two Rasa servers to one: {ratio:.2f}x** messages per second.",
        "",
        "CPU seconds spent during the measured rounds, by process kind:",
        "",
        "| process | " + " | ".join(f"{r['rasa']} Rasa" for r in runs) + " |",
        "|---|" + "---|" * len(runs),
    ]
    for run in runs:  # what ran beside the layout: another user's jobs, the kernel
        ours = sum(v for k, v in run["cpu"].items() if k != "machine, all processes")
        run["cpu"]["everything else (other jobs on the machine)"] = max(
            0.0, run["cpu"]["machine, all processes"] - ours
        )
    kinds = sorted({k for r in runs for k in r["cpu"]} - {"machine, all processes"})
    kinds.append("machine, all processes")
    for k in kinds:
        lines.append(f"| {k} | " + " | ".join(f"{r['cpu'].get(k, 0.0):.0f} s" for r in runs) + " |")
    lines.append(
        "| wall-clock seconds of the rounds | "
        + " | ".join(f"{r['seconds']:.0f} s" for r in runs)
        + " |"
    )
    lines += ["", "## What it predicts", "", explanation(ratio, runs, facts["cores"])]
    return "\n".join(lines) + "\n"


def explanation(ratio: float, runs: list[dict], cores: int) -> str:
    one, two = runs
    turns = sum(r["turns"] for r in one["rounds"])
    rasa_ms = one["cpu"].get("Rasa server", 0.0) / turns * 1000
    actions_ms = one["cpu"].get("action server", 0.0) / turns * 1000
    postgres_ms = one["cpu"].get("PostgreSQL (every database on it)", 0.0) / turns * 1000
    # Everything the machine spent per turn, once two Rasa servers keep it busy.
    total_ms = two["cpu"]["machine, all processes"] / sum(r["turns"] for r in two["rounds"]) * 1000
    rasa_cores = one["cpu"].get("Rasa server", 0.0) / max(one["seconds"], 1e-9)
    others = one["cpu"].get("everything else (other jobs on the machine)", 0.0) / max(
        one["seconds"], 1e-9
    )
    idle = 1 - statistics.mean(r["machine_busy"] for r in one["rounds"])
    per_rasa = 1000 / rasa_ms
    per_core = 1000 / total_ms
    return (
        f"Each turn cost about {rasa_ms:.0f} ms of CPU in Rasa, {actions_ms:.0f} ms in the "
        f"action servers and {postgres_ms:.0f} ms in PostgreSQL; all processes together "
        f"(nginx, the kernel's loopback networking and the load generator included) about "
        f"{total_ms:.0f} ms. A Rasa server is one Python process and uses at most one core, "
        f"so one Rasa server tops out near {per_rasa:.0f} msg/s on any machine: here it used "
        f"{rasa_cores:.2f} of a core while {idle:.0%} of the machine's {cores} cores stayed "
        f"idle{f' ({others:.2f} cores went to jobs outside this layout)' if others >= 0.05 else ''}. "
        "The second Rasa server takes that idle core, but on 2 cores it shares it with the "
        "action servers, PostgreSQL, nginx and the load generator, which is why two give "
        f"{ratio:.2f}x and not 2x: the machine was then about "
        f"{statistics.mean(r['machine_busy'] for r in two['rounds']):.0%} busy, so a third "
        "Rasa server here would add nothing. What it predicts for more cores: about "
        f"{per_core:.0f} msg/s per core of the whole layout (1000 / {total_ms:.0f} ms), "
        f"with a Rasa server for every {total_ms / rasa_ms:.1f} cores or so (Rasa is "
        f"{rasa_ms / total_ms:.0%} of the work), roughly linear until a shared part "
        "saturates: PostgreSQL first (it is a small share per turn here, but every Rasa "
        "server and action server writes to it), Redis much later (a few lock calls per "
        "turn). These are figures from 2 cores and one run; on a bigger machine, measure "
        "again with `bench/scale.py` before sizing."
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--conversations", type=int, default=16)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--out", type=Path, default=ROOT / "reports" / "scale.md")
    args = parser.parse_args()
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    memory_kib = int(Path("/proc/meminfo").read_text().split()[1])
    facts = {
        "when": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "cores": os.cpu_count(),
        "cpu": cpu,
        "memory_gib": memory_kib / 1024 / 1024,
        "load": " / ".join(f"{v:.2f}" for v in os.getloadavg()) + " (1/5/15 min)",
    }
    with tempfile.TemporaryDirectory(prefix="cx-bench-scale-") as tmp:
        runs = [measure(n, args.conversations, args.rounds, Path(tmp)) for n in (1, 2)]
    text = report(runs, args.conversations, args.rounds, facts)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
