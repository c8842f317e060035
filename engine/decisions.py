"""Deciding a task with one of its form's outcomes: claim if nobody holds it, record, complete."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy.orm import Session

from engine.audit import record_event
from engine.catalog import FormCatalog
from engine.clock import Clock
from engine.identity import Actor
from engine.outcomes import decision_data, find_outcome, outcomes_of
from engine.tasks import TaskSummary, claim_task, complete_task, require_open, visible_task_with_groups

DECIDED = "task_decided"  # the approval record's entry: who decided what, with which opinion


def decide_task(
    session: Session, clock: Clock, catalog: FormCatalog, *, actor: Actor, task_id: uuid.UUID, outcome: str,
    opinion: str | None, data: dict[str, Any],
) -> TaskSummary:
    """Decide a task in one step, as a person does with one button (同意, 拒绝 ...).

    An unclaimed task is claimed first, under the same rules as a claim; then the decision, with its
    opinion, is written to the history and the task completed with the decision's fields set.

    Raises: NotFoundError, PermissionDeniedError, TaskStateError, InstanceStateError, ValidationError
    (no such outcome), FormDataError, ProcessError, ConcurrentUpdateError.
    """
    task, record, _, _ = visible_task_with_groups(session, actor, task_id)
    require_open(task, record)
    schema = catalog.schema(task.form_key) if task.form_key and catalog.exists(task.form_key) else None
    chosen = find_outcome(outcomes_of(schema), outcome)
    completed_with = decision_data(chosen, data, opinion)
    if task.assignee is None:
        claim_task(session, clock, actor=actor, task_id=task_id)
    record_event(session, clock, actor=actor.username, event_type=DECIDED, instance_id=record.instance_id,
                 task_id=task_id, definition_key=record.definition_key,
                 data={"process": task.process_key, "element": task.element_id, "name": task.name,
                       "outcome": chosen.key, "title": chosen.title, "style": chosen.style,
                       "opinion": (opinion or "").strip() or None})
    return complete_task(session, clock, catalog, actor=actor, task_id=task_id, data=completed_with)
