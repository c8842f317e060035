"""The batched timer tick: one commit per batch, yet each instance stands or falls on its own."""

from __future__ import annotations

import threading
import uuid
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session, sessionmaker

from engine import definitions, instances
from engine.audit import events_of_instance, record_event, verify_chains
from engine.catalog import FormCatalog
from engine.clock import FrozenClock
from engine.db import transaction
from engine.identity import Actor
from engine.tables import AuditEvent, Instance, Timer
from engine.timers import fire_due_timers
from tests.conftest import DESIGNER, TEST_PROCESSES

OUTLET = Actor("outlet", frozenset({"outlet"}))
GOOD = {"total": 90, "parts": 3, "owners": {"north": "outlet"}, "area": "north"}


def _start(factory: sessionmaker[Session], clock: FrozenClock, catalog: FormCatalog,
           variables_of_each: list[dict[str, Any]]) -> list[uuid.UUID]:
    """One instance per variable set, a minute apart, so their timers fall due in this order."""
    path = TEST_PROCESSES / "timer_then_share.bpmn"
    with transaction(factory) as session:
        definitions.deploy(session, clock, catalog, actor=DESIGNER, filename=path.name, content=path.read_bytes())
    ids = []
    for variables in variables_of_each:
        with transaction(factory) as session:
            ids.append(instances.start_instance(session, clock, catalog, actor=OUTLET, definition_key="timer_then_share",
                                                variables=variables).summary.instance_id)
        clock.advance(timedelta(minutes=1))
    clock.advance(timedelta(hours=1))  # all due now
    return ids


def _events(factory: sessionmaker[Session], instance_id: uuid.UUID) -> list[str]:
    with factory() as session:
        return [e.event_type for e in events_of_instance(session, instance_id)]


def _state(factory: sessionmaker[Session], instance_id: uuid.UUID) -> tuple[str, list[str]]:
    with factory() as session:
        record = session.get(Instance, instance_id)
        assert record is not None
        timers = session.scalars(select(Timer.status).where(Timer.instance_id == instance_id)).all()
        return record.status, list(timers)


def test_a_process_failing_mid_batch_is_an_incident_and_the_others_fire(
        factory: sessionmaker[Session], clock: FrozenClock, catalog: FormCatalog) -> None:
    first, failing, last = _start(factory, clock, catalog, [GOOD, {**GOOD, "parts": 0}, GOOD])
    assert fire_due_timers(factory, clock, limit=10) == 2
    assert fire_due_timers(factory, clock, limit=10) == 0
    for instance_id in (first, last):
        assert _state(factory, instance_id) == ("running", ["fired"])
        assert _events(factory, instance_id)[-3:] == ["timer_fired", "element_completed", "task_created"]
    status, _ = _state(factory, failing)
    assert status == "failed"
    assert _events(factory, failing)[-2:] == ["timer_fired", "incident"]


def test_a_later_task_failing_mid_batch_is_an_incident_of_its_instance_alone(
        factory: sessionmaker[Session], clock: FrozenClock, catalog: FormCatalog) -> None:
    # The task after the timer has an assignee expression that fails: that instance keeps its fired
    # timer and fails with an incident on the task (issue 17); the rest of the batch runs on.
    first, failing, last = _start(factory, clock, catalog, [GOOD, {**GOOD, "area": "south"}, GOOD])
    assert fire_due_timers(factory, clock, limit=10) == 3
    assert _state(factory, failing) == ("failed", ["fired"])
    assert _events(factory, failing)[-2:] == ["task_created", "incident"]
    assert fire_due_timers(factory, clock, limit=10) == 0
    for instance_id in (first, last):
        assert _state(factory, instance_id) == ("running", ["fired"])
    with factory() as session:
        assert verify_chains(session)[1] == []


def test_two_workers_over_small_batches_fire_each_timer_once(
        factory: sessionmaker[Session], clock: FrozenClock, catalog: FormCatalog) -> None:
    ids = _start(factory, clock, catalog, [GOOD] * 9)
    barrier, fired, errors = threading.Barrier(2), [], []

    def worker() -> None:
        barrier.wait()
        try:
            while count := fire_due_timers(factory, clock, limit=2):
                fired.append(count)
        except Exception as error:  # noqa: BLE001 - reported by the assertion below
            errors.append(error)

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert sum(fired) == 9
    with factory() as session:
        once = session.execute(select(AuditEvent.instance_id, func.count()).where(
            AuditEvent.event_type == "timer_fired").group_by(AuditEvent.instance_id)).all()
        assert dict(once) == dict.fromkeys(ids, 1)
        assert session.scalar(select(func.count()).select_from(Timer).where(Timer.status == "pending")) == 0
        assert verify_chains(session)[1] == []


def test_an_instance_whose_history_is_being_written_waits_for_the_next_tick(
        db_engine: Engine, factory: sessionmaker[Session], clock: FrozenClock, catalog: FormCatalog) -> None:
    if db_engine.dialect.name != "postgresql":
        pytest.skip("SQLite has one writer: no other transaction can hold a chain while the tick runs")
    first, busy, last = _start(factory, clock, catalog, [GOOD, GOOD, GOOD])
    with transaction(factory) as other:  # e.g. a comment on the case, not yet committed
        record_event(other, clock, actor="admin", event_type="note", instance_id=busy)
        assert fire_due_timers(factory, clock, limit=10) == 2  # does not wait for the chain, nor deadlock
        assert _state(factory, busy) == ("running", ["pending"])
    assert fire_due_timers(factory, clock, limit=10) == 1
    for instance_id in (first, busy, last):
        assert _state(factory, instance_id) == ("running", ["fired"])
    with factory() as session:
        assert verify_chains(session)[1] == []
