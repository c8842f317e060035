"""Where a timer step's time and statements go: one worker firing a cohort, in this process (not part of run_all).

    python bench/profile_timers.py                  # 2,000 timers on PostgreSQL, cProfile, by component
    python bench/profile_timers.py --timers 500 --top 30

The cohort is bench/timers.py's (one instance started through the engine, its rows copied in bulk).
`fire_due_timers` then runs in ticks of 100, as bench/timers.py's workers do, under cProfile and a
statement counter. The machine's load does not change the counts, and it changes the proportions
less than it changes the wall time: read those, not the seconds.
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
from collections import Counter
from datetime import timedelta
from typing import Any

from databases import deploy_bench_process, form_catalog, scratch_database
from report import emit
from sqlalchemy import Engine, event
from timers import start_cohort

from engine.clock import FrozenClock
from engine.config import EngineConfig
from engine.timers import fire_due_timers
from engine.workflow_store import session_factory

# The first match in a frame's file path names its component (cProfile's own time, "tottime").
COMPONENTS = (("/sqlalchemy/", "SQLAlchemy"), ("/psycopg", "psycopg (incl. waiting for the server)"),
              ("/SpiffWorkflow/", "SpiffWorkflow"), ("/json/", "JSON"), ("/jsonschema", "jsonschema"),
              ("/wt-", "Tixi"), ("/engine/", "Tixi"), ("{built-in method _json", "JSON"),
              ("{method 'execute' of 'psycopg", "psycopg (incl. waiting for the server)"),
              ("{built-in method", "Python built-ins"), ("{method", "Python built-ins"))


def component(filename: str) -> str:
    return next((label for needle, label in COMPONENTS if needle in filename), "other Python")


def count_statements(engine: Engine) -> Counter[str]:
    seen: Counter[str] = Counter()

    @event.listens_for(engine, "before_cursor_execute")
    def _statement(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        words = statement.split()
        table = next((words[i + 1] for i, w in enumerate(words[:-1]) if w.upper() in ("FROM", "INTO", "UPDATE")), "")
        seen[f"{words[0].upper()} {table}".strip()] += 1

    @event.listens_for(engine, "commit")
    def _commit(_conn: Any) -> None:
        seen["COMMIT"] += 1

    return seen


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--timers", type=int, default=2000)
    parser.add_argument("--limit", type=int, default=100, help="timers a tick claims, as bench/timers.py's workers")
    parser.add_argument("--top", type=int, default=20)
    parser.add_argument("--save", help="write the pstats here")
    args = parser.parse_args()
    clock = FrozenClock()
    with scratch_database("postgresql") as engine:
        deploy_bench_process(engine, clock, form_catalog(), "timer_wait.bpmn")
        start_cohort(engine, clock, args.timers, "p")
        clock.advance(timedelta(hours=1, minutes=1))
        factory = session_factory(engine, EngineConfig())
        fire_due_timers(factory, clock, limit=1)  # warm the caches, as a running worker's are
        statements = count_statements(engine)
        profiler = cProfile.Profile()
        fired, ticks = 1, 0
        profiler.enable()
        while count := fire_due_timers(factory, clock, limit=args.limit):
            fired, ticks = fired + count, ticks + 1
        profiler.disable()
    stats = pstats.Stats(profiler)
    if args.save:
        stats.dump_stats(args.save)
    counted = fired - 1
    by_component: Counter[str] = Counter()
    total = 0.0
    for (filename, _line, _name), (_cc, _nc, tottime, _ct, _callers) in stats.stats.items():  # type: ignore[attr-defined]
        by_component[component(filename)] += tottime
        total += tottime
    print(f"{counted} timers fired in {ticks} ticks of up to {args.limit}")
    per_timer = sum(n for k, n in statements.items() if k != "COMMIT") / counted
    print(f"statements per timer: {per_timer:.2f}; commits per timer: {statements['COMMIT'] / counted:.3f}")
    for shape, n in statements.most_common():
        print(f"  {n / counted:7.3f}  {shape}")
    print("own time by component (cProfile tottime):")
    for label, seconds in by_component.most_common():
        print(f"  {seconds / total:6.1%}  {label}")
    stats.sort_stats("cumulative").print_stats(args.top)
    emit({"profile_timers": {"timers": counted, "statements_per_timer": round(per_timer, 2),
                             "statements": {k: round(n / counted, 3) for k, n in statements.items()},
                             "components": {k: round(v / total, 3) for k, v in by_component.items()}}})


if __name__ == "__main__":
    main()
