"""Binds SpiffWorkflow's timers to Tixi's clock.

The library's timer module reads `datetime.now` itself and offers no hook, so its module-level
`datetime` is replaced by a subclass whose `now()` answers the moment set for the current
operation (a context variable, so concurrent requests on other threads are unaffected).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime, timedelta, tzinfo

from SpiffWorkflow.bpmn.specs.event_definitions import timer as _spiff_timer

_DURATION = re.compile(r"^P(\d+([.,]\d+)?[YMWD])*(T(\d+([.,]\d+)?[HMS])+)?$", re.IGNORECASE)
_moment: ContextVar[datetime | None] = ContextVar("tixi_moment", default=None)


class _ClockedDatetime(datetime):
    @classmethod
    def now(cls, tz: tzinfo | None = None) -> datetime:  # type: ignore[override]
        moment = _moment.get()
        if moment is None:
            return datetime.now(tz)
        return moment.astimezone(tz) if tz is not None else moment.astimezone().replace(tzinfo=None)


_spiff_timer.datetime = _ClockedDatetime


@contextmanager
def at(moment: datetime) -> Iterator[None]:
    """Run workflow code as if the time were `moment` (aware)."""
    token = _moment.set(moment.astimezone(UTC))
    try:
        yield
    finally:
        _moment.reset(token)


def parse_due(value: str) -> datetime:
    """A timer's stored due value (ISO date-time, possibly naive local time) as aware UTC."""
    due: datetime = _spiff_timer.TimerEventDefinition.get_datetime(value)
    return due


def duration_parts(iso_duration: str) -> dict[str, float]:
    """An ISO 8601 duration's designators, e.g. P1DT2H -> {"days": 1, "hours": 2}. Raises: ValueError."""
    text = iso_duration.strip().strip('"')
    try:
        parsed: dict[str, float] = _spiff_timer.TimerEventDefinition.parse_iso_duration(text)
    except Exception as error:  # the library raises a bare Exception
        raise ValueError(f"'{iso_duration}' is not an ISO 8601 duration") from error
    if not parsed or not _DURATION.match(text):  # the library strips any "p"s and reads "P" as nothing
        raise ValueError(f"'{iso_duration}' is not an ISO 8601 duration (such as P5D, PT24H or P1M)")
    return parsed


def add_duration(start: datetime, iso_duration: str) -> datetime:
    """`start` plus an ISO 8601 duration such as P3M or PT24H (calendar months counted as the library does).

    Raises: ValueError.
    """
    parsed = duration_parts(iso_duration)
    try:
        delta: timedelta = _spiff_timer.TimerEventDefinition.get_timedelta_from_start(parsed, start)
        return start + delta
    except OverflowError:
        raise ValueError(f"'{iso_duration}' from {start:%Y-%m-%d} is past the year 9999") from None
