"""Run every benchmark in turn (each in its own process), then print a combined table against the
issue's targets and, as the last line, one JSON object with every figure and the machine.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from databases import versions
from report import emit, print_table

from engine.clock import SystemClock

HERE = Path(__file__).resolve().parent
SCRIPTS = ("floor.py", "engine_layer.py", "statements.py", "long_case.py", "footprint.py", "http_api.py", "queues.py",
           "timers.py", "server_memory.py")
# Issue 18: a user step is one transaction of at most this many statements on PostgreSQL.
STEP_STATEMENTS = 8


def machine() -> dict[str, Any]:
    model = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                  if line.startswith("model name")), platform.processor())
    mem_kb = next(int(line.split()[1]) for line in Path("/proc/meminfo").read_text().splitlines()
                  if line.startswith("MemTotal"))
    return {"nproc": os.cpu_count(), "cpu": model, "ram_gib": round(mem_kb / 1024 ** 2, 1),
            "python": platform.python_version(), **versions()}


def run(script: str, quick: bool) -> dict[str, Any]:
    """Run one script, echo its tables, and hand back its JSON line ({"error": ...} if it failed)."""
    command = [sys.executable, str(HERE / script), *(["--quick"] if quick else [])]
    began = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, cwd=HERE.parent)
    lines = done.stdout.rstrip().splitlines()
    print("\n".join(lines[:-1]), flush=True)
    try:
        figures: dict[str, Any] = json.loads(lines[-1])
    except (IndexError, json.JSONDecodeError):
        print(done.stdout[-2000:], done.stderr[-4000:], sep="\n", file=sys.stderr)
        figures = {"error": f"{script} exited {done.returncode}"}
    figures["seconds"] = round(time.perf_counter() - began, 1)
    return figures


def summary_rows(results: dict[str, dict[str, Any]]) -> list[list[Any]]:
    floor, engine = results["floor.py"], results["engine_layer.py"].get("engine", {})
    long_case, footprint = results["long_case.py"], results["footprint.py"].get("footprint", {})
    rows: list[list[Any]] = [
        ["floor, in memory (instances/s)", floor.get("floor_instances_per_s"), "", ""],
        ["floor, serialize each step (instances/s)", floor.get("floor_serialized_instances_per_s"), "", ""],
    ]
    layer = results["engine_layer.py"]
    rows.append(["durable-write floor, raw psycopg (instances/s)", layer.get("durable_write_floor_instances_per_s"), "", ""])
    rows.append(["combined limit 1/(1/floor+ser + 1/durable) (instances/s)", layer.get("combined_limit_instances_per_s"),
                 "", ""])
    for kind in ("sqlite", "postgresql", "postgresql, claim in complete"):
        if kind in engine:
            figures = engine[kind]
            rows.append([f"engine layer {kind} (instances/s)", figures["instances_per_s"], "", ""])
            rows.append([f"engine layer {kind}, step p50/p95/p99 ms",
                         "/".join(str(figures["steps"]["all"][f"p{q}_ms"]) for q in (50, 95, 99)), "", ""])
            rows.append([f"engine layer {kind} / floor with serialization", figures["ratio_to_floor_serialized"], "", ""])
            if "ratio_to_combined_limit" in figures:
                ratio = figures["ratio_to_combined_limit"]
                rows.append([f"engine layer {kind} / combined limit", ratio, "≥ 0.5", _met(ratio >= 0.5)])
    for kind, by_step in results["statements.py"].get("statements", {}).items():
        for step in ("claim", "complete"):
            if step in by_step:
                figures = by_step[step]
                rows.append([f"{kind} statements (commits) per {step}", f"{figures['statements']} ({figures['commits']})",
                             f"≤ {STEP_STATEMENTS} (1)",
                             _met(figures["statements"] <= STEP_STATEMENTS and figures["commits"] <= 1)])
    for iteration, figures in long_case.get("long_case", {}).items():
        rows.append([f"long case, step ms at iteration {iteration}", figures["step_ms"], "", ""])
    if "long_case_growth" in long_case:
        stuck = long_case["long_case_stuck"]
        rows.append([f"long case, iteration {long_case['long_case_growth_at']} / iteration 10",
                     long_case["long_case_growth"], "≤ 2 at 1,000",
                     _met(long_case["long_case_growth"] <= 2) if stuck is None
                     else f"missed: no task at iteration {stuck['iteration']}, instance {stuck['instance_status']}"])
    if "bytes_per_instance" in footprint:
        rows.append(["footprint, bytes per finished instance (PostgreSQL)", footprint["bytes_per_instance"],
                     "≤ 8,192", _met(footprint["bytes_per_instance"] <= 8192)])
    for key, by_kind in engine_shapes(results).items():
        for kind, figures in by_kind.items():
            rows.append([f"engine layer {key} {kind} (instances/s; steps p95 ms)",
                         f"{figures['instances_per_s']}; {figures['steps']['all']['p95_ms']}", "", ""])
    return rows + http_rows(results) + queue_rows(results) + timer_rows(results) + memory_rows(results)


def engine_shapes(results: dict[str, dict[str, Any]]) -> dict[str, Any]:
    shapes: dict[str, Any] = results["engine_layer.py"].get("shapes", {})
    return shapes


def http_rows(results: dict[str, dict[str, Any]]) -> list[list[Any]]:
    rows: list[list[Any]] = []
    for name, run in results["http_api.py"].get("http", {}).items():
        for batch in run["batches"].values():
            worst = max(batch["latency"].items(), key=lambda item: item[1]["p95_ms"] if item[0] != "login" else 0)
            rows.append([f"HTTP {name}, {batch['clients']} client(s): instances/s (÷ floor with serialization)",
                         f"{batch['instances_per_s']} ({batch['ratio_to_floor_serialized']})", "", ""])
            rows.append([f"HTTP {name}, {batch['clients']} client(s): server CPU ms per instance; slowest p95",
                         f"{batch['server_cpu_s_per_instance'] * 1000:.0f}; {worst[0]} {worst[1]['p95_ms']} ms", "", ""])
        last = run["rss"][-1]
        rows.append([f"HTTP {name}: server RSS after {last['instances']:,} instances (MiB)",
                     round(last["rss_kib"] / 1024), "", ""])
    return rows


def queue_rows(results: dict[str, dict[str, Any]]) -> list[list[Any]]:
    rows: list[list[Any]] = []
    queues = results["queues.py"].get("queues", {})
    for size, figures in queues.items():
        p95 = figures["http_oldest_first"]["p95_ms"]
        at_target = int(size) == 1_000_000
        rows.append([f"queue GET /api/tasks at {int(size):,} open tasks, p50/p95 ms (by due p95)",
                     f"{figures['http_oldest_first']['p50_ms']}/{p95} ({figures['http_by_due']['p95_ms']})",
                     "p95 ≤ 20 at 1 M" if at_target else "", _met(p95 <= 20) if at_target else ""])
    if queues:
        largest = queues[max(queues, key=int)]
        rows.append([f"server RSS with {int(max(queues, key=int)):,} open tasks (MiB)",
                     round(largest["server_rss_kib"] / 1024), "", ""])
    return rows


def timer_rows(results: dict[str, dict[str, Any]]) -> list[list[Any]]:
    rows: list[list[Any]] = []
    for figures in results["timers.py"].get("timers", {}).values():
        two = figures["workers"] == 2
        rows.append([f"timers, {figures['timers']:,} due, {figures['workers']} worker(s): timers/s",
                     figures["timers_per_s"], "≥ 500 with 2" if two else "", _met(figures["timers_per_s"] >= 500) if two else ""])
        rows.append([f"timers, {figures['workers']} worker(s): each fired exactly once, none missed",
                     "yes" if figures["each_fired_exactly_once"] else "NO", "all", _met(figures["each_fired_exactly_once"])])
    return rows


def memory_rows(results: dict[str, dict[str, Any]]) -> list[list[Any]]:
    memory = results["server_memory.py"]
    if "server_memory_rss_mib" not in memory:
        return []
    return [[f"server RSS after {memory['server_memory_instances']:,} instances started through HTTP (MiB; "
             f"{memory['server_memory_warm_mib']} after warm-up)", memory["server_memory_rss_mib"], "after 100 k", ""]]


def _met(ok: bool) -> str:
    return "met" if ok else "missed"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="small sizes, under two minutes")
    parser.add_argument("--quick-for", default="", metavar="SCRIPTS",
                        help="comma-separated scripts run at their small size in a full run (server_memory.py: "
                             "100 k instances take half an hour on a 2-vCPU machine)")
    args = parser.parse_args()
    quick, quick_for = args.quick, set(filter(None, args.quick_for.split(",")))
    if unknown := quick_for - set(SCRIPTS):
        parser.error(f"--quick-for: no script {', '.join(sorted(unknown))} (the scripts: {', '.join(SCRIPTS)})")
    began, load_before = time.perf_counter(), os.getloadavg()[0]
    results = {script: run(script, quick or script in quick_for) for script in SCRIPTS}
    print_table(f"Tixi benchmarks ({'quick' if quick else 'full'} run) against the targets of issues 6 and 18",
                ["figure", "value", "target", "verdict"], summary_rows(results))
    failed = [script for script, figures in results.items() if "error" in figures]
    if failed:
        print(f"FAILED: {', '.join(failed)}", file=sys.stderr)
    emit({"mode": "quick" if quick else "full", "quick_for": sorted(quick_for), "date": SystemClock().now().date().isoformat(),
          "machine": machine(), "seconds": round(time.perf_counter() - began, 1),
          # Other work on the machine moves the absolute figures; the ratios are measured side by side.
          "load_avg_1m": {"before": round(load_before, 2), "after": round(os.getloadavg()[0], 2)},
          "results": {Path(script).stem: figures for script, figures in results.items()}})
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
