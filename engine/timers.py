"""Firing due timers: the scheduler's ticks, idempotent and safe to run in several workers.

`fire_due_timers` fires the timers cases wait on; `fire_start_timers` starts a new case at each
due round of a process's timer start event. The timer tick claims a batch of instances with due timers in one statement, fires each inside a savepoint
and commits the batch once: a commit (a WAL flush on PostgreSQL) and the loading of the process
definitions are paid per batch, not per timer, while one failing instance still stops no other.
"""

from __future__ import annotations

import logging
import uuid
from collections import defaultdict

from sqlalchemy import select
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, sessionmaker

from engine.audit import claim_chains, resume_chain
from engine.bpmn.cycles import next_due
from engine.bundles import Bundle, bundle_of
from engine.clock import Clock
from engine.db import flush
from engine.definitions import get_definition_row
from engine.identity import SCHEDULER
from engine.incidents import advance_or_incident
from engine.instances import launch_instance
from engine.messages import deliver_thrown_messages  # noqa: F401 - a fired timer may throw a message: load its router
from engine.states import InstanceStatus, StartTimerStatus, TimerStatus
from engine.step_batch import open_batch
from engine.tables import Instance, StartTimer, Timer
from engine.workflow_store import load_run

log = logging.getLogger(__name__)

BATCH_SIZE = 50


def claim_due_instances(session: Session, clock: Clock, *, limit: int) -> list[Instance]:
    """Lock up to `limit` running instances with a timer due now, most overdue first.

    On PostgreSQL the rows are locked (FOR UPDATE OF instances SKIP LOCKED) in the same ordered
    scan that finds them, so a second worker walks past this batch to the next instead of
    stalling on it; SQLite's BEGIN IMMEDIATE already holds the write lock.
    """
    query = (
        select(Instance)
        .join(Timer, Timer.instance_id == Instance.instance_id)
        .where(Timer.status == TimerStatus.PENDING, Timer.due_at <= clock.now(), Instance.status == InstanceStatus.RUNNING)
        .order_by(Timer.due_at, Timer.timer_id)
        .limit(limit)
    )
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(of=Instance, skip_locked=True)
    claimed: dict[uuid.UUID, Instance] = {}
    for record in session.scalars(query):  # an instance with two due timers comes twice
        claimed.setdefault(record.instance_id, record)
    return list(claimed.values())


def _due_timers(session: Session, clock: Clock, instance_ids: list[uuid.UUID]) -> dict[uuid.UUID, list[Timer]]:
    # Read again after the lock, in a statement of its own: the claim's snapshot may predate the
    # commit of a worker that fired one of these timers just before this one got the row.
    due: dict[uuid.UUID, list[Timer]] = defaultdict(list)
    query = select(Timer).where(Timer.instance_id.in_(instance_ids), Timer.status == TimerStatus.PENDING,
                                Timer.due_at <= clock.now())
    for timer in session.scalars(query):
        due[timer.instance_id].append(timer)
    return due


def _fire_instance(session: Session, clock: Clock, *, record: Instance, due: list[Timer],
                   bundles: dict[tuple[str, ...], Bundle]) -> int:
    """Fire the due timers of one claimed instance and run it on; returns how many fired.

    A process failure is saved as an incident (and counts as nothing fired). `bundles` holds the
    definitions already loaded in this batch, by definition and bound called versions.
    """
    if not due:
        return 0
    now = clock.now()
    key = (str(record.definition_id), *sorted(f"{k}={v}" for k, v in (record.called_definitions or {}).items()))
    bundle = bundles.get(key)
    if bundle is None:
        bundle = bundles[key] = bundle_of(session, record)
    run = load_run(record, bundle)

    fired: frozenset[uuid.UUID] = frozenset()

    def find_fired() -> frozenset[uuid.UUID]:
        nonlocal fired  # kept for the count below rather than scanning the tasks again
        waiting = {w.timer_id for w in run.waiting_timers()}
        fired = frozenset(t.timer_id for t in due if t.timer_id not in waiting)
        return fired

    failure = advance_or_incident(session, clock, actor=SCHEDULER.username, record=record, bundle=bundle, run=run,
                                  action=lambda: run.advance(now), fired_timer_ids=find_fired)
    # Count what the workflow fired, not what the table called due: a timer the workflow still waits
    # for (its own due time a moment later) fires, and is counted, on a later tick.
    return 0 if failure else len(fired)


