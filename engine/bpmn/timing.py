"""Due-time arithmetic: ISO 8601 dates, durations and cycles, computed the way SpiffWorkflow does.

The clock the library's timer module reads is set in `engine.bpmn.spiff_patches` (`at`).
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta

from SpiffWorkflow.bpmn.specs.event_definitions import timer as _spiff_timer

_DURATION = re.compile(r"^P(\d+([.,]\d+)?[YMWD])*(T(\d+([.,]\d+)?[HMS])+)?$", re.IGNORECASE)


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
