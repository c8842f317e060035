"""The task queue: what a person may work, and claiming, unclaiming and completing it."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import exists, func, or_, select, union
from sqlalchemy.orm import Session, aliased

from engine.audit import record_event
from engine.bundles import bundle_of
from engine.catalog import FormCatalog
from engine.clock import Clock
from engine.db import flush
from engine.deadlines import close_deadline
from engine.errors import InstanceStateError, NotFoundError, PermissionDeniedError, TaskStateError, ValidationError
from engine.identity import Actor
from engine.incidents import advance_or_incident
from engine.instances import Page
from engine.permissions import Permission, has, sees_everything
from engine.states import InstanceStatus, TaskAction, TaskStatus, task_actions
from engine.tables import Definition, Instance, Task, TaskCandidateGroup
from engine.visibility import own_outlet, queue_routes, workable_by
from engine.workflow_store import load_run

QUEUE_COUNT_CAP = 1000
# Each sort as a function of the columns it reads: the branches order `Task`, the page their union.
SORTS: dict[str, Callable[[Any], tuple[Any, ...]]] = {
    "created": lambda t: (t.created_at,),
    "due": lambda t: (t.due_at.asc().nulls_last(), t.created_at),  # walks ix_tasks_status_due_at_created_at
    "priority": lambda t: (t.priority.desc(), t.created_at),
}


@dataclass(frozen=True)
class TaskSummary:
    task_id: uuid.UUID
    instance_id: uuid.UUID
    definition_key: str
    definition_name: str
    business_key: str | None
    element_id: str
    name: str
    form_key: str | None
    status: str
    assignee: str | None
    candidate_groups: tuple[str, ...]
    created_at: datetime
    due_at: datetime | None
    completed_at: datetime | None
    completed_by: str | None
    owner: str | None
    priority: int
    follow_up_at: datetime | None
    process_key: str
    region: str | None
    outlet_code: str | None
    customer_name: str | None
    serial_number: str | None


@dataclass(frozen=True)
class TaskDetail:
    summary: TaskSummary
    form_schema: dict[str, Any] | None
    variables: dict[str, Any]
    allowed_actions: tuple[TaskAction, ...] = ()  # what the reader may do with it now


def list_tasks(
    session: Session,
    *,
    actor: Actor,
    status: str = TaskStatus.OPEN,
    definition_key: str | None = None,
    business_key: str | None = None,
    candidate_group: str | None = None,
    assignee: str | None = None,
    unassigned: bool | None = None,
    customer_name: str | None = None,
    serial_number: str | None = None,
    region: str | None = None,
    outlet_code: str | None = None,
    search: str | None = None,
    sort: str = "created",
    limit: int = 50,
    offset: int = 0,
) -> Page:
    """Tasks of the actor's groups and tasks assigned to them, oldest first (or by due date or priority).

    Case-field filters use the instance's promoted, indexed columns; `search` finds a fragment of the
    business key, customer name, serial number, outlet code or step name. `total` counts up to
    QUEUE_COUNT_CAP; past it the page says `total_capped`.
    """
    if sort not in SORTS:
        raise ValidationError(f"sort must be one of {', '.join(SORTS)}", field="sort")
    if status not in TaskStatus.__members__.values():
        raise ValidationError(f"status must be one of {', '.join(TaskStatus)}", field="status")
    task_conditions: list[Any] = [Task.status == status]
    if candidate_group:
        task_conditions.append(exists().where(TaskCandidateGroup.task_id == Task.task_id,
                                              TaskCandidateGroup.group_id == candidate_group))
    if assignee:
        task_conditions.append(Task.assignee == assignee)
    if unassigned is True:
        task_conditions.append(Task.assignee.is_(None))
    elif unassigned is False:
        task_conditions.append(Task.assignee.is_not(None))
    case_conditions: list[Any] = [column == value for column, value in (
        (Instance.definition_key, definition_key), (Instance.business_key, business_key),
        (Instance.customer_name, customer_name), (Instance.serial_number, serial_number),
        (Instance.region, region), (Instance.outlet_code, outlet_code)) if value]
    if actor.outlet_code is not None:
        case_conditions.append(own_outlet(actor))
    if search and search.strip():
        term = search.strip()
        case_conditions.append(or_(*(column.icontains(term, autoescape=True) for column in (
            Instance.business_key, Instance.customer_name, Instance.serial_number, Instance.outlet_code, Task.name))))

    def routes(cap: int, ordered: bool) -> Any:
        """The queue's tasks, each route (group, assignee, owner) a branch of its own of at most `cap`."""
        branches = []
        for route in queue_routes(actor):
            # Ordered, a branch also carries the sort's columns for the union's own ORDER BY; the
            # count's branches read ids alone, which an index answers without the table.
            columns = (Task.task_id, Task.created_at, Task.due_at, Task.priority) if ordered else (Task.task_id,)
            branch = select(*columns).where(*task_conditions, route)
            if case_conditions:
                branch = branch.join(Instance, Instance.instance_id == Task.instance_id).where(*case_conditions)
            if ordered:
                branch = branch.order_by(*SORTS[sort](Task), Task.task_id)
            ids = branch.limit(cap).subquery()
            branches.append(select(ids))
        return union(*branches).subquery()

    # Counting stops past QUEUE_COUNT_CAP: an exact count of a queue of 100,000 reads all of it.
    counted = select(func.count()).select_from(routes(QUEUE_COUNT_CAP + 1, ordered=False)).scalar_subquery()
    queue = routes(offset + limit, ordered=True)
    # One round trip: the page's ids in queue order (at most `limit` rows, so PostgreSQL probes the
    # tables by primary key), the capped count beside them (uncorrelated, so computed once), and
    # their rows with a row per candidate group.
    page = (select(queue.c.task_id, *queue.c[1:4], counted.label("total"))
            .order_by(*SORTS[sort](queue.c), queue.c.task_id).limit(limit).offset(offset).subquery())
    rows = session.execute(
        select(*_SUMMARY_COLUMNS, page.c.total)
        .select_from(page)
        .join(Task, Task.task_id == page.c.task_id)
        .join(Instance, Instance.instance_id == Task.instance_id)
        .join(Definition, Definition.definition_id == Instance.definition_id)
        .outerjoin(TaskCandidateGroup, TaskCandidateGroup.task_id == Task.task_id)
        .order_by(*SORTS[sort](page.c), page.c.task_id)
    ).all()
    counted_total: int
    if rows:
        counted_total = rows[0].total
    elif offset:  # paged past the end: the count still says how far the queue goes
        counted_total = session.scalar(select(counted)) or 0
    else:  # the first offset + limit of an empty queue
        counted_total = 0
    total, capped = (QUEUE_COUNT_CAP, True) if counted_total > QUEUE_COUNT_CAP else (counted_total, False)
    return Page(_summaries(rows), total, limit, offset, total_capped=capped)