def fire_instance_timers(session: Session, clock: Clock, *, instance_id: uuid.UUID) -> int:
    """Fire the due timers of one instance in the caller's transaction; returns how many fired.

    The tick's work for a single instance, for callers that step one case at a time (bench/cases.py).
    """
    query = select(Instance).where(Instance.instance_id == instance_id, Instance.status == InstanceStatus.RUNNING)
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    record = session.scalars(query).first()
    if record is None:
        return 0
    due = _due_timers(session, clock, [instance_id]).get(instance_id, [])
    return _fire_instance(session, clock, record=record, due=due, bundles={})


def fire_due_timers(factory: sessionmaker[Session], clock: Clock, *, limit: int = BATCH_SIZE) -> int:
    """One scheduler tick over at most `limit` due instances, committed together; returns timers fired.

    The batch first runs without savepoints (two statements less per timer). If an instance raises,
    the whole batch rolls back and runs again with each instance in a savepoint: the one that
    raises is rolled back alone (and logged), the rest of the batch commits. Nothing counts until
    the commit: a batch that fails to commit fired nothing.
    """
    try:
        return _fire_batch(factory, clock, limit=limit, isolated=False)
    except _InstanceFailed:
        log.info("a timer batch rolled back for one failing instance; firing it again instance by instance")
    except DBAPIError:  # e.g. a deadlock broken by PostgreSQL: the batch rolled back; the next tick retries it
        log.exception("timer batch rolled back")
        return 0
    try:
        return _fire_batch(factory, clock, limit=limit, isolated=True)
    except DBAPIError:
        log.exception("timer batch rolled back")
        return 0


class _InstanceFailed(Exception):
    """An instance of a batch fired without savepoints raised: the batch runs again with them."""


def _fire_batch(factory: sessionmaker[Session], clock: Clock, *, limit: int, isolated: bool) -> int:
    fired = 0
    with factory() as session, session.begin():
        claimed = claim_due_instances(session, clock, limit=limit)
        if not claimed:
            return 0
        # The rows are locked (another transaction's case is skipped): so are their history chains.
        tails = claim_chains(session, claimed)
        timers = open_batch(session, claimed, one_flush=not isolated)
        now = clock.now()
        due = {instance_id: [t for t in rows if t.status == TimerStatus.PENDING and t.due_at <= now]
               for instance_id, rows in timers.items()}
        bundles: dict[tuple[str, ...], Bundle] = {}
        for record in claimed:
            if not isolated:
                try:
                    resume_chain(session, record.instance_id, tails[record.instance_id])
                    fired += _fire_instance(session, clock, record=record, due=due[record.instance_id],
                                            bundles=bundles)
                except Exception as error:  # rolls the batch back; it runs again, each instance in a savepoint
                    raise _InstanceFailed from error
                continue
            try:
                with session.begin_nested():
                    resume_chain(session, record.instance_id, tails[record.instance_id])
                    count = _fire_instance(session, clock, record=record, due=due[record.instance_id],
                                           bundles=bundles)
            except Exception:  # the one catch-all: log it and let the other instances go on
                log.exception("firing timers of instance %s failed", record.instance_id)
                continue
            fired += count
        if not isolated:
            try:  # every case's rows at once; a case's row that fails here fails the batch, which runs again isolated
                flush(session)
            except Exception as error:
                raise _InstanceFailed from error
    return fired


def claim_due_start_timer(session: Session, clock: Clock) -> StartTimer | None:
    """The most overdue pending start timer, locked for this worker (SKIP LOCKED on PostgreSQL)."""
    query = (
        select(StartTimer)
        .where(StartTimer.status == StartTimerStatus.PENDING, StartTimer.due_at <= clock.now())
        .order_by(StartTimer.due_at, StartTimer.start_timer_id)
        .limit(1)
    )
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    return session.scalars(query).first()


def fire_start_timers(factory: sessionmaker[Session], clock: Clock, *, limit: int = 50) -> int:
    """Start one instance per due start timer; each in its own transaction. Returns instances started."""
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
            row.status, row.fired_at = StartTimerStatus.FIRED, clock.now()
            upcoming = next_due(row.expression, row.due_at, inclusive=False)
            if upcoming is not None and row.expression.strip('"').upper().startswith("R"):
                # Rounds missed while nobody ran start once, then the schedule carries on from now.
                upcoming = max(upcoming, next_due(row.expression, clock.now(), inclusive=False) or upcoming)
                session.add(StartTimer(definition_key=row.definition_key, element_id=row.element_id,
                                       expression=row.expression, due_at=upcoming, status=StartTimerStatus.PENDING))
    return started
