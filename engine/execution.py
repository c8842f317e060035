"""Loading an instance's workflow, advancing it, and writing back everything that changed.

After every advance the instance's rows are brought in line with the workflow: its state, the
task queue rows of ready user tasks, the due times of waiting timers, the message subscriptions,
and one history row per step, all in the caller's transaction.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session, object_session
from sqlalchemy.orm.exc import StaleDataError

from engine import workflow_cache
from engine.advance_limits import limits_of
from engine.audit import record_event
from engine.bpmn.budget import SHUTDOWN
from engine.bpmn.runtime import ReadyUserTask, Step, WaitingMessage, WaitingTimer, WorkflowError, WorkflowRun
from engine.bpmn.serialization import CHUNKS_KEY, SERIALIZER_VERSION
from engine.clock import Clock
from engine.deadlines import close_case_deadline, close_deadline, open_deadline, pause_or_resume
from engine.errors import ConcurrentUpdateError, ProcessError, ServiceError, ShuttingDownError
from engine.tables import (
    Definition,
    Instance,
    InstanceStateChunk,
    MessageSubscription,
    Task,
    TaskCandidateGroup,
    Timer,
)

TIMER_STEP_TYPES = {"IntermediateCatchEvent", "BoundaryEvent", "StartEvent"}
PROMOTED_FIELDS = ("region", "outlet_code", "customer_name", "serial_number")
DECISION_PREFIX = "decision:"
# Rebuild every saved workflow from what was written and compare (the test suite turns this on).
VERIFY_STATE = os.environ.get("TIXI_VERIFY_STATE") == "1"


@dataclass(frozen=True)
class Bundle:
    """A process version with the versions of what it calls: processes (call activities) and decisions (DMN)."""

    definition: Definition
    called: dict[str, Definition] = field(default_factory=dict)
    decisions: dict[str, Definition] = field(default_factory=dict)

    @property
    def cache_key(self) -> str:
        bound = [*self.called.values(), *self.decisions.values()]
        return "+".join([str(self.definition.definition_id), *sorted(str(d.definition_id) for d in bound)])

    @property
    def spec(self) -> dict[str, Any]:
        subprocess_specs = {
            name: self._with_decisions(sub, self.definition)
            for name, sub in self.definition.spec.get("subprocess_specs", {}).items()
        }
        for key, called in self.called.items():
            subprocess_specs[key] = self._with_decisions(called.spec["spec"], called)
            subprocess_specs.update(called.spec.get("subprocess_specs", {}))
        return {"spec": self._with_decisions(self.definition.spec["spec"], self.definition),
                "subprocess_specs": subprocess_specs}

    def _with_decisions(self, process_spec: dict[str, Any], owner: Definition) -> dict[str, Any]:
        """The spec with each business-rule task's table replaced by the bound decision version's."""
        refs: dict[str, str] = owner.elements.get("decisions", {})
        if not refs or not self.decisions:
            return process_spec
        task_specs = dict(process_spec["task_specs"])
        for element_id, decision_key in refs.items():
            decision = self.decisions.get(decision_key)
            if element_id in task_specs and decision is not None and "decision_table" in decision.spec:
                task_specs[element_id] = {**task_specs[element_id], "decision_table": decision.spec["decision_table"]}
        return {**process_spec, "task_specs": task_specs}

    def elements(self, process_key: str) -> dict[str, Any]:
        definition = self.called.get(process_key, self.definition)
        elements: dict[str, Any] = definition.elements
        return elements

    def name_of(self, process_key: str, element_id: str) -> str | None:
        name: str | None = self.elements(process_key).get("names", {}).get(element_id)
        return name

    def uses(self, kind: str) -> bool:
        """Whether any process of the bundle has elements of `kind` ("timer_events", "message_events", "sla_pause").

        Without them an instance has no rows of that kind, so a step need not look for any.
        """
        return any(d.elements.get(kind) for d in (self.definition, *self.called.values()))

    def called_ids(self) -> dict[str, str]:
        return {**{key: str(d.definition_id) for key, d in self.called.items()},
                **{DECISION_PREFIX + key: str(d.definition_id) for key, d in self.decisions.items()}}


def resolve_bundle(session: Session, definition: Definition) -> Bundle:
    """Bind the latest version of every process reachable through call activities.

    Raises: ProcessError when a called process is not deployed.
    """
    called: dict[str, Definition] = {}
    pending = list(definition.elements.get("called_processes", []))
    while pending:
        key = pending.pop()
        if key in called or key == definition.key:
            continue
        row = session.scalars(
            select(Definition).where(Definition.key == key, Definition.kind == "process")
            .order_by(Definition.version.desc()).limit(1)
        ).first()
        if row is None:
            raise ProcessError(f"process '{definition.key}' calls '{key}', which is not deployed", element=key)
        called[key] = row
        pending.extend(row.elements.get("called_processes", []))
    decisions: dict[str, Definition] = {}
    for owner in (definition, *called.values()):
        for decision_key in owner.elements.get("decisions", {}).values():
            row = session.scalars(
                select(Definition).where(Definition.key == decision_key, Definition.kind == "decision")
                .order_by(Definition.version.desc()).limit(1)
            ).first()
            if row is not None:  # else the table bound at deploy time stays in the spec
                decisions[decision_key] = row
    return Bundle(definition, called, decisions)


def bundle_of(session: Session, record: Instance) -> Bundle:
    definition = session.get(Definition, record.definition_id)
    assert definition is not None  # foreign key
    bound = {key: session.get(Definition, uuid.UUID(def_id)) for key, def_id in (record.called_definitions or {}).items()}
    called = {k: v for k, v in bound.items() if v is not None and not k.startswith(DECISION_PREFIX)}
    decisions = {k.removeprefix(DECISION_PREFIX): v for k, v in bound.items()
                 if v is not None and k.startswith(DECISION_PREFIX)}
    return Bundle(definition, called, decisions)


def load_run(record: Instance, bundle: Bundle) -> WorkflowRun:
    """The instance's workflow: this server's copy if it is current, else rebuilt from the database."""
    session = object_session(record)
    assert session is not None  # records come from the caller's session
    run = workflow_cache.take(record.instance_id, record.state_revision, bundle.cache_key)
    if run is None:
        chunks = _spilled_chunks(session, record.instance_id) if record.state.get(CHUNKS_KEY) else []
        run = WorkflowRun.load(bundle.cache_key, bundle.spec, record.state, chunks, record.serializer_version)
    workflow_cache.hold(session, record.instance_id, run, bundle.cache_key, record.state_revision, saved=False)
    run.limits = limits_of(session)
    return run


def _spilled_chunks(session: Session, instance_id: uuid.UUID) -> Sequence[dict[str, Any]]:
    """The instance's chunks of spilled finished tasks, oldest first."""
    return session.scalars(select(InstanceStateChunk.tasks).where(InstanceStateChunk.instance_id == instance_id)
                           .order_by(InstanceStateChunk.seq)).all()


