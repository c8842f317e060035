"""The deadline sweep: tell people once that a deadline is near, and once that it passed.

Deadlines are closed (met or breached) when their task ends (engine/deadlines.py); nobody was
told while a task sat past its due time. The sweep is a scheduler tick: it claims open deadlines
that fell due (or fall due within the reminder lead, counted in working hours on the business
calendar), writes their outbox rows and marks them told, in one transaction.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import Select, delete, select
from sqlalchemy.orm import Session, sessionmaker

from engine.business_calendar import working_time_after
from engine.clock import Clock
from engine.notifications.kinds import EventKind
from engine.notifications.outbox import notify_deadline
from engine.states import DeadlineStatus, InstanceStatus, NotificationStatus, TaskStatus
from engine.tables import Deadline, Instance, Notification, Task, TaskCandidateGroup

BATCH_SIZE = 100


def sweep_deadlines(factory: sessionmaker[Session], clock: Clock, *, reminder_hours: float,
                    limit: int = BATCH_SIZE) -> int:
    """One tick: breaches, then reminders, of at most `limit` deadlines each; returns how many were told."""
    with factory() as session, session.begin():
        now = clock.now()
        told = 0
        breached = _claim(session, select(Deadline).where(
            Deadline.status == DeadlineStatus.OPEN, Deadline.paused_at.is_(None),
            Deadline.breach_notified_at.is_(None), Deadline.due_at <= now), limit)
        for row in breached:
            row.breach_notified_at = now
            row.reminded_at = row.reminded_at or now  # a reminder after the breach would only confuse
            _drop_held_reminders(session, row, now)
            told += _tell(session, EventKind.DEADLINE_BREACHED, row, now)
        if reminder_hours > 0:
            horizon = working_time_after(session, now, timedelta(hours=reminder_hours))
            near = _claim(session, select(Deadline).where(
                Deadline.status == DeadlineStatus.OPEN, Deadline.paused_at.is_(None),
                Deadline.reminded_at.is_(None), Deadline.due_at > now, Deadline.due_at <= horizon), limit)
            for row in near:
                row.reminded_at = now
                told += _tell(session, EventKind.DEADLINE_NEAR, row, now)
        return told


def _claim(session: Session, query: Select[Deadline], limit: int) -> list[Deadline]:
    statement = query.order_by(Deadline.due_at, Deadline.deadline_id).limit(limit)
    if session.get_bind().dialect.name == "postgresql":
        # Two workers sweeping at once: each walks past the other's deadlines, so each is told once.
        statement = statement.with_for_update(skip_locked=True)
    return list(session.scalars(statement))


def _drop_held_reminders(session: Session, row: Deadline, now: datetime) -> None:
    """A reminder still held by someone's quiet hours is superseded by the breach: "due soon" would now mislead."""
    held = delete(Notification).where(Notification.event_kind == EventKind.DEADLINE_NEAR,
                                      Notification.status == NotificationStatus.PENDING,
                                      Notification.attempts == 0, Notification.next_attempt_at > now,
                                      Notification.instance_id == row.instance_id)
    held = held.where(Notification.task_id == row.task_id if row.task_id is not None else Notification.task_id.is_(None))
    session.execute(held)


def _tell(session: Session, kind: EventKind, row: Deadline, now: datetime) -> int:
    record = session.get(Instance, row.instance_id)
    if record is None or record.status != InstanceStatus.RUNNING:
        return 0  # a suspended case's people are not chased; its deadline is still counted
    task = session.get(Task, row.task_id) if row.task_id is not None else None
    if task is not None and task.status != TaskStatus.OPEN:
        return 0
    groups = list(session.scalars(select(TaskCandidateGroup.group_id).where(TaskCandidateGroup.task_id == row.task_id)
                                  .order_by(TaskCandidateGroup.group_id))) if task is not None else []
    notify_deadline(session, kind, record=record, deadline=row, task=task, groups=groups, now=now)
    return 1
