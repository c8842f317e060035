"""The audit history is hash-chained: a row changed or removed behind the engine's back is found."""

from __future__ import annotations

import os
from pathlib import Path

from sqlalchemy import Engine, select, text, update
from sqlalchemy.orm import Session, sessionmaker
from typer.testing import CliRunner

from api.cli import app as cli
from engine import definitions, instances
from engine.audit import record_event, verify_chains
from engine.catalog import FormCatalog
from engine.clock import FrozenClock
from engine.db import transaction
from engine.identity import Actor
from engine.tables import AuditEvent, Instance
from tests.conftest import DESIGNER, TEST_PROCESSES

OUTLET = Actor("outlet", frozenset({"outlet"}))


def _two_instances(factory: sessionmaker[Session], clock: FrozenClock, catalog: FormCatalog) -> list[object]:
    path = TEST_PROCESSES / "two_step_review.bpmn"
    with transaction(factory) as session:
        definitions.deploy(session, clock, catalog, actor=DESIGNER, filename=path.name, content=path.read_bytes())
    ids = []
    for _ in range(2):
        with transaction(factory) as session:
            ids.append(instances.start_instance(session, clock, catalog, actor=OUTLET,
                                                definition_key="two_step_review",
                                                variables={"days": 1}).summary.instance_id)
    return ids


def test_untouched_history_verifies(factory: sessionmaker[Session], clock: FrozenClock, catalog: FormCatalog) -> None:
    _two_instances(factory, clock, catalog)
    with factory() as session:
        checked, breaks = verify_chains(session)
    assert checked >= 7 and breaks == []


def test_edited_and_deleted_rows_are_reported(factory: sessionmaker[Session], clock: FrozenClock,
                                              catalog: FormCatalog) -> None:
    first, second = _two_instances(factory, clock, catalog)
    with factory() as session:
        edited = session.scalars(select(AuditEvent.event_id).where(AuditEvent.instance_id == first)
                                 .order_by(AuditEvent.event_id)).all()[1]
        removed = session.scalars(select(AuditEvent.event_id).where(AuditEvent.instance_id == second)
                                  .order_by(AuditEvent.event_id)).all()[0]
    with factory() as session, session.begin():  # behind the engine's back
        session.execute(update(AuditEvent).where(AuditEvent.event_id == edited).values(actor="mallory"))
        session.execute(text("DELETE FROM audit_events WHERE event_id = :id"), {"id": removed})
    with factory() as session:
        _, breaks = verify_chains(session)
    with factory() as session:
        first_remaining = session.scalars(select(AuditEvent.event_id).where(AuditEvent.instance_id == second)
                                          .order_by(AuditEvent.event_id)).first()
    by_chain = {b.instance_id: b for b in breaks}
    assert set(by_chain) == {first, second}
    assert by_chain[first].event_id == edited and "edited" in by_chain[first].problem
    assert by_chain[second].event_id == first_remaining and "removed or inserted" in by_chain[second].problem


def test_cli_verify_exits_non_zero_on_tampering(factory: sessionmaker[Session], clock: FrozenClock,
                                                catalog: FormCatalog, db_engine: Engine, tmp_path: Path) -> None:
    first, _ = _two_instances(factory, clock, catalog)
    env = {**os.environ, "TIXI_DATABASE_URL": db_engine.url.render_as_string(hide_password=False),
           "TIXI_SECRET_FILE": str(tmp_path / "secret.key")}
    runner = CliRunner()
    ok = runner.invoke(cli, ["audit", "verify"], env=env)
    assert ok.exit_code == 0, ok.output
    assert "every chain is intact" in ok.output
    with factory() as session, session.begin():
        session.execute(update(AuditEvent).where(AuditEvent.instance_id == first)
                        .values(data={"variables": {"days": 999}}))
    bad = runner.invoke(cli, ["audit", "verify"], env=env)
    assert bad.exit_code == 1
    assert f"chain {first}" in bad.output


def test_the_case_row_carries_its_chain_tail(factory: sessionmaker[Session], clock: FrozenClock,
                                              catalog: FormCatalog) -> None:
    first, second = _two_instances(factory, clock, catalog)
    with factory() as session:
        for instance_id in (first, second):
            last = session.scalars(select(AuditEvent.row_hash).where(AuditEvent.instance_id == instance_id)
                                   .order_by(AuditEvent.event_id.desc())).first()
            assert session.get_one(Instance, instance_id).audit_tail == last


def test_a_removed_last_row_is_reported(factory: sessionmaker[Session], clock: FrozenClock,
                                        catalog: FormCatalog) -> None:
    """A chain cut short still links row to row; the tail on the case's row is what no longer matches."""
    first, _ = _two_instances(factory, clock, catalog)
    with factory() as session:
        rows = session.scalars(select(AuditEvent.event_id).where(AuditEvent.instance_id == first)
                               .order_by(AuditEvent.event_id)).all()
    with factory() as session, session.begin():  # behind the engine's back
        session.execute(text("DELETE FROM audit_events WHERE event_id = :id"), {"id": rows[-1]})
    with factory() as session:
        _, breaks = verify_chains(session)
    assert [(b.instance_id, b.event_id) for b in breaks] == [(first, rows[-2])]
    assert "last row" in breaks[0].problem


def test_a_comment_appends_to_the_tail_on_the_case_row(factory: sessionmaker[Session], clock: FrozenClock,
                                                       catalog: FormCatalog) -> None:
    """An append outside a step (no case row in the session) locks the row, reads and then sets its tail."""
    first, _ = _two_instances(factory, clock, catalog)
    for n in range(2):
        with transaction(factory) as session:
            record_event(session, clock, actor="admin", event_type="note", instance_id=first, data={"n": n})
    with factory() as session:
        assert verify_chains(session)[1] == []
        version = session.get_one(Instance, first).lock_version
    with transaction(factory) as session:
        record_event(session, clock, actor="admin", event_type="note", instance_id=first, data={"n": 2})
    with factory() as session:
        assert session.get_one(Instance, first).lock_version == version  # no concurrent step of the case fails
        assert verify_chains(session)[1] == []