def save_run(
    session: Session,
    clock: Clock,
    *,
    actor: str,
    record: Instance,
    bundle: Bundle,
    run: WorkflowRun,
    steps: list[Step],
    fired_timer_ids: frozenset[uuid.UUID] = frozenset(),
) -> None:
    """Write the workflow's new state and everything derived from it; the caller commits."""
    now = clock.now()
    # Each of these scans every task: take them once and hand them to every sync below.
    ready, timers, messages = run.ready_user_tasks(), run.waiting_timers(), run.waiting_messages()
    # The syncs read rows this step cannot have written yet: without autoflush before each read,
    # the step's changes go out in one flush (multi-row INSERTs) instead of one per read.
    with session.no_autoflush:
        _record_steps(session, clock, actor=actor, record=record, bundle=bundle, steps=steps)
        _sync_tasks(session, clock, actor=actor, record=record, bundle=bundle, run=run, ready_tasks=ready)
        if timers or bundle.uses("timer_events"):
            _sync_timers(session, record=record, waiting_timers=timers, bundle=bundle, fired=fired_timer_ids,
                         now=now)
        if messages or bundle.uses("message_events"):
            _sync_messages(session, record=record, waiting_messages=messages, now=now)
    variables = run.variables()
    _promote_case_fields(record, variables)
    waiting_at = [(t.process_key, t.element_id) for t in ready]
    waiting_at += [(t.process_key, t.element_id) for t in timers]
    waiting_at += [(m.process_key, m.element_id) for m in messages]
    if bundle.uses("sla_pause"):
        pause_or_resume(session, instance_id=record.instance_id, paused=_waits_on_customer(bundle, waiting_at),
                        now=now)
    stored = run.dump()
    if stored.chunk is not None:
        session.add(InstanceStateChunk(instance_id=record.instance_id, seq=stored.chunk_seq, tasks=stored.chunk))
    record.state, record.state_revision = stored.state, uuid.uuid4()
    record.serializer_version = SERIALIZER_VERSION
    record.updated_at = now
    if run.is_completed and record.status == "running":
        record.status, record.ended_at = "completed", now
        if bundle.definition.elements.get("case_sla"):
            close_case_deadline(session, instance_id=record.instance_id, completed=True, now=now)
        # A side branch (e.g. quality feedback) may finish last; the case's outcome is its main end.
        side = set(bundle.elements(record.definition_key).get("side_end_events", []))
        ends = run.reached_end_events()
        outcomes = [e for e in ends if e not in side] or ends
        end = outcomes[-1] if outcomes else None
        record_event(session, clock, actor=actor, event_type="ended", instance_id=record.instance_id,
                     definition_key=record.definition_key,
                     data={"end_event": end, "end_event_name": bundle.name_of(record.definition_key, end or ""),
                           "end_events": ends, "variables": variables})
    flush(session)
    workflow_cache.hold(session, record.instance_id, run, bundle.cache_key, record.state_revision, saved=True)
    if VERIFY_STATE:
        _verify_stored_state(session, record, bundle, run)


