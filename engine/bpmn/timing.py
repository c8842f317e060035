"""Due-time arithmetic: ISO 8601 dates, durations and cycles, computed the way SpiffWorkflow does.

The clock the library's timer module reads is set in `engine.bpmn.spiff_patches` (`at`).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from SpiffWorkflow.bpmn.specs.event_definitions import timer as _spiff_timer


def parse_due(value: str) -> datetime:
    """A timer's stored due value (ISO date-time, possibly naive local time) as aware UTC."""
    due: datetime = _spiff_timer.TimerEventDefinition.get_datetime(value)
    return due


def parse_duration(iso_duration: str) -> dict[str, float]:
    """The parts of an ISO 8601 duration (years, months, weeks, days, hours, minutes, seconds) as the library reads them.

    Raises: ValueError.
    """
    try:
        parts: dict[str, float] = _spiff_timer.TimerEventDefinition.parse_iso_duration(iso_duration.strip().strip('"'))
    except Exception as error:  # the library raises a bare Exception
        raise ValueError(f"'{iso_duration}' is not an ISO 8601 duration") from error
    return parts


def add_duration(start: datetime, iso_duration: str) -> datetime:
    """`start` plus an ISO 8601 duration such as P3M or PT24H (calendar months counted as the library does).

    Raises: ValueError.
    """
    parsed = parse_duration(iso_duration)
    delta: timedelta = _spiff_timer.TimerEventDefinition.get_timedelta_from_start(parsed, start)
    return start + delta


def next_due(expression: str, after: datetime, *, inclusive: bool = True) -> datetime | None:
    """The first due time of a timer-start expression at or after `after` (None: never again).

    A cycle (`R/<start>/<period>`) is stepped in calendar terms (P1Y from 4 January stays on 4 January).

    Raises: ValueError for an expression that is no ISO 8601 date, duration or cycle.
    """
    text = expression.strip().strip('"')
    if text.upper().startswith("R"):
        parts = text.split("/")
        if len(parts) != 3:
            raise ValueError(f"cycle '{text}' must be R/<start>/<period>")
        due = parse_due(parts[1])
        while due < after or (due == after and not inclusive):
            due = add_duration(due, parts[2])
        return due
    if text.upper().startswith("P"):
        return add_duration(after, text)
    due = parse_due(text)
    return due if due >= after else None
