"""Timers: stored with due times, fired by the scheduler tick exactly once, also after downtime."""

from __future__ import annotations

import threading
from datetime import UTC, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from engine import definitions, instances, tasks
from engine.audit import events_of_instance
from engine.catalog import FormCatalog
from engine.clock import FrozenClock
from engine.db import transaction
from engine.identity import Actor
from engine.tables import Timer
from engine.timers import fire_due_timers
from tests.conftest import DESIGNER, TEST_PROCESSES

OUTLET = Actor("outlet", frozenset({"outlet"}))
DIRECTOR = Actor("rcc_director", frozenset({"rcc_director"}))
ADMIN = Actor("admin", frozenset({"admin"}))


def _deploy(factory: sessionmaker[Session], clock: FrozenClock, catalog: FormCatalog, path: Path) -> None:
    with transaction(factory) as session:
        definitions.deploy(session, clock, catalog, actor=DESIGNER, filename=path.name, content=path.read_bytes())


def _instance_waiting_on_timer(factory: sessionmaker[Session], clock: FrozenClock, catalog: FormCatalog) -> Any:
    _deploy(factory, clock, catalog, TEST_PROCESSES / "two_step_review.bpmn")
    with transaction(factory) as session:
        started = instances.start_instance(session, clock, catalog, actor=OUTLET, definition_key="two_step_review",
                                           variables={"days": 4})
    task_id = started.waiting_tasks[0].task_id
    with transaction(factory) as session:
        tasks.claim_task(session, clock, actor=DIRECTOR, task_id=task_id)
    with transaction(factory) as session:
        tasks.complete_task(session, clock, catalog, actor=DIRECTOR, task_id=task_id, data={"rcc_approved": True})
    return started.summary.instance_id


def _timer_events(factory: sessionmaker[Session], instance_id: Any) -> list[str]:
    with factory() as session:
        return [e.event_type for e in events_of_instance(session, instance_id) if e.event_type == "timer_fired"]


def test_timer_is_stored_with_its_due_time(factory: sessionmaker[Session], clock: FrozenClock,
                                           catalog: FormCatalog) -> None:
    instance_id = _instance_waiting_on_timer(factory, clock, catalog)
    with factory() as session:
        [timer] = session.scalars(select(Timer).where(Timer.instance_id == instance_id)).all()
    assert (timer.element_id, timer.status) == ("wait", "pending")
    assert timer.due_at == clock.now() + timedelta(days=1)
    assert timer.name == "等待一天 / Wait a day"


def test_timer_due_during_downtime_fires_once_on_restart(factory: sessionmaker[Session], clock: FrozenClock,
                                                         catalog: FormCatalog) -> None:
    instance_id = _instance_waiting_on_timer(factory, clock, catalog)
    assert fire_due_timers(factory, clock) == 0  # not yet due
    clock.advance(timedelta(days=5))  # the server was down the whole time: nobody ticked
    assert fire_due_timers(factory, clock) == 1  # the first tick after restart
    assert fire_due_timers(factory, clock) == 0
    assert _timer_events(factory, instance_id) == ["timer_fired"]
    with factory() as session:
        detail = instances.get_instance(session, actor=ADMIN, instance_id=instance_id)
        timer = session.scalars(select(Timer).where(Timer.instance_id == instance_id)).one()
    assert [t.element_id for t in detail.waiting_tasks] == ["confirm"]
    assert detail.waiting_tasks[0].assignee == "outlet"  # camunda:assignee="${initiator}"
    assert (timer.status, timer.fired_at) == ("fired", clock.now())


def test_two_workers_fire_each_timer_once(factory: sessionmaker[Session], clock: FrozenClock,
                                          catalog: FormCatalog) -> None:
    ids = [_instance_waiting_on_timer(factory, clock, catalog) for _ in range(6)]
    clock.advance(timedelta(days=2))
    barrier, fired = threading.Barrier(2), []

    def worker() -> None:
        barrier.wait()
        fired.append(fire_due_timers(factory, clock))

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(fired) == 6
    assert all(_timer_events(factory, i) == ["timer_fired"] for i in ids)


def test_suspended_instance_timer_waits_for_resume(factory: sessionmaker[Session], clock: FrozenClock,
                                                   catalog: FormCatalog) -> None:
    instance_id = _instance_waiting_on_timer(factory, clock, catalog)
    with transaction(factory) as session:
        instances.suspend_instance(session, clock, actor=ADMIN, instance_id=instance_id, reason="audit")
    clock.advance(timedelta(days=3))
    assert fire_due_timers(factory, clock) == 0
    with transaction(factory) as session:
        instances.resume_instance(session, clock, actor=ADMIN, instance_id=instance_id, reason="audit done")
    assert fire_due_timers(factory, clock) == 1


def test_terminated_instance_cancels_its_timer(factory: sessionmaker[Session], clock: FrozenClock,
                                               catalog: FormCatalog) -> None:
    instance_id = _instance_waiting_on_timer(factory, clock, catalog)
    with transaction(factory) as session:
        instances.terminate_instance(session, clock, actor=ADMIN, instance_id=instance_id, reason="withdrawn")
    clock.advance(timedelta(days=3))
    assert fire_due_timers(factory, clock) == 0
    with factory() as session:
        assert session.scalars(select(Timer.status).where(Timer.instance_id == instance_id)).one() == "cancelled"


def test_non_interrupting_boundary_timer_leaves_the_task_open(factory: sessionmaker[Session], clock: FrozenClock,
                                                              catalog: FormCatalog) -> None:
    _deploy(factory, clock, catalog, TEST_PROCESSES / "reminder_timer.bpmn")
    agent = Actor("rcc_agent", frozenset({"rcc_agent"}))
    with transaction(factory) as session:
        instance_id = instances.start_instance(session, clock, catalog, actor=agent,
                                               definition_key="reminder_timer").summary.instance_id
    clock.advance(timedelta(hours=11))
    assert fire_due_timers(factory, clock) == 0
    clock.advance(timedelta(hours=2))
    assert fire_due_timers(factory, clock) == 1
    with factory() as session:
        detail = instances.get_instance(session, actor=ADMIN, instance_id=instance_id)
    # The reminder went to the RCC; the outlet's repair is still open, not cancelled.
    assert sorted(t.element_id for t in detail.waiting_tasks) == ["chase", "repair"]
    assert _timer_events(factory, instance_id) == ["timer_fired"]


def test_dated_timer_start_starts_one_instance_on_the_day(factory: sessionmaker[Session], clock: FrozenClock,
                                                          catalog: FormCatalog) -> None:
    from datetime import datetime

    from engine.timers import fire_start_timers

    _deploy(factory, clock, catalog, TEST_PROCESSES / "dated_start.bpmn")
    clock.set(datetime(2026, 3, 1, 0, 59, tzinfo=UTC))  # 08:59 China time
    assert fire_start_timers(factory, clock) == 0
    clock.set(datetime(2026, 3, 1, 1, 0, 1, tzinfo=UTC))
    assert fire_start_timers(factory, clock) == 1
    clock.advance(timedelta(days=400))
    assert fire_start_timers(factory, clock) == 0  # a date fires once
    with factory() as session:
        page = instances.list_instances(session, actor=ADMIN, definition_key="dated_start")
        [summary] = page.items
        detail = instances.get_instance(session, actor=ADMIN, instance_id=summary.instance_id)
        history = events_of_instance(session, summary.instance_id)
    assert [t.element_id for t in detail.waiting_tasks] == ["inspect"]
    assert (summary.started_by, history[0].data["timer"]) == ("scheduler", "on_the_day")
