"""The states of cases, tasks, timers and deadlines, and which changes between them are allowed.

Each status column stores one of these values (a `StrEnum` compares equal to its text, so stored
rows need no migration). What a person may do next with a case or a task comes back with it as
`allowed_actions`, computed here, so no page or route re-encodes a rule.
"""

from __future__ import annotations

from enum import StrEnum

from engine.identity import Actor
from engine.permissions import Permission, has


class InstanceStatus(StrEnum):
    RUNNING = "running"
    SUSPENDED = "suspended"
    COMPLETED = "completed"
    TERMINATED = "terminated"
    FAILED = "failed"  # an incident: the failing step waits for an admin to retry it


class TaskStatus(StrEnum):
    OPEN = "open"
    COMPLETED = "completed"
    CANCELLED = "cancelled"  # the workflow moved past it (a boundary event, a terminated case)


class ExternalTaskStatus(StrEnum):
    OPEN = "open"  # waiting for a worker, locked by one, or failed with retries left (or none: an incident)
    COMPLETED = "completed"
    CANCELLED = "cancelled"  # the workflow moved past it (a boundary event, a BPMN error, a terminated case)


class SignPosition(StrEnum):
    """加签: where the extra signer comes, relative to the task's holder (engine/extra_signs.py)."""

    BEFORE = "before"  # the holder waits for the signer's 同意/拒绝, then decides
    AFTER = "after"  # the holder decides; the case moves on once the signer approves


class SignStatus(StrEnum):
    OPEN = "open"
    APPROVED = "approved"
    REJECTED = "rejected"


class TimerStatus(StrEnum):
    PENDING = "pending"
    FIRED = "fired"
    CANCELLED = "cancelled"


class StartTimerStatus(StrEnum):
    PENDING = "pending"
    FIRED = "fired"
    REPLACED = "replaced"  # a newer version of the process was deployed


class DeadlineStatus(StrEnum):
    OPEN = "open"
    MET = "met"
    BREACHED = "breached"
    CANCELLED = "cancelled"


class OutletStatus(StrEnum):
    """An outlet's standing in the register (特约服务网点档案)."""

    APPLYING = "applying"
    PROBATION = "probation"  # the agreement is issued: three months' probation
    ACTIVE = "active"  # probation passed: the agreement is in force; the only status cases are dispatched to
    SUSPENDED = "suspended"
    REVOKED = "revoked"  # revoked by the company or at its own notice; its archive stays
    ENDED = "ended"  # probation failed: the cooperation ended


# Which status an outlet may move to from each status (by the onboarding and revocation processes,
# or by an admin); absent: refused.
OUTLET_TRANSITIONS: dict[OutletStatus, frozenset[OutletStatus]] = {
    OutletStatus.APPLYING: frozenset({OutletStatus.PROBATION, OutletStatus.ENDED}),
    OutletStatus.PROBATION: frozenset({OutletStatus.ACTIVE, OutletStatus.ENDED, OutletStatus.REVOKED}),
    OutletStatus.ACTIVE: frozenset({OutletStatus.SUSPENDED, OutletStatus.REVOKED}),
    OutletStatus.SUSPENDED: frozenset({OutletStatus.ACTIVE, OutletStatus.REVOKED}),
    OutletStatus.REVOKED: frozenset(),
    OutletStatus.ENDED: frozenset(),
}
LIVING_OUTLET = frozenset({OutletStatus.PROBATION, OutletStatus.ACTIVE, OutletStatus.SUSPENDED})
class NotificationStatus(StrEnum):
    PENDING = "pending"  # waiting for its (next) attempt
    SENDING = "sending"  # claimed by a dispatcher, which sends it outside any transaction
    SENT = "sent"
    DEAD = "dead"  # given up after the last attempt (or refused for good): an admin may resend it
    DIGEST = "digest"  # a mail waiting for its recipient's daily digest (engine/notifications/digest.py)


class InstanceAction(StrEnum):
    SUSPEND = "suspend"
    RESUME = "resume"
    TERMINATE = "terminate"
    RETRY = "retry"
    WITHDRAW = "withdraw"  # 撤回: the starter's, before anyone else acted (engine/withdrawal.py)


class TaskAction(StrEnum):
    CLAIM = "claim"
    UNCLAIM = "unclaim"
    COMPLETE = "complete"
    HAND_ON = "hand_on"  # assign, delegate, set priority and follow-up
    COMMENT = "comment"


# The one table of what an action does to a case in each state; absent: not allowed. All are an
# admin's but WITHDRAW, which is the starter's (engine/withdrawal.py).
INSTANCE_TRANSITIONS: dict[InstanceStatus, dict[InstanceAction, InstanceStatus]] = {
    InstanceStatus.RUNNING: {InstanceAction.SUSPEND: InstanceStatus.SUSPENDED,
                             InstanceAction.TERMINATE: InstanceStatus.TERMINATED,
                             InstanceAction.WITHDRAW: InstanceStatus.TERMINATED},
    InstanceStatus.SUSPENDED: {InstanceAction.RESUME: InstanceStatus.RUNNING,
                               InstanceAction.TERMINATE: InstanceStatus.TERMINATED},
    InstanceStatus.FAILED: {InstanceAction.RETRY: InstanceStatus.RUNNING,
                            InstanceAction.TERMINATE: InstanceStatus.TERMINATED},
    InstanceStatus.COMPLETED: {},
    InstanceStatus.TERMINATED: {},
}


def instance_actions(actor: Actor, status: str) -> tuple[InstanceAction, ...]:
    """What an admin may do with a case in `status` (withdrawing, the starter's, is added by engine/instances.py)."""
    if not has(actor, Permission.ADMINISTER):
        return ()
    return tuple(a for a in INSTANCE_TRANSITIONS[InstanceStatus(status)] if a != InstanceAction.WITHDRAW)


def task_actions(actor: Actor, *, status: str, instance_status: str, assignee: str | None,
                 candidate_groups: tuple[str, ...], offered: bool = False) -> tuple[TaskAction, ...]:
    """What the actor may do with a task they can see; nothing once it or its case stopped.

    `offered`: the task names the actor among its candidate users (camunda:candidateUsers).
    """
    if status != TaskStatus.OPEN or instance_status != InstanceStatus.RUNNING or not has(actor, Permission.WORK):
        return ()
    actions = [TaskAction.COMMENT]
    mine = assignee == actor.username
    if assignee is None and (offered or actor.in_any(candidate_groups)):
        actions.append(TaskAction.CLAIM)
    if mine:
        actions.append(TaskAction.COMPLETE)
    if mine or (assignee is not None and has(actor, Permission.ADMINISTER)):
        actions += [TaskAction.UNCLAIM, TaskAction.HAND_ON]
    return tuple(actions)
