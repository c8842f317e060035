"""Loading an instance's workflow, advancing it, and writing back everything that changed.

After every advance the instance's rows are brought in line with the workflow: its state, the
task queue rows of ready user tasks, the due times of waiting timers, and one history row per
step, all in the caller's transaction.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from engine.audit import record_event
from engine.bpmn.runtime import Step, WorkflowError, WorkflowRun
from engine.bpmn.serialization import SERIALIZER_VERSION
from engine.bpmn.timing import add_duration
from engine.clock import Clock
from engine.errors import ConcurrentUpdateError, ProcessError
from engine.tables import Definition, Instance, Task, TaskCandidateGroup, Timer

TIMER_STEP_TYPES = {"IntermediateCatchEvent", "BoundaryEvent", "StartEvent"}


def load_run(record: Instance, definition: Definition) -> WorkflowRun:
    return WorkflowRun.load(str(definition.definition_id), definition.spec, record.state, record.serializer_version)


def save_run(
    session: Session,
    clock: Clock,
    *,
    actor: str,
    record: Instance,
    definition: Definition,
    run: WorkflowRun,
    steps: list[Step],
    fired_timer_ids: frozenset[uuid.UUID] = frozenset(),
) -> None:
    """Write the workflow's new state and everything derived from it; the caller commits."""
    now = clock.now()
    names: dict[str, str] = definition.elements.get("names", {})
    _record_steps(session, clock, actor=actor, record=record, definition=definition, steps=steps)
    _sync_tasks(session, clock, actor=actor, record=record, definition=definition, run=run)
    _sync_timers(session, record=record, run=run, names=names, fired=fired_timer_ids, now=now)
    record.state = run.dump()
    record.serializer_version = SERIALIZER_VERSION
    record.updated_at = now
    if run.is_completed and record.status == "running":
        record.status, record.ended_at = "completed", now
        end_events = [s.element_id for s in steps if s.element_type == "EndEvent"]
        record_event(session, clock, actor=actor, event_type="ended", instance_id=record.instance_id,
                     definition_key=record.definition_key,
                     data={"end_event": end_events[-1] if end_events else None,
                           "end_event_name": names.get(end_events[-1]) if end_events else None,
                           "variables": run.variables()})
    flush(session)


def flush(session: Session) -> None:
    """Flush, turning a lost optimistic-lock race into a conflict the caller can report."""
    try:
        session.flush()
    except StaleDataError:
        raise ConcurrentUpdateError("the instance was changed by someone else at the same moment; reload and retry") from None


def process_error(error: WorkflowError, record_key: str) -> ProcessError:
    return ProcessError(f"process '{record_key}' failed at element '{error.element_id}': {error.message}",
                        element=error.element_id, line=error.line)


def _record_steps(
    session: Session, clock: Clock, *, actor: str, record: Instance, definition: Definition, steps: list[Step]
) -> None:
    names: dict[str, str] = definition.elements.get("names", {})
    flows: dict[str, dict[str, Any]] = definition.elements.get("flows", {})
    for step in steps:
        if step.element_type == "UserTask":
            continue  # its completion is recorded with the submitted data by the task operation
        base = {"element": step.element_id, "element_name": names.get(step.element_id), "type": step.element_type}
        if step.element_type == "ExclusiveGateway":
            chosen = [
                {"flow": flow_id, "flow_name": flow.get("name"), "target": target,
                 "target_name": names.get(target)}
                for target in step.chosen
                for flow_id, flow in flows.items()
                if flow["source"] == step.element_id and flow["target"] == target
            ]
            record_event(session, clock, actor=actor, event_type="gateway_decision",
                         instance_id=record.instance_id, definition_key=record.definition_key,
                         data={**base, "chosen": chosen})
        elif step.element_type in TIMER_STEP_TYPES and _is_timer(definition, step.element_id):
            record_event(session, clock, actor=actor, event_type="timer_fired", instance_id=record.instance_id,
                         definition_key=record.definition_key, data=base)
        else:
            record_event(session, clock, actor=actor, event_type="element_completed",
                         instance_id=record.instance_id, definition_key=record.definition_key, data=base)


