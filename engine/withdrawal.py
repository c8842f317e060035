"""撤回 / Withdraw: the person who started a case takes it back before anyone else has acted on it.

"Acted on" means: the history holds a user task of the case completed (or decided) by someone
other than the starter (a step sent back since still counts). Claiming, commenting or handing on a task is not acting on the case; a step the starter
completed themselves (their own application step) does not block either. A withdrawn case ends
terminated with the reason "withdrawn"; its open tasks, timers and deadlines are cancelled.
"""

from __future__ import annotations

import uuid

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from engine.audit import record_event
from engine.bundles import bundle_of
from engine.clock import Clock
from engine.db import flush
from engine.deadlines import close_case_deadline
from engine.errors import PermissionDeniedError, ValidationError, WithdrawRefusedError
from engine.identity import Actor
from engine.notifications.outbox import notify_case_ended
from engine.states import INSTANCE_TRANSITIONS, InstanceAction, InstanceStatus
from engine.tables import AuditEvent, Instance
from engine.visibility import visible_instance
from engine.workflow_store import load_run, save_run

WITHDRAWN = "withdrawn"  # the history's event type and the case's status reason
MAX_REASON = 2000


_ACTED_BY_ANOTHER = (  # built once: every read of a case by its starter asks
    select(AuditEvent.actor, AuditEvent.data)
    .where(AuditEvent.instance_id == bindparam("instance_id"), AuditEvent.event_type == "task_completed",
           AuditEvent.actor != bindparam("starter"))
    .order_by(AuditEvent.event_id).limit(1))


def withdraw_blocker(session: Session, actor: Actor, record: Instance) -> str | None:
    """Why `actor` may not withdraw the case now, or None when they may."""
    if record.started_by != actor.username:
        return f"only the person who started the case ({record.started_by}) may withdraw it"
    if InstanceAction.WITHDRAW not in INSTANCE_TRANSITIONS[InstanceStatus(record.status)]:
        return f"the case is {record.status}; only a running case is withdrawn"
    # The history, not the task rows: a step sent back (退回) reopens its row, but was still done.
    acted = session.execute(_ACTED_BY_ANOTHER, {"instance_id": record.instance_id,
                                                "starter": record.started_by}).first()
    if acted is not None:
        step = acted.data.get("name") or acted.data.get("element")
        return f"'{step}' was already done by {acted.actor}; the case can no longer be withdrawn"
    return None


def withdraw_instance(session: Session, clock: Clock, *, actor: Actor, instance_id: uuid.UUID, reason: str) -> None:
    """End the actor's own case as withdrawn.

    Raises: NotFoundError, PermissionDeniedError (not the starter), WithdrawRefusedError (not
    running, or already acted on), ValidationError (no reason).
    """
    record = visible_instance(session, actor, instance_id)
    text = (reason or "").strip()
    if why := withdraw_blocker(session, actor, record):
        error = PermissionDeniedError if record.started_by != actor.username else WithdrawRefusedError
        raise error(why, instance_status=record.status)
    if not text or len(text) > MAX_REASON:
        raise ValidationError(f"a reason of 1 to {MAX_REASON} characters is required to withdraw", field="reason")
    now = clock.now()
    bundle = bundle_of(session, record)
    previous = record.status
    record.status = INSTANCE_TRANSITIONS[InstanceStatus(previous)][InstanceAction.WITHDRAW]
    record.status_reason, record.updated_at, record.ended_at = WITHDRAWN, now, now
    record_event(session, clock, actor=actor.username, event_type=WITHDRAWN, instance_id=instance_id,
                 definition_key=record.definition_key, data={"reason": text, "previous_status": previous})
    close_case_deadline(session, instance_id=instance_id, completed=False, now=now)
    notify_case_ended(session, record=record, actor=actor.username, outcome=WITHDRAWN, now=now)
    run = load_run(record, bundle)
    run.cancel()
    save_run(session, clock, actor=actor.username, record=record, bundle=bundle, run=run, steps=[])
    flush(session)
