from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import Query

from api.deps import CHECKED_INPUT, ActorDep, ClockDep, SessionDep
from api.problems import API_ERRORS
from api.routing import api_router
from api.schemas import CalendarDayIn, CalendarDayOut, SlaRowOut
from engine import business_calendar, reports
from engine.clock import end_of_day, start_of_day
from engine.db import reading
from engine.permissions import Permission, require

router = api_router(prefix="/api", tags=["service levels"], responses=API_ERRORS, dependencies=CHECKED_INPUT)


@router.get("/reports/sla", summary="Deadlines met, breached and open per process, region and outlet")
def sla_report(session: SessionDep, clock: ClockDep, actor: ActorDep, start: date, end: date,
               process_key: str | None = None) -> list[SlaRowOut]:
    """Deadlines that started from `start` up to and including `end` (UTC days)."""
    with reading(session):
        rows = reports.sla_report(session, clock, actor=actor, start=start_of_day(start), end=end_of_day(end),
                                  process_key=process_key)
    return [SlaRowOut(**row.__dict__, total=row.total) for row in rows]


@router.get("/calendar", summary="Holidays and make-up working days of the business calendar")
def list_days(session: SessionDep, actor: ActorDep,
              year: Annotated[int | None, Query(ge=1, le=9999)] = None) -> list[CalendarDayOut]:
    with reading(session):
        return [CalendarDayOut(**d.__dict__) for d in business_calendar.list_days(session, year)]


@router.put("/calendar/{day}", summary="Mark a day as holiday or make-up working day (admins)")
def set_day(day: date, body: CalendarDayIn, session: SessionDep, clock: ClockDep, actor: ActorDep) -> CalendarDayOut:
    require(actor, Permission.ADMINISTER)
    with session.begin():
        return CalendarDayOut(**business_calendar.set_day(session, clock, actor=actor.username, day=day,
                                                          kind=body.kind, name=body.name).__dict__)


@router.delete("/calendar/{day}", status_code=204, summary="Make a day ordinary again (admins)")
def remove_day(day: date, session: SessionDep, clock: ClockDep, actor: ActorDep) -> None:
    require(actor, Permission.ADMINISTER)
    with session.begin():
        business_calendar.remove_day(session, clock, actor=actor.username, day=day)
