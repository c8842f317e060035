"""Engine layer: minimal_two_tasks through Tixi's engine functions (no HTTP) on SQLite and PostgreSQL.

Per instance: start, claim + complete the review, look up the outlet's queue, claim + complete the
confirmation; every step its own transaction. Compared with the floor-with-serialization measured
in the same run.
"""

from __future__ import annotations

import argparse
import time
from typing import Any

from cases import StepTimer, run_two_task_case
from databases import deploy_bench_process, form_catalog, scratch_database
from floor import instances_per_second
from report import emit, latency_ms, print_table

from engine.clock import FrozenClock
from engine.db import make_session_factory

WARM_UP = 10
STEP_KINDS = ("start", "claim", "complete", "list")


def measure(kind: str, count: int) -> dict[str, Any]:
    catalog, clock = form_catalog(), FrozenClock()
    with scratch_database(kind) as engine:
        deploy_bench_process(engine, clock, catalog, "minimal_two_tasks.bpmn")
        timer = StepTimer(make_session_factory(engine), clock)
        for _ in range(WARM_UP):
            run_two_task_case(timer, catalog)
        timer.samples.clear()
        began = time.perf_counter()
        for _ in range(count):
            run_two_task_case(timer, catalog)
        elapsed = time.perf_counter() - began
    every_step = [s for samples in timer.samples.values() for s in samples]
    return {
        "instances": count,
        "instances_per_s": round(count / elapsed, 1),
        "steps": {k: latency_ms(timer.samples[k]) for k in STEP_KINDS} | {"all": latency_ms(every_step)},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="fewer instances")
    parser.add_argument("--databases", default="sqlite,postgresql")
    args = parser.parse_args()
    count = 100 if args.quick else 500
    floor, _ = instances_per_second(200 if args.quick else 1000, serialize=True)
    results = {kind: measure(kind, count) for kind in args.databases.split(",")}
    rows = []
    for kind, result in results.items():
        result["ratio_to_floor_serialized"] = round(result["instances_per_s"] / floor, 3)
        for step, figures in result["steps"].items():
            rows.append([kind, step, figures["p50_ms"], figures["p95_ms"], figures["p99_ms"]])
    print_table(f"Engine layer, minimal_two_tasks: per-step latency ({count} instances per database)",
                ["database", "step", "p50 ms", "p95 ms", "p99 ms"], rows)
    print_table("Engine layer throughput against the floor measured in this run",
                ["database", "instances/s", "floor+ser instances/s", "ratio", "target"],
                [[k, r["instances_per_s"], floor, r["ratio_to_floor_serialized"],
                  "≥ 0.7" if k == "postgresql" else ""] for k, r in results.items()])
    emit({"floor_serialized_instances_per_s": round(floor, 1), "engine": results})


if __name__ == "__main__":
    main()
