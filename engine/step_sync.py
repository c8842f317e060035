"""Bringing an instance's rows in line with a step of its workflow.

After every advance: one history row per finished element, the queue rows of ready user tasks
(created, or cancelled when the workflow moved past them), the due times of waiting timers and the
waiting message subscriptions, the external tasks workers fetch, and the case fields the queues filter on, all in the caller's
transaction.
"""

from __future__ import annotations

import json
import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import and_, bindparam, inspect, or_, select
from sqlalchemy.orm import Session

from engine.audit import record_event
from engine.bpmn.event_work import WaitingMessage, WaitingSignal
from engine.bpmn.external_work import WaitingServiceTask
from engine.bpmn.spiff_adapter import ReadyUserTask, Step, WaitingTimer, WorkflowRun
from engine.bpmn.support import DEFAULT_TOPIC
from engine.bundles import Bundle
from engine.candidate_users import evaluate_candidate_users, set_candidate_users
from engine.clock import Clock
from engine.deadlines import close_deadline, open_deadline, pause_or_resume
from engine.errors import ProcessError
from engine.new_case_tasks import note_task
from engine.notifications.designed import notify_designed
from engine.notifications.outbox import notify_task_created
from engine.register_actions import apply_register_actions
from engine.signal_tables import SignalSubscription
from engine.states import ExternalTaskStatus, TaskStatus, TimerStatus
from engine.step_batch import take_tasks, take_timers
from engine.tables import ExternalTask, Instance, MessageSubscription, Task, TaskCandidateGroup, Timer
from engine.task_incidents import evaluate_assignee, record_task_incident

TIMER_STEP_TYPES = {"IntermediateCatchEvent", "BoundaryEvent", "StartEvent"}
# Queues filter on the first four; product_model is shown in the inbox's rows (issue 16), not filtered on.
PROMOTED_FIELDS = ("region", "outlet_code", "customer_name", "serial_number", "product_model")


def sync_rows(
    session: Session,
    clock: Clock,
    *,
    actor: str,
    record: Instance,
    bundle: Bundle,
    run: WorkflowRun,
    steps: list[Step],
    fired_timer_ids: frozenset[uuid.UUID],
    default_topic: str = DEFAULT_TOPIC,
) -> dict[str, Any]:
    """Write the history of `steps` and bring the instance's rows in line; returns the case data."""
    now = clock.now()
    # Each of these scans every task: take them once and hand them to every sync below.
    ready, timers, messages = run.ready_user_tasks(), run.waiting_timers(), run.waiting_messages()
    # Before the tasks: who hears of a new task depends on the case's outlet, and its message shows the customer.
    variables = run.variables()
    _promote_case_fields(record, variables)
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
        if bundle.uses("signal_events"):
            _sync_signals(session, record=record, waiting=run.waiting_signals(), now=now)
        if bundle.uses("external_tasks"):
            _sync_external_tasks(session, clock, actor=actor, record=record, bundle=bundle, run=run,
                                 waiting=run.waiting_service_tasks(), default_topic=default_topic)
    if bundle.uses("register_actions"):
        actions = [action for step in steps
                   if (action := bundle.elements(step.process_key).get("register_actions", {}).get(step.element_id))]
        apply_register_actions(session, clock, actor=actor, record=record, actions=actions, variables=variables)
    if bundle.uses("notifications"):
        for step in steps:
            meta = bundle.elements(step.process_key).get("notifications", {}).get(step.element_id)
            if meta is not None:
                notify_designed(session, record=record, element_id=step.element_id, meta=meta, variables=variables,
                                actor=actor, now=now)
    if bundle.uses("sla_pause"):
        waiting_at = [(t.process_key, t.element_id) for t in ready]
        waiting_at += [(t.process_key, t.element_id) for t in timers]
        waiting_at += [(m.process_key, m.element_id) for m in messages]
        waiting_at += [(t.process_key, t.element_id) for t in run.waiting_service_tasks()]
        pause_or_resume(session, instance_id=record.instance_id, paused=_waits_on_customer(bundle, waiting_at),
                        now=now)
    return variables


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


# Built once (it runs at every step); an empty `ready` list is an IN over nothing, false on both dialects.
# Each branch is an index probe (the case's open tasks by (instance_id, status, ...), the ready ones by
# key), so a case that looped a thousand times reads its few open rows, not a row per round.
_OPEN_OR_READY_TASKS = select(Task).where(or_(
    and_(Task.instance_id == bindparam("instance_id"), Task.status == TaskStatus.OPEN),
    Task.task_id.in_(bindparam("ready", expanding=True))))  # the workflow's own ids: of this case


