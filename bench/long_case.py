"""Long cases: one instance of loop_task reopened N times through the engine layer on SQLite.

Each iteration is a person's step: look up the queue, claim the task, complete it (the script
counts, the gateway sends the case back). The time per step at an iteration is the median of the
five iterations ending there; the target is iteration 1,000 within 2x of iteration 10.
If the case's task stops showing up in the queue, the run stops there and says so.
"""

from __future__ import annotations

import argparse
import statistics
import time
import uuid
from typing import Any

from cases import DIRECTOR, FORM_DATA, OUTLET, StepTimer, work_task
from databases import deploy_bench_process, form_catalog, scratch_database
from report import emit, print_table
from sqlalchemy import func, select

from engine.clock import FrozenClock
from engine.config import EngineConfig
from engine.instances import start_instance
from engine.tables import Instance
from engine.task_queue import list_tasks
from engine.workflow_store import session_factory

WINDOW = 5


def run_loop(checkpoints: list[int]) -> tuple[dict[int, dict[str, Any]], dict[str, Any] | None]:
    """Figures at each checkpoint reached (and at the last iteration done if the case got stuck),
    and, if it got stuck, the iteration whose task never reached the queue and the instance's status."""
    catalog, clock = form_catalog(), FrozenClock()
    limit = max(checkpoints)
    with scratch_database("sqlite") as engine:
        deploy_bench_process(engine, clock, catalog, "loop_task.bpmn")
        timer = StepTimer(session_factory(engine, EngineConfig()), clock)
        business_key = f"bench-{uuid.uuid4().hex[:12]}"
        started = timer.step("start", lambda s: start_instance(
            s, clock, catalog, actor=OUTLET, definition_key="loop_task", business_key=business_key,
            variables={"count": 0, "limit": limit}))
        durations: list[float] = []

        def figures_at(iteration: int) -> dict[str, Any]:
            window = slice(max(0, iteration - WINDOW), iteration)
            with timer.factory() as session:
                state_chars, status = session.execute(
                    select(func.length(Instance.state), Instance.status)
                    .where(Instance.instance_id == started.summary.instance_id)).one()
            return {"step_ms": round(statistics.median(durations[window]) * 1000, 2),
                    "complete_ms": round(statistics.median(timer.samples["complete"][window]) * 1000, 2),
                    "state_chars": state_chars, "status": status}

        figures: dict[int, dict[str, Any]] = {}
        for iteration in range(1, limit + 1):
            began = time.perf_counter()
            queue = timer.step("list", lambda s: list_tasks(s, actor=DIRECTOR, business_key=business_key, limit=1))
            if not queue.items:
                figures[iteration - 1] = figures_at(iteration - 1)
                return figures, {"iteration": iteration, "instance_status": figures[iteration - 1]["status"]}
            work_task(timer, catalog, DIRECTOR, queue.items[0].task_id, FORM_DATA["work"])
            durations.append(time.perf_counter() - began)
            if iteration in checkpoints:
                figures[iteration] = figures_at(iteration)
    return figures, None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="stop at iteration 300")
    checkpoints = [10, 100, 300] if parser.parse_args().quick else [10, 100, 1000]
    figures, stuck = run_loop(checkpoints)
    first, last = min(figures), max(figures)
    growth = round(figures[last]["step_ms"] / figures[first]["step_ms"], 2)
    print_table("Long case: loop_task through the engine layer on SQLite (median of 5 iterations)",
                ["iteration", "step ms", "of which complete ms", "state chars", "instance"],
                [[i, f["step_ms"], f["complete_ms"], f["state_chars"], f["status"]] for i, f in sorted(figures.items())])
    if stuck is not None:
        print(f"STUCK: after {stuck['iteration'] - 1} iterations the case's task no longer reached the queue and "
              f"the instance is '{stuck['instance_status']}' although count < limit; iteration "
              f"{checkpoints[-1]} was never reached")
    print(f"iteration {last} / iteration {first}: {growth}x (target ≤ 2x at 1,000)")
    emit({"long_case": {str(i): f for i, f in sorted(figures.items())}, "long_case_growth": growth,
          "long_case_growth_at": last, "long_case_stuck": stuck, "long_case_target_iteration": checkpoints[-1]})


if __name__ == "__main__":
    main()
