"""Driving a case through Tixi's engine layer as people would (no HTTP), timing every step.

Each step is one transaction through `engine.db.transaction`: start, claim, complete, and the
queue look-up that finds the next task (complete_task answers with the task it finished).
"""

from __future__ import annotations

import time
import uuid
from collections import defaultdict
from collections.abc import Callable
from datetime import timedelta
from typing import Any, TypeVar

from sqlalchemy.orm import Session, sessionmaker

from engine.catalog import FormCatalog
from engine.clock import FrozenClock
from engine.db import transaction
from engine.identity import Actor
from engine.instances import start_instance
from engine.tasks import claim_task, complete_task, list_tasks

OUTLET = Actor("outlet", frozenset({"outlet"}))
DIRECTOR = Actor("rcc_director", frozenset({"rcc_director"}))
# What each user task of the benchmark processes is completed with (valid for its form).
FORM_DATA: dict[str, dict[str, Any]] = {
    "review": {"rcc_approved": True, "site_inspection_notes": "现场整洁 / site in order"},
    "confirm": {"agreement_confirmed": True, "signatory_name": "王伟"},
    "work": {"rcc_approved": True},
}
T = TypeVar("T")


class StepTimer:
    """Runs each step in its own transaction and keeps its duration (commit included) by kind."""

    def __init__(self, factory: sessionmaker[Session], clock: FrozenClock) -> None:
        self.factory, self.clock = factory, clock
        self.samples: dict[str, list[float]] = defaultdict(list)

    def step(self, kind: str, work: Callable[[Session], T]) -> T:
        self.clock.advance(timedelta(seconds=1))
        began = time.perf_counter()
        with transaction(self.factory) as session:
            result = work(session)
        self.samples[kind].append(time.perf_counter() - began)
        return result


def run_two_task_case(timer: StepTimer, catalog: FormCatalog) -> None:
    """Start minimal_two_tasks, then claim and complete its review and its confirmation."""
    clock = timer.clock
    business_key = f"bench-{uuid.uuid4().hex[:12]}"
    started = timer.step("start", lambda s: start_instance(s, clock, catalog, actor=OUTLET,
                                                           definition_key="minimal_two_tasks",
                                                           business_key=business_key))
    work_task(timer, catalog, DIRECTOR, started.waiting_tasks[0].task_id, FORM_DATA["review"])
    queue = timer.step("list", lambda s: list_tasks(s, actor=OUTLET, business_key=business_key, limit=1))
    work_task(timer, catalog, OUTLET, queue.items[0].task_id, FORM_DATA["confirm"])


def work_task(timer: StepTimer, catalog: FormCatalog, actor: Actor, task_id: uuid.UUID, data: dict[str, Any]) -> None:
    clock = timer.clock
    timer.step("claim", lambda s: claim_task(s, clock, actor=actor, task_id=task_id))
    timer.step("complete", lambda s: complete_task(s, clock, catalog, actor=actor, task_id=task_id, data=data))
