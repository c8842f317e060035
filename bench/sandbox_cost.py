"""What running sandboxed code in worker processes costs: in-process against worker, in the same run.

Issue 13, finding 5 moved every expression and script into a warm worker process that can be
killed. This measures, alternating the two ways round by round so that the machine's noise hits
both alike:
- one gateway condition and one script task, evaluated directly (microseconds per call);
- a decision table of 10 rules (a business-rule task's cells);
- the complaint_handling and outlet_onboarding shapes through the engine layer on SQLite
  (instances/s), whose gateways and scripts run in the sandbox.
"in-process" swaps the worker calls back for the in-process evaluator and runner (what ran before).
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable, Iterator, Mapping, MutableMapping
from contextlib import contextmanager, nullcontext
from typing import Any

from engine_layer import measure_shape
from report import emit, print_table

from engine.bpmn import sandbox, sandbox_process
from engine.bpmn.sandbox import SandboxedEnvironment
from engine.bpmn.sandbox_limits import MAX_DATA_LENGTH, _text_length

ENV = SandboxedEnvironment()
CASE = {"days_since_purchase": 12, "quality_problem": True, "significant_problem": False,
        "customer_name": "王伟", "notes": "x" * 2000, "amount": 320.5}
CONDITION = "days_since_purchase <= 15 and quality_problem"  # runs in-process either way (scalars only)
HEAVY_CONDITION = "len(customer_name) > 0 and days_since_purchase <= 15"  # a call: goes to the worker
SCRIPT = "visit_count = visit_count + 1\nsummary = customer_name + ': ' + str(visit_count)"
CELLS = [f"days_since_purchase <= {limit}" for limit in range(5, 55, 5)]


def _in_process_evaluate(expression: str, names: Mapping[str, object]) -> object:
    result = sandbox._evaluate(expression, names)
    _text_length(result, MAX_DATA_LENGTH, "expression value")
    return result


def _in_process_execute(script: str, context: MutableMapping[str, object], external: Mapping[str, object]) -> None:
    sandbox._run_script(script, context, external)


@contextmanager
def in_process() -> Iterator[None]:
    saved = sandbox_process.evaluate, sandbox_process.execute
    sandbox_process.evaluate, sandbox_process.execute = _in_process_evaluate, _in_process_execute  # type: ignore[assignment]
    try:
        yield
    finally:
        sandbox_process.evaluate, sandbox_process.execute = saved  # type: ignore[assignment]


def per_call_us(call: Callable[[], Any], repeat: int) -> float:
    began = time.perf_counter()
    for _ in range(repeat):
        call()
    return (time.perf_counter() - began) / repeat * 1e6


def micro(repeat: int) -> dict[str, float]:
    context: dict[str, Any] = {**CASE, "visit_count": 0}
    return {
        "gateway_condition_us": per_call_us(lambda: ENV.evaluate(CONDITION, CASE), repeat),
        "gateway_condition_with_call_us": per_call_us(lambda: ENV.evaluate(HEAVY_CONDITION, CASE), repeat),
        "script_task_us": per_call_us(lambda: ENV.execute(SCRIPT, context), repeat),
        "ten_dmn_cells_us": per_call_us(lambda: [ENV.evaluate(c, CASE) for c in CELLS], repeat // 10),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--repeat", type=int, default=2000, help="calls per micro-benchmark round")
    parser.add_argument("--instances", type=int, default=20, help="instances per shape and round")
    args = parser.parse_args()
    ENV.evaluate("1", {})  # start the first worker outside the measurements
    figures: dict[str, dict[str, list[float]]] = {"in-process": {}, "worker": {}}
    for _ in range(args.rounds):
        for mode in ("in-process", "worker"):
            with in_process() if mode == "in-process" else nullcontext():
                results = micro(args.repeat)
                for key in ("complaint_handling", "outlet_onboarding"):
                    results[f"{key}_instances_per_s"] = measure_shape("sqlite", args.instances, key)["instances_per_s"]
            for name, value in results.items():
                figures[mode].setdefault(name, []).append(value)
    medians = {mode: {name: round(statistics.median(values), 1) for name, values in by_name.items()}
               for mode, by_name in figures.items()}
    rows = [[name, medians["in-process"][name], medians["worker"][name],
             f"{medians['worker'][name] / medians['in-process'][name]:.2f}"] for name in medians["worker"]]
    print_table(f"Sandbox in-process against worker processes (medians of {args.rounds} alternating rounds)",
                ["measure", "in-process", "worker", "worker / in-process"], rows)
    emit({"sandbox_cost": medians, "rounds": args.rounds})


if __name__ == "__main__":
    main()
