"""The one place that reads the wall clock.

Engine code takes a `Clock` so tests can move time (three months of probation)
without sleeping; SpiffWorkflow's timers are bound to the same clock by
`engine.bpmn.timing`.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Protocol


def start_of_day(day: date) -> datetime:
    """Midnight UTC at the start of `day`: where a report's or a search's period begins."""
    return datetime.combine(day, time(), UTC)


def end_of_day(day: date) -> datetime:
    """Midnight UTC after `day`, where a period that includes it ends; at 9999-12-31 the next day would
    overflow, so the period runs to the end of the calendar."""
    return start_of_day(day) + timedelta(days=1) if day < date.max else datetime.max.replace(tzinfo=UTC)


class Clock(Protocol):
    def now(self) -> datetime:
        """Aware UTC time."""
        ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


class FrozenClock:
    """A clock that stands still until told to move; for tests and benchmarks."""

    def __init__(self, start: datetime | None = None) -> None:
        self._now = start or datetime(2026, 1, 5, 9, 0, tzinfo=UTC)

    def now(self) -> datetime:
        return self._now

    def advance(self, delta: timedelta) -> datetime:
        self._now += delta
        return self._now

    def set(self, moment: datetime) -> None:
        self._now = moment
