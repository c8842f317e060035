"""Reads commit nothing (issue 18): the queue, a task and a case are read without BEGIN or COMMIT.

On PostgreSQL a read in a transaction cost two round trips more than its statements (BEGIN, COMMIT);
on SQLite every read took the write lock (`BEGIN IMMEDIATE`), so a page view waited behind each
writer. `engine.db.reading` runs reads in autocommit, and the API's read routes use it.
"""

from __future__ import annotations

import re
import sqlite3
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, event, select
from sqlalchemy.orm import Session, sessionmaker

from engine import definitions, instances
from engine.bundles import bundle_of
from engine.catalog import FormCatalog
from engine.clock import FrozenClock
from engine.db import reading, transaction
from engine.identity import Actor
from engine.tables import Instance, User
from engine.workflow_store import store_of
from tests.conftest import DESIGNER

MINIMAL = Path(__file__).resolve().parents[2] / "bench" / "processes" / "minimal_two_tasks.bpmn"
OUTLET = Actor("outlet", frozenset({"outlet"}))


@pytest.fixture
def sent(db_engine: Engine, tmp_path: Path) -> Iterator[Callable[[], list[str]]]:
    """BEGIN, COMMIT and ROLLBACK as sent so far: SQLite's through the cursor, PostgreSQL's from libpq's trace."""
    seen: list[str] = []
    if db_engine.dialect.name == "sqlite":
        def on_statement(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
            seen.append(statement)
        event.listen(db_engine, "before_cursor_execute", on_statement)
        yield lambda: _transaction_statements(seen)
        event.remove(db_engine, "before_cursor_execute", on_statement)
        return
    # psycopg sends BEGIN and COMMIT as simple queries of its own, not through a cursor.
    traced: list[tuple[Any, Any]] = []

    def on_checkout(dbapi_connection: Any, _record: Any, _proxy: Any) -> None:
        file = (tmp_path / f"trace-{len(traced)}.txt").open("w")
        dbapi_connection.pgconn.trace(file.fileno())
        traced.append((dbapi_connection, file))

    def read_trace() -> list[str]:
        for dbapi_connection, file in traced:
            dbapi_connection.pgconn.untrace()  # flushes libpq's trace
            file.close()
        traced.clear()
        for path in sorted(tmp_path.glob("trace-*.txt")):
            seen.extend(query.group(1) for line in path.read_text().splitlines()
                        if (query := re.search(r'(?:^|\t)F\t\d+\tQuery\t\s*"(.*)"', line)))
        return _transaction_statements(seen)

    event.listen(db_engine, "checkout", on_checkout)
    yield read_trace
    event.remove(db_engine, "checkout", on_checkout)
    read_trace()


def _transaction_statements(seen: list[str]) -> list[str]:
    return [s for s in seen if s.upper().startswith(("BEGIN", "COMMIT", "ROLLBACK"))]


def test_a_read_sends_no_begin_and_no_commit(factory: sessionmaker[Session],
                                             sent: Callable[[], list[str]]) -> None:
    with factory() as session, reading(session):
        assert session.scalar(select(User.username).where(User.username == "outlet")) == "outlet"
    assert sent() == []


def test_a_write_still_runs_in_a_transaction(factory: sessionmaker[Session], sent: Callable[[], list[str]],
                                             db_engine: Engine) -> None:
    """The connection a read had goes back as it was: the next write begins and commits."""
    with factory() as session, reading(session):
        session.scalar(select(User.username))
    with transaction(factory) as session:
        session.scalar(select(User.username))
    # SQLite: our BEGIN IMMEDIATE (its COMMIT is the driver's, not a statement); PostgreSQL: BEGIN and COMMIT.
    assert [s.split(" ")[0] for s in sent()] == (["BEGIN"] if db_engine.dialect.name == "sqlite"
                                                 else ["BEGIN", "COMMIT"])


def test_a_read_that_changes_a_row_is_refused_and_nothing_is_written(factory: sessionmaker[Session]) -> None:
    with pytest.raises(RuntimeError, match="run it in a transaction"):
        with factory() as session, reading(session):
            user = session.scalars(select(User).where(User.username == "outlet")).one()
            user.display_name = "changed by a read"
            session.scalar(select(User.username).where(User.username == "admin"))  # no autoflush here
    with factory() as session:
        assert session.scalars(select(User).where(User.username == "outlet")).one().display_name != "changed by a read"


def test_the_queue_is_read_while_a_writer_holds_sqlite(db_engine: Engine, client: TestClient,
                                                      login: Callable[[str], dict[str, str]]) -> None:
    """Before, a page view took SQLite's write lock too, and waited behind every writer."""
    if db_engine.dialect.name != "sqlite":
        pytest.skip("PostgreSQL readers never waited for writers")
    headers = login("rcc_director")
    writer = sqlite3.connect(str(db_engine.url.database), isolation_level=None)
    writer.execute("BEGIN IMMEDIATE")
    answers: list[int] = []
    reader = threading.Thread(target=lambda: answers.append(client.get("/api/tasks", headers=headers).status_code))
    try:
        reader.start()
        reader.join(timeout=10)
        assert answers == [200]
    finally:
        writer.execute("ROLLBACK")
        writer.close()
        reader.join()


def test_a_case_read_gives_its_workflow_back_to_the_cache(factory: sessionmaker[Session], clock: FrozenClock,
                                                         catalog: FormCatalog) -> None:
    """A read takes the case's workflow from the server's cache and must give it back, as a commit does."""
    with transaction(factory) as session:
        definitions.deploy(session, clock, catalog, actor=DESIGNER, filename=MINIMAL.name,
                           content=MINIMAL.read_bytes())
    with transaction(factory) as session:
        instance_id = instances.start_instance(session, clock, catalog, actor=OUTLET,
                                               definition_key="minimal_two_tasks").summary.instance_id
    with factory() as session, reading(session):
        instances.get_instance(session, actor=OUTLET, instance_id=instance_id)
    with factory() as session:
        record = session.get(Instance, instance_id)
        cache = store_of(session).cache
        assert record is not None and cache is not None
        bundle = bundle_of(session, record)
        assert cache.take(instance_id, record.state_revision, bundle.cache_key) is not None
