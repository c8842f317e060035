"""A person's own lists beside the queue: 已办 (tasks I completed) and 我发起的 (cases I started),
each with where its case stands now, and the counts the navigation shows."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session, defer

from engine.identity import Actor
from engine.instance_detail import Page
from engine.register_tables import Outlet, Product
from engine.states import InstanceStatus, TaskStatus
from engine.tables import Definition, Instance, Task
from engine.task_queue import QUEUE_COUNT_CAP, list_tasks
from engine.tasks import TaskSummary, candidate_groups_of, summarize
from engine.visibility import instance_visible_to


@dataclass(frozen=True)
class Stop:
    """An open step of a case: its name and who holds it (the assignee, else the candidate groups)."""

    name: str
    assignee: str | None
    groups: tuple[str, ...]


@dataclass(frozen=True)
class DoneTask:
    task: TaskSummary
    now_at: tuple[Stop, ...]  # where the case waits now; () once it ended or between steps


@dataclass(frozen=True)
class StartedCase:
    instance_id: uuid.UUID
    definition_name: str
    business_key: str | None
    status: str
    started_at: datetime
    now_at: tuple[Stop, ...]
    # What tells cases apart, as on the inbox's rows (engine/task_queue.py).
    serial_number: str | None = None
    product_model: str | None = None
    outlet_code: str | None = None
    outlet_name: str | None = None


@dataclass(frozen=True)
class WorkCounts:
    open: int  # the queue, capped at QUEUE_COUNT_CAP
    open_capped: bool
    done: int
    started_running: int  # cases I started that have not ended


# The case's product model (else the registered product's) and the registered outlet's name, as the
# queue shows them: joined by primary key in the page's own statement, never a query per row.
_CASE_MARKS = (func.coalesce(Instance.product_model, Product.model).label("product_model"),
               Outlet.name.label("outlet_name"))


def _with_case_marks(query: Any) -> Any:
    """`query` (over `Instance`) with the joins `_CASE_MARKS` read, and without the case's workflow
    state (kilobytes of JSON, which a list never shows)."""
    return (query.outerjoin(Product, Product.serial_number == Instance.serial_number)
            .outerjoin(Outlet, Outlet.code == Instance.outlet_code).options(defer(Instance.state)))


def list_done_tasks(session: Session, *, actor: Actor, limit: int = 25, offset: int = 0) -> Page:
    """Tasks the actor completed, the latest first, each with where its case is now."""
    mine = Task.completed_by == actor.username
    total = session.scalar(select(func.count()).select_from(Task).where(mine)) or 0
    rows = session.execute(
        _with_case_marks(select(Task, Instance, Definition, *_CASE_MARKS)
                         .join(Instance, Instance.instance_id == Task.instance_id)
                         .join(Definition, Definition.definition_id == Instance.definition_id))
        .options(defer(Definition.spec))
        .where(mine).order_by(Task.completed_at.desc(), Task.task_id).limit(limit).offset(offset)
    ).all()
    groups = candidate_groups_of(session, [row.Task.task_id for row in rows])
    stops = _open_steps(session, [row.Instance.instance_id for row in rows])
    items = [DoneTask(summarize(task, record, definition, groups.get(task.task_id, ()),
                                product_model=model, outlet_name=outlet_name),
                      stops.get(record.instance_id, ())) for task, record, definition, model, outlet_name in rows]
    return Page(items, total, limit, offset)


def list_started_cases(session: Session, *, actor: Actor, limit: int = 25, offset: int = 0) -> Page:
    """Cases the actor started (and may still see), the newest first, each with where it stands."""
    conditions = [Instance.started_by == actor.username, instance_visible_to(actor)]
    total = session.scalar(select(func.count()).select_from(Instance).where(*conditions)) or 0
    rows = session.execute(
        _with_case_marks(select(Instance, Definition.name, *_CASE_MARKS)
                         .join(Definition, Definition.definition_id == Instance.definition_id))
        .where(*conditions).order_by(Instance.started_at.desc(), Instance.instance_id).limit(limit).offset(offset)
    ).all()
    stops = _open_steps(session, [record.instance_id for record, *_ in rows])
    items = [StartedCase(record.instance_id, name, record.business_key, record.status, record.started_at,
                         stops.get(record.instance_id, ()), record.serial_number, model, record.outlet_code,
                         outlet_name) for record, name, model, outlet_name in rows]
    return Page(items, total, limit, offset)


def work_counts(session: Session, *, actor: Actor) -> WorkCounts:
    """The navigation's numbers; each past QUEUE_COUNT_CAP stops counting (the queue's own rule)."""
    queue = list_tasks(session, actor=actor, limit=1)
    done = select(Task.task_id).where(Task.completed_by == actor.username).limit(QUEUE_COUNT_CAP + 1).subquery()
    running = (select(Instance.instance_id)
               .where(Instance.started_by == actor.username, instance_visible_to(actor),
                      Instance.status.in_([InstanceStatus.RUNNING, InstanceStatus.SUSPENDED, InstanceStatus.FAILED]))
               .limit(QUEUE_COUNT_CAP + 1).subquery())
    return WorkCounts(queue.total, queue.total_capped,
                      min(session.scalar(select(func.count()).select_from(done)) or 0, QUEUE_COUNT_CAP),
                      min(session.scalar(select(func.count()).select_from(running)) or 0, QUEUE_COUNT_CAP))


def _open_steps(session: Session, instance_ids: list[uuid.UUID]) -> dict[uuid.UUID, tuple[Stop, ...]]:
    if not instance_ids:
        return {}
    rows = session.execute(select(Task.task_id, Task.instance_id, Task.name, Task.assignee)
                           .where(Task.instance_id.in_(set(instance_ids)), Task.status == TaskStatus.OPEN)
                           .order_by(Task.created_at)).all()
    groups = candidate_groups_of(session, [row.task_id for row in rows])
    found: dict[uuid.UUID, list[Stop]] = {}
    for row in rows:
        found.setdefault(row.instance_id, []).append(Stop(row.name, row.assignee, groups.get(row.task_id, ())))
    return {instance_id: tuple(stops) for instance_id, stops in found.items()}
