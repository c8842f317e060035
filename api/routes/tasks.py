from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import Query, Request

from api.deps import CHECKED_INPUT, ActorDep, CatalogDep, ClockDep, SessionDep
from api.idempotent import IdempotencyKey, keep, replay
from api.problems import API_ERRORS
from api.routing import api_router
from api.schemas import (
    MAX_INT,
    AssignIn,
    CommentIn,
    CommentOut,
    ExtraSignIn,
    ExtraSignOut,
    PageOut,
    SendBackIn,
    SignDecisionIn,
    TaskCompleteIn,
    TaskDecisionIn,
    TaskDetailOut,
    TaskOut,
    TaskUpdateIn,
)
from engine import assignment, comments, decisions, extra_signs, task_queue, tasks
from engine.db import reading
from engine.send_back import send_back_task

router = api_router(prefix="/api/tasks", tags=["tasks"], responses=API_ERRORS, dependencies=CHECKED_INPUT)


@router.get("", summary="The caller's queue: tasks of their groups and assigned to them, oldest first")
def list_tasks(
    session: SessionDep, actor: ActorDep, clock: ClockDep,
    status: str = "open", definition_key: str | None = None, business_key: str | None = None,
    candidate_group: str | None = None, assignee: str | None = None, unassigned: bool | None = None,
    customer_name: str | None = None, serial_number: str | None = None, region: str | None = None,
    outlet_code: str | None = None,
    search: Annotated[str | None, Query(max_length=200, description="a fragment of business key, customer, "
                                        "serial number, outlet code or step name")] = None,
    overdue: Annotated[bool, Query(description="only tasks past their due date")] = False,
    sign_requested: Annotated[bool | None, Query(description="true: only tasks whose 加签 is asked of the caller; "
                                                "false: none of them")] = None,
    sort: str = "created",
    limit: Annotated[int, Query(ge=1, le=500)] = 50, offset: Annotated[int, Query(ge=0, le=MAX_INT)] = 0,
) -> PageOut[TaskOut]:
    with reading(session):
        page = task_queue.list_tasks(session, actor=actor, status=status, definition_key=definition_key,
                                business_key=business_key, candidate_group=candidate_group, assignee=assignee,
                                unassigned=unassigned, customer_name=customer_name, serial_number=serial_number,
                                region=region, outlet_code=outlet_code, search=search,
                                due_before=clock.now() if overdue else None,
                                sign_requested=sign_requested, sort=sort, limit=limit, offset=offset)
    return PageOut[TaskOut].of(page, TaskOut.of)


@router.get("/{task_id}", summary="A task with its form's JSON Schema and the case data")
def get_task(task_id: uuid.UUID, session: SessionDep, catalog: CatalogDep, actor: ActorDep) -> TaskDetailOut:
    with reading(session):
        return TaskDetailOut.of_detail(tasks.get_task(session, catalog, actor=actor, task_id=task_id))


@router.post("/{task_id}/claim", summary="Claim (members of a candidate group)")
def claim(task_id: uuid.UUID, session: SessionDep, clock: ClockDep, actor: ActorDep) -> TaskOut:
    with session.begin():
        return TaskOut.of(tasks.claim_task(session, clock, actor=actor, task_id=task_id))


@router.post("/{task_id}/unclaim", summary="Give back to the queue (the assignee)")
def unclaim(task_id: uuid.UUID, session: SessionDep, clock: ClockDep, actor: ActorDep) -> TaskOut:
    with session.begin():
        return TaskOut.of(tasks.unclaim_task(session, clock, actor=actor, task_id=task_id))


@router.post("/{task_id}/complete", summary="Complete with the form's data (the assignee; with `claim`, claims an unclaimed task first)")
def complete(task_id: uuid.UUID, body: TaskCompleteIn, request: Request, session: SessionDep, clock: ClockDep,
             catalog: CatalogDep, actor: ActorDep, idempotency_key: IdempotencyKey = None) -> TaskOut:
    with session.begin():
        if (first := replay(session, clock, actor, request, idempotency_key, body)) is not None:
            return first  # type: ignore[return-value]  # the stored answer, as it was sent
        answer = TaskOut.of(tasks.complete_task(session, clock, catalog, actor=actor, task_id=task_id, data=body.data,
                                                claim=body.claim))
        keep(session, clock, actor, request, idempotency_key, body, 200, answer)
    return answer


