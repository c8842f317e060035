"""A long case stores each finished task once, and a server's in-memory workflow is used only while current."""

from __future__ import annotations

import uuid
from datetime import datetime

import pytest
from sqlalchemy import event, func, select, update
from sqlalchemy.orm import Session, sessionmaker

from engine import definitions, instances, tasks
from engine.bpmn import serialization
from engine.bundles import bundle_of
from engine.catalog import FormCatalog
from engine.clock import FrozenClock
from engine.db import transaction
from engine.errors import ConcurrentUpdateError
from engine.identity import Actor
from engine.tables import AuditEvent, Instance, InstanceStateChunk, Task
from engine.workflow_cache import WorkflowCache
from engine.workflow_store import load_run, store_of
from tests.conftest import DESIGNER, TEST_CONFIG, TEST_PROCESSES

OUTLET = Actor("outlet", frozenset({"outlet"}))
DIRECTOR = Actor("rcc_director", frozenset({"rcc_director"}))


def _cache(factory: sessionmaker[Session]) -> WorkflowCache:
    """The workflow cache of the factory's sessions (the app's, in a server)."""
    with factory() as session:
        cache = store_of(session).cache
    assert cache is not None
    return cache


def _start_loop(factory: sessionmaker[Session], clock: FrozenClock, catalog: FormCatalog, limit: int) -> uuid.UUID:
    path = TEST_PROCESSES / "loop_task.bpmn"
    with transaction(factory) as session:
        definitions.deploy(session, clock, catalog, actor=DESIGNER, filename=path.name, content=path.read_bytes())
        started = instances.start_instance(session, clock, catalog, actor=OUTLET, definition_key="loop_task",
                                           variables={"count": 0, "limit": limit})
    return started.summary.instance_id


def _open_task(factory: sessionmaker[Session], instance_id: uuid.UUID) -> uuid.UUID:
    with factory() as session:
        return session.scalars(select(Task.task_id).where(Task.instance_id == instance_id,
                                                          Task.status == "open")).one()


def _work_round(factory: sessionmaker[Session], clock: FrozenClock, catalog: FormCatalog,
                instance_id: uuid.UUID) -> None:
    task_id = _open_task(factory, instance_id)
    with transaction(factory) as session:
        tasks.claim_task(session, clock, actor=DIRECTOR, task_id=task_id)
        tasks.complete_task(session, clock, catalog, actor=DIRECTOR, task_id=task_id, data={"rcc_approved": True})


def _count(factory: sessionmaker[Session], instance_id: uuid.UUID) -> int:
    with factory() as session:
        count: int = instances.get_instance(session, actor=OUTLET, instance_id=instance_id).variables["count"]
        return count


def test_a_long_case_spills_finished_tasks_and_is_rebuilt_from_them(
    factory: sessionmaker[Session], clock: FrozenClock, catalog: FormCatalog
) -> None:
    instance_id = _start_loop(factory, clock, catalog, limit=12)
    for _ in range(6):
        _work_round(factory, clock, catalog, instance_id)
    with factory() as session:
        chunks = session.scalar(select(func.count()).where(InstanceStateChunk.instance_id == instance_id))
        state = session.get(Instance, instance_id).state  # type: ignore[union-attr]
    assert chunks and chunks >= 6 * 2 // TEST_CONFIG.state_spill_at
    assert state[serialization.CHUNKS_KEY] == chunks
    _cache(factory).clear()  # as after a restart, or on another server: rebuilt from the row and the chunks
    assert _count(factory, instance_id) == 6
    for _ in range(6):
        _work_round(factory, clock, catalog, instance_id)
    with factory() as session:
        record = session.get(Instance, instance_id)
        completions = session.scalar(select(func.count()).where(AuditEvent.instance_id == instance_id,
                                                                AuditEvent.event_type == "task_completed"))
    assert record is not None and record.status == "completed"
    assert (_count(factory, instance_id), completions) == (12, 12)


