"""Working time on the business calendar: weekends, public holidays and make-up working days (调休)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy.orm import Session, sessionmaker

from engine.business_calendar import add_working_time, deadline, list_days, remove_day, set_day, working_length
from engine.clock import FrozenClock
from engine.db import transaction

CST = ZoneInfo("Asia/Shanghai")


def _at(day: int, hour: int, month: int = 9) -> datetime:
    return datetime(2026, month, day, hour, 0, tzinfo=CST)


def test_working_length_counts_working_days() -> None:
    assert working_length("PT24H") == timedelta(hours=24)
    assert working_length("P2D") == timedelta(hours=16)
    assert working_length("P1W") == timedelta(hours=40)
    with pytest.raises(ValueError):
        working_length("P1M")


def test_hours_roll_over_the_weekend() -> None:
    # Friday 2026-09-18 16:00 + 2 working hours = Monday 10:00.
    assert add_working_time(_at(18, 16), timedelta(hours=2), {}) == _at(21, 10).astimezone(UTC)
    # Starting before opening time counts from 09:00.
    assert add_working_time(_at(21, 7), timedelta(hours=8), {}) == _at(21, 17).astimezone(UTC)


def test_holidays_are_skipped_and_make_up_days_worked() -> None:
    exceptions = {date(2026, 10, d): "holiday" for d in range(1, 8)} | {date(2026, 9, 27): "workday"}
    # Saturday 2026-09-26 is an ordinary weekend day; Sunday 09-27 is a make-up working day.
    assert add_working_time(_at(26, 10), timedelta(hours=1), exceptions) == _at(27, 10).astimezone(UTC)
    # Wednesday 09-30 16:00 + 2h: one hour that day, then the National Day week is off.
    assert add_working_time(_at(30, 16), timedelta(hours=2), exceptions) == _at(8, 10, month=10).astimezone(UTC)


def test_calendar_days_are_data_an_admin_keeps(factory: sessionmaker[Session], clock: FrozenClock) -> None:
    with transaction(factory) as session:
        set_day(session, clock, actor="admin", day=date(2026, 10, 1), kind="holiday", name="国庆节 / National Day")
        set_day(session, clock, actor="admin", day=date(2026, 9, 27), kind="workday", name="国庆调休 / make-up day")
    with transaction(factory) as session:
        start = _at(30, 16).astimezone(UTC)
        assert deadline(session, "working", start, "PT2H") == _at(2, 10, month=10).astimezone(UTC)
        assert deadline(session, "calendar", start, "PT2H") == start + timedelta(hours=2)
        assert [d.kind for d in list_days(session, 2026)] == ["workday", "holiday"]
        remove_day(session, clock, actor="admin", day=date(2026, 10, 1))
        assert deadline(session, "working", start, "PT2H") == _at(1, 10, month=10).astimezone(UTC)
