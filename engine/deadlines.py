"""Service-commitment clocks: each user task with a due time has a deadline that is met or breached.

A deadline starts when its task is created and counts calendar time or working time
(`sla_calendar` = `working` on the task). While the case waits at an element marked
`sla_pause` = `true` (waiting on the customer or on parts) its open deadlines stand still: on
resuming, their due time moves on by the pause.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.business_calendar import deadline
from engine.errors import ProcessError
from engine.states import DeadlineStatus
from engine.tables import Deadline, Instance, Task


def open_deadline(
    session: Session, *, record: Instance, task: Task, meta: dict[str, object], now: datetime
) -> datetime | None:
    """Start the deadline of a new task; returns its due time (None when the task has no due date)."""
    duration = meta.get("due")
    if not isinstance(duration, str) or not duration:
        return None
    properties = meta.get("properties") or {}
    calendar = "working" if isinstance(properties, dict) and properties.get("sla_calendar") == "working" else "calendar"
    due_at = _due_at(session, calendar, now, duration, element=task.element_id, what="camunda:dueDate")
    session.add(Deadline(
        instance_id=record.instance_id, task_id=task.task_id, process_key=task.process_key,
        element_id=task.element_id, name=task.name, calendar=calendar, duration=duration, started_at=now,
        due_at=due_at, status=DeadlineStatus.OPEN,
    ))
    return due_at


def open_case_deadline(session: Session, *, record: Instance, name: str, sla: dict[str, str] | None,
                       now: datetime) -> None:
    """Start the clock of the whole case (the process's `sla_case_due`), met when the case completes."""
    if not sla:
        return
    calendar = "working" if sla.get("calendar") == "working" else "calendar"
    session.add(Deadline(
        instance_id=record.instance_id, task_id=None, process_key=record.definition_key,
        element_id=record.definition_key, name=name, calendar=calendar, duration=sla["due"], started_at=now,
        due_at=_due_at(session, calendar, now, sla["due"], element=record.definition_key, what="sla_case_due"),
        status=DeadlineStatus.OPEN,
    ))


def _due_at(session: Session, calendar: str, now: datetime, duration: str, *, element: str, what: str) -> datetime:
    """The deadline's due time; a due date deploy would refuse now (an older version's) fails the step, not the server."""
    try:
        return deadline(session, calendar, now, duration)
    except ValueError as error:
        raise ProcessError(f"the {what} of '{element}' cannot be counted: {error}; a designer must deploy a "
                           "corrected version", element=element) from None


def close_case_deadline(session: Session, *, instance_id: uuid.UUID, completed: bool, now: datetime) -> None:
    rows = session.scalars(select(Deadline).where(Deadline.instance_id == instance_id, Deadline.task_id.is_(None),
                                                  Deadline.status == DeadlineStatus.OPEN))
    for row in rows:
        _close(row, completed, now)


def close_deadline(session: Session, *, task_id: uuid.UUID, completed: bool, now: datetime) -> None:
    """A task finished: met if completed in time; a task cancelled at or after its due time (an escalation) breached it."""
    row = session.scalars(select(Deadline).where(Deadline.task_id == task_id, Deadline.status == DeadlineStatus.OPEN)).first()
    if row is None:
        return
    _close(row, completed, now)


def _close(row: Deadline, completed: bool, now: datetime) -> None:
    _resume(row, now)
    if completed:
        row.status = DeadlineStatus.MET if now <= row.due_at else DeadlineStatus.BREACHED
    else:
        row.status = DeadlineStatus.BREACHED if now >= row.due_at else DeadlineStatus.CANCELLED
    row.met_at = now if row.status == DeadlineStatus.MET else None


def pause_or_resume(session: Session, *, instance_id: uuid.UUID, paused: bool, now: datetime) -> None:
    """Stop the instance's open clocks while it waits on the customer or on parts; restart them after."""
    rows = session.scalars(select(Deadline).where(Deadline.instance_id == instance_id, Deadline.status == DeadlineStatus.OPEN))
    for row in rows:
        if paused and row.paused_at is None:
            row.paused_at = now
        elif not paused:
            _resume(row, now)


def _resume(row: Deadline, now: datetime) -> None:
    if row.paused_at is not None:
        row.due_at = row.due_at + (now - row.paused_at)
        row.paused_at = None