def _verify_stored_state(session: Session, record: Instance, bundle: Bundle, run: WorkflowRun) -> None:
    """Check that the state just written (row and chunks) rebuilds the same workflow (TIXI_VERIFY_STATE)."""
    reloaded = WorkflowRun.load(bundle.cache_key, bundle.spec, record.state,
                                _spilled_chunks(session, record.instance_id), record.serializer_version)
    if not run.same_state_as(reloaded):
        raise AssertionError(f"the stored state of instance {record.instance_id} does not rebuild its workflow")


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
    record.status, record.status_reason, record.updated_at = "failed", error.message, clock.now()
    record_event(session, clock, actor=actor, event_type="incident", instance_id=record.instance_id,
                 definition_key=record.definition_key,
                 data={"element": error.element_id, "error": error.message, "line": error.line,
                       "budget": error.budget})
    flush(session)


def flush(session: Session) -> None:
    """Flush, turning a lost optimistic-lock race into a conflict the caller can report."""
    try:
        session.flush()
    except StaleDataError:
        raise ConcurrentUpdateError("the instance was changed by someone else at the same moment; reload and retry") from None


def process_error(error: WorkflowError, record_key: str) -> ServiceError:
    if error.budget == SHUTDOWN:
        return ShuttingDownError(f"process '{record_key}' was stopped at element '{error.element_id}': "
                                 "the server is shutting down; nothing was saved, try again shortly")
    return ProcessError(f"process '{record_key}' failed at element '{error.element_id}': {error.message}",
                        element=error.element_id, line=error.line)


def _record_steps(
    session: Session, clock: Clock, *, actor: str, record: Instance, bundle: Bundle, steps: list[Step]
) -> None:
    for step in steps:
        if step.element_type == "UserTask":
            continue  # its completion is recorded with the submitted data by the task operation
        elements = bundle.elements(step.process_key)
        base: dict[str, Any] = {"process": step.process_key, "element": step.element_id,
                "element_name": bundle.name_of(step.process_key, step.element_id), "type": step.element_type}
        event_type, data = "element_completed", base
        if step.element_type == "ExclusiveGateway":
            flows = elements.get("flows", {})
            chosen = [
                {"flow": flow_id, "flow_name": flow.get("name"), "target": target,
                 "target_name": bundle.name_of(step.process_key, target)}
                for target in step.chosen
                for flow_id, flow in flows.items()
                if flow["source"] == step.element_id and flow["target"] == target
            ]
            event_type, data = "gateway_decision", {**base, "chosen": chosen, **(step.data or {})}
        elif step.element_type == "BusinessRuleTask":
            decision_key = elements.get("decisions", {}).get(step.element_id)
            event_type, data = "decision_evaluated", {**base, **(step.data or {}), "decision": decision_key,
                                                      "table": (step.data or {}).get("decision")}
        elif step.element_type == "CallActivity":
            event_type = "call_activity_completed"
        elif step.element_type in TIMER_STEP_TYPES and step.element_id in elements.get("timer_events", []):
            event_type = "timer_fired"
        record_event(session, clock, actor=actor, event_type=event_type, instance_id=record.instance_id,
                     definition_key=record.definition_key, data=data)


