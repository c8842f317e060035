"""加签 on the task page: the open sign (whom the holder waits for, or what the signer is asked) and,
for the holder of an open task with none open, the colleagues they may ask."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from engine import extra_signs
from engine.identity import Actor
from engine.states import InstanceStatus, TaskStatus
from engine.tasks import TaskSummary


def sign_context(session: Session, actor: Actor, task: TaskSummary) -> dict[str, Any]:
    """The template's `sign` (the open sign or None), `asked` (the reader is its signer) and `signers`."""
    sign = extra_signs.find_open_sign(session, task_id=task.task_id)
    holds = (task.assignee == actor.username and task.status == TaskStatus.OPEN
             and task.instance_status == InstanceStatus.RUNNING)
    signers = extra_signs.signers_for(session, task_id=task.task_id, exclude=actor.username) \
        if holds and sign is None else []
    return {"sign": sign, "asked": sign is not None and sign.signer == actor.username, "signers": signers}
