"""Firing due timers: one scheduler tick, idempotent and safe to run in several workers."""

from __future__ import annotations

import logging
import uuid

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from engine.clock import Clock
from engine.execution import advance_or_incident, bundle_of, load_run
from engine.identity import SCHEDULER
from engine.tables import Instance, Timer

log = logging.getLogger(__name__)


def due_timer_instances(session: Session, clock: Clock, *, limit: int) -> list[uuid.UUID]:
    """Instances of running processes that have a timer due now, most overdue first."""
    query = (
        select(Timer.instance_id, Timer.due_at)
        .join(Instance, Instance.instance_id == Timer.instance_id)
        .where(Timer.status == "pending", Timer.due_at <= clock.now(), Instance.status == "running")
        .order_by(Timer.due_at, Timer.timer_id)
        .limit(limit)
    )
    seen: dict[uuid.UUID, None] = {}
    for instance_id, _ in session.execute(query):
        seen.setdefault(instance_id, None)
    return list(seen)


def fire_instance_timers(session: Session, clock: Clock, *, instance_id: uuid.UUID) -> int:
    """Fire every due timer of one instance and run it on; returns how many fired.

    The instance row is locked (FOR UPDATE SKIP LOCKED on PostgreSQL; SQLite's BEGIN IMMEDIATE
    already holds the write lock), so two workers never fire the same timer.
    """
    now = clock.now()
    query = select(Instance).where(Instance.instance_id == instance_id, Instance.status == "running")
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    record = session.scalars(query).first()
    if record is None:
        return 0
    due = session.scalars(
        select(Timer).where(Timer.instance_id == instance_id, Timer.status == "pending", Timer.due_at <= now)
    ).all()
    if not due:
        return 0
    bundle = bundle_of(session, record)
    run = load_run(record, bundle)

    def fired() -> frozenset[uuid.UUID]:
        return frozenset(t.timer_id for t in due if t.timer_id not in {w.timer_id for w in run.waiting_timers()})

    failure = advance_or_incident(session, clock, actor=SCHEDULER.username, record=record, bundle=bundle, run=run,
                                  action=lambda: run.advance(now), fired_timer_ids=fired)
    # Count what the workflow fired, not what the table called due: a timer the workflow still waits
    # for (its own due time a moment later) fires, and is counted, on a later tick.
    return 0 if failure else len(fired())


def fire_due_timers(factory: sessionmaker[Session], clock: Clock, *, limit: int = 100) -> int:
    """One scheduler tick: each due instance in its own transaction, so one failure stops no other."""
    with factory() as session, session.begin():
        instance_ids = due_timer_instances(session, clock, limit=limit)
    fired = 0
    for instance_id in instance_ids:
        try:
            with factory() as session, session.begin():
                count = fire_instance_timers(session, clock, instance_id=instance_id)
            fired += count  # only once committed: a commit that loses a race fired nothing
        except Exception:  # the one catch-all: log it and let the other instances go on
            log.exception("firing timers of instance %s failed", instance_id)
    return fired
