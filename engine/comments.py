"""Comments on a task, kept with the case and visible to everyone who may see the task."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.audit import record_event
from engine.clock import Clock
from engine.errors import ValidationError
from engine.identity import Actor
from engine.notifications.outbox import notify_mentions
from engine.tables import TaskComment
from engine.tasks import visible_task

MAX_COMMENT = 4000


@dataclass(frozen=True)
class CommentInfo:
    comment_id: uuid.UUID
    task_id: uuid.UUID
    author: str
    text: str
    created_at: datetime


def add_comment(session: Session, clock: Clock, *, actor: Actor, task_id: uuid.UUID, text: str) -> CommentInfo:
    """Raises: NotFoundError, ValidationError."""
    task, record, _ = visible_task(session, actor, task_id)
    if not text.strip() or len(text) > MAX_COMMENT:
        raise ValidationError(f"a comment has 1 to {MAX_COMMENT} characters", field="text")
    row = TaskComment(task_id=task_id, instance_id=record.instance_id, author=actor.username, text=text,
                      created_at=clock.now())
    session.add(row)
    record_event(session, clock, actor=actor.username, event_type="comment_added", instance_id=record.instance_id,
                 task_id=task_id, definition_key=record.definition_key, data={"element": task.element_id, "text": text})
    notify_mentions(session, record=record, task=task, author=actor.username, text=text, now=row.created_at)
    session.flush()
    return CommentInfo(row.comment_id, task_id, row.author, row.text, row.created_at)


def list_comments(session: Session, *, actor: Actor, task_id: uuid.UUID) -> list[CommentInfo]:
    visible_task(session, actor, task_id)
    rows = session.scalars(select(TaskComment).where(TaskComment.task_id == task_id).order_by(TaskComment.created_at))
    return [CommentInfo(r.comment_id, r.task_id, r.author, r.text, r.created_at) for r in rows]
