"""A person's own lists: 已办 (tasks I completed), 我发起的 (cases I started), and their counts."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import Query

from api.deps import CHECKED_INPUT, ActorDep, ClockDep, SessionDep
from api.problems import API_ERRORS
from api.routing import api_router
from api.schemas import (
    MAX_INT,
    DoneTaskOut,
    ExtraSignOut,
    PageOut,
    SavedFilterIn,
    SavedFilterOut,
    StartedCaseOut,
    StopOut,
    TaskOut,
    WorkCountsOut,
)
from engine import extra_signs, my_work, saved_filters
from engine.db import reading

router = api_router(prefix="/api/my", tags=["tasks"], responses=API_ERRORS, dependencies=CHECKED_INPUT)
Limit = Annotated[int, Query(ge=1, le=500)]
Offset = Annotated[int, Query(ge=0, le=MAX_INT)]


def _stops(stops: tuple[my_work.Stop, ...]) -> list[StopOut]:
    return [StopOut(name=s.name, assignee=s.assignee, groups=list(s.groups)) for s in stops]


def _done(item: Any) -> DoneTaskOut:
    return DoneTaskOut(task=TaskOut.of(item.task), now_at=_stops(item.now_at))


def _started(item: Any) -> StartedCaseOut:
    return StartedCaseOut(**{**item.__dict__, "now_at": _stops(item.now_at)})


@router.get("/done", summary="已办: tasks the caller completed, latest first, with where each case is now")
def done_tasks(session: SessionDep, actor: ActorDep, limit: Limit = 25, offset: Offset = 0) -> PageOut[DoneTaskOut]:
    with reading(session):
        return PageOut[DoneTaskOut].of(my_work.list_done_tasks(session, actor=actor, limit=limit, offset=offset), _done)


@router.get("/started", summary="我发起的: cases the caller started, newest first, with where each stands")
def started_cases(session: SessionDep, actor: ActorDep, limit: Limit = 25,
                  offset: Offset = 0) -> PageOut[StartedCaseOut]:
    with reading(session):
        page = my_work.list_started_cases(session, actor=actor, limit=limit, offset=offset)
    return PageOut[StartedCaseOut].of(page, _started)


@router.get("/counts", summary="The navigation's numbers: open tasks, tasks done, own cases still running")
def counts(session: SessionDep, actor: ActorDep) -> WorkCountsOut:
    with reading(session):
        return WorkCountsOut(**my_work.work_counts(session, actor=actor).__dict__)


@router.get("/extra-signs", summary="加签 asked of me, still open, oldest first")
def my_extra_signs(session: SessionDep, actor: ActorDep) -> list[ExtraSignOut]:
    with reading(session):
        return [ExtraSignOut(**sign.__dict__) for sign in extra_signs.list_my_signs(session, actor=actor)]


@router.get("/filters", summary="The caller's saved inbox filters, by name")
def list_filters(session: SessionDep, actor: ActorDep) -> list[SavedFilterOut]:
    with reading(session):
        return [SavedFilterOut(**f.__dict__) for f in saved_filters.list_saved_filters(session, actor=actor)]


@router.post("/filters", summary="Save the inbox's current filter under a name (a name in use is replaced)")
def save_filter(body: SavedFilterIn, session: SessionDep, clock: ClockDep, actor: ActorDep) -> SavedFilterOut:
    with session.begin():
        saved = saved_filters.save_filter(session, clock, actor=actor, name=body.name, query=body.query)
    return SavedFilterOut(**saved.__dict__)


@router.delete("/filters/{filter_id}", status_code=204, summary="Delete one of the caller's saved filters")
def delete_filter(filter_id: uuid.UUID, session: SessionDep, actor: ActorDep) -> None:
    with session.begin():
        saved_filters.delete_saved_filter(session, actor=actor, filter_id=filter_id)
