"""The append-only audit history: who did what to which instance or task, when, with what data.

Rows are hash-chained per instance (instance-less rows such as deployments form one chain of
their own): editing, deleting or inserting a row behind the engine's back breaks the chain, and
`verify_chains` names the first row where it breaks.

An instance's chain tail (its last row's hash) is kept on the instance row (`Instance.audit_tail`),
written in the same flush as the rows: appending locks that row and reads the tail from it instead
of locking the chain and searching the history, and a removed last row no longer goes unnoticed.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, bindparam, insert, select, text, update
from sqlalchemy import event as orm_events
from sqlalchemy.orm import ORMExecuteState, Session, SessionTransaction
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.orm.util import identity_key

from engine.clock import Clock
from engine.db import READS_ONLY
from engine.tables import AuditEvent, Instance


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
    row: dict[str, Any] = {
        "instance_id": instance_id, "task_id": task_id, "definition_key": definition_key,
        "event_type": event_type, "actor": actor, "occurred_at": clock.now(), "data": _jsonable(data or {}),
        "prev_hash": _chain_tail(session, instance_id),
    }
    row["row_hash"] = _hash_of(row)
    tails, unwritten = _chains(session)
    tails[instance_id] = row["row_hash"]
    if instance_id is not None:
        unwritten[instance_id] = row["row_hash"]
    _unsent(session).append(row)


@dataclass(frozen=True)
class ChainBreak:
    instance_id: uuid.UUID | None
    event_id: int
    problem: str


def row_hash(event: AuditEvent) -> str:
    return _hash_of({name: getattr(event, name) for name in _HASHED})


_HASHED = ("prev_hash", "instance_id", "task_id", "definition_key", "event_type", "actor", "occurred_at", "data")


def _hash_of(row: dict[str, Any]) -> str:
    content = json.dumps(
        [row["prev_hash"], str(row["instance_id"] or ""), str(row["task_id"] or ""), row["definition_key"] or "",
         row["event_type"], row["actor"], row["occurred_at"].astimezone(UTC).isoformat(), row["data"]],
        sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str,
    )
    return hashlib.sha256(content.encode("utf-8")).hexdigest()


def verify_chains(session: Session, *, batch: int = 5000) -> tuple[int, list[ChainBreak]]:
    """Check every row's hash and link; returns rows checked and the first break of each chain."""
    tails: dict[uuid.UUID | None, str] = {}
    broken: dict[uuid.UUID | None, ChainBreak] = {}
    last_ids: dict[uuid.UUID | None, int] = {}
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
        last_ids[chain] = event.event_id
    # The tail kept on the instance row: a chain whose last rows were removed still links, this does not.
    for instance_id, tail in session.execute(select(Instance.instance_id, Instance.audit_tail)):
        if instance_id not in broken and tail != tails.get(instance_id, ""):
            broken[instance_id] = ChainBreak(instance_id, last_ids.get(instance_id, 0),
                                             "is not the case's last row (a later row was removed, or the "
                                             "case's recorded tail was changed)")
    return checked, sorted(broken.values(), key=lambda b: b.event_id)


_TAILS = "tixi_audit_tails"


def _chains(session: Session) -> tuple[dict[uuid.UUID | None, str], dict[uuid.UUID, str]]:
    """The chain tails this transaction (or savepoint) wrote or locked, by instance; and those of
    them not yet written to their instance rows.

    A tail is only valid inside the transaction that wrote it: a rollback drops the rows, and after
    a savepoint ends its tails may be stale either way. So the tails belong to the innermost
    transaction (the flush's own inner transactions are not such ends) and are forgotten with it.
    Nothing unwritten is lost that way: a savepoint's start and end both flush.
    """
    current = session.get_nested_transaction() or session.get_transaction()
    if current is None:
        return {}, {}
    owner, tails, unwritten = session.info.get(_TAILS, (None, {}, {}))
    if owner is not current:
        tails, unwritten = {}, {}
        session.info[_TAILS] = (current, tails, unwritten)
    return tails, unwritten


def _tails(session: Session) -> dict[uuid.UUID | None, str]:
    return _chains(session)[0]


_UNSENT = "tixi_unsent_history"
# Rows nothing changes after their INSERT go out as Core, not as ORM objects: the unit of work's
# tracking, ordering and `RETURNING` of ids nothing reads were a tenth of a step's CPU. One
# multi-row INSERT per flush (engine.db.make_engine turns on insertmanyvalues without RETURNING).
_INSERT_EVENTS = insert(AuditEvent)
# Run on the connection, as plain SQL: not the ORM's versioned UPDATE of the row.
_SET_TAIL = update(Instance).where(Instance.instance_id == bindparam("chain")).values(audit_tail=bindparam("tail"))


def _unsent(session: Session) -> list[dict[str, Any]]:
    """History rows this transaction recorded and has not sent yet.

    They go out when the ORM would have flushed them as objects: before a flush, before a query
    that autoflushes, before a commit (a savepoint's too) and before a savepoint begins; a
    rollback (a savepoint's too) drops them.
    """
    owner = session.get_transaction()
    if owner is None:
        raise RuntimeError("history is recorded in the transaction of the change it describes")
    held: tuple[object, list[dict[str, Any]]] | None = session.info.get(_UNSENT)
    if held is None or held[0] is not owner:
        # A read's connection is in autocommit (engine.db.reading): the rows would outlive a failure.
        if session.connection().get_execution_options().get(READS_ONLY):
            raise RuntimeError("a read recorded history: run it in a transaction")
        held = session.info[_UNSENT] = (owner, [])
    return held[1]


