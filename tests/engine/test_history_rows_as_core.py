"""History rows go out as Core INSERTs, when the ORM would have flushed them (issue 18).

`record_event` keeps its row until a flush, a query, a commit or a savepoint sends it, and a
rollback drops it: each test below is a way a row could be lost, written twice, or kept after a
rollback now that no ORM object stands for it.
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from sqlalchemy import Engine, event, select
from sqlalchemy.orm import Session, sessionmaker

from engine.audit import record_event, verify_chains
from engine.catalog import FormCatalog
from engine.clock import FrozenClock
from engine.db import reading, transaction
from engine.tables import AuditEvent, Instance
from tests.conftest import start_two_task_case


@pytest.fixture
def case(factory: sessionmaker[Session], clock: FrozenClock, catalog: FormCatalog) -> uuid.UUID:
    return start_two_task_case(factory, clock, catalog)


def _note(session: Session, clock: FrozenClock, case: uuid.UUID, text: str) -> None:
    record_event(session, clock, actor="auditor", event_type="note", instance_id=case, data={"text": text})


def _notes(factory: sessionmaker[Session], case: uuid.UUID) -> list[str]:
    with factory() as session:
        return [data["text"] for data in session.scalars(
            select(AuditEvent.data).where(AuditEvent.instance_id == case, AuditEvent.event_type == "note")
            .order_by(AuditEvent.event_id))]


def _chains_hold(factory: sessionmaker[Session]) -> bool:
    with factory() as session:
        return verify_chains(session)[1] == []


def test_a_transaction_that_changes_nothing_else_still_writes_its_history_and_tail(
        factory: sessionmaker[Session], clock: FrozenClock, case: uuid.UUID) -> None:
    """No ORM change, so no flush: the commit sends the rows and moves the case's tail."""
    with transaction(factory) as session:
        session.get(Instance, case)
        _note(session, clock, case, "one")
        _note(session, clock, case, "two")
    assert _notes(factory, case) == ["one", "two"]
    assert _chains_hold(factory)


def test_a_query_in_the_same_transaction_sees_the_rows_recorded_before_it(
        factory: sessionmaker[Session], clock: FrozenClock, case: uuid.UUID) -> None:
    with transaction(factory) as session:
        _note(session, clock, case, "seen")
        assert session.scalars(select(AuditEvent.event_type).where(AuditEvent.instance_id == case)
                               .order_by(AuditEvent.event_id.desc()).limit(1)).one() == "note"
        _note(session, clock, case, "after")
    assert _notes(factory, case) == ["seen", "after"]
    assert _chains_hold(factory)


def test_a_rollback_drops_what_was_recorded_and_the_next_transaction_writes_only_its_own(
        factory: sessionmaker[Session], clock: FrozenClock, case: uuid.UUID) -> None:
    with factory() as session:
        with pytest.raises(ZeroDivisionError), session.begin():
            _note(session, clock, case, "rolled back")
            raise ZeroDivisionError
        with session.begin():  # the same session, as a server's worker reuses it
            _note(session, clock, case, "kept")
    assert _notes(factory, case) == ["kept"]
    assert _chains_hold(factory)


def test_a_savepoint_rolls_back_its_own_rows_and_not_those_recorded_before_it(
        factory: sessionmaker[Session], clock: FrozenClock, case: uuid.UUID) -> None:
    """The timer tick fires each case of a retried batch in a savepoint (engine/timers.py)."""
    with transaction(factory) as session:
        session.get(Instance, case)
        _note(session, clock, case, "before the savepoint")
        with pytest.raises(ZeroDivisionError), session.begin_nested():
            _note(session, clock, case, "in the savepoint")
            raise ZeroDivisionError
        with session.begin_nested():
            _note(session, clock, case, "in a released savepoint")
    assert _notes(factory, case) == ["before the savepoint", "in a released savepoint"]


def test_a_read_that_records_history_is_refused_and_writes_nothing(
        factory: sessionmaker[Session], clock: FrozenClock, case: uuid.UUID) -> None:
    """A read runs in autocommit (engine.db.reading): a row it sent would stay whatever failed after it."""
    with pytest.raises(RuntimeError, match="run it in a transaction"), factory() as session, reading(session):
        session.get(Instance, case)
        _note(session, clock, case, "by a read")
    assert _notes(factory, case) == []


def test_a_step_sends_its_history_in_one_statement(factory: sessionmaker[Session], clock: FrozenClock,
                                                   db_engine: Engine, case: uuid.UUID) -> None:
    """Several rows, one INSERT: on PostgreSQL a multi-row one (engine.db.make_engine), not psycopg's
    pipeline of one statement per row; SQLite's executemany runs in the library, with no round trips."""
    sent: list[tuple[str, Any]] = []

    def on_statement(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_args: Any) -> None:
        if statement.startswith("INSERT INTO audit_events"):
            sent.append((statement, parameters))

    event.listen(db_engine, "before_cursor_execute", on_statement)
    try:
        with transaction(factory) as session:
            for text in ("a", "b", "c"):
                _note(session, clock, case, text)
    finally:
        event.remove(db_engine, "before_cursor_execute", on_statement)
    assert len(sent) == 1
    if db_engine.dialect.name == "postgresql":
        assert sent[0][0].count("row_hash__") == 3, sent[0][0]
    assert _notes(factory, case) == ["a", "b", "c"]
