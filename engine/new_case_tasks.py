"""The tasks of a case started in this transaction: the start answers with them instead of reading them back.

A new case has no task rows but those this transaction added (engine/step_sync.py), so its detail
(engine/instance_detail.py) needs no query for them: one statement less per start. The session's
identity map cannot stand in for this list: it holds flushed objects weakly.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field

from sqlalchemy.orm import Session

from engine.states import TaskStatus
from engine.tables import Task

_KEY = "tixi_new_case_tasks"


@dataclass
class _NewCases:
    owner: object
    tasks: dict[uuid.UUID, list[tuple[Task, tuple[str, ...]]]] = field(default_factory=dict)


def _held(session: Session) -> _NewCases | None:
    held: _NewCases | None = session.info.get(_KEY)
    if held is not None and held.owner is not session.get_transaction():
        del session.info[_KEY]  # left by a transaction that has ended
        return None
    return held


def begin_new_case(session: Session, instance_id: uuid.UUID) -> None:
    """The case is created in this transaction: keep the tasks its steps create."""
    held = _held(session)
    if held is None:
        held = session.info[_KEY] = _NewCases(session.get_transaction())
    held.tasks[instance_id] = []


def note_task(session: Session, task: Task, groups: Sequence[str]) -> None:
    """A task row was added; kept if its case is new in this transaction."""
    held = _held(session)
    if held is not None and (kept := held.tasks.get(task.instance_id)) is not None:
        kept.append((task, tuple(sorted(groups))))


def open_tasks_of_new_case(session: Session, instance_id: uuid.UUID) -> list[tuple[Task, tuple[str, ...]]]:
    """The new case's open tasks with their groups, in the order its detail reads them."""
    held = _held(session)
    if held is None or instance_id not in held.tasks:
        raise RuntimeError(f"case {instance_id} was not started in this transaction")
    created = [(task, groups) for task, groups in held.tasks[instance_id] if task.status == TaskStatus.OPEN]
    return sorted(created, key=lambda item: (item[0].created_at, item[0].task_id))
