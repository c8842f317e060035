"""Where the engine layer's time goes: cProfile over the benchmark cases (not part of run_all).

    python bench/profile_engine.py                      # 100 minimal_two_tasks instances on PostgreSQL
    python bench/profile_engine.py --loop 300           # one loop_task case reopened 300 times, SQLite
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import uuid
from collections import Counter
from typing import Any

from cases import DIRECTOR, FORM_DATA, OUTLET, StepTimer, run_two_task_case, work_task
from databases import deploy_bench_process, form_catalog, scratch_database
from sqlalchemy import Engine, event

from engine.clock import FrozenClock
from engine.config import EngineConfig
from engine.instances import start_instance
from engine.task_queue import list_tasks
from engine.workflow_store import session_factory

STATEMENTS: Counter[str] = Counter()


def count_statements(engine: Engine) -> None:
    """Count the SQL statements sent, by their first word (SELECT, INSERT, ..., and COMMIT)."""

    @event.listens_for(engine, "before_cursor_execute")
    def _statement(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        STATEMENTS[statement.split(None, 1)[0].upper()] += 1

    @event.listens_for(engine, "commit")
    def _commit(_conn: Any) -> None:
        STATEMENTS["COMMIT"] += 1


def profile_two_tasks(database: str, count: int, profiler: cProfile.Profile) -> None:
    catalog, clock = form_catalog(), FrozenClock()
    with scratch_database(database) as engine:
        deploy_bench_process(engine, clock, catalog, "minimal_two_tasks.bpmn")
        timer = StepTimer(session_factory(engine, EngineConfig()), clock)
        run_two_task_case(timer, catalog)  # warm up
        count_statements(engine)
        profiler.enable()
        for _ in range(count):
            run_two_task_case(timer, catalog)
        profiler.disable()


def profile_loop(database: str, iterations: int, profiler: cProfile.Profile) -> None:
    catalog, clock = form_catalog(), FrozenClock()
    with scratch_database(database) as engine:
        deploy_bench_process(engine, clock, catalog, "loop_task.bpmn")
        timer = StepTimer(session_factory(engine, EngineConfig()), clock)
        key = f"bench-{uuid.uuid4().hex[:12]}"
        timer.step("start", lambda s: start_instance(s, clock, catalog, actor=OUTLET, definition_key="loop_task",
                                                     business_key=key, variables={"count": 0, "limit": iterations}))
        count_statements(engine)
        profiler.enable()
        for _ in range(iterations):
            queue = timer.step("list", lambda s: list_tasks(s, actor=DIRECTOR, business_key=key))
            work_task(timer, catalog, DIRECTOR, queue.items[0].task_id, FORM_DATA["work"])
        profiler.disable()


PACKAGES = (("psycopg", "psycopg (incl. waiting for the server)"), ("sqlite3", "sqlite3"),
            ("sqlalchemy", "SQLAlchemy"), ("SpiffWorkflow", "SpiffWorkflow"), ("RestrictedPython", "sandbox"),
            ("simpleeval", "sandbox"), ("jsonschema", "jsonschema"), ("/json/", "json"), ("/engine/", "tixi engine"))


def by_package(stats: pstats.Stats) -> list[tuple[str, float]]:
    """Own time (tottime) summed by the package the function lives in."""
    totals: dict[str, float] = {}
    for (filename, _, name), (_, _, own, _, _) in stats.stats.items():  # type: ignore[attr-defined]
        label = next((lab for needle, lab in PACKAGES if needle in filename), "other")
        if label == "other" and "sqlite3" in name:  # the C module's methods have no file name
            label = "sqlite3"
        totals[label] = totals.get(label, 0.0) + own
    return sorted(totals.items(), key=lambda item: -item[1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database", choices=("sqlite", "postgresql"))
    parser.add_argument("--instances", type=int, default=100)
    parser.add_argument("--loop", type=int, help="profile one loop_task case of this many iterations instead")
    parser.add_argument("--top", type=int, default=30)
    args = parser.parse_args()
    profiler = cProfile.Profile()
    if args.loop:
        profile_loop(args.database or "sqlite", args.loop, profiler)
    else:
        profile_two_tasks(args.database or "postgresql", args.instances, profiler)
    runs = args.loop or args.instances
    print(f"SQL statements per {'iteration' if args.loop else 'instance'}: "
          + ", ".join(f"{word} {n / runs:.1f}" for word, n in STATEMENTS.most_common()))
    stats = pstats.Stats(profiler)
    total = sum(own for _, own in by_package(stats))
    print("own time by package:")
    for label, own in by_package(stats):
        print(f"  {label:40} {own:7.2f} s  {own / total:6.1%}")
    stats.strip_dirs().sort_stats("cumulative").print_stats(args.top)


if __name__ == "__main__":
    main()
