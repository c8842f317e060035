"""Who sees what: the query conditions behind every queue, case page, history and report.

The organisation decides first (`scope_of`):
- outlet staff (bound to an outlet) see their outlet's cases and nothing else;
- RCC staff (bound to a region) see their region's cases, and cases tied to no region that they
  took part in or that wait on their queue;
- CSD staff (the national departments) and auditors see every case;
- anyone else (not bound to the organisation: a designer, a demo account) sees the cases they took
  part in or that wait on a task in their queue.
A queue holds the tasks of one's groups, those offered to one by name (candidate users) and those
assigned to (or delegated by) one, always within
one's scope: a task of outlet A1 reaches no other outlet, a region A case no region B director.
"""

from __future__ import annotations

import functools
import uuid
from enum import StrEnum
from typing import Any

from sqlalchemy import Select, and_, bindparam, exists, or_, select
from sqlalchemy.orm import Session

from engine.errors import NotFoundError
from engine.extra_sign_tables import ExtraSign
from engine.identity import Actor
from engine.permissions import sees_everything
from engine.states import SignStatus, TaskStatus
from engine.tables import AuditEvent, Instance, Task, TaskCandidateGroup, TaskCandidateUser

# The departments of the Customer Service Department (顾客服务部): national, they see every region.
NATIONAL_GROUPS = frozenset({"csd_head", "tech_section", "training", "quality"})


class Scope(StrEnum):
    EVERYTHING = "everything"
    OUTLET = "outlet"
    REGION = "region"
    PARTICIPANT = "participant"


def scope_of(actor: Actor) -> Scope:
    if sees_everything(actor):
        return Scope.EVERYTHING
    if actor.outlet_code is not None:
        return Scope.OUTLET
    if actor.region_code is not None:
        return Scope.REGION
    if actor.in_any(NATIONAL_GROUPS):
        return Scope.EVERYTHING
    return Scope.PARTICIPANT


def within_organisation(actor: Actor) -> Any:
    """The cases the actor's place in the organisation lets them near (needs `Instance` in the query)."""
    if actor.outlet_code is not None:
        return Instance.outlet_code == actor.outlet_code
    if actor.region_code is not None:
        return or_(Instance.region == actor.region_code, Instance.region.is_(None))
    return True


def queue_routes(actor: Actor) -> list[Any]:
    """The ways a task reaches the actor's queue, one condition each (without the organisation rule).

    A queue query may run them as separate branches: each can then walk an index in queue order
    and stop after a page, where the OR of them all makes PostgreSQL read every candidate-group
    row of the actor's groups first. A colleague asked to sign a task (加签) finds it in their queue
    while the sign is open, although they do not hold it.
    """
    return [
        exists().where(TaskCandidateGroup.task_id == Task.task_id, TaskCandidateGroup.group_id.in_(sorted(actor.groups))),
        # Offered by name (camunda:candidateUsers): a semi-join from ix_task_candidate_users_username_task_id.
        exists().where(TaskCandidateUser.task_id == Task.task_id, TaskCandidateUser.username == actor.username),
        Task.assignee == actor.username,
        Task.owner == actor.username,
        sign_asked_of(actor),
    ]


def sign_asked_of(actor: Actor) -> Any:
    """The task's open 加签 is asked of the actor: a queue route, and the inbox's mark and filter."""
    return exists().where(ExtraSign.task_id == Task.task_id, ExtraSign.signer == actor.username,
                          ExtraSign.status == SignStatus.OPEN)


def workable_by(actor: Actor) -> Any:
    """Tasks in the actor's queue (needs `Instance` joined to `Task` in the query)."""
    return and_(or_(*queue_routes(actor)), within_organisation(actor))


def instance_visible_to(actor: Actor) -> Any:
    """The condition on `Instance` for the cases the actor may read (true for those who see everything).

    Having taken part does not outlast a move: staff moved to another outlet or region no longer see
    the cases of the one they left.
    """
    scope = scope_of(actor)
    if scope == Scope.EVERYTHING:
        return True
    if scope == Scope.OUTLET:
        return Instance.outlet_code == actor.outlet_code
    took_part = exists().where(AuditEvent.instance_id == Instance.instance_id, AuditEvent.actor == actor.username)
    queued = exists().where(Task.instance_id == Instance.instance_id, Task.status == TaskStatus.OPEN, workable_by(actor))
    if scope == Scope.REGION:
        return or_(Instance.region == actor.region_code, and_(Instance.region.is_(None), or_(took_part, queued)))
    return or_(took_part, queued)


def case_allows(actor: Actor, *, outlet_code: str | None, region: str | None) -> bool:
    """Whether the organisation lets `actor` near a case of that outlet and region (the row form of the rule)."""
    if actor.outlet_code is not None:
        return outlet_code == actor.outlet_code
    if actor.region_code is not None:
        return region is None or region == actor.region_code
    return True


def visible_instance(session: Session, actor: Actor, instance_id: uuid.UUID) -> Instance:
    """The case, if the actor may read it. Raises: NotFoundError (also when it is not theirs to see)."""
    record = session.scalars(_visible_instance_query(actor), {"instance_id": instance_id}).first()
    if record is None:
        raise NotFoundError(f"no instance {instance_id}")
    return record


@functools.lru_cache(maxsize=1024)
def _visible_instance_query(actor: Actor) -> Select[Instance]:
    """Built once per actor (`Actor` is a frozen value: changed groups or place are another key);
    the visibility rule costs more to build than PostgreSQL spends on the lookup."""
    query = select(Instance).where(Instance.instance_id == bindparam("instance_id"))
    return query if sees_everything(actor) else query.where(instance_visible_to(actor))
