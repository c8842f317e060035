"""What a case looks like to its reader: its summary, its detail (waiting tasks, timers, data), a page of them.

Built from the rows and the workflow run a step or a read already holds; the few reads here are
built once, since a case's detail follows every start and every read of a case.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from engine.bpmn.spiff_adapter import WorkflowRun
from engine.bundles import Bundle
from engine.identity import Actor
from engine.new_case_tasks import open_tasks_of_new_case
from engine.states import (
    INSTANCE_TRANSITIONS,
    InstanceAction,
    InstanceStatus,
    TaskStatus,
    TimerStatus,
    instance_actions,
)
from engine.tables import Definition, Instance, Task, TaskCandidateGroup, Timer
from engine.withdrawal import withdraw_blocker


@dataclass(frozen=True)
class InstanceSummary:
    instance_id: uuid.UUID
    definition_key: str
    definition_version: int
    definition_name: str
    business_key: str | None
    status: str
    status_reason: str | None
    started_by: str
    started_at: datetime
    updated_at: datetime
    ended_at: datetime | None
    allowed_actions: tuple[InstanceAction, ...] = ()  # what the reader may do with it now


@dataclass(frozen=True)
class WaitingTaskRef:
    task_id: uuid.UUID
    element_id: str
    name: str
    candidate_groups: tuple[str, ...]
    assignee: str | None
    due_at: datetime | None


@dataclass(frozen=True)
class InstanceDetail:
    summary: InstanceSummary
    waiting_tasks: tuple[WaitingTaskRef, ...]
    pending_timers: tuple[dict[str, Any], ...]
    variables: dict[str, Any]


@dataclass(frozen=True)
class Page:
    items: list[Any]
    total: int
    limit: int
    offset: int
    total_capped: bool = False  # counting stopped at `total`: there are more


def summary_of(record: Instance, definition: Definition, actor: Actor) -> InstanceSummary:
    return InstanceSummary(
        record.instance_id, record.definition_key, definition.version, definition.name, record.business_key,
        record.status, record.status_reason, record.started_by, record.started_at, record.updated_at,
        record.ended_at, instance_actions(actor, record.status),
    )


def detail_of(session: Session, actor: Actor, record: Instance, bundle: Bundle, run: WorkflowRun, *,
            just_started: bool = False) -> InstanceDetail:
    """The case as its page and API show it. `just_started`: launched in this transaction, so no step
    of it was done by anyone yet and its starter may withdraw it while it runs."""
    # A case started in this transaction has only the tasks it created: no need to read them back.
    waiting = open_tasks_of_new_case(session, record.instance_id) if just_started else _open_tasks(session, record)
    timers = session.scalars(_PENDING_TIMERS, {"instance_id": record.instance_id}).all() \
        if bundle.uses("timer_events") else []
    variables = run.variables()
    summary = summary_of(record, bundle.definition, actor)
    if record.started_by == actor.username and (
            InstanceAction.WITHDRAW in INSTANCE_TRANSITIONS[InstanceStatus(record.status)] if just_started
            else withdraw_blocker(session, actor, record) is None):
        summary = replace(summary, allowed_actions=(*summary.allowed_actions, InstanceAction.WITHDRAW))
    return InstanceDetail(
        summary,
        tuple(WaitingTaskRef(t.task_id, t.element_id, t.name, groups, t.assignee, t.due_at) for t, groups in waiting),
        tuple({"timer_id": str(t.timer_id), "element_id": t.element_id, "name": t.name,
               "due_at": t.due_at.isoformat()} for t in timers),
        variables,
    )


def _open_tasks(session: Session, record: Instance) -> list[tuple[Task, tuple[str, ...]]]:
    tasks: dict[uuid.UUID, Task] = {}
    groups: dict[uuid.UUID, list[str]] = {}
    for task, group_id in session.execute(_OPEN_TASKS_WITH_GROUPS, {"instance_id": record.instance_id}):
        tasks.setdefault(task.task_id, task)
        if group_id is not None:
            groups.setdefault(task.task_id, []).append(group_id)
    return [(task, tuple(sorted(groups.get(task_id, [])))) for task_id, task in tasks.items()]


# Built once: a case's detail follows every start and every read of a case.
_OPEN_TASKS_WITH_GROUPS = (
    select(Task, TaskCandidateGroup.group_id)
    .outerjoin(TaskCandidateGroup, TaskCandidateGroup.task_id == Task.task_id)
    .where(Task.instance_id == bindparam("instance_id"), Task.status == TaskStatus.OPEN)
    .order_by(Task.created_at, Task.task_id)
)
_PENDING_TIMERS = (select(Timer).where(Timer.instance_id == bindparam("instance_id"), Timer.status == TimerStatus.PENDING)
                   .order_by(Timer.due_at))
