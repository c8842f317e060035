"""Timer start events: the scheduler starts a new instance of a process at each due time.

Each process key with a timer start event has one pending row holding its next due time; a new
version replaces it. A cycle (`R/<start>/<period>`) counts its rounds in calendar terms (P1Y from 4
January stays on 4 January; `engine.bpmn.cycles`), one instance per round; rounds missed while
nobody ran start once.
"""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from engine.bpmn.cycles import parse_cycle
from engine.bpmn.timing import add_duration, parse_due
from engine.clock import Clock
from engine.tables import Definition, StartTimer

log = logging.getLogger(__name__)


def schedule_start_timers(session: Session, clock: Clock, definition: Definition) -> None:
    """Replace the pending start timers of a key with those of its newly deployed version."""
    session.execute(
        update(StartTimer)
        .where(StartTimer.definition_key == definition.key, StartTimer.status == "pending")
        .values(status="replaced")
    )
    for event in definition.elements.get("start_events", []):
        if event["kind"] != "timer":
            continue
        due = next_due(event["expression"], clock.now())
        if due is not None:
            session.add(StartTimer(definition_key=definition.key, element_id=event["element_id"],
                                   expression=event["expression"], due_at=due, status="pending"))
    session.flush()


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


def claim_due_start_timer(session: Session, clock: Clock) -> StartTimer | None:
    """The most overdue pending start timer, locked for this worker (SKIP LOCKED on PostgreSQL)."""
    query = (
        select(StartTimer)
        .where(StartTimer.status == "pending", StartTimer.due_at <= clock.now())
        .order_by(StartTimer.due_at, StartTimer.start_timer_id)
        .limit(1)
    )
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    return session.scalars(query).first()


def fire_start_timers(factory: sessionmaker[Session], clock: Clock, *, limit: int = 50) -> int:
    """Start one instance per due start timer; each in its own transaction. Returns instances started."""
    from engine.definitions import get_definition_row
    from engine.identity import SCHEDULER
    from engine.instances import launch_instance

    started = 0
    for _ in range(limit):
        with factory() as session, session.begin():
            row = claim_due_start_timer(session, clock)
            if row is None:
                break
            definition = get_definition_row(session, row.definition_key, kind="process")
            try:
                with session.begin_nested():
                    detail = launch_instance(
                        session, clock, actor=SCHEDULER, definition=definition, business_key=None, variables={},
                        start_element=row.element_id,
                        trigger={"timer": row.element_id, "due_at": row.due_at.isoformat()},
                    )
                row.instance_id = detail.summary.instance_id
                started += 1
            except Exception:  # a broken process must not block the other start timers
                log.exception("starting %s from timer %s failed", row.definition_key, row.element_id)
            row.status, row.fired_at = "fired", clock.now()
            upcoming = next_due(row.expression, row.due_at, inclusive=False)
            if upcoming is not None and row.expression.strip('"').upper().startswith("R"):
                # Rounds missed while nobody ran start once, then the schedule carries on from now.
                upcoming = max(upcoming, next_due(row.expression, clock.now(), inclusive=False) or upcoming)
                session.add(StartTimer(definition_key=row.definition_key, element_id=row.element_id,
                                       expression=row.expression, due_at=upcoming, status="pending"))
    return started
