"""An outlet's standing in the register and what a change of it does to its people and its work.

Probation starts when the agreement is issued, the outlet becomes active when probation passes and
its cooperation ends when it fails; a revocation revokes it. An outlet that leaves the network
(revoked or ended) keeps its archive, but its staff can no longer log in and its open tasks go back
to its RCC's queue (`rcc_agent`), so no customer waits on an outlet that is gone.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from engine.audit import record_event
from engine.clock import Clock
from engine.errors import ValidationError
from engine.network import get_outlet
from engine.states import OUTLET_TRANSITIONS, OutletStatus, TaskStatus
from engine.tables import Instance, Outlet, OutletAssessment, Task, TaskCandidateGroup, User

RCC_QUEUE = "rcc_agent"
GONE = frozenset({OutletStatus.REVOKED, OutletStatus.ENDED})


def change_standing(session: Session, clock: Clock, *, actor: str, code: str, status: OutletStatus, reason: str,
                    instance_id: uuid.UUID | None = None, field: str = "status") -> Outlet:
    """Move an outlet to `status` if the register allows it from where it stands.

    Raises: NotFoundError, ValidationError (a move the register does not allow, naming `field`).
    """
    outlet = get_outlet(session, code)
    current = OutletStatus(outlet.status)
    if status not in OUTLET_TRANSITIONS[current]:
        raise ValidationError(f"outlet '{code}' is {current}; it cannot become {status}", field=field,
                              outlet_status=current.value)
    outlet.status, outlet.updated_at = status, clock.now()
    data: dict[str, Any] = {"code": code, "previous_status": current.value, "status": status.value, "reason": reason}
    if status in GONE:
        data["users_disabled"] = _disable_staff(session, code)
        data["tasks_returned"] = [str(t) for t in _return_open_tasks(session, clock, actor=actor, code=code)]
    record_event(session, clock, actor=actor, event_type="outlet_status_changed", instance_id=instance_id, data=data)
    session.flush()
    return outlet


def record_assessment(session: Session, clock: Clock, *, code: str, passed: bool, score: int | None,
                      notes: str | None, instance_id: uuid.UUID | None) -> None:
    session.add(OutletAssessment(outlet_code=code, assessed_at=clock.now(), passed=passed, score=score,
                                 notes=notes, instance_id=instance_id))


def _disable_staff(session: Session, code: str) -> list[str]:
    staff = list(session.scalars(select(User).where(User.outlet_code == code, User.is_active.is_(True))))
    for user in staff:
        user.is_active = False
        user.token_generation += 1  # their tokens end with their outlet
    return sorted(u.username for u in staff)


def _return_open_tasks(session: Session, clock: Clock, *, actor: str, code: str) -> list[uuid.UUID]:
    """Hand the outlet's open tasks to its RCC: unclaimed, offered to the RCC agents of the case's region."""
    tasks = list(session.scalars(
        select(Task).join(Instance, Instance.instance_id == Task.instance_id)
        .where(Instance.outlet_code == code, Task.status == TaskStatus.OPEN)
        .where(select(TaskCandidateGroup.task_id).where(TaskCandidateGroup.task_id == Task.task_id,
                                                       TaskCandidateGroup.group_id == "outlet").exists())
    ))
    for task in tasks:
        previous = task.assignee
        task.assignee, task.owner = None, None
        session.execute(delete(TaskCandidateGroup).where(TaskCandidateGroup.task_id == task.task_id,
                                                         TaskCandidateGroup.group_id == RCC_QUEUE))
        session.add(TaskCandidateGroup(task_id=task.task_id, group_id=RCC_QUEUE))
        record_event(session, clock, actor=actor, event_type="task_returned_to_rcc", instance_id=task.instance_id,
                     task_id=task.task_id, data={"element": task.element_id, "outlet_code": code,
                                                 "previous_assignee": previous, "queue": RCC_QUEUE})
    return [t.task_id for t in tasks]
