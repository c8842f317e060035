"""Working a task: reading it with its form, claiming, unclaiming and completing it."""

from __future__ import annotations

import functools
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, or_, select
from sqlalchemy.orm import Session, aliased, defer

from engine.attachment_fields import check_attachment_fields
from engine.audit import hold_chain, record_event
from engine.bundles import bundle_of
from engine.candidate_users import candidate_users_of, offered_to
from engine.catalog import FormCatalog
from engine.clock import Clock
from engine.computed_fields import has_computed, with_computed
from engine.db import flush
from engine.deadlines import close_deadline
from engine.errors import AwaitingSignError, InstanceStateError, NotFoundError, PermissionDeniedError, TaskStateError
from engine.extra_sign_tables import ExtraSign
from engine.identity import Actor
from engine.incidents import advance_or_incident
from engine.internal_fields import visible_variables
from engine.notifications.outbox import notify_task_handed_on
from engine.permissions import Permission, has, sees_everything
from engine.register_fields import check_register_fields, dispatch_suggestions
from engine.register_tables import Outlet
from engine.states import InstanceStatus, SignPosition, SignStatus, TaskAction, TaskStatus, task_actions
from engine.tables import Definition, Instance, Task, TaskCandidateGroup
from engine.task_forms import check_form, form_schema, is_generated
from engine.visibility import workable_by
from engine.workflow_store import load_run


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
    instance_status: str  # a task of a suspended or failed case waits, but cannot be worked
    candidate_users: tuple[str, ...] = ()  # camunda:candidateUsers (read with the task, not in queue pages)
    # On queue, 已办 and 我发起的 pages: the case's product model (else the register's) and the
    # outlet's "中文 / English" name.
    product_model: str | None = None
    outlet_name: str | None = None
    # On queue pages: the task is there because the reader is asked to sign it (加签, engine/extra_signs.py).
    sign_requested: bool = False


@dataclass(frozen=True)
class TaskDetail:
    summary: TaskSummary
    form_schema: dict[str, Any] | None
    variables: dict[str, Any]
    allowed_actions: tuple[TaskAction, ...] = ()  # what the reader may do with it now
    # For a dispatch form: the active outlets of the case's region, those serving the customer's city first.
    outlet_suggestions: tuple[dict[str, Any], ...] = ()


def get_task(session: Session, catalog: FormCatalog, *, actor: Actor, task_id: uuid.UUID) -> TaskDetail:
    """The task with its form's JSON Schema and the case data the form shows.

    Raises: NotFoundError (also when the task is not the actor's to see).
    """
    task, record, definition, groups = visible_task_with_groups(session, actor, task_id)
    bundle = bundle_of(session, record)
    run = load_run(record, bundle)
    variables = run.task_variables(task_id) if task.status == TaskStatus.OPEN else run.variables()
    variables = visible_variables(actor, variables, catalog.internal)
    schema = form_schema(catalog, bundle.elements(task.process_key), task.form_key)
    meta = bundle.elements(task.process_key).get("user_tasks", {}).get(task.element_id, {})
    users = (candidate_users_of(session, [task_id]).get(task_id, ())
             if meta.get("candidate_users") or meta.get("candidate_user_expressions") else ())
    actions = task_actions(actor, status=task.status, instance_status=record.status, assignee=task.assignee,
                           candidate_groups=groups, offered=actor.username in users)
    city = variables.get("customer_city")
    suggestions = dispatch_suggestions(session, schema, region=record.region,
                                       city=city if isinstance(city, str) else None)
    # The outlet's name tells people which outlet a case is at; its code alone tells only the register.
    outlet_name = (session.scalar(select(Outlet.name).where(Outlet.code == record.outlet_code))
                   if record.outlet_code else None)
    return TaskDetail(summarize(task, record, definition, groups, users, outlet_name=outlet_name), schema, variables,
                      actions, tuple(suggestions))


def claim_task(session: Session, clock: Clock, *, actor: Actor, task_id: uuid.UUID) -> TaskSummary:
    """Take an open task into one's own hands. Only a member of a candidate group may.

    Raises: NotFoundError, PermissionDeniedError, TaskStateError, InstanceStateError, ConcurrentUpdateError.
    """
    task, record, definition, groups = visible_task_with_groups(session, actor, task_id, lock=True)
    require_open(task, record)
    if _take(session, clock, actor=actor, task=task, record=record, groups=groups):
        flush(session)
    return summarize(task, record, definition, groups)


def _take(session: Session, clock: Clock, *, actor: Actor, task: Task, record: Instance,
          groups: tuple[str, ...]) -> bool:
    """The claim's rules and its history row; False when the task is the actor's already."""
    if not _may_take(session, actor, task, groups):
        return False
    task.assignee = actor.username
    _record_claim(session, clock, actor=actor, task=task, record=record)
    return True


