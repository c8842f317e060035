"""A timer step's statements (issue 18): the tick reads and writes a batch of cases together.

Per fired timer the tick once sent a SAVEPOINT and RELEASE, read the case's tasks, its pending
timers and the new task's audience, and flushed the case's rows alone: ten statements. Now the
batch reads each kind of row once, runs without savepoints, and writes each table's rows in one
statement; only the cases' versioned UPDATEs go one by one. A case that raises still stops no
other: the batch runs again with savepoints.
"""

from __future__ import annotations

import re
import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session, sessionmaker

from engine import definitions, instances
from engine.audit import events_of_instance, verify_chains
from engine.catalog import FormCatalog
from engine.clock import FrozenClock
from engine.config import EngineConfig
from engine.db import transaction
from engine.identity import Actor
from engine.tables import AuditEvent, Instance, Task, Timer
from engine.timers import fire_due_timers
from engine.workflow_store import session_factory
from tests.conftest import DESIGNER

# The benchmark's timer case: an hour's wait, then a review task for the RCC directors' group.
TIMER_WAIT = Path(__file__).resolve().parents[2] / "bench" / "processes" / "timer_wait.bpmn"
OUTLET = Actor("outlet", frozenset({"outlet"}))
CASES = 6


def _waiting_cases(factory: sessionmaker[Session], clock: FrozenClock, catalog: FormCatalog,
                   variables_of_each: list[dict[str, Any]]) -> list[uuid.UUID]:
    with transaction(factory) as session:
        definitions.deploy(session, clock, catalog, actor=DESIGNER, filename=TIMER_WAIT.name,
                           content=TIMER_WAIT.read_bytes())
    ids = []
    for variables in variables_of_each:
        with transaction(factory) as session:
            ids.append(instances.start_instance(session, clock, catalog, actor=OUTLET, definition_key="timer_wait",
                                                variables=variables).summary.instance_id)
    clock.advance(timedelta(hours=1, minutes=1))
    return ids


def _fired_once_with_a_task(factory: sessionmaker[Session], instance_id: uuid.UUID) -> bool:
    with factory() as session:
        timers = session.scalars(select(Timer.status).where(Timer.instance_id == instance_id)).all()
        tasks = session.scalar(select(func.count()).select_from(Task).where(Task.instance_id == instance_id,
                                                                            Task.status == "open"))
        fired = [e for e in events_of_instance(session, instance_id) if e.event_type == "timer_fired"]
        return list(timers) == ["fired"] and tasks == 1 and len(fired) == 1


def test_a_batch_of_timers_reads_and_writes_each_table_once(
        db_engine: Engine, factory: sessionmaker[Session], clock: FrozenClock, catalog: FormCatalog,
        statements: list[str]) -> None:
    # A worker's settings: no state check after each save (the suite's sessions rebuild every saved
    # workflow, which reads its chunks again); the suite's spilling (after two finished tasks) is kept.
    warm = session_factory(db_engine, EngineConfig(verify_state=False))
    ids = _waiting_cases(warm, clock, catalog, [{}] * CASES)
    statements.clear()
    assert fire_due_timers(warm, clock, limit=CASES) == CASES
    seen = [s for s in statements if s.split(" ", 1)[0] not in ("BEGIN", "BEGIN IMMEDIATE", "COMMIT", "ROLLBACK")]
    assert not [s for s in seen if s.startswith(("SAVEPOINT", "RELEASE"))], seen
    once = ["SELECT .* FROM tasks", "SELECT .* FROM timers", "SELECT .* FROM instance_state_chunks",
            "SELECT .* FROM users", "INSERT INTO tasks", "INSERT INTO task_candidate_groups", "UPDATE timers"]
    if db_engine.dialect.name == "postgresql":  # SQLite sends rows whose keys it makes (RETURNING) one by one
        once.append("INSERT INTO audit_events")
    for query in once:
        assert len([s for s in seen if re.match(query, s)]) <= 1, (query, seen)
    assert len([s for s in seen if s.startswith("UPDATE instances")]) == CASES, seen  # versioned: one each
    assert len(seen) <= 8 * CASES, seen  # issue 18's target per step, here with room to spare
    for instance_id in ids:
        assert _fired_once_with_a_task(factory, instance_id)
    with factory() as session:
        assert verify_chains(session)[1] == []


def test_a_case_that_raises_mid_batch_is_rolled_back_alone(
        db_engine: Engine, factory: sessionmaker[Session], clock: FrozenClock, catalog: FormCatalog) -> None:
    # The middle case's data is over the firing worker's limit: its save raises (not a process
    # failure, so no incident). The batch runs again case by case; the others fire.
    first, large, last = _waiting_cases(factory, clock, catalog, [{}, {"notes": "x" * 4000}, {}])
    strict = session_factory(db_engine, EngineConfig(max_case_data_bytes=2000))
    assert fire_due_timers(strict, clock, limit=10) == 2
    assert fire_due_timers(strict, clock, limit=10) == 0  # the large case raises again: still nothing fires twice
    for instance_id in (first, last):
        assert _fired_once_with_a_task(factory, instance_id)
    with factory() as session:
        record = session.get(Instance, large)
        assert record is not None and record.status == "running"
        assert session.scalars(select(Timer.status).where(Timer.instance_id == large)).all() == ["pending"]
        assert session.scalar(select(func.count()).select_from(AuditEvent).where(
            AuditEvent.instance_id == large, AuditEvent.event_type == "timer_fired")) == 0
        assert verify_chains(session)[1] == []
