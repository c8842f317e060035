"""Hot statements are built once per actor and shape of filters (issue 18), their values bound per call.

Building a statement cost more CPU than PostgreSQL spent running it, so the queue, the task read
and the case's detail keep theirs. What must not follow from that: a value of one call reaching
the next (a business key, a task id), or one person's view of the queue serving another's.
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy.orm import Session, sessionmaker

from engine import definitions, instances, task_queue, tasks
from engine.catalog import FormCatalog
from engine.clock import FrozenClock
from engine.db import transaction
from engine.errors import NotFoundError
from engine.identity import Actor
from tests.conftest import DESIGNER

MINIMAL = Path(__file__).resolve().parents[2] / "bench" / "processes" / "minimal_two_tasks.bpmn"
OUTLET = Actor("outlet", frozenset({"outlet"}))
DIRECTOR = Actor("rcc_director", frozenset({"rcc_director"}))
STRANGER = Actor("stranger", frozenset({"training"}))


def _start_two(factory: sessionmaker[Session], clock: FrozenClock, catalog: FormCatalog) -> dict[str, object]:
    with transaction(factory) as session:
        definitions.deploy(session, clock, catalog, actor=DESIGNER, filename=MINIMAL.name, content=MINIMAL.read_bytes())
    started = {}
    for key in ("case-a", "case-b"):
        with transaction(factory) as session:
            started[key] = instances.start_instance(session, clock, catalog, actor=OUTLET,
                                                    definition_key="minimal_two_tasks", business_key=key)
    return started


def test_each_call_of_a_kept_queue_statement_reads_its_own_filter_values(
    factory: sessionmaker[Session], clock: FrozenClock, catalog: FormCatalog
) -> None:
    started = _start_two(factory, clock, catalog)
    before = task_queue._queue_statement.cache_info()
    for key in ("case-a", "case-b", "case-a"):
        with transaction(factory) as session:
            page = task_queue.list_tasks(session, actor=DIRECTOR, business_key=key)
        assert [item.business_key for item in page.items] == [key]
        assert page.items[0].task_id == started[key].waiting_tasks[0].task_id  # type: ignore[attr-defined]
        assert page.total == 1
    # Three calls of one shape: built at most once, then kept.
    after = task_queue._queue_statement.cache_info()
    assert after.misses - before.misses <= 1
    assert after.hits - before.hits >= 2
    with transaction(factory) as session:
        whole = task_queue.list_tasks(session, actor=DIRECTOR)
        one_per_page = task_queue.list_tasks(session, actor=DIRECTOR, limit=1, offset=1)
    assert {item.business_key for item in whole.items} == {"case-a", "case-b"}
    assert len(one_per_page.items) == 1 and one_per_page.total == 2
    assert one_per_page.items[0].task_id == whole.items[1].task_id


def test_a_kept_task_read_is_per_actor_and_binds_the_task_id(
    factory: sessionmaker[Session], clock: FrozenClock, catalog: FormCatalog
) -> None:
    started = _start_two(factory, clock, catalog)
    a, b = (started[k].waiting_tasks[0].task_id for k in ("case-a", "case-b"))  # type: ignore[attr-defined]
    with transaction(factory) as session:
        assert tasks.visible_task(session, DIRECTOR, a)[0].task_id == a
        assert tasks.visible_task(session, DIRECTOR, b)[0].task_id == b
    # The director's kept statement does not serve someone outside the task's groups.
    with transaction(factory) as session:
        try:
            tasks.visible_task(session, STRANGER, a)
        except NotFoundError:
            pass
        else:
            raise AssertionError("a person outside the task's groups read it")
    # Nor an actor whose groups changed: the same name with the task's group sees it.
    joined = Actor("stranger", frozenset({"training", "rcc_director"}))
    with transaction(factory) as session:
        assert tasks.visible_task(session, joined, a)[0].task_id == a
