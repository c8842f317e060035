"""Large case data cannot take a server's memory (finding 9): a case's data has a cap, the workflow cache a byte budget.

Six 9 MB starts took a server from 437 to 1,079 MiB: the workflow cache kept every one. Now a step
that would grow a case past `max_case_data_bytes` is refused and stores nothing, and the cache
weighs what it keeps by case data, so a few large cases push others out instead of adding up.
"""

from __future__ import annotations

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session, sessionmaker

from engine import definitions, instances
from engine.bundles import bundle_of
from engine.catalog import FormCatalog
from engine.clock import FrozenClock
from engine.config import EngineConfig
from engine.db import transaction
from engine.errors import CaseDataTooLargeError
from engine.identity import Actor
from engine.tables import AuditEvent, Instance
from engine.workflow_store import session_factory, store_of
from tests.conftest import DESIGNER, TEST_PROCESSES

OUTLET = Actor("outlet", frozenset({"outlet"}))
PROCESS = TEST_PROCESSES / "two_step_review.bpmn"


def _deploy(factory: sessionmaker[Session], clock: FrozenClock, catalog: FormCatalog) -> None:
    with transaction(factory) as session:
        definitions.deploy(session, clock, catalog, actor=DESIGNER, filename=PROCESS.name, content=PROCESS.read_bytes())


def test_a_step_past_the_case_data_cap_is_refused_and_stores_nothing(
    db_engine: Engine, factory: sessionmaker[Session], clock: FrozenClock, catalog: FormCatalog,
) -> None:
    capped = session_factory(db_engine, EngineConfig(max_case_data_bytes=100_000))
    _deploy(capped, clock, catalog)
    with capped() as session:
        before = (session.scalar(select(func.count()).select_from(Instance)),
                  session.scalar(select(func.count()).select_from(AuditEvent)))
    with pytest.raises(CaseDataTooLargeError) as refused:
        with transaction(capped) as session:
            instances.start_instance(session, clock, catalog, actor=OUTLET, definition_key="two_step_review",
                                     variables={"days": 3, "notes": "维修记录 / repair log " * 6_000})
    assert refused.value.extras()["limit"] == 100_000 and refused.value.extras()["size"] > 100_000
    with capped() as session:
        after = (session.scalar(select(func.count()).select_from(Instance)),
                 session.scalar(select(func.count()).select_from(AuditEvent)))
    assert after == before
    with transaction(capped) as session:  # under the cap, the same start goes through
        instances.start_instance(session, clock, catalog, actor=OUTLET, definition_key="two_step_review",
                                 variables={"days": 3, "notes": "维修记录 / repair log " * 100})


def test_the_workflow_cache_keeps_large_cases_within_its_byte_budget(
    db_engine: Engine, factory: sessionmaker[Session], clock: FrozenClock, catalog: FormCatalog,
) -> None:
    budget = 1024 * 1024
    small = session_factory(db_engine, EngineConfig(workflow_cache_size=256, workflow_cache_bytes=budget))
    _deploy(small, clock, catalog)
    started = []
    for _ in range(5):  # five cases of ~400 KB each: two fit in the budget, not five
        with transaction(small) as session:
            detail = instances.start_instance(session, clock, catalog, actor=OUTLET, definition_key="two_step_review",
                                              variables={"days": 3, "notes": "x" * 400_000})
            started.append(detail.summary.instance_id)
    with small() as session:
        cache = store_of(session).cache
        assert cache is not None
        revisions = {i: session.get(Instance, i).state_revision for i in started}  # type: ignore[union-attr]
    kept = []
    for instance_id in started:
        with small() as session:
            record = session.get(Instance, instance_id)
            assert record is not None
            if cache.take(instance_id, revisions[instance_id], bundle_of(session, record).cache_key) is not None:
                kept.append(instance_id)
    assert kept == started[-2:]  # the most recent within the budget; the older ones were pushed out