# A queue page's columns: case fields, but not the workflow state or the process spec (kilobytes each).
_SUMMARY_COLUMNS = (
    Task.task_id, Task.instance_id, Instance.definition_key, Definition.name, Instance.business_key, Task.element_id,
    Task.name, Task.form_key, Task.status, Task.assignee, Task.created_at, Task.due_at, Task.completed_at,
    Task.completed_by, Task.owner, Task.priority, Task.follow_up_at, Task.process_key, Instance.region,
    Instance.outlet_code, Instance.customer_name, Instance.serial_number, TaskCandidateGroup.group_id,
)


def _summaries(rows: Sequence[Sequence[Any]]) -> list[TaskSummary]:
    """A summary per task of rows of `_SUMMARY_COLUMNS` in queue order, a row per candidate group.

    Plain columns, not ORM objects: a page of 50 would otherwise build 150 tracked objects to read
    each once.
    """
    summaries: list[TaskSummary] = []
    groups: list[str] = []
    for index, row in enumerate(rows):
        if row[-2] is not None:
            groups.append(row[-2])
        if index + 1 == len(rows) or rows[index + 1][0] != row[0]:  # the task's last row
            (task_id, instance_id, definition_key, definition_name, business_key, element_id, name, form_key, status,
             assignee, created_at, due_at, completed_at, completed_by, owner, priority, follow_up_at, process_key,
             region, outlet_code, customer_name, serial_number) = row[:-2]
            summaries.append(TaskSummary(
                task_id, instance_id, definition_key, definition_name, business_key, element_id, name, form_key,
                status, assignee, tuple(sorted(groups)), created_at, due_at, completed_at, completed_by, owner,
                priority, follow_up_at, process_key, region, outlet_code, customer_name, serial_number))
            groups = []
    return summaries


