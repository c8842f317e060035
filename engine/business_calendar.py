"""Working time on a business calendar: Monday to Friday, 09:00-17:00 China time, with exceptions.

Exceptions are data an admin keeps up to date: public holidays (a weekday off) and make-up
working days (调休, a weekend day worked). A working-time deadline counts only working hours:
PT24H is three working days, P2D two working days.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.audit import record_event
from engine.bpmn.timing import add_duration, duration_parts
from engine.clock import Clock
from engine.errors import NotFoundError, ValidationError
from engine.tables import CalendarDay

LOCAL = ZoneInfo("Asia/Shanghai")
DAY_START, DAY_END = time(9, 0), time(17, 0)
WORKING_DAY = timedelta(hours=8)
KINDS = ("holiday", "workday")
MAX_DUE_DAYS = 3660


@dataclass(frozen=True)
class CalendarDayInfo:
    day: date
    kind: str
    name: str


def due_problem(iso_duration: str, calendar: str) -> str | None:
    """Why a due date (`camunda:dueDate`, `sla_case_due`) cannot be counted on `calendar`, or None.

    At most MAX_DUE_DAYS: a longer commitment is a typo (P99999999D), would leave the calendar
    past the year 9999, and a working-time one would be counted day by day for ever.
    """
    try:
        parts = duration_parts(iso_duration)
    except ValueError:
        return f"'{iso_duration}' is not an ISO 8601 duration; write one such as P5D, PT24H or P3M"
    days = (parts.get("years", 0) * 366 + parts.get("months", 0) * 31 + parts.get("weeks", 0) * 7
            + parts.get("days", 0) + parts.get("hours", 0) / 24 + parts.get("minutes", 0) / 1440
            + parts.get("seconds", 0) / 86400)
    if days > MAX_DUE_DAYS:
        return f"'{iso_duration}' is longer than {MAX_DUE_DAYS} days (ten years); a due date is at most P10Y"
    if calendar == "working" and (parts.get("years") or parts.get("months")):
        return (f"'{iso_duration}' counts months or years, which working time does not; "
                "write working days or hours (P20D, PT160H)")
    return None


def deadline(session: Session, calendar: str, start: datetime, iso_duration: str) -> datetime:
    """When a commitment of `iso_duration` started at `start` falls due on `calendar`.

    Raises: ValueError for a duration the calendar cannot count (see `due_problem`).
    """
    problem = due_problem(iso_duration, calendar)
    if problem:  # deploy refuses these; a version deployed before that check may still hold one
        raise ValueError(problem)
    if calendar != "working":
        return add_duration(start, iso_duration)
    return add_working_time(start, working_length(iso_duration), _exceptions(session))


def working_length(iso_duration: str) -> timedelta:
    """P2D = two working days of eight hours; PT24H = 24 working hours; P1W = five working days."""
    parts = duration_parts(iso_duration)
    if parts.get("years") or parts.get("months"):
        raise ValueError("working-time deadlines count days, hours and minutes, not months or years")
    days = parts.get("days", 0) + 5 * parts.get("weeks", 0)
    length: timedelta = days * WORKING_DAY + timedelta(hours=parts.get("hours", 0), minutes=parts.get("minutes", 0),
                                          seconds=parts.get("seconds", 0))
    return length


def add_working_time(start: datetime, length: timedelta, exceptions: dict[date, str]) -> datetime:
    moment = start.astimezone(LOCAL)
    remaining = length
    while True:
        day = moment.date()
        if _is_working_day(day, exceptions):
            opens = datetime.combine(day, DAY_START, LOCAL)
            closes = datetime.combine(day, DAY_END, LOCAL)
            moment = max(moment, opens)
            if moment < closes:
                available = closes - moment
                if remaining <= available:
                    return (moment + remaining).astimezone(UTC)
                remaining -= available
        moment = datetime.combine(day + timedelta(days=1), DAY_START, LOCAL)


def working_time_after(session: Session, start: datetime, length: timedelta) -> datetime:
    """The moment `length` of working time after `start`; with no length, the next working moment (or `start`)."""
    return add_working_time(start, length, _exceptions(session))


def is_working_day(session: Session, day: date) -> bool:
    """Whether `day` (a date in China time) is a working day: Monday to Friday unless the calendar says otherwise."""
    exception = session.get(CalendarDay, day)
    return exception.kind == "workday" if exception is not None else day.weekday() < 5


def _is_working_day(day: date, exceptions: dict[date, str]) -> bool:
    if day in exceptions:
        return exceptions[day] == "workday"
    return day.weekday() < 5


def _exceptions(session: Session) -> dict[date, str]:
    return {row.day: row.kind for row in session.scalars(select(CalendarDay))}


def list_days(session: Session, year: int | None = None) -> list[CalendarDayInfo]:
    query = select(CalendarDay).order_by(CalendarDay.day)
    if year is not None:
        query = query.where(CalendarDay.day >= date(year, 1, 1), CalendarDay.day <= date(year, 12, 31))
    return [CalendarDayInfo(r.day, r.kind, r.name) for r in session.scalars(query)]


def set_day(session: Session, clock: Clock, *, actor: str, day: date, kind: str, name: str) -> CalendarDayInfo:
    """Record a holiday or a make-up working day (replacing what that day held). Raises: ValidationError."""
    if kind not in KINDS:
        raise ValidationError(f"kind must be one of {', '.join(KINDS)}", field="kind")
    row = session.get(CalendarDay, day)
    if row is None:
        row = CalendarDay(day=day, kind=kind, name=name)
        session.add(row)
    else:
        row.kind, row.name = kind, name
    record_event(session, clock, actor=actor, event_type="calendar_day_set",
                 data={"day": day.isoformat(), "kind": kind, "name": name})
    session.flush()
    return CalendarDayInfo(day, kind, name)


def remove_day(session: Session, clock: Clock, *, actor: str, day: date) -> None:
    """Raises: NotFoundError."""
    row = session.get(CalendarDay, day)
    if row is None:
        raise NotFoundError(f"{day.isoformat()} is an ordinary day in the calendar")
    session.delete(row)
    record_event(session, clock, actor=actor, event_type="calendar_day_removed", data={"day": day.isoformat()})
    session.flush()
