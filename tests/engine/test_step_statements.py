"""A user step's statements (issue 18): the chain's tail comes with the case's row, the open 加签 with the task.

Each write step once locked the case's history chain and searched the history for its last hash
(two statements), and a completion looked for an open extra sign in a statement of its own. The
counts here are of the statements the driver sends inside the step's transaction.
"""

from __future__ import annotations

import re
import uuid
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from engine import definitions, instances, tasks
from engine.catalog import FormCatalog
from engine.clock import FrozenClock
from engine.db import transaction
from engine.identity import Actor
from engine.tables import Deadline, Instance
from tests.conftest import DESIGNER

# The benchmark's two-task case: no timers, due dates or deadlines, so the count is the step's own.
MINIMAL = Path(__file__).resolve().parents[2] / "bench" / "processes" / "minimal_two_tasks.bpmn"

OUTLET = Actor("outlet", frozenset({"outlet"}))
DIRECTOR = Actor("rcc_director", frozenset({"rcc_director"}))


def _waiting_review(factory: sessionmaker[Session], clock: FrozenClock, catalog: FormCatalog) -> uuid.UUID:
    with transaction(factory) as session:
        definitions.deploy(session, clock, catalog, actor=DESIGNER, filename=MINIMAL.name,
                           content=MINIMAL.read_bytes())
    with transaction(factory) as session:
        started = instances.start_instance(session, clock, catalog, actor=OUTLET, definition_key="minimal_two_tasks",
                                           variables={})
    return started.waiting_tasks[0].task_id


def _written(statements: list[str]) -> list[str]:
    """The statements of the step itself, without the transaction's BEGIN and COMMIT."""
    return [s for s in statements if s.split(" ", 1)[0] not in ("BEGIN", "BEGIN IMMEDIATE", "COMMIT", "ROLLBACK")]


def _about_the_chain(seen: list[str]) -> list[str]:
    """Statements that look for or lock a history chain, rather than write to it."""
    return [s for s in seen if "pg_advisory" in s or re.search(r"^SELECT .* FROM audit_events", s)]


def test_a_claim_reads_the_chain_tail_with_the_task(factory: sessionmaker[Session], clock: FrozenClock,
                                                    catalog: FormCatalog, statements: list[str]) -> None:
    task_id = _waiting_review(factory, clock, catalog)
    statements.clear()
    with transaction(factory) as session:
        tasks.claim_task(session, clock, actor=DIRECTOR, task_id=task_id)
    seen = _written(statements)
    assert _about_the_chain(seen) == [], seen
    # The task with its case (locked) and groups; the task's row, the history row, the case's tail.
    assert len(seen) == 4, seen


def test_a_completion_reads_the_chain_tail_and_the_open_sign_with_the_task(
        factory: sessionmaker[Session], clock: FrozenClock, catalog: FormCatalog, statements: list[str]) -> None:
    task_id = _waiting_review(factory, clock, catalog)
    with transaction(factory) as session:
        tasks.claim_task(session, clock, actor=DIRECTOR, task_id=task_id)
    statements.clear()
    with transaction(factory) as session:
        tasks.complete_task(session, clock, catalog, actor=DIRECTOR, task_id=task_id, data={"rcc_approved": True})
    seen = _written(statements)
    assert _about_the_chain(seen) == [], seen
    # A query of its own for the sign (the task load may name extra_signs in its visibility test).
    assert not [s for s in seen if re.search(r"^SELECT extra_signs\.", s)], seen
    # The total depends on the test server's settings (state verification, spilling, notifications);
    # bench/statements.py counts the warm server's.


def test_a_completion_that_claims_writes_the_case_row_once(
        factory: sessionmaker[Session], clock: FrozenClock, catalog: FormCatalog, statements: list[str]) -> None:
    """Claim and complete in one transaction (the API's `"claim": true`): one commit, one UPDATE of the case."""
    task_id = _waiting_review(factory, clock, catalog)
    statements.clear()
    with transaction(factory) as session:
        done = tasks.complete_task(session, clock, catalog, actor=DIRECTOR, task_id=task_id,
                                   data={"rcc_approved": True}, claim=True)
    assert (done.assignee, done.status) == ("rcc_director", "completed")
    seen = _written(statements)
    assert _about_the_chain(seen) == [], seen
    assert len([s for s in seen if s.startswith("UPDATE instances")]) == 1, seen
    assert len([s for s in seen if s.startswith("UPDATE tasks")]) == 1, seen


def test_a_start_inserts_the_case_once_with_its_state_and_reads_none_of_its_rows(
        factory: sessionmaker[Session], clock: FrozenClock, catalog: FormCatalog, statements: list[str]) -> None:
    """The case's row went out empty and was updated with its state; the step read task rows it cannot have,
    and the answer read back the tasks the start had just written."""
    _waiting_review(factory, clock, catalog)
    statements.clear()
    with transaction(factory) as session:
        started = instances.start_instance(session, clock, catalog, actor=OUTLET, definition_key="minimal_two_tasks",
                                           variables={})
    seen = _written(statements)
    assert len([s for s in seen if s.startswith("INSERT INTO instances")]) == 1, seen
    assert not [s for s in seen if s.startswith("UPDATE instances")], seen
    # The answer lists the tasks the start created as it wrote them: no statement reads them back.
    assert not [s for s in seen if re.match(r"SELECT .* FROM tasks", s)], seen
    with factory() as session:
        stored = session.get(Instance, started.summary.instance_id)
        assert stored is not None and stored.state and stored.audit_tail
        read_back = instances.get_instance(session, actor=OUTLET, instance_id=started.summary.instance_id)
    assert started.waiting_tasks == read_back.waiting_tasks
    assert [(t.name, t.candidate_groups) for t in started.waiting_tasks] == [("审核 / Review", ("rcc_director",))]


SLA_CASE = Path(__file__).resolve().parents[1] / "processes" / "sla_case.bpmn"
AGENT = Actor("rcc_agent", frozenset({"rcc_agent"}))


def test_a_new_case_goes_out_before_its_deadline_in_one_flush(
        factory: sessionmaker[Session], clock: FrozenClock, catalog: FormCatalog, statements: list[str]) -> None:
    """Without relationships the unit of work orders tables by class name: `Deadline` before `Instance`."""
    with transaction(factory) as session:
        definitions.deploy(session, clock, catalog, actor=DESIGNER, filename=SLA_CASE.name,
                           content=SLA_CASE.read_bytes())
    statements.clear()
    with transaction(factory) as session:
        started = instances.start_instance(session, clock, catalog, actor=AGENT, definition_key="sla_case",
                                           variables={})
    seen = _written(statements)
    inserts = [s.split(" ")[2] for s in seen if s.startswith("INSERT INTO")]
    assert inserts.count("instances") == 1 and inserts.index("instances") < inserts.index("deadlines"), seen
    assert not [s for s in seen if s.startswith("UPDATE instances")], seen
    with factory() as session:
        deadline = session.scalars(select(Deadline).where(Deadline.instance_id == started.summary.instance_id)).one()
        assert deadline.task_id is None  # the case's own commitment