def _sync_tasks(
    session: Session, clock: Clock, *, actor: str, record: Instance, bundle: Bundle, run: WorkflowRun,
    ready_tasks: list[ReadyUserTask],
) -> None:
    now = clock.now()
    ready = {t.task_id: t for t in ready_tasks}
    # One query for the open rows and for any row the ready tasks already have (one per task ever readied).
    known = {row.task_id: row for row in session.scalars(select(Task).where(
        Task.instance_id == record.instance_id, or_(Task.status == "open", Task.task_id.in_(list(ready)))))}
    open_rows = {task_id: row for task_id, row in known.items() if row.status == "open"}
    for task_id, row in open_rows.items():
        if task_id not in ready:
            row.status, row.completed_at = "cancelled", now
            if row.due_at is not None:  # a task has a deadline exactly when it has a due time
                close_deadline(session, task_id=task_id, completed=False, now=now)
            record_event(session, clock, actor=actor, event_type="task_cancelled", instance_id=record.instance_id,
                         task_id=task_id, definition_key=record.definition_key,
                         data={"element": row.element_id, "name": row.name})
    for task_id, ready_task in ready.items():
        if task_id in known:
            continue
        meta = bundle.elements(ready_task.process_key).get("user_tasks", {}).get(ready_task.element_id, {})
        assignee = _assignee(run, task_id, meta)
        task = Task(
            task_id=task_id, instance_id=record.instance_id, process_key=ready_task.process_key,
            element_id=ready_task.element_id, name=meta.get("name") or ready_task.element_id,
            form_key=meta.get("form_key"), status="open", assignee=assignee, created_at=now,
            priority=_priority(meta), owner=None,
        )
        # Due time before the insert: set after it, it cost an UPDATE of the new row.
        due_at = task.due_at = open_deadline(session, record=record, task=task, meta=meta, now=now)
        session.add(task)
        groups = meta.get("candidate_groups", [])
        session.add_all(TaskCandidateGroup(task_id=task_id, group_id=g) for g in groups)
        record_event(session, clock, actor=actor, event_type="task_created", instance_id=record.instance_id,
                     task_id=task_id, definition_key=record.definition_key,
                     data={"process": ready_task.process_key, "element": ready_task.element_id,
                           "name": meta.get("name"), "candidate_groups": groups, "assignee": assignee,
                           "form_key": meta.get("form_key"), "due_at": due_at.isoformat() if due_at else None})


def _priority(meta: dict[str, Any]) -> int:
    try:
        return max(0, min(100, int(meta.get("priority") or 50)))
    except ValueError:
        return 50


def _promote_case_fields(record: Instance, variables: dict[str, Any]) -> None:
    """Copy the case fields queues filter on into indexed columns."""
    for name in PROMOTED_FIELDS:
        value = variables.get(name)
        if isinstance(value, (str, int)) and not isinstance(value, bool):
            setattr(record, name, str(value)[:200])


def _waits_on_customer(bundle: Bundle, waiting_at: list[tuple[str, str]]) -> bool:
    return any(element in bundle.elements(key).get("sla_pause", []) for key, element in waiting_at)


def _assignee(run: WorkflowRun, task_id: uuid.UUID, meta: dict[str, Any]) -> str | None:
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
    session: Session, *, record: Instance, waiting_timers: list[WaitingTimer], bundle: Bundle,
    fired: frozenset[uuid.UUID], now: Any,
) -> None:
    pending = {
        row.timer_id: row
        for row in session.scalars(select(Timer).where(Timer.instance_id == record.instance_id,
                                                       Timer.status == "pending"))
    }
    waiting = {t.timer_id: t for t in waiting_timers}
    for timer_id, row in pending.items():
        if timer_id not in waiting:
            row.status = "fired" if timer_id in fired else "cancelled"
            row.fired_at = now if timer_id in fired else None
    for timer_id, timer in waiting.items():
        known = pending.get(timer_id) or session.get(Timer, timer_id)
        if known is None:
            session.add(Timer(timer_id=timer_id, instance_id=record.instance_id, element_id=timer.element_id,
                              name=bundle.name_of(timer.process_key, timer.element_id) or timer.element_id,
                              due_at=timer.due_at, status="pending"))
        elif known.due_at != timer.due_at:  # a cycle timer moved on to its next due time
            known.due_at, known.status = timer.due_at, "pending"


def _sync_messages(
    session: Session, *, record: Instance, waiting_messages: list[WaitingMessage], now: Any
) -> None:
    existing = {
        row.task_id: row
        for row in session.scalars(select(MessageSubscription).where(MessageSubscription.instance_id == record.instance_id))
    }
    waiting = {m.task_id: m for m in waiting_messages}
    for task_id, row in existing.items():
        if task_id not in waiting:
            session.delete(row)
    for task_id, message in waiting.items():
        if task_id not in existing:
            session.add(MessageSubscription(task_id=task_id, instance_id=record.instance_id,
                                            message_name=message.message_name, element_id=message.element_id,
                                            created_at=now))
