"""External tasks: service tasks done by workers through Camunda 7's external-task API.

A service task the workflow reaches waits (STARTED in the library) and has a row here
(engine/step_sync.py). A worker fetches and locks rows of its topics for a while, then completes
the task with variables (the workflow runs on, in the same transaction, with its history), reports
a failure (retried after the retry timeout; with no retries left, an incident an admin retries) or
a BPMN error (caught by an error boundary event on the task; uncaught, an incident). Only the
worker holding an unexpired lock may report; once the lock expires another worker may take the task.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from engine.audit import record_event
from engine.bpmn.spiff_adapter import WorkflowError, WorkflowRun
from engine.bundles import Bundle, bundle_of
from engine.clock import Clock
from engine.db import flush
from engine.errors import ExternalTaskLockError, InstanceStateError, NotFoundError, TaskStateError
from engine.identity import Actor
from engine.incidents import advance_or_incident, record_incident
from engine.permissions import Permission, require
from engine.states import ExternalTaskStatus, InstanceStatus
from engine.tables import ExternalTask, Instance
from engine.workflow_store import load_run

MAX_TASKS = 100  # at most this many tasks a fetch locks at once (the API refuses more)
_SCAN = 500  # rows a fetch with a variables filter looks through


@dataclass(frozen=True)
class TopicRequest:
    topic: str
    lock_duration: timedelta
    variables: list[str] | None = None  # the variables the worker wants; None: all
    process_variables: dict[str, Any] | None = None  # only tasks whose case holds these values
    business_key: str | None = None
    definition_key: str | None = None


@dataclass(frozen=True)
class ExternalTaskInfo:
    external_task_id: uuid.UUID
    instance_id: uuid.UUID
    definition_key: str
    business_key: str | None
    process_key: str
    element_id: str
    name: str
    topic: str
    status: str
    worker_id: str | None
    lock_expires_at: datetime | None
    retries: int | None
    retry_at: datetime | None
    error_message: str | None
    error_details: str | None
    priority: int
    created_at: datetime
    variables: dict[str, Any]

    @classmethod
    def of(cls, row: ExternalTask, record: Instance, names: list[str] | None = None) -> ExternalTaskInfo:
        variables = row.variables if names is None else {k: v for k, v in row.variables.items() if k in names}
        return cls(row.external_task_id, row.instance_id, record.definition_key, record.business_key,
                   row.process_key, row.element_id, row.name, row.topic, row.status, row.worker_id,
                   row.lock_expires_at, row.retries, row.retry_at, row.error_message, row.error_details,
                   row.priority, row.created_at, dict(variables))


def fetch_and_lock(session: Session, clock: Clock, *, actor: Actor, worker_id: str, max_tasks: int,
                   topics: list[TopicRequest], use_priority: bool = False) -> list[ExternalTaskInfo]:
    """Lock up to `max_tasks` available tasks of the topics for `worker_id`; oldest (or highest priority) first.

    Available: open, of a running case, not locked (or its lock expired), with retries left and past
    its retry timeout. Raises: PermissionDeniedError.
    """
    require(actor, Permission.EXTERNAL_WORK)
    now = clock.now()
    by_topic = {t.topic: t for t in topics}
    query = (
        select(ExternalTask, Instance)
        .join(Instance, Instance.instance_id == ExternalTask.instance_id)
        .where(ExternalTask.status == ExternalTaskStatus.OPEN, ExternalTask.topic.in_(list(by_topic)),
               Instance.status == InstanceStatus.RUNNING,
               or_(ExternalTask.lock_expires_at.is_(None), ExternalTask.lock_expires_at <= now),
               or_(ExternalTask.retries.is_(None), ExternalTask.retries > 0),
               or_(ExternalTask.retry_at.is_(None), ExternalTask.retry_at <= now))
        .order_by(*((ExternalTask.priority.desc(),) if use_priority else ()), ExternalTask.created_at,
                  ExternalTask.external_task_id)
        # Two workers fetching at once take different rows (PostgreSQL); SQLite's write lock serialises them.
        .with_for_update(of=ExternalTask, skip_locked=True)
    )
    filtered = any(t.process_variables or t.business_key or t.definition_key for t in topics)
    locked: list[ExternalTaskInfo] = []
    for row, record in session.execute(query.limit(_SCAN if filtered else max_tasks)):
        wanted = by_topic[row.topic]
        if not _matches(wanted, row, record):
            continue
        row.worker_id, row.lock_expires_at = worker_id, now + wanted.lock_duration
        record_event(session, clock, actor=actor.username, event_type="external_task_locked",
                     instance_id=row.instance_id, task_id=row.external_task_id, definition_key=record.definition_key,
                     data={"element": row.element_id, "topic": row.topic, "worker_id": worker_id,
                           "lock_expires_at": row.lock_expires_at.isoformat()})
        locked.append(ExternalTaskInfo.of(row, record, wanted.variables))
        if len(locked) >= max_tasks:
            break
    flush(session)
    return locked


def _matches(wanted: TopicRequest, row: ExternalTask, record: Instance) -> bool:
    if wanted.business_key is not None and record.business_key != wanted.business_key:
        return False
    if wanted.definition_key is not None and record.definition_key != wanted.definition_key:
        return False
    return all(row.variables.get(k) == v for k, v in (wanted.process_variables or {}).items())


def _held_and_waiting(session: Session, clock: Clock, actor: Actor, task_id: uuid.UUID,
                      worker_id: str) -> tuple[ExternalTask, Instance, Bundle, WorkflowRun]:
    """The worker's locked task with its case and workflow, which must still wait on it.

    Raises: as `_held`, and TaskStateError when the workflow moved past the service task.
    """
    row, record = _held(session, clock, actor, task_id, worker_id)
    bundle = bundle_of(session, record)
    run = load_run(record, bundle)
    if task_id not in {t.task_id for t in run.waiting_service_tasks()}:
        raise TaskStateError("the service task is no longer waiting in the workflow")
    return row, record, bundle, run


def complete_external_task(session: Session, clock: Clock, *, actor: Actor, task_id: uuid.UUID, worker_id: str,
                           variables: dict[str, Any]) -> None:
    """Finish the task with the worker's variables and run the workflow until it waits again.

    Raises: PermissionDeniedError, NotFoundError, TaskStateError, ExternalTaskLockError, InstanceStateError.
    """
    row, record, bundle, run = _held_and_waiting(session, clock, actor, task_id, worker_id)
    now = clock.now()
    row.status, row.completed_at, row.completed_by = ExternalTaskStatus.COMPLETED, now, actor.username
    flush(session)  # a concurrent completion loses here (the row's version), before any further work
    record_event(session, clock, actor=actor.username, event_type="external_task_completed",
                 instance_id=record.instance_id, task_id=task_id, definition_key=record.definition_key,
                 data={"element": row.element_id, "topic": row.topic, "worker_id": worker_id, "variables": variables})
    advance_or_incident(session, clock, actor=actor.username, record=record, bundle=bundle, run=run,
                        action=lambda: run.complete_service_task(task_id, dict(variables), now))


def report_failure(session: Session, clock: Clock, *, actor: Actor, task_id: uuid.UUID, worker_id: str,
                   error_message: str | None, error_details: str | None, retries: int,
                   retry_timeout: timedelta) -> None:
    """Note a worker's failure and release the lock; with no retries left the case gets an incident.

    Raises: PermissionDeniedError, NotFoundError, TaskStateError, ExternalTaskLockError, InstanceStateError.
    """
    row, record = _held(session, clock, actor, task_id, worker_id)
    now = clock.now()
    row.retries, row.error_message, row.error_details = max(0, retries), error_message, error_details
    row.lock_expires_at = None
    row.retry_at = now + retry_timeout if row.retries > 0 else None
    record_event(session, clock, actor=actor.username, event_type="external_task_failed",
                 instance_id=record.instance_id, task_id=task_id, definition_key=record.definition_key,
                 data={"element": row.element_id, "topic": row.topic, "worker_id": worker_id,
                       "error_message": error_message, "retries": row.retries,
                       "retry_at": row.retry_at.isoformat() if row.retry_at else None})
    if row.retries == 0:
        _incident(session, clock, actor, record, row, f"external task '{row.name}' failed with no retries left: "
                                                      f"{error_message or 'no message'}")
    flush(session)


def report_bpmn_error(session: Session, clock: Clock, *, actor: Actor, task_id: uuid.UUID, worker_id: str,
                      error_code: str, error_message: str | None, variables: dict[str, Any]) -> None:
    """Throw the worker's BPMN error to the task's error boundary events; uncaught, it is an incident.

    Raises: PermissionDeniedError, NotFoundError, TaskStateError, ExternalTaskLockError, InstanceStateError.
    """
    row, record, bundle, run = _held_and_waiting(session, clock, actor, task_id, worker_id)
    now = clock.now()
    data = {"element": row.element_id, "topic": row.topic, "worker_id": worker_id, "error_code": error_code,
            "error_message": error_message, "variables": variables}
    if not run.catches_service_error(task_id, error_code):
        row.retries, row.error_message, row.lock_expires_at = 0, f"BPMN error '{error_code}': {error_message}", None
        record_event(session, clock, actor=actor.username, event_type="external_task_bpmn_error",
                     instance_id=record.instance_id, task_id=task_id, definition_key=record.definition_key,
                     data={**data, "caught": False})
        _incident(session, clock, actor, record, row, f"BPMN error '{error_code}' of external task '{row.name}' is "
                                                      "not caught by an error boundary event on it")
        flush(session)
        return
    row.status, row.completed_at, row.completed_by = ExternalTaskStatus.COMPLETED, now, actor.username
    row.error_message = f"BPMN error '{error_code}': {error_message}"
    flush(session)
    record_event(session, clock, actor=actor.username, event_type="external_task_bpmn_error",
                 instance_id=record.instance_id, task_id=task_id, definition_key=record.definition_key,
                 data={**data, "caught": True})
    advance_or_incident(session, clock, actor=actor.username, record=record, bundle=bundle, run=run,
                        action=lambda: run.throw_service_error(task_id, error_code, dict(variables), now))


def extend_lock(session: Session, clock: Clock, *, actor: Actor, task_id: uuid.UUID, worker_id: str,
                duration: timedelta) -> None:
    """Raises: PermissionDeniedError, NotFoundError, TaskStateError, ExternalTaskLockError, InstanceStateError."""
    row, record = _held(session, clock, actor, task_id, worker_id)
    row.lock_expires_at = clock.now() + duration
    record_event(session, clock, actor=actor.username, event_type="external_task_lock_extended",
                 instance_id=record.instance_id, task_id=task_id, definition_key=record.definition_key,
                 data={"element": row.element_id, "worker_id": worker_id,
                       "lock_expires_at": row.lock_expires_at.isoformat()})
    flush(session)


def unlock(session: Session, clock: Clock, *, actor: Actor, task_id: uuid.UUID) -> None:
    """Release a task's lock, whoever holds it (an admin's or a worker's clean-up). Raises: as `extend_lock`."""
    require(actor, Permission.EXTERNAL_WORK)
    row, record = _open_row(session, task_id)
    row.lock_expires_at = None
    record_event(session, clock, actor=actor.username, event_type="external_task_unlocked",
                 instance_id=record.instance_id, task_id=task_id, definition_key=record.definition_key,
                 data={"element": row.element_id, "worker_id": row.worker_id})
    flush(session)


