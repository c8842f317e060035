"""Migration 0022 puts each case's chain tail on its row: the hash of its last history row."""

from __future__ import annotations

from sqlalchemy import Engine, select, update

from engine import definitions, instances
from engine.audit import verify_chains
from engine.catalog import DEFAULT_FORMS_DIR, FormCatalog
from engine.clock import FrozenClock
from engine.db import transaction
from engine.identity import Actor, sync_demo_users
from engine.migrations import downgrade_to, upgrade_to_head
from engine.tables import AuditEvent, Instance
from tests.conftest import DESIGNER, TEST_PROCESSES, sessions
from tests.engine.test_migrations import blank_engine  # noqa: F401 - the fixture

OUTLET = Actor("outlet", frozenset({"outlet"}))


def test_upgrade_backfills_every_case_tail(blank_engine: Engine) -> None:  # noqa: F811
    upgrade_to_head(blank_engine)
    factory, clock, catalog = sessions(blank_engine), FrozenClock(), FormCatalog(DEFAULT_FORMS_DIR)
    path = TEST_PROCESSES / "two_step_review.bpmn"
    with transaction(factory) as session:
        sync_demo_users(session, clock, enabled=True)
        definitions.deploy(session, clock, catalog, actor=DESIGNER, filename=path.name, content=path.read_bytes())
        for _ in range(2):
            instances.start_instance(session, clock, catalog, actor=OUTLET, definition_key="two_step_review",
                                     variables={"days": 3})
    downgrade_to(blank_engine, "0021")
    upgrade_to_head(blank_engine)
    with factory() as session:
        rows = session.execute(select(Instance.instance_id, Instance.audit_tail)).all()
        assert len(rows) == 2
        for instance_id, tail in rows:
            last = session.scalars(select(AuditEvent.row_hash).where(AuditEvent.instance_id == instance_id)
                                   .order_by(AuditEvent.event_id.desc())).first()
            assert tail == last and tail
        assert verify_chains(session)[1] == []
    with factory() as session, session.begin():  # a tail not the chain's is found
        session.execute(update(Instance).where(Instance.instance_id == rows[0][0]).values(audit_tail="0" * 64))
    with factory() as session:
        assert [b.instance_id for b in verify_chains(session)[1]] == [rows[0][0]]