def _may_take(session: Session, actor: Actor, task: Task, groups: tuple[str, ...]) -> bool:
    """A claim's rules: a member of the task's groups or one of its candidate users takes an unclaimed
    task (False: it is theirs already)."""
    if (not actor.in_any(groups) and task.assignee != actor.username
            and not offered_to(session, actor, task.task_id)):
        raise PermissionDeniedError(f"only members of {', '.join(groups) or 'its candidate groups'} "
                                    "or its candidate users may claim this task")
    if task.assignee == actor.username:
        return False
    if task.assignee is not None:
        raise TaskStateError(f"task is already claimed by {task.assignee}", assignee=task.assignee)
    return True


def _record_claim(session: Session, clock: Clock, *, actor: Actor, task: Task, record: Instance) -> None:
    record_event(session, clock, actor=actor.username, event_type="task_claimed", instance_id=record.instance_id,
                 task_id=task.task_id, definition_key=record.definition_key, data={"element": task.element_id})


def unclaim_task(session: Session, clock: Clock, *, actor: Actor, task_id: uuid.UUID) -> TaskSummary:
    """Give a claimed task back to its groups' queue (the assignee, or an admin)."""
    task, record, definition, groups = visible_task_with_groups(session, actor, task_id, lock=True)
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
    if task.assignee is not None:
        notify_task_handed_on(session, record=record, task=task, assignee=task.assignee, actor=actor.username,
                              delegated=False, returned=True, now=clock.now())
    flush(session)
    return summarize(task, record, definition, groups)


def complete_task(
    session: Session, clock: Clock, catalog: FormCatalog, *, actor: Actor, task_id: uuid.UUID, data: dict[str, Any],
    claim: bool = False,
) -> TaskSummary:
    """Finish a claimed task with the form's data, then run the workflow until it waits again.

    `claim`: an unclaimed task is claimed first, in the same transaction and under a claim's rules
    (as 同意 does, engine/decisions.py); without it, completing an unclaimed task is refused.

    With an open 加签 the task waits: before, completing is refused; after, the data is held until
    the signer approves (engine/extra_signs.py).
    Raises: NotFoundError, PermissionDeniedError, TaskStateError, FormDataError, ProcessError,
    ConcurrentUpdateError.
    """
    task, record, definition, groups, sign = _task_rows(session, actor, task_id, lock=True, with_sign=True)
    require_open(task, record)
    claiming = claim and task.assignee is None and _may_take(session, actor, task, groups)
    if claiming:
        task.assignee = actor.username  # its history row follows the task's flush: one write of the case's row
    if task.assignee != actor.username:
        raise PermissionDeniedError(
            "claim the task before completing it" if task.assignee is None
            else f"only the assignee ({task.assignee}) may complete this task"
        )
    bundle = bundle_of(session, record)
    if task.form_key:
        elements = bundle.elements(task.process_key)
        schema = form_schema(catalog, elements, task.form_key) or {}
        # Read-only fields of a generated form are compared with the case's values, and computed fields
        # worked out from them (a cache hit after a read).
        computed = has_computed(schema)
        current = load_run(record, bundle).task_variables(task_id) if is_generated(task.form_key) or computed else {}
        if computed:
            data = with_computed(task.form_key, schema, data, current, clock.now())
        check_form(catalog, elements, task.form_key, data, current)
        check_register_fields(session, schema, data, case_region=record.region)
        check_attachment_fields(session, schema, data, instance_id=record.instance_id, actor=actor.username)
    if sign is not None:  # 加签 (engine/extra_signs.py), read with the task
        if claiming:
            _record_claim(session, clock, actor=actor, task=task, record=record)
        if sign.position == SignPosition.BEFORE or sign.held_data is not None:
            raise AwaitingSignError(f"the task waits for {sign.signer}'s extra sign (加签)", signer=sign.signer)
        sign.held_data = dict(data)  # after: completed once the signer approves
        record_event(session, clock, actor=actor.username, event_type="extra_sign_held",
                     instance_id=record.instance_id, task_id=task_id, definition_key=record.definition_key,
                     data={"element": task.element_id, "name": task.name, "signer": sign.signer, "submitted": data})
        flush(session)
        return summarize(task, record, definition, groups)
    now = clock.now()
    run = load_run(record, bundle)
    if task_id not in {t.task_id for t in run.ready_user_tasks()}:
        raise TaskStateError("the task is no longer waiting in the workflow")
    task.status, task.completed_at, task.completed_by = TaskStatus.COMPLETED, now, actor.username
    flush(session)  # a concurrent completion loses here, before any further work
    if claiming:
        _record_claim(session, clock, actor=actor, task=task, record=record)
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


def open_sign(session: Session, task_id: uuid.UUID) -> ExtraSign | None:
    """The task's open 加签, if any (engine/extra_signs.py)."""
    return session.scalars(select(ExtraSign).where(ExtraSign.task_id == task_id,
                                                   ExtraSign.status == SignStatus.OPEN)).first()