def list_external_tasks(session: Session, clock: Clock, *, actor: Actor, topic: str | None = None,
                        worker_id: str | None = None, instance_id: uuid.UUID | None = None,
                        locked: bool | None = None, retries_left: bool | None = None,
                        limit: int = 1000) -> list[ExternalTaskInfo]:
    """The open external tasks, oldest first. Raises: PermissionDeniedError."""
    require(actor, Permission.EXTERNAL_WORK)
    now = clock.now()
    query = (select(ExternalTask, Instance).join(Instance, Instance.instance_id == ExternalTask.instance_id)
             .where(ExternalTask.status == ExternalTaskStatus.OPEN))
    if topic is not None:
        query = query.where(ExternalTask.topic == topic)
    if worker_id is not None:
        query = query.where(ExternalTask.worker_id == worker_id)
    if instance_id is not None:
        query = query.where(ExternalTask.instance_id == instance_id)
    if locked is True:
        query = query.where(ExternalTask.lock_expires_at > now)
    elif locked is False:
        query = query.where(or_(ExternalTask.lock_expires_at.is_(None), ExternalTask.lock_expires_at <= now))
    if retries_left is True:
        query = query.where(or_(ExternalTask.retries.is_(None), ExternalTask.retries > 0))
    elif retries_left is False:
        query = query.where(ExternalTask.retries == 0)
    query = query.order_by(ExternalTask.created_at, ExternalTask.external_task_id).limit(limit)
    return [ExternalTaskInfo.of(row, record) for row, record in session.execute(query)]


