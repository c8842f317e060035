"""Who sees what: the query conditions behind every queue and instance read.

An approver sees tasks of their groups and tasks assigned to (or delegated by) them; instances
they took part in or that wait on such a task. A user bound to an outlet (`outlet_code`) sees only
cases of that outlet, or cases not tied to any outlet: one outlet never sees another's customers.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import and_, exists, or_

from engine.identity import Actor
from engine.states import TaskStatus
from engine.tables import AuditEvent, Instance, Task, TaskCandidateGroup


def own_outlet(actor: Actor) -> Any:
    """Cases an outlet-bound user may see (needs `Instance` in the query); no condition for others."""
    if actor.outlet_code is None:
        return True
    return or_(Instance.outlet_code.is_(None), Instance.outlet_code == actor.outlet_code)


def queue_routes(actor: Actor) -> list[Any]:
    """The ways a task reaches the actor's queue, one condition each (without the outlet rule).

    A queue query may run them as separate branches: each can then walk an index in queue order
    and stop after a page, where the OR of all three makes PostgreSQL read every candidate-group
    row of the actor's groups first.
    """
    return [
        exists().where(TaskCandidateGroup.task_id == Task.task_id, TaskCandidateGroup.group_id.in_(sorted(actor.groups))),
        Task.assignee == actor.username,
        Task.owner == actor.username,
    ]


def workable_by(actor: Actor) -> Any:
    """Tasks in the actor's queue (needs `Instance` joined to `Task` in the query)."""
    return and_(or_(*queue_routes(actor)), own_outlet(actor))


def instance_visible_to(actor: Actor) -> Any:
    """Instances an approver took part in, or that wait on a task in their queue; never another outlet's.

    Having taken part does not outlast a move: staff moved to another outlet no longer see the cases
    of the one they left.
    """
    took_part = exists().where(AuditEvent.instance_id == Instance.instance_id, AuditEvent.actor == actor.username)
    queued = exists().where(Task.instance_id == Instance.instance_id, Task.status == TaskStatus.OPEN, workable_by(actor))
    return and_(or_(took_part, queued), own_outlet(actor))


def outlet_allows(actor: Actor, outlet_code: str | None) -> bool:
    """Whether the outlet rule lets `actor` near a case of `outlet_code` (the row-level form of `own_outlet`)."""
    return actor.outlet_code is None or outlet_code is None or outlet_code == actor.outlet_code