def get_task(session: Session, catalog: FormCatalog, *, actor: Actor, task_id: uuid.UUID) -> TaskDetail:
    """The task with its form's JSON Schema and the case data the form shows.

    Raises: NotFoundError (also when the task is not the actor's to see).
    """
    task, record, definition, groups = visible_task_with_groups(session, actor, task_id)
    run = load_run(record, bundle_of(session, record))
    variables = run.task_variables(task_id) if task.status == TaskStatus.OPEN else run.variables()
    schema = catalog.schema(task.form_key) if task.form_key and catalog.exists(task.form_key) else None
    actions = task_actions(actor, status=task.status, instance_status=record.status, assignee=task.assignee,
                           candidate_groups=groups)
    return TaskDetail(summarize(task, record, definition, groups), schema, variables, actions)


def claim_task(session: Session, clock: Clock, *, actor: Actor, task_id: uuid.UUID) -> TaskSummary:
    """Take an open task into one's own hands. Only a member of a candidate group may.

    Raises: NotFoundError, PermissionDeniedError, TaskStateError, InstanceStateError, ConcurrentUpdateError.
    """
    task, record, definition, groups = visible_task_with_groups(session, actor, task_id)
    require_open(task, record)
    if not actor.in_any(groups) and task.assignee != actor.username:
        raise PermissionDeniedError(f"only members of {', '.join(groups) or 'its candidate groups'} may claim this task")
    if task.assignee == actor.username:
        return summarize(task, record, definition, groups)
    if task.assignee is not None:
        raise TaskStateError(f"task is already claimed by {task.assignee}", assignee=task.assignee)
    task.assignee = actor.username
    record_event(session, clock, actor=actor.username, event_type="task_claimed", instance_id=record.instance_id,
                 task_id=task_id, definition_key=record.definition_key, data={"element": task.element_id})
    flush(session)
    return summarize(task, record, definition, groups)


def unclaim_task(session: Session, clock: Clock, *, actor: Actor, task_id: uuid.UUID) -> TaskSummary:
    """Give a claimed task back to its groups' queue (the assignee, or an admin)."""
    task, record, definition, groups = visible_task_with_groups(session, actor, task_id)
    require_open(task, record)
    if task.assignee is None:
        raise TaskStateError("task is not claimed")
    if task.assignee != actor.username and not has(actor, Permission.ADMINISTER):
        raise PermissionDeniedError("only the assignee may unclaim this task")
    # A delegated task goes back to the person who delegated it, not to the queue.
    previous, task.assignee = task.assignee, (task.owner if task.owner != task.assignee else None)
    task.owner = None
    record_event(session, clock, actor=actor.username, event_type="task_unclaimed", instance_id=record.instance_id,
                 task_id=task_id, definition_key=record.definition_key,
                 data={"element": task.element_id, "previous_assignee": previous, "assignee": task.assignee})
    flush(session)
    return summarize(task, record, definition, groups)