@router.post("/{task_id}/decide", summary="Decide with one of the form's outcomes (claims an unclaimed task first)")
def decide(task_id: uuid.UUID, body: TaskDecisionIn, request: Request, session: SessionDep, clock: ClockDep,
           catalog: CatalogDep, actor: ActorDep, idempotency_key: IdempotencyKey = None) -> TaskOut:
    with session.begin():
        if (first := replay(session, clock, actor, request, idempotency_key, body)) is not None:
            return first  # type: ignore[return-value]  # the stored answer, as it was sent
        answer = TaskOut.of(decisions.decide_task(session, clock, catalog, actor=actor, task_id=task_id,
                                                  outcome=body.outcome, opinion=body.opinion, data=body.data))
        keep(session, clock, actor, request, idempotency_key, body, 200, answer)
    return answer


@router.post("/{task_id}/assign", summary="Hand to a named member of its groups (the assignee or an admin)")
def assign(task_id: uuid.UUID, body: AssignIn, session: SessionDep, clock: ClockDep, actor: ActorDep) -> TaskOut:
    with session.begin():
        return TaskOut.of(assignment.assign_task(session, clock, actor=actor, task_id=task_id, assignee=body.assignee,
                                                        reason=body.reason))


@router.post("/{task_id}/delegate", summary="Let someone work it; it returns to you when they unclaim")
def delegate(task_id: uuid.UUID, body: AssignIn, session: SessionDep, clock: ClockDep, actor: ActorDep) -> TaskOut:
    with session.begin():
        return TaskOut.of(assignment.delegate_task(session, clock, actor=actor, task_id=task_id,
                                                   assignee=body.assignee, reason=body.reason))


@router.post("/{task_id}/send-back", summary="退回: reopen an earlier step of the case, with a reason (the holder)")
def send_back(task_id: uuid.UUID, body: SendBackIn, session: SessionDep, clock: ClockDep, actor: ActorDep) -> TaskOut:
    with session.begin():
        return TaskOut.of(send_back_task(session, clock, actor=actor, task_id=task_id, to=body.to, reason=body.reason))


@router.post("/{task_id}/extra-signs", status_code=201,
             summary="加签: ask a colleague to sign before or after you, for this case only (the holder)")
def add_signer(task_id: uuid.UUID, body: ExtraSignIn, session: SessionDep, clock: ClockDep,
               actor: ActorDep) -> ExtraSignOut:
    with session.begin():
        return ExtraSignOut(**extra_signs.add_signer(session, clock, actor=actor, task_id=task_id, signer=body.signer,
                                                     position=body.position, reason=body.reason).__dict__)


@router.post("/{task_id}/extra-signs/{sign_id}/decide", summary="The added signer's 同意 or 拒绝 (the signer)")
def decide_sign(task_id: uuid.UUID, sign_id: uuid.UUID, body: SignDecisionIn, session: SessionDep, clock: ClockDep,
                catalog: CatalogDep, actor: ActorDep) -> ExtraSignOut:
    with session.begin():
        return ExtraSignOut(**extra_signs.decide_sign(session, clock, catalog, actor=actor, task_id=task_id,
                                                      sign_id=sign_id, approve=body.outcome == "approve",
                                                      opinion=body.opinion).__dict__)


@router.patch("/{task_id}", summary="Set priority or follow-up date (the assignee)")
def update(task_id: uuid.UUID, body: TaskUpdateIn, session: SessionDep, clock: ClockDep, actor: ActorDep) -> TaskOut:
    with session.begin():
        return TaskOut.of(assignment.update_task(session, clock, actor=actor, task_id=task_id, priority=body.priority,
                                                 follow_up_at=body.follow_up_at,
                                                 clear_follow_up=body.clear_follow_up))


@router.get("/{task_id}/comments", summary="Comments on a task, oldest first")
def list_comments(task_id: uuid.UUID, session: SessionDep, actor: ActorDep) -> list[CommentOut]:
    with reading(session):
        return [CommentOut(**c.__dict__) for c in comments.list_comments(session, actor=actor, task_id=task_id)]


@router.post("/{task_id}/comments", status_code=201, summary="Comment on a task")
def add_comment(task_id: uuid.UUID, body: CommentIn, session: SessionDep, clock: ClockDep,
                actor: ActorDep) -> CommentOut:
    with session.begin():
        return CommentOut(**comments.add_comment(session, clock, actor=actor, task_id=task_id,
                                                 text=body.text).__dict__)
