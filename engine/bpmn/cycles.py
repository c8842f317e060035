"""Timer cycles (`R[n]/<start>/<period>`): checked at deploy, their rounds computed rather than stepped.

Stepping one period at a time from a start in the past costs one loop per missed round, and never
ends for a zero period: `R/2026-01-01T00:00:00Z/PT0S` hung deploy (even its dry run). Round k is
instead `start + k periods`, and the first round at or after a moment is found by bisection over k.

Months and years are counted on the calendar from the start, the library's way (the same day
of the month k months later): `P1Y` from 4 January stays on 4 January, and a start on the 31st
does not drift from round to round the way stepping made it.

A period must be at least `MIN_PERIOD` (one minute), checked at deploy for a literal cycle and,
for a computed one (`cycle_of_the_case`), where the library reads it when the timer is reached. The scheduler polls about once a second and
starts one instance per round, so a shorter period is either a typo or a flood of instances
(PT1S: 86,400 cases a day); nothing in after-sales service recurs more often than that.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from engine.bpmn.timing import add_duration, duration_parts, parse_due

MIN_PERIOD = timedelta(minutes=1)
_SHORTEST_MONTH = timedelta(days=28)


@dataclass(frozen=True)
class Period:
    months: int  # calendar months (years count twelve)
    fixed: timedelta  # weeks, days, hours, minutes and seconds

    @property
    def shortest(self) -> timedelta:
        return self.months * _SHORTEST_MONTH + self.fixed


@dataclass(frozen=True)
class Cycle:
    repetitions: int | None  # None: for ever
    start: datetime
    period: Period

    def round_at(self, k: int) -> datetime:
        """The k-th round (0 is the start). Raises: OverflowError past the year 9999."""
        return _add_months(self.start, k * self.period.months) + k * self.period.fixed

    def first_round(self, after: datetime, *, inclusive: bool = True) -> datetime | None:
        """The first round at (if `inclusive`) or after `after`; None when the cycle has ended by then."""

        def early(k: int) -> bool:
            moment = self.round_at(k)
            return moment < after or (moment == after and not inclusive)

        try:
            if not early(0):
                return self._within_repetitions(0)
            # Each round is at least `shortest` later than the one before, so `high` is not early.
            low, high = 0, (after - self.start) // self.period.shortest + 1
            while high - low > 1:
                middle = (low + high) // 2
                low, high = (middle, high) if early(middle) else (low, middle)
            return self._within_repetitions(high)
        except OverflowError:  # the next round is past the calendar's end: never again
            return None

    def _within_repetitions(self, k: int) -> datetime | None:
        return self.round_at(k) if self.repetitions is None or k < self.repetitions else None


def parse_period(text: str) -> Period:
    """An ISO 8601 duration as a cycle's period. Raises: ValueError (also when shorter than MIN_PERIOD)."""
    parts = duration_parts(text)
    years, months = parts.get("years", 0), parts.get("months", 0)
    if years != int(years) or months != int(months):
        raise ValueError(f"the period '{text}' counts fractional months or years; write whole ones or days")
    fixed = timedelta(weeks=parts.get("weeks", 0), days=parts.get("days", 0), hours=parts.get("hours", 0),
                      minutes=parts.get("minutes", 0), seconds=parts.get("seconds", 0))
    period = Period(int(years) * 12 + int(months), fixed)
    if period.shortest < MIN_PERIOD:
        raise ValueError(f"the period '{text}' is shorter than one minute; a cycle repeats at most once a minute")
    return period


def parse_cycle(text: str) -> Cycle:
    """`R[n]/<start>/<period>`, as a timer start event is written. Raises: ValueError."""
    parts = text.strip().strip('"').split("/")
    if len(parts) != 3 or not parts[0].upper().startswith("R"):
        raise ValueError(f"cycle '{text}' must be R/<start>/<period> or R<n>/<start>/<period>")
    return Cycle(_repetitions(parts[0]), _moment(parts[1]), parse_period(parts[2]))


def cycle_problem(text: str) -> str | None:
    """Why a literal cycle of any form the library runs (`R/<period>`, `R/<start>/<period>`,
    `R/<period>/<end>`) is refused, or None."""
    parts = text.strip().strip('"').split("/")
    try:
        if len(parts) not in (2, 3):
            raise ValueError("a cycle is R[n]/<period>, R[n]/<start>/<period> or R[n]/<period>/<end>")
        _repetitions(parts[0])
        periods = [p for p in parts[1:] if p.strip().upper().startswith("P")]
        if len(periods) != 1:
            raise ValueError("a cycle names exactly one period (an ISO 8601 duration such as PT1H or P1D)")
        parse_period(periods[0])
        for moment in (p for p in parts[1:] if p not in periods):
            _moment(moment)
    except ValueError as error:
        return str(error)
    return None


def literal_cycle_problem(expression: str) -> str | None:
    """For a timer expression that is a quoted cycle ("R/..."), why it is refused; None for any other.

    A computed value (`cycle_of_the_month`) is known only when the timer is reached.
    """
    try:
        value = ast.literal_eval(expression.strip())
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return None
    if isinstance(value, str) and value.strip().upper().startswith("R"):
        return cycle_problem(value)
    return None


def _repetitions(text: str) -> int | None:
    count = text.strip()[1:]
    if not count:
        return None
    if not count.isdigit():
        raise ValueError(f"'{text}' must be R or R<number of rounds>")
    return int(count)


def _moment(text: str) -> datetime:
    try:
        return parse_due(text)
    except ValueError:
        raise ValueError(f"'{text}' is not an ISO 8601 date-time such as 2027-01-04T09:00:00+08:00") from None


def _add_months(moment: datetime, months: int) -> datetime:
    """`moment` plus the lengths of the `months` calendar months from its own (the library's count)."""
    if not months:
        return moment
    index = moment.year * 12 + moment.month - 1 + months
    if not 1 <= index // 12 <= 9999:
        raise OverflowError("past the calendar's end")
    first = date(index // 12, index % 12 + 1, 1)
    return moment + (first - date(moment.year, moment.month, 1))



def next_due(expression: str, after: datetime, *, inclusive: bool = True) -> datetime | None:
    """The first due time of a timer-start expression at or after `after` (None: never again).

    Raises: ValueError for an expression that is no ISO 8601 date, duration or cycle, or a cycle
    whose period is shorter than a minute.
    """
    text = expression.strip().strip('"')
    if text.upper().startswith("R"):
        return parse_cycle(text).first_round(after, inclusive=inclusive)
    if text.upper().startswith("P"):
        return add_duration(after, text)
    due = parse_due(text)
    return due if due >= after else None
