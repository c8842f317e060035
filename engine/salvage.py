"""Ending an instance whose stored workflow cannot be loaded (written by a bug or by hand).

Terminating normally cancels the workflow and derives the rows from it; with no loadable workflow
an admin could not end the case at all, and its tasks stayed in everyone's queue. Here its rows
are closed directly instead, with the history rows a normal cancellation writes, and the state is
left as it was for whoever restores it from a backup.
"""

from __future__ import annotations

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from engine.audit import record_event
from engine.clock import Clock
from engine.deadlines import close_deadline
from engine.states import TaskStatus, TimerStatus
from engine.tables import Instance, MessageSubscription, Task, Timer


def end_without_workflow(session: Session, clock: Clock, *, actor: str, record: Instance) -> None:
    """Cancel the instance's open tasks and pending timers and drop its message subscriptions."""
    now = clock.now()
    for task in session.scalars(select(Task).where(Task.instance_id == record.instance_id, Task.status == TaskStatus.OPEN)):
        task.status, task.completed_at = TaskStatus.CANCELLED, now
        if task.due_at is not None:
            close_deadline(session, task_id=task.task_id, completed=False, now=now)
        record_event(session, clock, actor=actor, event_type="task_cancelled", instance_id=record.instance_id,
                     task_id=task.task_id, definition_key=record.definition_key,
                     data={"element": task.element_id, "name": task.name})
    for timer in session.scalars(select(Timer).where(Timer.instance_id == record.instance_id,
                                                     Timer.status == TimerStatus.PENDING)):
        timer.status = TimerStatus.CANCELLED
    session.execute(delete(MessageSubscription).where(MessageSubscription.instance_id == record.instance_id))