def _sync_tasks(
    session: Session, clock: Clock, *, actor: str, record: Instance, bundle: Bundle, run: WorkflowRun,
    ready_tasks: list[ReadyUserTask],
) -> None:
    now = clock.now()
    ready = {t.task_id: t for t in ready_tasks}
    # One query for the open rows and for any row the ready tasks already have (one per task ever readied),
    # unless the timer tick's batch loaded every row of the case already.
    loaded = take_tasks(session, record.instance_id)
    if loaded is None and inspect(record).pending:
        loaded = []  # a case not yet inserted has no task rows in the database
    if loaded is None:
        known = {row.task_id: row for row in session.scalars(
            _OPEN_OR_READY_TASKS, {"instance_id": record.instance_id, "ready": list(ready)})}
    else:
        known = {row.task_id: row for row in loaded if row.status == TaskStatus.OPEN or row.task_id in ready}
    open_rows = {task_id: row for task_id, row in known.items() if row.status == TaskStatus.OPEN}
    for task_id, row in open_rows.items():
        if task_id not in ready:
            row.status, row.completed_at = TaskStatus.CANCELLED, now
            if row.due_at is not None:  # a task has a deadline exactly when it has a due time
                close_deadline(session, task_id=task_id, completed=False, now=now)
            record_event(session, clock, actor=actor, event_type="task_cancelled", instance_id=record.instance_id,
                         task_id=task_id, definition_key=record.definition_key,
                         data={"element": row.element_id, "name": row.name})
    for task_id, ready_task in ready.items():
        meta = bundle.elements(ready_task.process_key).get("user_tasks", {}).get(ready_task.element_id, {})
        if task_id in known:
            if known[task_id].status != TaskStatus.OPEN:  # a step sent back to (退回) keeps its task id
                _reopen(session, clock, actor=actor, record=record, run=run, row=known[task_id], meta=meta)
            continue
        assignee, problem = evaluate_assignee(run, task_id, meta)
        users, users_problem = evaluate_candidate_users(run, task_id, meta)
        problem = problem or users_problem
        task = Task(
            task_id=task_id, instance_id=record.instance_id, process_key=ready_task.process_key,
            element_id=ready_task.element_id, name=meta.get("name") or ready_task.element_id,
            form_key=meta.get("form_key"), status=TaskStatus.OPEN, assignee=assignee, created_at=now,
            priority=_priority(meta), owner=None,
        )
        # Due time before the insert: set after it, it cost an UPDATE of the new row.
        try:
            due_at = task.due_at = open_deadline(session, record=record, task=task, meta=meta, now=now)
        except ProcessError as error:  # the new task's problem, not the step's that reached it
            due_at, problem = None, problem or str(error)
        session.add(task)
        groups = meta.get("candidate_groups", [])
        session.add_all(TaskCandidateGroup(task_id=task_id, group_id=g) for g in groups)
        note_task(session, task, groups)
        set_candidate_users(session, task_id, users)
        record_event(session, clock, actor=actor, event_type="task_created", instance_id=record.instance_id,
                     task_id=task_id, definition_key=record.definition_key,
                     data={"process": ready_task.process_key, "element": ready_task.element_id,
                           "name": meta.get("name"), "candidate_groups": groups, "assignee": assignee,
                           **({"candidate_users": users} if users else {}),
                           "form_key": meta.get("form_key"), "due_at": due_at.isoformat() if due_at else None})
        notify_task_created(session, record=record, task=task, groups=groups, users=users, actor=actor, now=now)
        if problem:
            record_task_incident(session, clock, actor=actor, record=record, task=task, message=problem)


def _reopen(session: Session, clock: Clock, *, actor: str, record: Instance, run: WorkflowRun, row: Task,
            meta: dict[str, Any]) -> None:
    """Queue a finished step again: to its assignee expression's person, else to its groups, with a new deadline."""
    now = clock.now()
    row.status, row.completed_at, row.completed_by, row.owner, row.created_at = TaskStatus.OPEN, None, None, None, now
    row.assignee, problem = evaluate_assignee(run, row.task_id, meta)
    users, users_problem = evaluate_candidate_users(run, row.task_id, meta)
    problem = problem or users_problem
    set_candidate_users(session, row.task_id, users, replace=True)
    row.due_at = open_deadline(session, record=record, task=row, meta=meta, now=now)
    if problem:  # as for a new task: an incident on the reopened one, not a refusal of the send-back
        record_task_incident(session, clock, actor=actor, record=record, task=row, message=problem)
    groups = meta.get("candidate_groups", [])
    record_event(session, clock, actor=actor, event_type="task_reopened", instance_id=record.instance_id,
                 task_id=row.task_id, definition_key=record.definition_key,
                 data={"process": row.process_key, "element": row.element_id, "name": row.name,
                       "candidate_groups": groups, "assignee": row.assignee,
                       **({"candidate_users": users} if users else {}),
                       "due_at": row.due_at.isoformat() if row.due_at else None})
    notify_task_created(session, record=record, task=row, groups=groups, users=users, actor=actor, now=now)


def _priority(meta: dict[str, Any]) -> int:
    try:
        return max(0, min(100, int(meta.get("priority") or 50)))
    except ValueError:
        return 50


