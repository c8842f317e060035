"""Timers: 10 k intermediate timers falling due at once, fired by 1 and by 2 worker processes.

bench/processes/timer_wait.bpmn waits an hour on an intermediate timer, then opens a review task.
Two cohorts, ten hours apart, on one throw-away PostgreSQL database: per cohort one instance is
started through the engine (start_instance), and its rows (the instance with its workflow state,
its timer row and its history) are copied in bulk with every id renewed, inside the state too, so
each copy is an instance of its own that the engine loads, fires and saves like any other
(starting 10 k through the engine takes minutes and is not what is measured). Then worker processes run
`engine.timers.fire_due_timers` (the tick `tixi worker` loops) with a clock past the first
cohort's due time, one worker; then two workers past the second cohort's. The time runs from the
moment the workers (already started and connected) are told to go until the last one finds
nothing due. Afterwards every timer of the cohort must be `fired`, with exactly one `timer_fired`
history row and one open review task per instance.
Target: ≥ 500 timers/s with 2 workers.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import re
import time
import uuid
from datetime import datetime, timedelta
from multiprocessing.synchronize import Event
from typing import Any

from cases import OUTLET
from databases import deploy_bench_process, form_catalog, scratch_database
from report import emit, print_table
from server import database_url
from sqlalchemy import Engine, func, insert, select, text

from engine.clock import FrozenClock
from engine.config import EngineConfig
from engine.db import make_engine, transaction
from engine.instances import start_instance
from engine.tables import AuditEvent, Instance, Task, Timer
from engine.timers import fire_due_timers
from engine.workflow_store import session_factory

BATCH = 200
COHORT_GAP = timedelta(hours=10)


UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def start_cohort(engine: Engine, clock: FrozenClock, count: int, tag: str) -> float:
    """One instance through the engine, then `count` - 1 copies of its rows with fresh ids."""
    factory = session_factory(engine, EngineConfig())
    began = time.perf_counter()
    with transaction(factory) as session:
        template = start_instance(session, clock, form_catalog(), actor=OUTLET, definition_key="timer_wait",
                                  business_key=f"{tag}-0").summary.instance_id
    with engine.begin() as conn:
        instance = conn.execute(select(Instance.__table__).where(Instance.instance_id == template)).mappings().one()
        timer = conn.execute(select(Timer.__table__).where(Timer.instance_id == template)).mappings().one()
        events = conn.execute(select(AuditEvent.__table__).where(AuditEvent.instance_id == template)
                              .order_by(AuditEvent.event_id)).mappings().all()
        state = json.dumps(instance["state"])
        for first in range(1, count, BATCH):
            instances, timers, history = [], [], []
            for number in range(first, min(count, first + BATCH)):
                renewed: dict[str, str] = {}

                def renew(match: re.Match[str], renewed: dict[str, str] = renewed) -> str:
                    return renewed.setdefault(match.group(0), str(uuid.uuid4()))

                instance_id = uuid.UUID(renew(re.match(UUID, str(template))))  # type: ignore[arg-type]
                instances.append({**instance, "instance_id": instance_id, "business_key": f"{tag}-{number}",
                                  "state": json.loads(UUID.sub(renew, state))})
                timers.append({**timer, "timer_id": uuid.UUID(renewed.get(str(timer["timer_id"]), str(uuid.uuid4()))),
                               "instance_id": instance_id})
                history += [{**{k: v for k, v in e.items() if k != "event_id"}, "instance_id": instance_id}
                            for e in events]
            conn.execute(insert(Instance.__table__), instances)
            conn.execute(insert(Timer.__table__), timers)
            conn.execute(insert(AuditEvent.__table__), history)
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM ANALYZE"))
    return time.perf_counter() - began


def _worker(url: str, now: datetime, go: Event, ready: Any, fired: Any) -> None:
    """One `tixi worker`: ticks until a tick fires nothing and no due timer is left (the other worker may hold some)."""
    factory, clock = session_factory(make_engine(url), EngineConfig()), FrozenClock(now)
    with factory() as session:
        session.execute(select(1))  # connected before the clock starts
    ready.put(True)
    go.wait()
    total = 0
    while True:
        count = fire_due_timers(factory, clock, limit=100)
        total += count
        if count == 0:
            with factory() as session:
                left = session.scalar(select(func.count()).select_from(Timer).where(
                    Timer.status == "pending", Timer.due_at <= clock.now()))
            if not left:
                break
    fired.put(total)


def fire_with(engine: Engine, workers: int, now: datetime) -> tuple[float, list[int]]:
    context = multiprocessing.get_context("spawn")
    go, ready, fired = context.Event(), context.Queue(), context.Queue()
    processes = [context.Process(target=_worker, args=(database_url(engine), now, go, ready, fired))
                 for _ in range(workers)]
    for process in processes:
        process.start()
    for _ in processes:
        ready.get()  # imported and connected: spawn start-up is not what is measured
    began = time.perf_counter()
    go.set()
    per_worker = [fired.get() for _ in processes]
    elapsed = time.perf_counter() - began
    for process in processes:
        process.join()
    return elapsed, per_worker


def check(engine: Engine, tag: str) -> dict[str, int]:
    """Counts that must all equal the cohort's size (and none left pending) if each timer fired exactly once."""
    with session_factory(engine, EngineConfig())() as session:
        cohort = select(Instance.instance_id).where(Instance.business_key.like(f"{tag}-%"))
        events = session.execute(
            select(AuditEvent.instance_id, func.count()).where(AuditEvent.event_type == "timer_fired",
                                                               AuditEvent.instance_id.in_(cohort))
            .group_by(AuditEvent.instance_id)).all()
        return {
            "instances": session.scalar(select(func.count()).select_from(cohort.subquery())) or 0,
            "timers_fired": session.scalar(select(func.count()).select_from(Timer).where(
                Timer.instance_id.in_(cohort), Timer.status == "fired")) or 0,
            "timers_pending": session.scalar(select(func.count()).select_from(Timer).where(
                Timer.instance_id.in_(cohort), Timer.status == "pending")) or 0,
            "instances_with_one_timer_fired_event": sum(1 for _, n in events if n == 1),
            "instances_with_several_timer_fired_events": sum(1 for _, n in events if n > 1),
            "open_review_tasks": session.scalar(select(func.count()).select_from(Task).where(
                Task.instance_id.in_(cohort), Task.status == "open")) or 0,
        }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="1 k timers")
    parser.add_argument("--timers", type=int)
    args = parser.parse_args()
    count = args.timers or (1000 if args.quick else 10_000)
    clock = FrozenClock()
    results: dict[str, Any] = {}
    with scratch_database("postgresql") as engine:
        deploy_bench_process(engine, clock, form_catalog(), "timer_wait.bpmn")
        cohorts = []
        for workers in (1, 2):
            tag = f"w{workers}"
            start_s = start_cohort(engine, clock, count, tag)
            cohorts.append((workers, tag, clock.now() + timedelta(hours=1, minutes=1), start_s))
            clock.advance(COHORT_GAP)
        for workers, tag, due_by, start_s in cohorts:
            elapsed, per_worker = fire_with(engine, workers, due_by)
            checked = check(engine, tag)
            exact = (checked["timers_fired"] == checked["instances_with_one_timer_fired_event"]
                     == checked["open_review_tasks"] == count and checked["timers_pending"] == 0
                     and checked["instances_with_several_timer_fired_events"] == 0)
            results[f"workers_{workers}"] = {"workers": workers, "timers": count, "seconds": round(elapsed, 2),
                                             "timers_per_s": round(count / elapsed, 1), "fired_per_worker": per_worker,
                                             "setup_s": round(start_s, 1),
                                             "check": checked, "each_fired_exactly_once": exact}
    print_table(f"Timers: {count:,} due at once, fired by worker processes (PostgreSQL; target ≥ 500/s with 2)",
                ["workers", "timers/s", "seconds", "fired per worker", "fired once, none missed"],
                [[r["workers"], r["timers_per_s"], r["seconds"], "/".join(map(str, r["fired_per_worker"])),
                  "yes" if r["each_fired_exactly_once"] else f"NO: {r['check']}"] for r in results.values()])
    emit({"timers": results})


if __name__ == "__main__":
    main()
