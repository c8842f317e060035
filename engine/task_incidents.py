"""Incidents on a new user task whose assignee or due date cannot be worked out.

The assignee expression (`${owner}`) and due date of a task are evaluated when the workflow
reaches it, that is inside the completion of the task before it. A failure there is the new
task's, not the completion's: the completion stands, the new task waits unassigned in its
candidate groups' queue (without a due time), and the case is failed with an incident naming the
task. An admin's retry evaluates the assignee again with the case's variables as they are then
(and its candidate users) and lets the case run on; if it still fails, the task stays with its groups.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.audit import record_event
from engine.bpmn.spiff_adapter import WorkflowError, WorkflowRun
from engine.bundles import Bundle
from engine.candidate_users import evaluate_candidate_users, set_candidate_users
from engine.clock import Clock
from engine.errors import ProcessError
from engine.states import InstanceStatus, TaskStatus
from engine.tables import AuditEvent, Instance, Task

_KIND = "task_setup"  # marks the incident event as one of a task's assignee or due date
_WAITS = "; the task waits unassigned in its groups' queue until an admin retries"


def evaluate_assignee(run: WorkflowRun, task_id: Any, meta: dict[str, Any]) -> tuple[str | None, str | None]:
    """The task's assignee (None: none), and why it could not be evaluated (None: it could)."""
    expression = meta.get("assignee")
    if not expression:
        return None, None
    try:
        value = run.evaluate(expression, run.task_variables(task_id))
    except WorkflowError as error:
        return None, f"the assignee expression of '{meta.get('name')}' failed: {error.message}"
    return (str(value) if value else None), None


def record_task_incident(session: Session, clock: Clock, *, actor: str, record: Instance, task: Task,
                         message: str) -> None:
    """Fail the case with an incident on `task` (the caller flushes)."""
    reason = message + _WAITS
    record.status, record.status_reason, record.updated_at = InstanceStatus.FAILED, reason, clock.now()
    record_event(session, clock, actor=actor, event_type="incident", instance_id=record.instance_id,
                 task_id=task.task_id, definition_key=record.definition_key,
                 data={"element": task.element_id, "error": reason, "line": None, "budget": None, "kind": _KIND})


def retry_task_incident(session: Session, *, record: Instance, run: WorkflowRun,
                        bundle: Bundle) -> dict[str, Any] | None:
    """If the case's last incident is a task's, evaluate its assignee again and let the case run on.

    Returns what was done (None: the last incident was not a task's).
    """
    last = session.scalars(select(AuditEvent).where(AuditEvent.instance_id == record.instance_id,
                                                    AuditEvent.event_type == "incident")
                           .order_by(AuditEvent.event_id.desc()).limit(1)).first()
    if last is None or (last.data or {}).get("kind") != _KIND or last.task_id is None:
        return None
    task = session.get(Task, last.task_id)
    record.status, record.status_reason = InstanceStatus.RUNNING, None
    if task is None or task.status != TaskStatus.OPEN:
        return {"task": str(last.task_id), "assignee": None}
    meta = bundle.elements(task.process_key).get("user_tasks", {}).get(task.element_id, {})
    assignee, problem = evaluate_assignee(run, task.task_id, meta)
    if assignee is not None and task.assignee is None:
        task.assignee = assignee
    users, users_problem = evaluate_candidate_users(run, task.task_id, meta)
    set_candidate_users(session, task.task_id, users, replace=True)
    problem = problem or users_problem
    return {"task": str(task.task_id), "assignee": task.assignee, "assignee_problem": problem}


def refuse_a_start_with_a_task_incident(session: Session, record: Instance) -> None:
    """A case whose very first task could not be assigned or dated is not started.

    There is no earlier step to keep, so the start is refused as any failing start is (422 naming the
    task; the caller's transaction rolls back and nothing is stored). Later tasks become incidents.
    Raises: ProcessError.
    """
    if record.status != InstanceStatus.FAILED:
        return
    incident = session.scalars(select(AuditEvent).where(AuditEvent.instance_id == record.instance_id,
                                                        AuditEvent.event_type == "incident")
                               .order_by(AuditEvent.event_id.desc()).limit(1)).first()
    if incident is not None and (incident.data or {}).get("kind") == _KIND:
        raise ProcessError(incident.data["error"].removesuffix(_WAITS), element=incident.data["element"])
