"""Invariants over the audit history and the rows it describes: what must hold after any load or crash.

`tixi audit verify` checks the hash chains; `tixi audit check` (this module) goes further, after
races, killed processes or a restore from backup:

- every chain is intact (`audit.verify_chains`);
- each instance's history starts with `started` and its events come in a possible order: no task
  event before the task was created, no task completed or cancelled twice (or both) unless sent
  back to (reopened) between, no work on a task after it closed, nothing but cancellations and comments after the instance ended;
- the rows agree with the history: every task row was created in it, a completed row was completed
  exactly once in it (since it was last reopened), an instance's status is the one its last status event left;
- no instance is half-advanced: a running, suspended or failed instance's open tasks and pending
  timers (and open external tasks) are exactly the workflow's ready user tasks and waiting timers
  (and waiting service tasks); an ended one has none.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.audit import verify_chains
from engine.bundles import bundle_of
from engine.errors import StateUnloadableError
from engine.states import ExternalTaskStatus, InstanceStatus, TaskStatus, TimerStatus
from engine.tables import AuditEvent, ExternalTask, Instance, MessageSubscription, Task, Timer
from engine.workflow_store import load_run

# The instance status each status event leaves behind.
STATUS_AFTER = {"started": InstanceStatus.RUNNING, "suspended": InstanceStatus.SUSPENDED,
                "resumed": InstanceStatus.RUNNING, "terminated": InstanceStatus.TERMINATED,
                "ended": InstanceStatus.COMPLETED, "incident": InstanceStatus.FAILED,
                "incident_resolved": InstanceStatus.RUNNING,
                "withdrawn": InstanceStatus.TERMINATED}  # 撤回 (engine/withdrawal.py)
ENDED = (InstanceStatus.COMPLETED, InstanceStatus.TERMINATED)
TASK_REOPENED = "task_reopened"
TASK_CLOSED = ("task_completed", "task_cancelled", "external_task_completed", "external_task_cancelled")
TASK_CREATED = ("task_created", "external_task_created")
# A message (signal) end event's message is delivered (or found unmatched) once the sender's end is saved.
ALLOWED_AFTER_END = {"task_cancelled", "comment_added", "external_task_cancelled", "message_sent", "message_unmatched",
                     "signal_sent"}
ALLOWED_ON_CLOSED_TASK = {"comment_added"}


@dataclass(frozen=True)
class Violation:
    instance_id: uuid.UUID | None
    task_id: uuid.UUID | None
    problem: str


@dataclass(frozen=True)
class Report:
    rows: int
    instances: int
    tasks: int
    violations: list[Violation]


def check_invariants(session: Session) -> Report:
    """Check the whole database; read-only, so it may run beside a live system."""
    rows, breaks = verify_chains(session)
    violations = [Violation(b.instance_id, None, f"hash chain broken at row {b.event_id}: {b.problem}") for b in breaks]
    events: dict[uuid.UUID, list[AuditEvent]] = defaultdict(list)
    for event in session.scalars(select(AuditEvent).where(AuditEvent.instance_id.is_not(None))
                                 .order_by(AuditEvent.event_id)):
        assert event.instance_id is not None
        events[event.instance_id].append(event)
    tasks: dict[uuid.UUID, list[Task]] = defaultdict(list)
    for task in session.scalars(select(Task)):
        tasks[task.instance_id].append(task)
    records = list(session.scalars(select(Instance)))
    for record in records:
        history = events.pop(record.instance_id, [])
        violations += _check_history(record, history)
        violations += _check_rows(record, history, tasks.get(record.instance_id, []))
        violations += _check_state(session, record, tasks.get(record.instance_id, []))
    violations += [Violation(instance_id, None, "history of an instance that does not exist") for instance_id in events]
    return Report(rows, len(records), sum(len(t) for t in tasks.values()), violations)


def _check_history(record: Instance, history: list[AuditEvent]) -> list[Violation]:
    found: list[Violation] = []

    def bad(problem: str, task_id: uuid.UUID | None = None) -> None:
        found.append(Violation(record.instance_id, task_id, problem))

    if not history or history[0].event_type != "started":
        bad("history does not begin with 'started'")
    created: set[uuid.UUID] = set()
    closed: dict[uuid.UUID, str] = {}
    status = None
    for event in history:
        kind, task_id = event.event_type, event.task_id
        if status in ENDED and kind not in ALLOWED_AFTER_END:
            bad(f"'{kind}' (row {event.event_id}) after the instance was {status}", task_id)
        if kind in STATUS_AFTER:
            if kind == "started" and status is not None:
                bad(f"started twice (row {event.event_id})")
            status = STATUS_AFTER[kind]
        if task_id is None:
            continue
        if kind in TASK_CREATED:
            if task_id in created:
                bad(f"task created twice (row {event.event_id})", task_id)
            created.add(task_id)
        elif task_id not in created:
            bad(f"'{kind}' (row {event.event_id}) before the task was created", task_id)
        if kind == TASK_REOPENED:  # 退回 reopened a finished step (engine/send_back.py): it may close again
            if closed.pop(task_id, None) is None:
                bad(f"task reopened (row {event.event_id}) while it was open", task_id)
            continue
        if task_id in closed and kind not in ALLOWED_ON_CLOSED_TASK:
            bad(f"'{kind}' (row {event.event_id}) after the task was {closed[task_id]}", task_id)
        if kind in TASK_CLOSED:
            closed.setdefault(task_id, kind.removeprefix("task_"))
    if status is not None and status != record.status:
        bad(f"status is '{record.status}' but its history leaves it '{status}'")
    return found


def _check_rows(record: Instance, history: list[AuditEvent], task_rows: list[Task]) -> list[Violation]:
    found: list[Violation] = []
    created = {e.task_id for e in history if e.event_type == "task_created"}
    completions: dict[uuid.UUID | None, int] = defaultdict(int)
    for event in history:
        if event.event_type == "task_completed":
            completions[event.task_id] += 1
        elif event.event_type == TASK_REOPENED:  # counted again from here
            completions[event.task_id] = 0
    for task in task_rows:
        if task.task_id not in created:
            found.append(Violation(record.instance_id, task.task_id, "task row without 'task_created' in the history"))
        done = completions.pop(task.task_id, 0)
        if task.status == TaskStatus.COMPLETED and done != 1:
            found.append(Violation(record.instance_id, task.task_id, f"completed task has {done} completions"))
        if task.status != TaskStatus.COMPLETED and done:
            found.append(Violation(record.instance_id, task.task_id, f"task is {task.status} yet was completed"))
    for task_id in completions:
        found.append(Violation(record.instance_id, task_id, "'task_completed' for a task that has no row"))
    return found


def _check_state(session: Session, record: Instance, task_rows: list[Task]) -> list[Violation]:
    """The stored workflow and the queue, timer, subscription and external-task rows derived from it agree."""
    open_tasks = {t.task_id for t in task_rows if t.status == TaskStatus.OPEN}
    open_external = set(session.scalars(select(ExternalTask.external_task_id).where(
        ExternalTask.instance_id == record.instance_id, ExternalTask.status == ExternalTaskStatus.OPEN)))
    pending = set(session.scalars(select(Timer.timer_id).where(Timer.instance_id == record.instance_id,
                                                                Timer.status == TimerStatus.PENDING)))
    if record.status in ENDED:
        subscriptions = session.scalars(select(MessageSubscription.task_id)
                                        .where(MessageSubscription.instance_id == record.instance_id)).all()
        if open_tasks or pending or subscriptions or open_external:
            return [Violation(record.instance_id, None, f"{record.status} instance still has {len(open_tasks)} open "
                                                        f"task(s), {len(pending)} timer(s), {len(subscriptions)} "
                                                        f"subscription(s), {len(open_external)} external task(s)")]
        return []
    try:
        run = load_run(record, bundle_of(session, record))
    except StateUnloadableError as error:  # report it and go on: the check exists to find such instances
        return [Violation(record.instance_id, None, f"unloadable: {error.detail}")]
    found = []
    ready = {t.task_id for t in run.ready_user_tasks()}
    if ready != open_tasks:
        found.append(Violation(record.instance_id, None, f"half-advanced: the workflow waits on {len(ready)} user "
                                                         f"task(s), the queue holds {len(open_tasks)} other ones"))
    waiting = {t.timer_id for t in run.waiting_timers()}
    if waiting != pending:
        found.append(Violation(record.instance_id, None, f"half-advanced: workflow waits on {len(waiting)} timer(s), "
                                                         f"{len(pending)} pending timer row(s) differ"))
    service = {t.task_id for t in run.waiting_service_tasks()}
    if service != open_external:
        found.append(Violation(record.instance_id, None, f"half-advanced: the workflow waits on {len(service)} service "
                                                         f"task(s), {len(open_external)} open external task row(s) differ"))
    return found