def test_a_copy_another_server_has_moved_past_is_not_used(
    factory: sessionmaker[Session], clock: FrozenClock, catalog: FormCatalog
) -> None:
    instance_id = _start_loop(factory, clock, catalog, limit=5)
    _work_round(factory, clock, catalog, instance_id)
    with factory() as session:
        record = session.get(Instance, instance_id)
        assert record is not None
        cache_key, revision = bundle_of(session, record).cache_key, record.state_revision
    stale = _cache(factory).take(instance_id, revision, cache_key)
    assert stale is not None  # this server kept the workflow it saved
    _work_round(factory, clock, catalog, instance_id)  # "another server": loads from the database, moves on
    with transaction(factory) as session:  # this server still holds its old copy in memory
        WorkflowCache.hold(session, instance_id, stale, cache_key, revision, saved=True)
    _work_round(factory, clock, catalog, instance_id)
    assert _count(factory, instance_id) == 3


@pytest.mark.parametrize("ending", ["commit", "rollback"])
def test_a_workflow_changed_but_not_saved_is_not_kept(
    factory: sessionmaker[Session], clock: FrozenClock, catalog: FormCatalog, ending: str
) -> None:
    instance_id = _start_loop(factory, clock, catalog, limit=5)
    task_id = _open_task(factory, instance_id)
    with pytest.raises(RuntimeError) if ending == "rollback" else _no_error():
        with transaction(factory) as session:
            record = session.get(Instance, instance_id)
            assert record is not None
            run = load_run(record, bundle_of(session, record))
            run.complete_user_task(task_id, {"rcc_approved": True}, datetime.now().astimezone())
            if ending == "rollback":
                raise RuntimeError("the step failed after changing the workflow")
    _work_round(factory, clock, catalog, instance_id)  # the task is still open, and counts once
    assert _count(factory, instance_id) == 1


class _no_error:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *_: object) -> None:
        return None


def test_a_savepoint_release_keeps_the_workflow_out_of_the_cache_until_the_commit(
    factory: sessionmaker[Session], clock: FrozenClock, catalog: FormCatalog
) -> None:
    instance_id = _start_loop(factory, clock, catalog, limit=5)
    task_id = _open_task(factory, instance_id)
    with transaction(factory) as session:
        with session.begin_nested():  # as the timer tick fires each case of a batch
            tasks.claim_task(session, clock, actor=DIRECTOR, task_id=task_id)
            tasks.complete_task(session, clock, catalog, actor=DIRECTOR, task_id=task_id,
                                data={"rcc_approved": True})
        record = session.get(Instance, instance_id)
        assert record is not None
        cache_key, revision = bundle_of(session, record).cache_key, record.state_revision
        # Other transactions must not be handed a workflow whose state is not committed yet.
        assert _cache(factory).take(instance_id, revision, cache_key) is None
    assert _cache(factory).take(instance_id, revision, cache_key) is not None  # committed: now it is kept


def test_a_save_whose_flush_fails_leaves_no_advanced_copy_behind(
    factory: sessionmaker[Session], clock: FrozenClock, catalog: FormCatalog
) -> None:
    """The half-advanced instance of the 50-client test: a copy ahead of the database served as current.

    An admin's suspend and resume move an instance's lock version but not its state revision. A
    completion racing them advanced its workflow, wrote it out, then lost the optimistic lock at
    the flush; the copy, already marked as written, went back to the cache under the unchanged
    revision, and every later step of the case ran on a workflow the database never had.
    """
    instance_id = _start_loop(factory, clock, catalog, limit=5)
    task_id = _open_task(factory, instance_id)
    with transaction(factory) as session:
        tasks.claim_task(session, clock, actor=DIRECTOR, task_id=task_id)
    with pytest.raises(ConcurrentUpdateError):
        with transaction(factory) as session:
            # Another transaction's suspend and resume, as the flush will find them: the lock
            # version moved, the state revision did not. A completion reads the case's row locked
            # (engine/tasks.py), so the change is made after that read, at the completion's first flush.
            def move_the_lock_version(flushing: Session, *_: object) -> None:
                flushing.connection().execute(update(Instance).where(Instance.instance_id == instance_id)
                                              .values(lock_version=Instance.lock_version + 1))

            event.listen(session, "before_flush", move_the_lock_version, once=True)
            tasks.complete_task(session, clock, catalog, actor=DIRECTOR, task_id=task_id, data={"rcc_approved": True})
    with transaction(factory) as session:  # the same completion again: the task is still open, and waits in the workflow
        tasks.complete_task(session, clock, catalog, actor=DIRECTOR, task_id=task_id, data={"rcc_approved": True})
    assert _count(factory, instance_id) == 1
