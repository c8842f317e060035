"""The invariant checker passes a consistent database and names each kind of inconsistency."""

from __future__ import annotations

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session, sessionmaker

from engine import definitions, instances, tasks
from engine.catalog import FormCatalog
from engine.clock import FrozenClock
from engine.db import transaction
from engine.identity import Actor
from engine.invariants import check_invariants
from engine.tables import AuditEvent, Instance, Task
from tests.conftest import DESIGNER, TEST_PROCESSES

OUTLET = Actor("outlet", frozenset({"outlet"}))
DIRECTOR = Actor("rcc_director", frozenset({"rcc_director"}))


def _two_cases(factory: sessionmaker[Session], clock: FrozenClock, catalog: FormCatalog) -> list[Task]:
    path = TEST_PROCESSES / "two_step_review.bpmn"
    with transaction(factory) as session:
        definitions.deploy(session, clock, catalog, actor=DESIGNER, filename=path.name, content=path.read_bytes())
        started = [instances.start_instance(session, clock, catalog, actor=OUTLET, definition_key="two_step_review",
                                            variables={"days": 3}) for _ in range(2)]
    done = started[0].waiting_tasks[0].task_id
    with transaction(factory) as session:
        tasks.claim_task(session, clock, actor=DIRECTOR, task_id=done)
        tasks.complete_task(session, clock, catalog, actor=DIRECTOR, task_id=done, data={"rcc_approved": True})
    with factory() as session:
        return list(session.scalars(select(Task).order_by(Task.status)))


def _problems(factory: sessionmaker[Session]) -> list[str]:
    with factory() as session:
        return [v.problem for v in check_invariants(session).violations]


def test_consistent_database_passes(factory: sessionmaker[Session], clock: FrozenClock, catalog: FormCatalog) -> None:
    _two_cases(factory, clock, catalog)
    with factory() as session:
        report = check_invariants(session)
    assert (report.instances, report.tasks, report.violations) == (2, 2, [])


def test_task_completed_behind_the_engines_back(factory: sessionmaker[Session], clock: FrozenClock,
                                                catalog: FormCatalog) -> None:
    completed, open_task = _two_cases(factory, clock, catalog)
    assert (completed.status, open_task.status) == ("completed", "open")
    with transaction(factory) as session:
        session.execute(update(Task).where(Task.task_id == open_task.task_id).values(status="completed"))
    problems = _problems(factory)
    assert "completed task has 0 completions" in problems
    assert any(p.startswith("half-advanced: the workflow waits on 1 user task") for p in problems)


def test_lost_task_row_and_wrong_status(factory: sessionmaker[Session], clock: FrozenClock,
                                        catalog: FormCatalog) -> None:
    _, open_task = _two_cases(factory, clock, catalog)
    with transaction(factory) as session:
        session.execute(delete(Task).where(Task.task_id == open_task.task_id))
        session.execute(update(Instance).where(Instance.instance_id == open_task.instance_id)
                        .values(status="completed", lock_version=Instance.lock_version + 1))
    problems = _problems(factory)
    assert "status is 'completed' but its history leaves it 'running'" in problems
    assert "'task_completed' for a task that has no row" not in problems


def test_removed_history_row_breaks_the_chain(factory: sessionmaker[Session], clock: FrozenClock,
                                              catalog: FormCatalog) -> None:
    completed, _ = _two_cases(factory, clock, catalog)
    with transaction(factory) as session:
        session.execute(delete(AuditEvent).where(AuditEvent.task_id == completed.task_id,
                                                 AuditEvent.event_type == "task_created"))
    problems = _problems(factory)
    assert any(p.startswith("hash chain broken") for p in problems)
    assert "task row without 'task_created' in the history" in problems
    assert any("before the task was created" in p for p in problems)