def require_open(task: Task, record: Instance) -> None:
    if task.status != TaskStatus.OPEN:
        raise TaskStateError(f"task is {task.status}", task_status=task.status)
    if record.status != InstanceStatus.RUNNING:
        raise InstanceStateError(f"the instance is {record.status}", instance_status=record.status)


def visible_task(session: Session, actor: Actor, task_id: uuid.UUID) -> tuple[Task, Instance, Definition]:
    task, record, definition, _ = visible_task_with_groups(session, actor, task_id)
    return task, record, definition


def visible_task_with_groups(
    session: Session, actor: Actor, task_id: uuid.UUID, *, lock: bool = False
) -> tuple[Task, Instance, Definition, tuple[str, ...]]:
    """The task with its instance, definition and candidate groups, in one query (a row per group).

    `lock`: for a step that writes the case's history, lock the case's row with it (the lock of its
    history chain, whose tail the row carries: engine/audit.py). Only as the transaction's first
    read of the case.
    Raises: NotFoundError (also when the task is not the actor's to see).
    """
    return _task_rows(session, actor, task_id, lock=lock, with_sign=False)[:4]


def _task_rows(
    session: Session, actor: Actor, task_id: uuid.UUID, *, lock: bool, with_sign: bool
) -> tuple[Task, Instance, Definition, tuple[str, ...], ExtraSign | None]:
    """`visible_task_with_groups`, and with `with_sign` the task's open 加签 in the same query."""
    rows = session.execute(_task_rows_query(actor, lock, with_sign), {"task_id": task_id}).all()
    if not rows:
        raise NotFoundError(f"no task {task_id}")
    groups = tuple(sorted({row[3] for row in rows if row[3] is not None}))
    if lock:
        hold_chain(session, rows[0][1])
    return rows[0][0], rows[0][1], rows[0][2], groups, rows[0][4] if with_sign else None


@functools.lru_cache(maxsize=1024)
def _task_rows_query(actor: Actor, lock: bool, with_sign: bool) -> Any:
    """The statement of `_task_rows`, built once per actor and flags (the task's id is a parameter).

    Building it (the visibility rule's five routes, the aliases, the lock) costs more CPU than
    PostgreSQL spends running it by primary key; SQLAlchemy caches its SQL, not its construction.
    An actor whose groups or place change is another key (`Actor` is a frozen value).
    """
    link = aliased(TaskCandidateGroup)  # apart from the one the visibility EXISTS correlates
    sign = aliased(ExtraSign)
    query = (
        select(Task, Instance, Definition, link.group_id, *([sign] if with_sign else []))
        .join(Instance, Instance.instance_id == Task.instance_id)
        .join(Definition, Definition.definition_id == Instance.definition_id)
        .outerjoin(link, link.task_id == Task.task_id)
        .where(Task.task_id == bindparam("task_id"))
        # The workflow's state and the process spec (kilobytes of JSON each) are read only when this
        # server's workflow cache misses (engine/workflow_store.py load_run); deferred, a warm cache
        # never decodes them. A miss loads them then, one statement each.
        .options(defer(Instance.state), defer(Definition.spec))
    )
    if with_sign:  # at most one open sign per task (engine/extra_signs.py add_signer)
        query = query.outerjoin(sign, (sign.task_id == Task.task_id) & (sign.status == SignStatus.OPEN))
    if not sees_everything(actor):
        query = query.where(or_(workable_by(actor), Task.completed_by == actor.username))
    if lock:
        # FOR UPDATE OF instances (PostgreSQL; SQLite has one writer); fresh values, as the lock read them.
        query = query.with_for_update(of=Instance).execution_options(populate_existing=True)
    return query


def candidate_groups_of(session: Session, task_ids: list[uuid.UUID]) -> dict[uuid.UUID, tuple[str, ...]]:
    if not task_ids:
        return {}
    found: dict[uuid.UUID, list[str]] = {}
    query = select(TaskCandidateGroup).where(TaskCandidateGroup.task_id.in_(task_ids))
    for link in session.scalars(query):
        found.setdefault(link.task_id, []).append(link.group_id)
    return {task_id: tuple(sorted(groups)) for task_id, groups in found.items()}


def summarize(task: Task, record: Instance, definition: Definition, groups: tuple[str, ...],
              users: tuple[str, ...] = (), *, product_model: str | None = None,
              outlet_name: str | None = None) -> TaskSummary:
    return TaskSummary(
        task.task_id, task.instance_id, record.definition_key, definition.name, record.business_key,
        task.element_id, task.name, task.form_key, task.status, task.assignee, groups, task.created_at,
        task.due_at, task.completed_at, task.completed_by, task.owner, task.priority, task.follow_up_at,
        task.process_key, record.region, record.outlet_code, record.customer_name, record.serial_number,
        record.status, users, product_model=product_model, outlet_name=outlet_name,
    )