def _is_timer(definition: Definition, element_id: str) -> bool:
    return element_id in definition.elements.get("timer_events", [])


def _sync_tasks(
    session: Session, clock: Clock, *, actor: str, record: Instance, definition: Definition, run: WorkflowRun
) -> None:
    now = clock.now()
    user_tasks: dict[str, dict[str, Any]] = definition.elements.get("user_tasks", {})
    open_rows = {
        row.task_id: row
        for row in session.scalars(select(Task).where(Task.instance_id == record.instance_id, Task.status == "open"))
    }
    ready = {t.task_id: t for t in run.ready_user_tasks()}
    for task_id, row in open_rows.items():
        if task_id not in ready:
            row.status, row.completed_at = "cancelled", now
            record_event(session, clock, actor=actor, event_type="task_cancelled", instance_id=record.instance_id,
                         task_id=task_id, definition_key=record.definition_key,
                         data={"element": row.element_id, "name": row.name})
    for task_id, ready_task in ready.items():
        if task_id in open_rows or session.get(Task, task_id) is not None:
            continue
        meta = user_tasks.get(ready_task.element_id, {})
        assignee = _assignee(run, task_id, meta, record)
        due_at = add_duration(now, meta["due"]) if meta.get("due") else None
        session.add(Task(
            task_id=task_id, instance_id=record.instance_id, element_id=ready_task.element_id,
            name=meta.get("name") or ready_task.element_id, form_key=meta.get("form_key"), status="open",
            assignee=assignee, created_at=now, due_at=due_at,
        ))
        session.flush()
        groups = meta.get("candidate_groups", [])
        session.add_all(TaskCandidateGroup(task_id=task_id, group_id=g) for g in groups)
        record_event(session, clock, actor=actor, event_type="task_created", instance_id=record.instance_id,
                     task_id=task_id, definition_key=record.definition_key,
                     data={"element": ready_task.element_id, "name": meta.get("name"), "candidate_groups": groups,
                           "assignee": assignee, "form_key": meta.get("form_key"),
                           "due_at": due_at.isoformat() if due_at else None})


def _assignee(run: WorkflowRun, task_id: uuid.UUID, meta: dict[str, Any], record: Instance) -> str | None:
    expression = meta.get("assignee")
    if not expression:
        return None
    try:
        value = run.evaluate(expression, run.task_variables(task_id))
    except WorkflowError as error:
        raise ProcessError(f"assignee expression of '{meta.get('name')}' failed: {error.message}",
                           element=meta.get("name")) from None
    return str(value) if value else None


def _sync_timers(
    session: Session,
    *,
    record: Instance,
    run: WorkflowRun,
    names: dict[str, str],
    fired: frozenset[uuid.UUID],
    now: Any,
) -> None:
    pending = {
        row.timer_id: row
        for row in session.scalars(select(Timer).where(Timer.instance_id == record.instance_id,
                                                       Timer.status == "pending"))
    }
    waiting = {t.timer_id: t for t in run.waiting_timers()}
    for timer_id, row in pending.items():
        if timer_id not in waiting:
            row.status = "fired" if timer_id in fired else "cancelled"
            row.fired_at = now if timer_id in fired else None
    for timer_id, timer in waiting.items():
        row = pending.get(timer_id) or session.get(Timer, timer_id)
        if row is None:
            session.add(Timer(timer_id=timer_id, instance_id=record.instance_id, element_id=timer.element_id,
                              name=names.get(timer.element_id, timer.element_id), due_at=timer.due_at,
                              status="pending"))
        elif row.due_at != timer.due_at:  # a cycle timer moved on to its next due time
            row.due_at, row.status = timer.due_at, "pending"
