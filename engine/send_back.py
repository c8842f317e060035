"""退回 / Send back: reopen an earlier user step of the same case, with its data and the reason.

The designer names, on a user task, the earlier steps it may send the case back to
(`camunda:property name="return_to" value="inspect_product"`); deploying checks the names. At run
time the step must lie on the path the case took to the task: the library's own reset drops
everything after it and the step reopens (the same task id) with the values it was last completed
with; engine/step_sync.py cancels the rows of what was dropped and queues the step again.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.audit import record_event
from engine.bpmn.spiff_adapter import WorkflowError, WorkflowRun
from engine.bundles import Bundle, bundle_of
from engine.candidate_users import offered_to
from engine.clock import Clock
from engine.errors import PermissionDeniedError, StepNotPassedError, TaskStateError, ValidationError
from engine.identity import Actor
from engine.incidents import process_error
from engine.states import InstanceStatus, TaskStatus
from engine.tables import Task
from engine.tasks import TaskSummary, candidate_groups_of, require_open, summarize, visible_task_with_groups
from engine.workflow_store import load_run, save_run

SENT_BACK = "task_sent_back"  # the approval record's entry: who sent which step back to which, and why
MAX_REASON = 2000


def return_targets(bundle: Bundle, run: WorkflowRun, task: Task) -> list[dict[str, Any]]:
    """The steps this open task may be sent back to now: declared by the designer and passed on the way here."""
    declared = _declared(bundle, task)
    passed = run.passed_user_steps(task.task_id)
    names = bundle.elements(task.process_key).get("user_tasks", {})
    return [{"element_id": e, "name": names.get(e, {}).get("name") or e} for e in declared if e in passed]


def return_targets_of(session: Session, *, actor: Actor, task_id: uuid.UUID) -> list[dict[str, Any]]:
    """For the task page: the steps the actor may send this task back to now ([] when none or not theirs)."""
    task, record, _, groups = visible_task_with_groups(session, actor, task_id)
    if (task.status != TaskStatus.OPEN or record.status != InstanceStatus.RUNNING
            or not _may_act(session, actor, task, groups)):
        return []
    bundle = bundle_of(session, record)
    return return_targets(bundle, load_run(record, bundle), task) if _declared(bundle, task) else []


def send_back_task(
    session: Session, clock: Clock, *, actor: Actor, task_id: uuid.UUID, to: str, reason: str
) -> TaskSummary:
    """Send the case of an open task back to earlier step `to`; returns the reopened step.

    The task's holder may, or (unclaimed) a member of its groups, as for a decision.
    Raises: NotFoundError, PermissionDeniedError, ValidationError (no reason; `to` not returnable
    from here), StepNotPassedError, TaskStateError, InstanceStateError, ProcessError.
    """
    task, record, definition, groups = visible_task_with_groups(session, actor, task_id)
    require_open(task, record)
    if not _may_act(session, actor, task, groups):
        raise PermissionDeniedError(f"only the assignee ({task.assignee}) may send this task back" if task.assignee
                                    else f"only members of {', '.join(groups)} may send this task back")
    text = (reason or "").strip()
    if not text or len(text) > MAX_REASON:
        raise ValidationError(f"a reason of 1 to {MAX_REASON} characters is required to send a task back",
                              field="reason")
    bundle = bundle_of(session, record)
    declared = _declared(bundle, task)
    if to not in declared:
        allowed = ", ".join(declared) or "none (the process marks no step to send back to from here)"
        raise ValidationError(f"'{task.element_id}' may not send the case back to '{to}'; it may to: {allowed}",
                              field="to")
    run = load_run(record, bundle)
    now = clock.now()
    try:
        reopened_id, steps = run.send_back(task_id, to, now)
    except KeyError:
        raise TaskStateError("the task is no longer waiting in the workflow") from None
    except LookupError:
        raise StepNotPassedError(f"the case has not passed '{to}' on its way to this task; nothing to send back to",
                                 to=to) from None
    except WorkflowError as error:
        raise process_error(error, record.definition_key) from None
    to_name = bundle.elements(task.process_key).get("user_tasks", {}).get(to, {}).get("name") or to
    # Before the rows are synced: the record reads "sent back", then the dropped task's cancellation.
    record_event(session, clock, actor=actor.username, event_type=SENT_BACK, instance_id=record.instance_id,
                 task_id=task_id, definition_key=record.definition_key,
                 data={"process": task.process_key, "element": task.element_id, "name": task.name, "to": to,
                       "to_name": to_name, "reopened_task_id": str(reopened_id), "reason": text})
    save_run(session, clock, actor=actor.username, record=record, bundle=bundle, run=run, steps=steps)
    reopened = session.scalars(select(Task).where(Task.task_id == reopened_id)).one()
    return summarize(reopened, record, definition, candidate_groups_of(session, [reopened_id]).get(reopened_id, ()))


def _may_act(session: Session, actor: Actor, task: Task, groups: tuple[str, ...]) -> bool:
    return task.assignee == actor.username or (task.assignee is None and (
        actor.in_any(groups) or offered_to(session, actor, task.task_id)))


def _declared(bundle: Bundle, task: Task) -> list[str]:
    meta = bundle.elements(task.process_key).get("user_tasks", {}).get(task.element_id, {})
    return list(meta.get("return_to", []))
