"""Process instances: start, read, list, and the admin's suspend / resume / terminate."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import datetime
from typing import Any

from sqlalchemy import exists, func, select
from sqlalchemy.orm import Session

from engine.advance_limits import limits_of
from engine.attachment_fields import bind_staged, check_attachment_fields
from engine.audit import HistoryEvent, begin_chain, events_of_instance, record_event
from engine.bpmn.serialization import SERIALIZER_VERSION
from engine.bpmn.spiff_adapter import WorkflowError, WorkflowRun
from engine.bundles import bundle_of, resolve_bundle
from engine.case_numbers import next_case_number
from engine.catalog import FormCatalog
from engine.clock import Clock
from engine.db import flush
from engine.deadlines import close_case_deadline, open_case_deadline
from engine.definitions import get_definition_row
from engine.errors import (
    InstanceStateError,
    NotFoundError,
    PermissionDeniedError,
    StateUnloadableError,
    ValidationError,
)
from engine.external_tasks import retry_external_incidents
from engine.identity import Actor
from engine.incidents import process_error
from engine.instance_detail import InstanceDetail, InstanceSummary, Page, detail_of, summary_of
from engine.internal_fields import NONE_INTERNAL, InternalFields, visible_history, visible_variables
from engine.new_case_tasks import begin_new_case
from engine.notifications.outbox import notify_case_ended
from engine.permissions import Permission, has, may_start, require, sees_everything
from engine.register_fields import check_register_fields
from engine.salvage import end_without_workflow
from engine.states import (
    INSTANCE_TRANSITIONS,
    InstanceAction,
    InstanceStatus,
)
from engine.tables import AuditEvent, Definition, Instance
from engine.task_incidents import refuse_a_start_with_a_task_incident, retry_task_incident
from engine.visibility import instance_visible_to, visible_instance
from engine.workflow_store import load_run, save_run


def start_instance(
    session: Session,
    clock: Clock,
    catalog: FormCatalog,
    *,
    actor: Actor,
    definition_key: str,
    business_key: str | None = None,
    variables: dict[str, Any] | None = None,
    version: int | None = None,
    case_number_prefix: str | None = None,
) -> InstanceDetail:
    """Start the latest (or given) version and run it until it waits.

    Without a business key, a case of a process with a `case_number_prefix` is given the next case
    number (TS-2026-000123) as its business key.

    Raises: NotFoundError, PermissionDeniedError, FormDataError (start form), ProcessError.
    """
    require(actor, Permission.START)
    definition = get_definition_row(session, definition_key, version, kind="process")
    starters = definition.elements.get("starter_groups", [])
    if not may_start(actor, starters):
        raise PermissionDeniedError(
            f"only members of {', '.join(starters)} may start '{definition_key}'", definition_key=definition_key
        )
    variables = dict(variables or {})
    staged = []
    if definition.elements.get("start_form"):
        catalog.check(definition.elements["start_form"], variables)
        start_schema = catalog.schema(definition.elements["start_form"])
        check_register_fields(session, start_schema, variables, case_region=None)
        staged = check_attachment_fields(session, start_schema, variables, instance_id=None, actor=actor.username)
    if business_key is not None and not business_key.strip():
        raise ValidationError("business_key must not be blank", field="business_key")
    if business_key is None and case_number_prefix:
        business_key = next_case_number(session, clock, case_number_prefix)
    detail = launch_instance(session, clock, actor=actor, definition=definition, business_key=business_key,
                             variables=variables, start_element=_manual_start_event(definition))
    bind_staged(session, clock, actor=actor.username, attachments=staged, instance_id=detail.summary.instance_id,
                definition_key=definition.key)
    flush(session)
    return detail


def launch_instance(
    session: Session,
    clock: Clock,
    *,
    actor: Actor,
    definition: Definition,
    business_key: str | None,
    variables: dict[str, Any],
    start_element: str | None,
    trigger: dict[str, Any] | None = None,
) -> InstanceDetail:
    """Create an instance of a checked definition and run it until it waits (also for message and timer starts).

    Raises: ProcessError (nothing is stored: the starter can correct the input and try again).
    """
    now = clock.now()
    bundle = resolve_bundle(session, definition)
    run = WorkflowRun.start(bundle.cache_key, lambda: bundle.spec, {**variables, "initiator": actor.username},
                            start_element=start_element)
    run.limits = limits_of(session)
    if trigger and "timer" in trigger:
        run.prime_timer_start(trigger["timer"])
    record = Instance(
        instance_id=uuid.uuid4(), definition_id=definition.definition_id, definition_key=definition.key,
        business_key=business_key, status=InstanceStatus.RUNNING, state={}, serializer_version=SERIALIZER_VERSION,
        called_definitions=bundle.called_ids(), started_by=actor.username, started_at=now, updated_at=now,
    )
    session.add(record)  # inserted once, with its state, by the step's flush (engine.tables.Instance)
    begin_chain(session, record.instance_id)
    begin_new_case(session, record.instance_id)
    open_case_deadline(session, record=record, name=definition.name, sla=definition.elements.get("case_sla"), now=now)
    record_event(session, clock, actor=actor.username, event_type="started", instance_id=record.instance_id,
                 definition_key=definition.key,
                 data={"version": definition.version, "business_key": business_key, "variables": variables,
                       "called_versions": {k: d.version for k, d in bundle.called.items()},
                       "decision_versions": {k: d.version for k, d in bundle.decisions.items()}, **(trigger or {})})
    try:
        steps = run.advance(now)
        for waiting in run.waiting_messages():
            if trigger and waiting.element_id == start_element and waiting.message_name == trigger.get("message"):
                steps += run.deliver_message(waiting.task_id, variables, now)  # the message that starts it
        if trigger and "signal" in trigger:
            steps += run.deliver_signal(trigger["signal"], variables, now)  # the signal that starts it
    except WorkflowError as error:
        raise process_error(error, definition.key) from None
    save_run(session, clock, actor=actor.username, record=record, bundle=bundle, run=run, steps=steps)
    refuse_a_start_with_a_task_incident(session, record)
    return detail_of(session, actor, record, bundle, run, just_started=True)


def retry_instance(
    session: Session, clock: Clock, *, actor: Actor, instance_id: uuid.UUID, variables: dict[str, Any], reason: str
) -> InstanceDetail:
    """Run a failed instance's failing step again, optionally with corrected variables (admins only).

    Raises: PermissionDeniedError, NotFoundError, InstanceStateError, ProcessError (still failing;
    nothing changes then).
    """
    if not has(actor, Permission.ADMINISTER):
        raise PermissionDeniedError("only admins may retry incidents")
    record = session.get(Instance, instance_id)
    if record is None:
        raise NotFoundError(f"no instance {instance_id}")
    if InstanceAction.RETRY not in INSTANCE_TRANSITIONS[InstanceStatus(record.status)]:
        raise InstanceStateError(f"instance is {record.status}; only failed instances are retried",
                                 instance_status=record.status)
    bundle = bundle_of(session, record)
    run = load_run(record, bundle)
    if retry_external_incidents(session, clock, actor=actor.username, record=record):
        # A worker's failure left the workflow as it was: the task only needs retries to be fetched again.
        record.status, record.status_reason = InstanceStatus.RUNNING, None
        record_event(session, clock, actor=actor.username, event_type="incident_resolved", instance_id=instance_id,
                     definition_key=record.definition_key, data={"reason": reason, "variables": variables})
        session.flush()
        return detail_of(session, actor, record, bundle, run)
    if (done := retry_task_incident(session, record=record, run=run, bundle=bundle)) is not None:
        # A new task's assignee or due date failed: the workflow is where it was; the task is assigned again.
        record_event(session, clock, actor=actor.username, event_type="incident_resolved", instance_id=instance_id,
                     definition_key=record.definition_key, data={"reason": reason, **done})
        session.flush()
        return detail_of(session, actor, record, bundle, run)
    try:
        steps = run.retry(variables, clock.now())
    except KeyError:
        raise InstanceStateError("the instance has no failed step to retry") from None
    except WorkflowError as error:
        raise process_error(error, record.definition_key) from None
    record.status, record.status_reason = INSTANCE_TRANSITIONS[InstanceStatus.FAILED][InstanceAction.RETRY], None
    record_event(session, clock, actor=actor.username, event_type="incident_resolved", instance_id=instance_id,
                 definition_key=record.definition_key, data={"reason": reason, "variables": variables})
    save_run(session, clock, actor=actor.username, record=record, bundle=bundle, run=run, steps=steps)
    return detail_of(session, actor, record, bundle, run)


def _manual_start_event(definition: Definition) -> str | None:
    """The plain start event a person starts from, when the process also has timer or message starts."""
    events = definition.elements.get("start_events", [])
    plain = [e["element_id"] for e in events if e["kind"] == "plain"]
    if not plain and events:
        raise ValidationError(
            f"'{definition.key}' is started by {' or '.join(sorted({e['kind'] for e in events}))} events only",
            field="definition_key")
    return plain[0] if len(events) > 1 else None


def get_instance(session: Session, *, actor: Actor, instance_id: uuid.UUID,
                 internal: InternalFields = NONE_INTERNAL) -> InstanceDetail:
    """The case with its variables, less the `internal` fields when the actor is outlet staff.

    Raises: NotFoundError (also when the actor may not see it: ids are not to be guessed).
    """
    record = visible_instance(session, actor, instance_id)
    bundle = bundle_of(session, record)
    detail = detail_of(session, actor, record, bundle, load_run(record, bundle))
    return replace(detail, variables=visible_variables(actor, detail.variables, internal))


def list_instances(
    session: Session,
    *,
    actor: Actor,
    definition_key: str | None = None,
    status: str | None = None,
    business_key: str | None = None,
    participant: str | None = None,
    started_from: datetime | None = None,
    started_before: datetime | None = None,
    limit: int = 50,
    offset: int = 0,
) -> Page:
    """Newest first. `participant` finds the instances a person acted in: any step of theirs in the history."""
    if status is not None and status not in InstanceStatus.__members__.values():
        raise ValidationError(f"status must be one of {', '.join(InstanceStatus)}", field="status")
    query = select(Instance, Definition).join(Definition, Definition.definition_id == Instance.definition_id)
    if definition_key:
        query = query.where(Instance.definition_key == definition_key)
    if status:
        query = query.where(Instance.status == status)
    if business_key:
        query = query.where(Instance.business_key == business_key)
    if participant:
        query = query.where(exists().where(AuditEvent.instance_id == Instance.instance_id,
                                           AuditEvent.actor == participant))
    if started_from:
        query = query.where(Instance.started_at >= started_from)
    if started_before:
        query = query.where(Instance.started_at < started_before)
    if not sees_everything(actor):
        query = query.where(instance_visible_to(actor))
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = session.execute(query.order_by(Instance.started_at.desc(), Instance.instance_id).limit(limit).offset(offset))
    return Page([summary_of(record, definition, actor) for record, definition in rows], total, limit, offset)


def instance_history(session: Session, *, actor: Actor, instance_id: uuid.UUID,
                     internal: InternalFields = NONE_INTERNAL) -> list[HistoryEvent]:
    """The case's history, less the `internal` fields and opinions when the actor is outlet staff.

    Raises: NotFoundError.
    """
    visible_instance(session, actor, instance_id)
    return visible_history(actor, events_of_instance(session, instance_id), internal)


def suspend_instance(session: Session, clock: Clock, *, actor: Actor, instance_id: uuid.UUID, reason: str) -> InstanceSummary:
    """Stop timers and task work on an instance until resumed (admins only)."""
    return _change_status(session, clock, actor, instance_id, reason, InstanceAction.SUSPEND)


def resume_instance(session: Session, clock: Clock, *, actor: Actor, instance_id: uuid.UUID, reason: str) -> InstanceSummary:
    return _change_status(session, clock, actor, instance_id, reason, InstanceAction.RESUME)


def terminate_instance(session: Session, clock: Clock, *, actor: Actor, instance_id: uuid.UUID, reason: str) -> InstanceSummary:
    """End an instance for good: its open tasks and timers are cancelled."""
    return _change_status(session, clock, actor, instance_id, reason, InstanceAction.TERMINATE)


_EVENT_OF = {InstanceAction.SUSPEND: "suspended", InstanceAction.RESUME: "resumed",
             InstanceAction.TERMINATE: "terminated"}


def _change_status(
    session: Session, clock: Clock, actor: Actor, instance_id: uuid.UUID, reason: str, action: InstanceAction,
) -> InstanceSummary:
    if not has(actor, Permission.ADMINISTER):
        raise PermissionDeniedError("only admins may suspend, resume or terminate instances")
    if not reason or not reason.strip():
        raise ValidationError("a reason is required", field="reason")
    record = session.get(Instance, instance_id)
    if record is None:
        raise NotFoundError(f"no instance {instance_id}")
    target = INSTANCE_TRANSITIONS[InstanceStatus(record.status)].get(action)
    if target is None:
        raise InstanceStateError(f"instance is {record.status}; cannot {action} it", instance_status=record.status)
    bundle = bundle_of(session, record)
    now = clock.now()
    previous = record.status
    record.status, record.status_reason, record.updated_at = target, reason, now
    record_event(session, clock, actor=actor.username, event_type=_EVENT_OF[action], instance_id=instance_id,
                 definition_key=record.definition_key, data={"reason": reason, "previous_status": previous})
    if target == InstanceStatus.TERMINATED:
        record.ended_at = now
        close_case_deadline(session, instance_id=instance_id, completed=False, now=now)
        notify_case_ended(session, record=record, actor=actor.username, outcome=reason, now=now)
        try:
            run = load_run(record, bundle)
        except StateUnloadableError:
            end_without_workflow(session, clock, actor=actor.username, record=record)
        else:
            run.cancel()
            save_run(session, clock, actor=actor.username, record=record, bundle=bundle, run=run, steps=[])
    flush(session)
    return summary_of(record, bundle.definition, actor)
