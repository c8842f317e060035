"""Candidate users (`camunda:candidateUsers`): people a task is offered to by name, beside its groups.

A candidate user sees the task in their queue (engine/visibility.py queue_routes), may claim it and
then works it like a group member. The names are written on the task when it is created: literal
names checked at deploy, `${...}` items evaluated then against the task's data, whose value is a
name, a comma list or a list of names. An item that fails to evaluate is an incident on the new
task (engine/task_incidents.py), as a failing assignee is.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from engine.bpmn.spiff_adapter import WorkflowError, WorkflowRun
from engine.identity import Actor
from engine.tables import TaskCandidateUser


def evaluate_candidate_users(run: WorkflowRun, task_id: Any, meta: dict[str, Any]) -> tuple[list[str], str | None]:
    """The task's candidate users, and why an expression among them failed (None: none did)."""
    names = list(meta.get("candidate_users", []))
    expressions = meta.get("candidate_user_expressions", [])
    if not expressions:
        return names, None
    data = run.task_variables(task_id)
    for expression in expressions:
        try:
            value = run.evaluate(expression, data)
        except WorkflowError as error:
            return names, f"the candidate users expression of '{meta.get('name')}' failed: {error.message}"
        names.extend(_names_in(value))
    return sorted(set(names)), None


def set_candidate_users(session: Session, task_id: uuid.UUID, names: Iterable[str], *, replace: bool = False) -> None:
    """Write the task's candidate users (replacing earlier ones when a step is queued again)."""
    if replace:
        session.execute(delete(TaskCandidateUser).where(TaskCandidateUser.task_id == task_id))
    session.add_all(TaskCandidateUser(task_id=task_id, username=name) for name in sorted(set(names)))


def offered_to(session: Session, actor: Actor, task_id: uuid.UUID) -> bool:
    """Whether the task names the actor among its candidate users (asked only when no group of theirs holds it)."""
    return session.scalar(select(TaskCandidateUser.task_id).where(
        TaskCandidateUser.task_id == task_id, TaskCandidateUser.username == actor.username)) is not None


def candidate_users_of(session: Session, task_ids: list[uuid.UUID]) -> dict[uuid.UUID, tuple[str, ...]]:
    if not task_ids:
        return {}
    found: dict[uuid.UUID, list[str]] = {}
    for link in session.scalars(select(TaskCandidateUser).where(TaskCandidateUser.task_id.in_(task_ids))):
        found.setdefault(link.task_id, []).append(link.username)
    return {task_id: tuple(sorted(names)) for task_id, names in found.items()}


def _names_in(value: Any) -> list[str]:
    """A name, a comma list of names or a list of names; nothing for None or an empty value."""
    if value is None or value == "":
        return []
    items = value if isinstance(value, (list, tuple, set)) else str(value).split(",")
    return [str(item).strip()[:64] for item in items if str(item).strip()]
