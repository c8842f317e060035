"""What every refused hostile request must leave behind: the database as it was, and `tixi audit check` clean."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from engine.invariants import check_invariants
from engine.tables import (
    AuditEvent,
    Deadline,
    Definition,
    Deployment,
    Instance,
    InstanceStateChunk,
    MessageSubscription,
    StartTimer,
    Task,
    Timer,
)

_TABLES = (Deployment, Definition, StartTimer, Instance, InstanceStateChunk, Task, Timer, Deadline,
           MessageSubscription, AuditEvent)


def snapshot(factory: sessionmaker[Session]) -> tuple[Any, ...]:
    """Row counts of every table a request can write, and each instance's status and state revision."""
    with factory() as session:
        counts = tuple(session.scalar(select(func.count()).select_from(t)) for t in _TABLES)
        instances = sorted(session.execute(select(Instance.instance_id, Instance.status, Instance.state_revision)).all())
        tasks = sorted(session.execute(select(Task.task_id, Task.status, Task.assignee)).all())
    return counts, instances, tasks


def audit_problems(factory: sessionmaker[Session]) -> list[str]:
    """What `tixi audit check` would report (the same function the command runs)."""
    with factory() as session:
        return [violation.problem for violation in check_invariants(session).violations]