def complete_task(
    session: Session, clock: Clock, catalog: FormCatalog, *, actor: Actor, task_id: uuid.UUID, data: dict[str, Any]
) -> TaskSummary:
    """Finish a claimed task with the form's data, then run the workflow until it waits again.

    Raises: NotFoundError, PermissionDeniedError, TaskStateError, FormDataError, ProcessError,
    ConcurrentUpdateError.
    """
    task, record, definition, groups = visible_task_with_groups(session, actor, task_id)
    require_open(task, record)
    if task.assignee != actor.username:
        raise PermissionDeniedError(
            "claim the task before completing it" if task.assignee is None
            else f"only the assignee ({task.assignee}) may complete this task"
        )
    if task.form_key:
        catalog.check(task.form_key, data)
    now = clock.now()
    bundle = bundle_of(session, record)
    run = load_run(record, bundle)
    if task_id not in {t.task_id for t in run.ready_user_tasks()}:
        raise TaskStateError("the task is no longer waiting in the workflow")
    task.status, task.completed_at, task.completed_by = TaskStatus.COMPLETED, now, actor.username
    flush(session)  # a concurrent completion loses here, before any further work
    if task.due_at is not None:  # a task has a deadline exactly when it has a due time
        close_deadline(session, task_id=task_id, completed=True, now=now)
    record_event(session, clock, actor=actor.username, event_type="task_completed", instance_id=record.instance_id,
                 task_id=task_id, definition_key=record.definition_key,
                 data={"process": task.process_key, "element": task.element_id, "name": task.name,
                       "form_key": task.form_key, "submitted": data})
    # A process that fails after the task (a gateway or DMN without the inputs it needs) becomes an
    # incident: the approver's work is kept, an admin retries the failing step.
    advance_or_incident(session, clock, actor=actor.username, record=record, bundle=bundle, run=run,
                        action=lambda: run.complete_user_task(task_id, dict(data), now))
    return summarize(task, record, definition, groups)


def require_open(task: Task, record: Instance) -> None:
    if task.status != TaskStatus.OPEN:
        raise TaskStateError(f"task is {task.status}", task_status=task.status)
    if record.status != InstanceStatus.RUNNING:
        raise InstanceStateError(f"the instance is {record.status}", instance_status=record.status)


def visible_task(session: Session, actor: Actor, task_id: uuid.UUID) -> tuple[Task, Instance, Definition]:
    task, record, definition, _ = visible_task_with_groups(session, actor, task_id)
    return task, record, definition


def visible_task_with_groups(
    session: Session, actor: Actor, task_id: uuid.UUID
) -> tuple[Task, Instance, Definition, tuple[str, ...]]:
    """The task with its instance, definition and candidate groups, in one query (a row per group).

    Raises: NotFoundError (also when the task is not the actor's to see).
    """
    link = aliased(TaskCandidateGroup)  # apart from the one the visibility EXISTS correlates
    query = (
        select(Task, Instance, Definition, link.group_id)
        .join(Instance, Instance.instance_id == Task.instance_id)
        .join(Definition, Definition.definition_id == Instance.definition_id)
        .outerjoin(link, link.task_id == Task.task_id)
        .where(Task.task_id == task_id)
    )
    if not sees_everything(actor):
        query = query.where(or_(workable_by(actor), Task.completed_by == actor.username))
    rows = session.execute(query).all()
    if not rows:
        raise NotFoundError(f"no task {task_id}")
    groups = tuple(sorted(row[3] for row in rows if row[3] is not None))
    return rows[0][0], rows[0][1], rows[0][2], groups


def candidate_groups_of(session: Session, task_ids: list[uuid.UUID]) -> dict[uuid.UUID, tuple[str, ...]]:
    if not task_ids:
        return {}
    found: dict[uuid.UUID, list[str]] = {}
    query = select(TaskCandidateGroup).where(TaskCandidateGroup.task_id.in_(task_ids))
    for link in session.scalars(query):
        found.setdefault(link.task_id, []).append(link.group_id)
    return {task_id: tuple(sorted(groups)) for task_id, groups in found.items()}


def summarize(task: Task, record: Instance, definition: Definition, groups: tuple[str, ...]) -> TaskSummary:
    return TaskSummary(
        task.task_id, task.instance_id, record.definition_key, definition.name, record.business_key,
        task.element_id, task.name, task.form_key, task.status, task.assignee, groups, task.created_at,
        task.due_at, task.completed_at, task.completed_by, task.owner, task.priority, task.follow_up_at,
        task.process_key, record.region, record.outlet_code, record.customer_name, record.serial_number,
    )
