"""Incidents: a process that fails while it runs is saved where it stopped, for an admin to retry."""

from __future__ import annotations

import uuid
from collections.abc import Callable

from sqlalchemy.orm import Session

from engine.audit import record_event
from engine.bpmn.budget import SHUTDOWN
from engine.bpmn.spiff_adapter import Step, WorkflowError, WorkflowRun
from engine.bundles import Bundle
from engine.clock import Clock
from engine.db import flush
from engine.errors import ProcessError, ServiceError, ShuttingDownError
from engine.states import InstanceStatus
from engine.tables import Instance
from engine.workflow_store import save_run


def advance_or_incident(
    session: Session,
    clock: Clock,
    *,
    actor: str,
    record: Instance,
    bundle: Bundle,
    run: WorkflowRun,
    action: Callable[[], list[Step]],
    fired_timer_ids: Callable[[], frozenset[uuid.UUID]] = frozenset,
) -> WorkflowError | None:
    """Run `action` on the workflow and save; if the process fails, save it where it stopped as an incident.

    The work that led up to the failure (a completed task, a delivered message) is kept; the
    failing step waits for an admin to retry it.
    """
    try:
        steps = action()
    except WorkflowError as error:
        if error.budget == SHUTDOWN:  # not the process's fault: roll back, run it again after the restart
            raise process_error(error, record.definition_key) from None
        save_run(session, clock, actor=actor, record=record, bundle=bundle, run=run, steps=error.steps)
        record_incident(session, clock, actor=actor, record=record, error=error)
        return error
    save_run(session, clock, actor=actor, record=record, bundle=bundle, run=run, steps=steps,
             fired_timer_ids=fired_timer_ids())
    return None


def record_incident(session: Session, clock: Clock, *, actor: str, record: Instance, error: WorkflowError) -> None:
    record.status, record.status_reason, record.updated_at = InstanceStatus.FAILED, error.message, clock.now()
    record_event(session, clock, actor=actor, event_type="incident", instance_id=record.instance_id,
                 definition_key=record.definition_key,
                 data={"element": error.element_id, "error": error.message, "line": error.line,
                       "budget": error.budget})
    flush(session)


def process_error(error: WorkflowError, record_key: str) -> ServiceError:
    if error.budget == SHUTDOWN:
        return ShuttingDownError(f"process '{record_key}' was stopped at element '{error.element_id}': "
                                 "the server is shutting down; nothing was saved, try again shortly")
    return ProcessError(f"process '{record_key}' failed at element '{error.element_id}': {error.message}",
                        element=error.element_id, line=error.line)
