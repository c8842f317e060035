"""加签 / Add a signer: a one-off extra approval by a named colleague, on one task of one case.

Not a BPMN element: a row beside the task that blocks it. The task's holder asks a colleague who
may see the case, with a reason, to sign
- *before* them (前加签): the task cannot be completed until the signer decides; 同意 or 拒绝, the
  decision and opinion go into the record and the task is the holder's to decide, as before;
- *after* them (后加签): the holder decides as usual, but the completion is held; when the signer
  approves, the task completes with the holder's data and the case moves on; when the signer
  rejects, the held decision is dropped and the task is the holder's to decide again.
One open sign per task at a time. Signing is the signer's only power: they do not hold the task.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.audit import record_event
from engine.catalog import FormCatalog
from engine.clock import Clock
from engine.db import flush
from engine.errors import (
    AwaitingSignError,
    NotFoundError,
    PermissionDeniedError,
    SignerRefusedError,
    TaskStateError,
    ValidationError,
)
from engine.extra_sign_tables import ExtraSign
from engine.identity import Actor, find_actor
from engine.states import InstanceStatus, SignPosition, SignStatus, TaskStatus
from engine.tables import Instance, Task, User
from engine.tasks import complete_task, open_sign, require_open, visible_task_with_groups
from engine.visibility import case_allows

ADDED, DECIDED = "extra_sign_added", "extra_sign_decided"
MAX_TEXT = 2000


@dataclass(frozen=True)
class SignView:
    sign_id: uuid.UUID
    instance_id: uuid.UUID
    task_id: uuid.UUID
    step: str
    business_key: str | None
    position: str
    signer: str
    requested_by: str
    reason: str
    status: str
    held: bool  # after: the holder's decision waits for this sign
    opinion: str | None
    created_at: datetime
    decided_at: datetime | None


def add_signer(session: Session, clock: Clock, *, actor: Actor, task_id: uuid.UUID, signer: str, position: str,
               reason: str) -> SignView:
    """Ask `signer` to sign this task before or after the actor, its holder.

    Raises: NotFoundError, PermissionDeniedError (not the holder), ValidationError (position, signer,
    reason), TaskStateError (a sign is already open), InstanceStateError.
    """
    task, record, _, _ = visible_task_with_groups(session, actor, task_id)
    require_open(task, record)
    if task.assignee != actor.username:
        raise PermissionDeniedError("only the task's holder may add a signer; claim it first")
    if position not in set(SignPosition):
        raise ValidationError(f"position must be one of {', '.join(SignPosition)}", field="position")
    text = _text(reason, "reason", required=True)
    colleague = find_actor(session, signer)
    if colleague is None or signer == actor.username:
        raise SignerRefusedError(f"'{signer}' is no active colleague other than yourself", field="signer")
    if not case_allows(colleague, outlet_code=record.outlet_code, region=record.region):
        raise SignerRefusedError(f"'{signer}' may not see this case (another outlet or region)", field="signer")
    if (waiting := open_sign(session, task_id)) is not None:
        raise AwaitingSignError("this task already waits for an extra signer", signer=waiting.signer)
    sign = ExtraSign(instance_id=record.instance_id, task_id=task_id, position=position, signer=signer,
                     requested_by=actor.username, reason=text, status=SignStatus.OPEN, created_at=clock.now())
    session.add(sign)
    record_event(session, clock, actor=actor.username, event_type=ADDED, instance_id=record.instance_id,
                 task_id=task_id, definition_key=record.definition_key,
                 data={"element": task.element_id, "name": task.name, "signer": signer, "position": position,
                       "reason": text})
    flush(session)
    return _view(sign, task, record)


def decide_sign(session: Session, clock: Clock, catalog: FormCatalog, *, actor: Actor, task_id: uuid.UUID,
                sign_id: uuid.UUID, approve: bool, opinion: str | None) -> SignView:
    """The signer's 同意 (approve) or 拒绝 (reject), with an opinion (required to reject).

    Raises: NotFoundError (not the actor's sign), TaskStateError (decided, or its task closed),
    ValidationError (opinion), and what completing the held task raises.
    """
    sign = session.get(ExtraSign, sign_id)
    if sign is None or sign.signer != actor.username or sign.task_id != task_id:
        raise NotFoundError(f"no extra sign {sign_id} for you")
    task, record = session.get(Task, sign.task_id), session.get(Instance, sign.instance_id)
    if sign.status != SignStatus.OPEN:
        raise TaskStateError(f"this sign is already {sign.status}")
    if task is None or record is None or task.status != TaskStatus.OPEN or record.status != InstanceStatus.RUNNING:
        raise TaskStateError("the task this sign was asked for is no longer open")
    text = _text(opinion, "opinion", required=not approve)
    held, sign.held_data = sign.held_data, None
    sign.status, sign.opinion, sign.decided_at = (SignStatus.APPROVED if approve else SignStatus.REJECTED), text, clock.now()
    record_event(session, clock, actor=actor.username, event_type=DECIDED, instance_id=record.instance_id,
                 task_id=task.task_id, definition_key=record.definition_key,
                 data={"element": task.element_id, "name": task.name, "position": sign.position,
                       "approved": approve, "opinion": text, "requested_by": sign.requested_by})
    flush(session)
    if approve and held is not None:  # after: the holder's decision goes through now, as theirs
        holder = find_actor(session, sign.requested_by)
        if holder is None:
            raise TaskStateError(f"{sign.requested_by}, who decided the task, is no longer active")
        complete_task(session, clock, catalog, actor=holder, task_id=task.task_id, data=held)
    return _view(sign, task, record)


def list_my_signs(session: Session, *, actor: Actor) -> list[SignView]:
    """The open signs asked of the actor whose tasks are still open, oldest first."""
    rows = session.execute(select(ExtraSign, Task, Instance).join(Task, Task.task_id == ExtraSign.task_id)
                           .join(Instance, Instance.instance_id == ExtraSign.instance_id)
                           .where(ExtraSign.signer == actor.username, ExtraSign.status == SignStatus.OPEN,
                                  Task.status == TaskStatus.OPEN).order_by(ExtraSign.created_at))
    return [_view(sign, task, record) for sign, task, record in rows]


def find_open_sign(session: Session, *, task_id: uuid.UUID) -> SignView | None:
    """The task's open sign, for its page: the holder sees whom it waits for, the signer answers it."""
    sign, task = open_sign(session, task_id), session.get(Task, task_id)
    record = session.get(Instance, task.instance_id) if task is not None else None
    return _view(sign, task, record) if sign is not None and task is not None and record is not None else None


def signers_for(session: Session, *, task_id: uuid.UUID, exclude: str) -> list[str]:
    """Whom the holder may ask to sign: active colleagues the organisation lets near the case (as add_signer checks).

    One query over the users (the 转交 picker asks per member; anyone may be asked to sign, so per
    user would be one query per account).
    """
    task = session.get(Task, task_id)
    record = session.get(Instance, task.instance_id) if task is not None else None
    if record is None:
        return []
    rows = session.execute(select(User.username, User.outlet_code, User.region_code)
                           .where(User.is_active.is_(True), User.username != exclude).order_by(User.username))
    return [row.username for row in rows if case_allows(Actor(row.username, frozenset(), row.outlet_code, row.region_code),
                                                        outlet_code=record.outlet_code, region=record.region)]


def _text(value: str | None, field: str, *, required: bool) -> str | None:
    text = (value or "").strip()
    if (required and not text) or len(text) > MAX_TEXT:
        raise ValidationError(f"{field}: {'required, ' if required else ''}at most {MAX_TEXT} characters", field=field)
    return text or None


def _view(sign: ExtraSign, task: Task, record: Instance) -> SignView:
    return SignView(sign.sign_id, sign.instance_id, sign.task_id, task.name, record.business_key, sign.position,
                    sign.signer, sign.requested_by, sign.reason, sign.status, sign.held_data is not None,
                    sign.opinion, sign.created_at, sign.decided_at)
