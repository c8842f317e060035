"""The append-only audit history: who did what to which instance or task, when, with what data.

Rows are hash-chained per instance (instance-less rows such as deployments form one chain of
their own): editing, deleting or inserting a row behind the engine's back breaks the chain, and
`verify_chains` names the first row where it breaks.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from engine.clock import Clock
from engine.tables import AuditEvent


def record_event(
    session: Session,
    clock: Clock,
    *,
    actor: str,
    event_type: str,
    instance_id: uuid.UUID | None = None,
    task_id: uuid.UUID | None = None,
    definition_key: str | None = None,
    data: dict[str, Any] | None = None,
) -> None:
    """Append one history row; it commits or rolls back with the change it describes."""
    event = AuditEvent(
        instance_id=instance_id,
        task_id=task_id,
        definition_key=definition_key,
        event_type=event_type,
        actor=actor,
        occurred_at=clock.now(),
        data=_jsonable(data or {}),
    )
    event.prev_hash = _chain_tail(session, instance_id)
    event.row_hash = row_hash(event)
    _tails(session)[instance_id] = event.row_hash
    session.add(event)


@dataclass(frozen=True)
class ChainBreak:
    instance_id: uuid.UUID | None
    event_id: int
    problem: str


def row_hash(event: AuditEvent) -> str:
    content = json.dumps(
        [event.prev_hash, str(event.instance_id or ""), str(event.task_id or ""), event.definition_key or "",
         event.event_type, event.actor, event.occurred_at.astimezone(UTC).isoformat(), event.data],
        sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str,
    )
    return hashlib.sha256(content.encode("utf-8")).hexdigest()


def verify_chains(session: Session, *, batch: int = 5000) -> tuple[int, list[ChainBreak]]:
    """Check every row's hash and link; returns rows checked and the first break of each chain."""
    tails: dict[uuid.UUID | None, str] = {}
    broken: dict[uuid.UUID | None, ChainBreak] = {}
    checked = 0
    query = select(AuditEvent).order_by(AuditEvent.event_id).execution_options(yield_per=batch)
    for event in session.scalars(query):
        checked += 1
        chain = event.instance_id
        if chain in broken:
            continue
        expected_prev = tails.get(chain, "")
        if event.prev_hash != expected_prev:
            broken[chain] = ChainBreak(chain, event.event_id, "does not link to the previous row (a row was "
                                                               "removed or inserted before it)")
        elif event.row_hash != row_hash(event):
            broken[chain] = ChainBreak(chain, event.event_id, "content does not match its hash (the row was edited)")
        tails[chain] = event.row_hash
    return checked, sorted(broken.values(), key=lambda b: b.event_id)


_TAILS = "tixi_audit_tails"


def _tails(session: Session) -> dict[uuid.UUID | None, str]:
    """The chain tails this transaction (or savepoint) wrote or locked, by instance.

    A tail is only valid inside the transaction that wrote it: a rollback drops the rows, and after
    a savepoint ends its tails may be stale either way. So the tails belong to the innermost
    transaction (the flush's own inner transactions are not such ends) and are forgotten with it,
    without an event listener on every session.
    """
    current = session.get_nested_transaction() or session.get_transaction()
    if current is None:
        return {}
    owner, tails = session.info.get(_TAILS, (None, {}))
    if owner is not current:
        tails = {}
        session.info[_TAILS] = (current, tails)
    return tails  # type: ignore[no-any-return]


def _chain_tail(session: Session, instance_id: uuid.UUID | None) -> str:
    tails = _tails(session)
    if instance_id in tails:
        return tails[instance_id]
    # No autoflush: the chain lock is taken before this transaction's pending change to the instance
    # row is written. Taken after it, a suspend (row, then chain) and a completion (chain, then row)
    # on the same case deadlocked.
    with session.no_autoflush:
        if session.get_bind().dialect.name == "postgresql":
            # Two transactions appending to one chain (a comment and a claim on the same case) would
            # both link to the same tail; the lock makes the second wait for the first to commit.
            session.execute(text("SELECT pg_advisory_xact_lock(hashtext(:chain))"),
                            {"chain": f"audit:{instance_id or 'global'}"})
        condition = AuditEvent.instance_id.is_(None) if instance_id is None else AuditEvent.instance_id == instance_id
        last = session.scalar(select(AuditEvent.row_hash).where(condition).order_by(AuditEvent.event_id.desc())
                              .limit(1))
    return last or ""


@dataclass(frozen=True)
class HistoryEvent:
    """One row of a case's history, as read: who did what, when, with which data."""

    event_id: int
    event_type: str
    actor: str
    occurred_at: datetime
    task_id: uuid.UUID | None
    definition_key: str | None
    data: dict[str, Any]


def events_of_instance(session: Session, instance_id: uuid.UUID) -> list[HistoryEvent]:
    query = select(AuditEvent).where(AuditEvent.instance_id == instance_id).order_by(AuditEvent.event_id)
    return [HistoryEvent(e.event_id, e.event_type, e.actor, e.occurred_at, e.task_id, e.definition_key, e.data)
            for e in session.scalars(query)]


def _jsonable(data: dict[str, Any]) -> dict[str, Any]:
    # Submitted form data may hold dates or decimals; history keeps their ISO/str form.
    result: dict[str, Any] = json.loads(json.dumps(data, default=str))
    return result


def claim_chains(session: Session, instance_ids: list[uuid.UUID]) -> dict[uuid.UUID, str]:
    """Lock the chains of several instances without waiting; returns the tail of each chain locked.

    For a batch (the timer tick): two statements in all instead of a lock and a query per
    instance. A chain that another transaction holds is left out instead of waited for: the caller
    already holds those instances' rows, and a request appending to the chain takes the chain
    first and the row next, so waiting could deadlock. Hand each tail to `resume_chain`.
    """
    if not instance_ids:
        return {}
    locked = list(instance_ids)
    if session.get_bind().dialect.name == "postgresql":
        rows = session.execute(text("SELECT c.id, pg_try_advisory_xact_lock(hashtext('audit:' || c.id)) "
                                    "FROM unnest(CAST(:ids AS text[])) AS c(id)"),
                               {"ids": [str(i) for i in instance_ids]})
        taken = {row[0] for row in rows if row[1]}
        locked = [i for i in instance_ids if str(i) in taken]
    tails = dict.fromkeys(locked, "")
    last = (select(func.max(AuditEvent.event_id)).where(AuditEvent.instance_id.in_(locked))
            .group_by(AuditEvent.instance_id))
    with session.no_autoflush:
        for instance_id, tail in session.execute(select(AuditEvent.instance_id, AuditEvent.row_hash)
                                                 .where(AuditEvent.event_id.in_(last))):
            if instance_id is not None:
                tails[instance_id] = tail
    return tails


def resume_chain(session: Session, instance_id: uuid.UUID, tail: str) -> None:
    """Append to a chain claimed by `claim_chains`; call it again after each savepoint, whose end forgets tails."""
    _tails(session)[instance_id] = tail


def begin_chain(session: Session, instance_id: uuid.UUID) -> None:
    """A new instance's chain starts empty: no other transaction can append to it before this one commits."""
    _tails(session)[instance_id] = ""
