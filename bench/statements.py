"""Statements and commits per step: the two-task case through the engine layer on PostgreSQL.

Counts every statement the driver sends (SQLAlchemy's `before_cursor_execute`, BEGIN and COMMIT
included as the driver sees them) per step kind, and the commits, with the statements' text so a
rise can be traced to its query. The timer step is the tick over due cases of timer_wait.bpmn,
in batches of 100 as bench/timers.py's workers fire them: a batch of N timers counts as N steps.
Issue 18's target: a user step (claim, complete, message, timer)
is one transaction of at most 8 statements; a read commits nothing it does not need.
"""

from __future__ import annotations

import argparse
import re
from collections import Counter, defaultdict
from datetime import timedelta
from typing import Any

from cases import OUTLET, StepTimer, run_two_task_case
from databases import deploy_bench_process, form_catalog, scratch_database
from report import emit, print_table
from sqlalchemy import Engine, event

from engine.clock import FrozenClock
from engine.config import EngineConfig
from engine.db import READS_ONLY, transaction
from engine.instances import start_instance
from engine.timers import fire_due_timers
from engine.workflow_store import session_factory

TARGET_STATEMENTS = 8
USER_STEPS = ("claim", "complete", "claim+complete", "timer")
TIMER_BATCH = 100  # cases whose timers one tick fires together, as bench/timers.py's workers claim them


class StatementCounter:
    """Counts what the engine sends while a step runs; `current` names the step kind being counted."""

    def __init__(self, engine: Engine) -> None:
        self.current: str | None = None
        self.statements: dict[str, list[str]] = defaultdict(list)
        self.commits: Counter[str] = Counter()
        event.listen(engine, "before_cursor_execute", self._on_statement)
        event.listen(engine, "commit", self._on_commit)

    def _on_statement(self, _conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if self.current is not None:
            self.statements[self.current].append(_shape(statement))

    def _on_commit(self, conn: Any) -> None:
        # A read (engine.db.reading) ends its session's transaction too, but in autocommit: nothing is sent.
        if conn.get_execution_options().get(READS_ONLY):
            return
        if self.current is not None:
            self.commits[self.current] += 1


def _shape(statement: str) -> str:
    """The statement's first words and table: enough to tell the queries apart in the listing."""
    text = re.sub(r"\s+", " ", statement).strip()
    verb = text.split(" ", 1)[0].upper()
    table = re.search(r"\b(?:FROM|INTO|UPDATE)\s+(\w+)", text, re.IGNORECASE)
    return f"{verb} {table.group(1) if table else ''}".strip()


class CountingTimer(StepTimer):
    def __init__(self, counter: StatementCounter, *args: Any) -> None:
        super().__init__(*args)
        self.counter = counter
        self.steps: Counter[str] = Counter()

    def step(self, kind: str, work: Any) -> Any:
        self.counter.current = kind
        self.steps[kind] += 1
        try:
            return super().step(kind, work)
        finally:
            self.counter.current = None


def measure(kind: str, count: int) -> dict[str, Any]:
    catalog, clock = form_catalog(), FrozenClock()
    with scratch_database(kind) as engine:
        deploy_bench_process(engine, clock, catalog, "minimal_two_tasks.bpmn")
        counter = StatementCounter(engine)
        factory = session_factory(engine, EngineConfig())
        run_two_task_case(StepTimer(factory, clock), catalog)  # warm the workflow cache, as a server is
        timer = CountingTimer(counter, factory, clock)
        for _ in range(count):
            run_two_task_case(timer, catalog)
            run_two_task_case(timer, catalog, claim_in_complete=True)
    return {step: {"statements": round(len(counter.statements[step]) / n, 1),
                   "commits": round(counter.commits[step] / n, 1),
                   "kinds": {k: round(v / n, 2) for k, v in Counter(counter.statements[step]).most_common()}}
            for step, n in timer.steps.items()}


def measure_timers(kind: str, count: int) -> dict[str, Any]:
    """The timer tick over `count` due cases of bench/processes/timer_wait.bpmn: a batch of N timers counts N steps."""
    catalog, clock = form_catalog(), FrozenClock()
    with scratch_database(kind) as engine:
        deploy_bench_process(engine, clock, catalog, "timer_wait.bpmn")
        factory = session_factory(engine, EngineConfig())
        for number in range(count + 1):
            with transaction(factory) as session:
                start_instance(session, clock, catalog, actor=OUTLET, definition_key="timer_wait",
                               business_key=f"timer-{number}")
        clock.advance(timedelta(hours=1, minutes=1))
        fire_due_timers(factory, clock, limit=1)  # warm, as a running worker is
        counter = StatementCounter(engine)
        counter.current = "timer"
        fired = 0
        while batch := fire_due_timers(factory, clock, limit=TIMER_BATCH):
            fired += batch
        counter.current = None
    shapes = Counter(counter.statements["timer"])
    return {"statements": round(len(counter.statements["timer"]) / fired, 2),
            "commits": round(counter.commits["timer"] / fired, 3),
            "kinds": {k: round(v / fired, 3) for k, v in shapes.most_common()}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--databases", default="postgresql")
    parser.add_argument("--instances", type=int, default=20)
    parser.add_argument("--timers", type=int, default=200, help="due cases the timer tick fires, in batches of 100")
    parser.add_argument("--quick", action="store_true", help="accepted for run_all.py; the run is small anyway")
    args = parser.parse_args()
    results = {kind: {**measure(kind, args.instances), "timer": measure_timers(kind, args.timers)}
               for kind in args.databases.split(",")}
    print_table("Statements and commits per step, minimal_two_tasks, engine layer",
                ["database", "step", "statements", "commits", "target"],
                [[kind, step, r["statements"], r["commits"],
                  f"≤ {TARGET_STATEMENTS}, 1 commit" if step in USER_STEPS else ""]
                 for kind, by_step in results.items() for step, r in by_step.items()])
    for kind, by_step in results.items():
        for step, r in by_step.items():
            print(f"{kind} {step}: " + ", ".join(f"{k} ×{v:g}" for k, v in r["kinds"].items()))
    emit({"statements": results})


if __name__ == "__main__":
    main()