def _take_unsent(session: Session) -> list[dict[str, Any]]:
    held = session.info.get(_UNSENT)
    if held is None or not held[1]:
        return []
    session.info[_UNSENT] = (held[0], [])
    return held[1] if held[0] is session.get_transaction() else []  # else left by an ended transaction


@orm_events.listens_for(Session, "before_flush")
def _send_with_flush(session: Session, _context: object, _objects: object) -> None:
    _send(session, session.get_nested_transaction() or session.get_transaction(), session.connection)


@orm_events.listens_for(Session, "before_commit")
def _send_before_commit(session: Session) -> None:
    """What no flush sent (a step that changed no other row): before the commit's own flush."""
    _send(session, session.get_nested_transaction() or session.get_transaction(), session.connection)


@orm_events.listens_for(Session, "after_transaction_create")
def _send_before_savepoint(session: Session, transaction: SessionTransaction) -> None:
    """What the transaction around a savepoint recorded is not the savepoint's to roll back. Its
    SAVEPOINT goes out at its first statement, so the outer connection writes them before it."""
    if transaction.nested and (outer := transaction.parent) is not None:
        _send(session, outer, lambda: outer.connection(None))


@orm_events.listens_for(Session, "do_orm_execute")
def _send_before_query(execution: ORMExecuteState) -> None:
    """A query sees the rows recorded before it, as it saw flushed objects (not under `no_autoflush`)."""
    session = execution.session
    if session.autoflush and (rows := _take_unsent(session)):
        session.connection().execute(_INSERT_EVENTS, rows)


@orm_events.listens_for(Session, "after_soft_rollback")
def _drop_unsent(session: Session, _transaction: SessionTransaction) -> None:
    held = session.info.get(_UNSENT)
    if held is not None:
        held[1].clear()


def _send(session: Session, current: SessionTransaction | None, connection: Callable[[], Connection]) -> None:
    """The unsent rows, then the new tails of their chains.

    A case the flush updates (or inserts) anyway carries its tail in that statement. Otherwise (a
    claim, a comment) one UPDATE sets the tail alone, outside the ORM: it does not bump the row's
    optimistic-lock version, so it makes no concurrent step of the case fail.
    """
    if rows := _take_unsent(session):
        connection().execute(_INSERT_EVENTS, rows)
    state = session.info.get(_TAILS)
    if state is None or not state[2]:
        return
    owner, _, unwritten = state
    if owner is not current:
        unwritten.clear()  # left by a transaction that rolled back
        return
    alone = []
    inserted = {o.instance_id: o for o in session.new if isinstance(o, Instance)}
    for instance_id, tail in unwritten.items():
        record = inserted.get(instance_id) or session.identity_map.get(identity_key(Instance, instance_id))
        if record is not None and (instance_id in inserted or session.is_modified(record)):
            record.audit_tail = tail
            continue
        alone.append({"chain": instance_id, "tail": tail})
        if record is not None:
            set_committed_value(record, "audit_tail", tail)
    unwritten.clear()
    if alone:
        connection().execute(_SET_TAIL, alone)


def _chain_tail(session: Session, instance_id: uuid.UUID | None) -> str:
    tails = _tails(session)
    if instance_id in tails:
        return tails[instance_id]
    # No autoflush: the chain lock is taken before this transaction's pending change to the instance
    # row is written (the step's rows go out in one flush).
    postgresql = session.get_bind().dialect.name == "postgresql"
    with session.no_autoflush:
        if instance_id is not None:
            # The tail is on the instance row: locking the row makes a second appender (a comment
            # and a claim on the same case) wait for the first to commit, then read its tail.
            query = select(Instance.audit_tail).where(Instance.instance_id == instance_id)
            tail = session.scalar(query.with_for_update() if postgresql else query)
            if tail is not None:
                return tail
        if postgresql:
            # The instance-less chain (and history left by a removed case) has no row to lock.
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


def claim_chains(session: Session, records: list[Instance]) -> dict[uuid.UUID, str]:
    """The chain tails of instances whose rows the caller has locked (`FOR UPDATE`); none more to run.

    For a batch (the timer tick): the row lock is the chain's lock, and the row carries the tail.
    Hand each tail to `resume_chain`.
    """
    return {record.instance_id: record.audit_tail for record in records}


def resume_chain(session: Session, instance_id: uuid.UUID, tail: str) -> None:
    """Append to a chain claimed by `claim_chains`; call it again after each savepoint, whose end forgets tails."""
    _tails(session)[instance_id] = tail


def hold_chain(session: Session, record: Instance) -> None:
    """Append to the case's chain from the tail on its row, which the caller loaded locked (`FOR UPDATE`)
    in this transaction: no statement more to find or lock the chain. A tail this transaction already
    wrote and has not flushed yet is newer than the row's, and is kept."""
    _tails(session).setdefault(record.instance_id, record.audit_tail)


def begin_chain(session: Session, instance_id: uuid.UUID) -> None:
    """A new instance's chain starts empty: no other transaction can append to it before this one commits."""
    _tails(session)[instance_id] = ""
