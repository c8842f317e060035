"""Engine layer: minimal_two_tasks through Tixi's engine functions (no HTTP) on SQLite and PostgreSQL.

Per instance: start, claim + complete the review, look up the outlet's queue, claim + complete the
confirmation; every step its own transaction. Compared with the floor-with-serialization measured
in the same run. Then the service process shapes (cases.SHAPES): complaint handling (7 user steps
with a call activity and a parallel split) and outlet onboarding (7 tasks and a 3-month probation
timer fired by the engine), each task found through the worker's queue.
"""

from __future__ import annotations

import argparse
import time
from typing import Any

from cases import SHAPES, StepTimer, run_shape_case, run_two_task_case
from databases import deploy_bench_process, deploy_files_together, form_catalog, scratch_database
from durable_floor import cases_per_second
from floor import instances_per_second
from report import emit, latency_ms, print_table

from engine.clock import FrozenClock
from engine.config import EngineConfig
from engine.workflow_store import session_factory

WARM_UP = 10
STEP_KINDS = ("start", "claim", "complete", "list")
SERVICE_SHAPES = ("complaint_handling", "outlet_onboarding")
CLAIM_IN_COMPLETE = "postgresql, claim in complete"


def measure(kind: str, count: int, claim_in_complete: bool = False) -> dict[str, Any]:
    """`claim_in_complete`: each task claimed and completed in one step, as the HTTP API's
    `"claim": true` and the decision buttons do (4 transactions per case instead of 6)."""
    catalog, clock = form_catalog(), FrozenClock()
    with scratch_database(kind) as engine:
        deploy_bench_process(engine, clock, catalog, "minimal_two_tasks.bpmn")
        timer = StepTimer(session_factory(engine, EngineConfig()), clock)
        for _ in range(WARM_UP):
            run_two_task_case(timer, catalog, claim_in_complete=claim_in_complete)
        timer.samples.clear()
        began = time.perf_counter()
        for _ in range(count):
            run_two_task_case(timer, catalog, claim_in_complete=claim_in_complete)
        elapsed = time.perf_counter() - began
    every_step = [s for samples in timer.samples.values() for s in samples]
    return {
        "instances": count,
        "instances_per_s": round(count / elapsed, 1),
        "steps": {k: latency_ms(v) for k, v in timer.samples.items()} | {"all": latency_ms(every_step)},
    }


def measure_shape(kind: str, count: int, key: str) -> dict[str, Any]:
    """`count` instances of a service process shape, each from start to end."""
    catalog, clock, shape = form_catalog(), FrozenClock(), SHAPES[key]
    with scratch_database(kind) as engine:
        deploy_files_together(engine, clock, catalog, shape.files)
        timer = StepTimer(session_factory(engine, EngineConfig()), clock)
        run_shape_case(timer, catalog, shape)  # warm up
        timer.samples.clear()
        began = time.perf_counter()
        for _ in range(count):
            run_shape_case(timer, catalog, shape)
        elapsed = time.perf_counter() - began
    every_step = [s for samples in timer.samples.values() for s in samples]
    return {"instances": count, "instances_per_s": round(count / elapsed, 1),
            "steps_per_instance": round(len(every_step) / count, 1),
            "steps": {k: latency_ms(v) for k, v in timer.samples.items()} | {"all": latency_ms(every_step)}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="fewer instances")
    parser.add_argument("--databases", default="sqlite,postgresql")
    args = parser.parse_args()
    count = 60 if args.quick else 500
    floor, _ = instances_per_second(200 if args.quick else 1000, serialize=True)
    results = {kind: measure(kind, count) for kind in args.databases.split(",")}
    if "postgresql" in results:  # the same case, each task claimed and completed in one step
        results[CLAIM_IN_COMPLETE] = measure("postgresql", count, claim_in_complete=True)
    # Issue 18's combined limit: SpiffWorkflow with a serializer round trip per step, plus the
    # durable writes of raw psycopg, one after the other on one connection, both measured now.
    durable = cases_per_second(200 if args.quick else 1000) if "postgresql" in results else None
    combined = 1 / (1 / floor + 1 / durable) if durable else None
    rows = []
    for kind, result in results.items():
        result["ratio_to_floor_serialized"] = round(result["instances_per_s"] / floor, 3)
        if kind in ("postgresql", CLAIM_IN_COMPLETE) and combined:
            result["ratio_to_combined_limit"] = round(result["instances_per_s"] / combined, 3)
        for step, figures in result["steps"].items():
            rows.append([kind, step, figures["p50_ms"], figures["p95_ms"], figures["p99_ms"]])
    print_table(f"Engine layer, minimal_two_tasks: per-step latency ({count} instances per database)",
                ["database", "step", "p50 ms", "p95 ms", "p99 ms"], rows)
    print_table("Engine layer throughput against the floors measured in this run",
                ["database", "instances/s", "floor+ser", "ratio", "durable floor", "combined limit", "ratio", "target"],
                [[k, r["instances_per_s"], round(floor, 1), r["ratio_to_floor_serialized"],
                  *((durable, round(combined, 1), r["ratio_to_combined_limit"], "≥ 0.5")
                    if "ratio_to_combined_limit" in r and durable and combined else ("-", "-", "-", ""))]
                 for k, r in results.items()])
    shapes = {key: {kind: measure_shape(kind, 10 if args.quick else 100, key) for kind in args.databases.split(",")}
              for key in SERVICE_SHAPES}
    rows = [[key, kind, r["instances_per_s"], r["steps_per_instance"],
             *(r["steps"][k]["p50_ms"] if k in r["steps"] else "-" for k in (*STEP_KINDS, "timer")),
             r["steps"]["all"]["p95_ms"]]
            for key, by_kind in shapes.items() for kind, r in by_kind.items()]
    print_table("Engine layer, service process shapes: instances/s and step p50 ms (p95 of all steps)",
                ["process", "database", "instances/s", "steps", *STEP_KINDS, "timer", "all p95"], rows)
    emit({"floor_serialized_instances_per_s": round(floor, 1), "durable_write_floor_instances_per_s": durable,
          "combined_limit_instances_per_s": round(combined, 1) if combined else None,
          "engine": results, "shapes": shapes})


if __name__ == "__main__":
    main()
