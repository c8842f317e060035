"""Queue work beyond claiming, as Tasklist users know it: assign, delegate, priority, follow-up date."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.audit import record_event
from engine.clock import Clock
from engine.db import flush
from engine.errors import PermissionDeniedError, ValidationError
from engine.identity import Actor, find_actor
from engine.notifications.outbox import notify_task_handed_on
from engine.permissions import Permission, has
from engine.tables import Instance, Membership, Task, User
from engine.tasks import (
    TaskSummary,
    candidate_groups_of,
    require_open,
    summarize,
    visible_task,
    visible_task_with_groups,
)
from engine.visibility import case_allows


def assign_task(session: Session, clock: Clock, *, actor: Actor, task_id: uuid.UUID, assignee: str,
                reason: str | None = None) -> TaskSummary:
    """Hand a task to a named member of its candidate groups (转交: the current assignee, or an admin).

    The reason (the task page requires one) goes into the history and the approval record.
    Raises: NotFoundError, PermissionDeniedError, ValidationError, TaskStateError.
    """
    return _reassign(session, clock, actor, task_id, assignee, delegate=False, reason=reason)


def delegate_task(session: Session, clock: Clock, *, actor: Actor, task_id: uuid.UUID, assignee: str,
                  reason: str | None = None) -> TaskSummary:
    """Let someone else work a task one holds; it comes back to the owner when the delegate unclaims it."""
    return _reassign(session, clock, actor, task_id, assignee, delegate=True, reason=reason)


def colleagues_for(session: Session, *, task_id: uuid.UUID, exclude: str) -> list[str]:
    """Who a task may be handed to: active members of its groups whom the organisation lets near its case."""
    task = session.get(Task, task_id)
    record = session.get(Instance, task.instance_id) if task is not None else None
    groups = candidate_groups_of(session, [task_id]).get(task_id, ())
    if record is None or not groups:
        return []
    names = session.scalars(select(User.username).join(Membership, Membership.user_id == User.user_id).where(
        Membership.group_id.in_(groups), User.is_active.is_(True), User.username != exclude).distinct())
    found = []
    for name in sorted(names):
        colleague = find_actor(session, name)
        if colleague is not None and case_allows(colleague, outlet_code=record.outlet_code, region=record.region):
            found.append(name)
    return found


def update_task(
    session: Session, clock: Clock, *, actor: Actor, task_id: uuid.UUID, priority: int | None = None,
    follow_up_at: datetime | None = None, clear_follow_up: bool = False,
) -> TaskSummary:
    """Set priority (0-100) or follow-up date: the assignee, or an admin."""
    task, record, definition = visible_task(session, actor, task_id)
    require_open(task, record)
    if task.assignee != actor.username and not has(actor, Permission.ADMINISTER):
        raise PermissionDeniedError("only the assignee may change priority or follow-up date; claim it first")
    changes: dict[str, object] = {}
    if priority is not None:
        if not 0 <= priority <= 100:
            raise ValidationError("priority must be between 0 and 100", field="priority")
        task.priority = changes["priority"] = priority
    if follow_up_at is not None or clear_follow_up:
        task.follow_up_at = follow_up_at
        changes["follow_up_at"] = follow_up_at.isoformat() if follow_up_at else None
    record_event(session, clock, actor=actor.username, event_type="task_updated", instance_id=record.instance_id,
                 task_id=task_id, definition_key=record.definition_key, data={"element": task.element_id, **changes})
    flush(session)
    return summarize(task, record, definition, candidate_groups_of(session, [task_id]).get(task_id, ()))


def _reassign(
    session: Session, clock: Clock, actor: Actor, task_id: uuid.UUID, assignee: str, *, delegate: bool,
    reason: str | None,
) -> TaskSummary:
    task, record, definition, groups = visible_task_with_groups(session, actor, task_id)
    require_open(task, record)
    if task.assignee != actor.username and not has(actor, Permission.ADMINISTER):
        raise PermissionDeniedError("only the assignee (or an admin) may hand this task on")
    target = find_actor(session, assignee)
    if target is None:
        raise ValidationError(f"no active user '{assignee}'", field="assignee")
    if groups and not target.in_any(groups):
        raise ValidationError(f"'{assignee}' is not in the task's groups ({', '.join(groups)})", field="assignee")
    if not case_allows(target, outlet_code=record.outlet_code, region=record.region):
        # They could not see the task: it would leave every queue that can.
        if target.outlet_code is not None:
            raise ValidationError(f"'{assignee}' works for outlet {target.outlet_code}, and this case belongs to outlet "
                                  f"{record.outlet_code or '(none)'}; hand it to someone of that outlet",
                                  field="assignee")
        raise ValidationError(f"'{assignee}' works for region {target.region_code}, and this case belongs to region "
                              f"{record.region}; hand it to someone of that region", field="assignee")
    previous = task.assignee
    if delegate:
        task.owner = task.owner or previous
    task.assignee = assignee
    record_event(session, clock, actor=actor.username, event_type="task_delegated" if delegate else "task_assigned",
                 instance_id=record.instance_id, task_id=task_id, definition_key=record.definition_key,
                 data={"element": task.element_id, "assignee": assignee, "previous_assignee": previous,
                       "owner": task.owner, "reason": (reason or "").strip() or None})
    notify_task_handed_on(session, record=record, task=task, assignee=assignee, actor=actor.username,
                          delegated=delegate, now=clock.now())
    flush(session)
    return summarize(task, record, definition, groups)