def get_external_task(session: Session, *, actor: Actor, task_id: uuid.UUID) -> ExternalTaskInfo:
    """Raises: PermissionDeniedError, NotFoundError."""
    require(actor, Permission.EXTERNAL_WORK)
    found = session.execute(select(ExternalTask, Instance).join(Instance, Instance.instance_id == ExternalTask.instance_id)
                            .where(ExternalTask.external_task_id == task_id)).first()
    if found is None:
        raise NotFoundError(f"no external task {task_id}")
    return ExternalTaskInfo.of(found[0], found[1])


def retry_external_incidents(session: Session, clock: Clock, *, actor: str, record: Instance) -> bool:
    """Give the case's external tasks without retries one more (an admin's retry of the incident); any?"""
    rows = session.scalars(select(ExternalTask).where(ExternalTask.instance_id == record.instance_id,
                                                      ExternalTask.status == ExternalTaskStatus.OPEN,
                                                      ExternalTask.retries == 0)).all()
    for row in rows:
        row.retries, row.retry_at = 1, None
        record_event(session, clock, actor=actor, event_type="external_task_retries_set", instance_id=record.instance_id,
                     task_id=row.external_task_id, definition_key=record.definition_key,
                     data={"element": row.element_id, "retries": 1})
    return bool(rows)