def _promote_case_fields(record: Instance, variables: dict[str, Any]) -> None:
    """Copy the case fields queues filter on and show into columns of the instance."""
    for name in PROMOTED_FIELDS:
        value = variables.get(name)
        if isinstance(value, (str, int)) and not isinstance(value, bool):
            setattr(record, name, str(value)[:200])


def _waits_on_customer(bundle: Bundle, waiting_at: list[tuple[str, str]]) -> bool:
    return any(element in bundle.elements(key).get("sla_pause", []) for key, element in waiting_at)


def _sync_timers(
    session: Session, *, record: Instance, waiting_timers: list[WaitingTimer], bundle: Bundle,
    fired: frozenset[uuid.UUID], now: datetime,
) -> None:
    # Every row of the case if the timer tick's batch loaded them (then a timer without one is new), else the pending.
    loaded = take_timers(session, record.instance_id)
    every = None if loaded is None else {row.timer_id: row for row in loaded}
    pending = {
        row.timer_id: row
        for row in (loaded if loaded is not None else session.scalars(
            select(Timer).where(Timer.instance_id == record.instance_id, Timer.status == TimerStatus.PENDING)))
        if row.status == TimerStatus.PENDING
    }
    waiting = {t.timer_id: t for t in waiting_timers}
    for timer_id, row in pending.items():
        if timer_id not in waiting:
            row.status = TimerStatus.FIRED if timer_id in fired else TimerStatus.CANCELLED
            row.fired_at = now if timer_id in fired else None
    for timer_id, timer in waiting.items():
        known = pending.get(timer_id) or (session.get(Timer, timer_id) if every is None else every.get(timer_id))
        if known is None:
            session.add(Timer(timer_id=timer_id, instance_id=record.instance_id, element_id=timer.element_id,
                              name=bundle.name_of(timer.process_key, timer.element_id) or timer.element_id,
                              due_at=timer.due_at, status=TimerStatus.PENDING))
        elif known.due_at != timer.due_at:  # a cycle timer moved on to its next due time
            known.due_at, known.status = timer.due_at, TimerStatus.PENDING


def _sync_messages(
    session: Session, *, record: Instance, waiting_messages: list[WaitingMessage], now: datetime
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


def _sync_signals(session: Session, *, record: Instance, waiting: list[WaitingSignal], now: datetime) -> None:
    existing = {row.task_id: row for row in session.scalars(
        select(SignalSubscription).where(SignalSubscription.instance_id == record.instance_id))}
    waiting_by_id = {w.task_id: w for w in waiting}
    for task_id, row in existing.items():
        if task_id not in waiting_by_id:
            session.delete(row)
    for task_id, signal in waiting_by_id.items():
        if task_id not in existing:
            session.add(SignalSubscription(task_id=task_id, instance_id=record.instance_id, signal_name=signal.signal_name,
                                           element_id=signal.element_id, created_at=now))


def _sync_external_tasks(
    session: Session, clock: Clock, *, actor: str, record: Instance, bundle: Bundle, run: WorkflowRun,
    waiting: list[WaitingServiceTask], default_topic: str,
) -> None:
    """A row for each service task the workflow now waits on; an open row it moved past is cancelled."""
    now = clock.now()
    waiting_by_id = {t.task_id: t for t in waiting}
    known = {row.external_task_id: row for row in session.scalars(select(ExternalTask).where(
        ExternalTask.instance_id == record.instance_id,
        or_(ExternalTask.status == ExternalTaskStatus.OPEN, ExternalTask.external_task_id.in_(list(waiting_by_id)))))}
    for task_id, row in known.items():
        if row.status == ExternalTaskStatus.OPEN and task_id not in waiting_by_id:
            row.status, row.completed_at, row.lock_expires_at = ExternalTaskStatus.CANCELLED, now, None
            record_event(session, clock, actor=actor, event_type="external_task_cancelled",
                         instance_id=record.instance_id, task_id=task_id, definition_key=record.definition_key,
                         data={"element": row.element_id, "topic": row.topic})
    for task_id, task in waiting_by_id.items():
        if task_id in known:
            continue
        meta = bundle.elements(task.process_key).get("external_tasks", {}).get(task.element_id, {})
        topic = meta.get("topic") or default_topic
        session.add(ExternalTask(
            external_task_id=task_id, instance_id=record.instance_id, process_key=task.process_key,
            element_id=task.element_id, name=meta.get("name") or task.element_id, topic=topic,
            status=ExternalTaskStatus.OPEN, variables=json.loads(json.dumps(run.task_variables(task_id), default=str)),
            priority=int(meta.get("priority") or 0), created_at=now))
        record_event(session, clock, actor=actor, event_type="external_task_created", instance_id=record.instance_id,
                     task_id=task_id, definition_key=record.definition_key,
                     data={"process": task.process_key, "element": task.element_id, "name": meta.get("name"),
                           "topic": topic})