def _open_row(session: Session, task_id: uuid.UUID) -> tuple[ExternalTask, Instance]:
    row = session.get(ExternalTask, task_id)
    if row is None:
        raise NotFoundError(f"no external task {task_id}")
    if row.status != ExternalTaskStatus.OPEN:
        raise TaskStateError(f"the external task is {row.status}", task_status=row.status)
    record = session.get(Instance, row.instance_id)
    assert record is not None  # foreign key
    if record.status != InstanceStatus.RUNNING:
        raise InstanceStateError(f"the instance is {record.status}", instance_status=record.status)
    return row, record


def _held(session: Session, clock: Clock, actor: Actor, task_id: uuid.UUID,
          worker_id: str) -> tuple[ExternalTask, Instance]:
    """The open task locked by `worker_id` now. Raises: as `complete_external_task`."""
    require(actor, Permission.EXTERNAL_WORK)
    row, record = _open_row(session, task_id)
    now = clock.now()
    if row.worker_id != worker_id or row.lock_expires_at is None:
        raise ExternalTaskLockError(f"the external task is not locked by worker '{worker_id}'; fetch and lock it first",
                                    worker_id=worker_id)
    if row.lock_expires_at <= now:
        raise ExternalTaskLockError(f"the lock of worker '{worker_id}' expired at {row.lock_expires_at.isoformat()}; "
                                    "another worker may have taken the task", worker_id=worker_id)
    return row, record


def _incident(session: Session, clock: Clock, actor: Actor, record: Instance, row: ExternalTask, message: str) -> None:
    record_incident(session, clock, actor=actor.username, record=record, error=WorkflowError(message, row.element_id))
