"""Reads commit nothing (issue 18): the queue, a task, a case and the pages are read without BEGIN or COMMIT.

On PostgreSQL a read in a transaction cost two round trips more than its statements (BEGIN, COMMIT);
on SQLite every read took the write lock (`BEGIN IMMEDIATE`), so a page view waited behind each
writer (up to four times: its reader's look-up, the bell, the navigation's counts, the page).
`engine.db.reading` runs reads in autocommit; the API's read routes and the pages use it.
"""

from __future__ import annotations

import re
import sqlite3
import threading
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from httpx import Response
from sqlalchemy import Engine, event, select
from sqlalchemy.orm import Session, sessionmaker

from engine import instances
from engine.bundles import bundle_of
from engine.catalog import FormCatalog
from engine.clock import FrozenClock
from engine.db import reading, transaction
from engine.identity import Actor
from engine.tables import Instance, Task, User
from engine.workflow_store import store_of
from tests.api.test_web_session import web_login
from tests.conftest import start_two_task_case

OUTLET = Actor("outlet", frozenset({"outlet"}))


@pytest.fixture
def sent(db_engine: Engine, tmp_path: Path) -> Iterator[Callable[[], list[str]]]:
    """BEGIN, COMMIT and ROLLBACK sent since the last call (a test logs in first, then reads):
    SQLite's through the cursor, PostgreSQL's from libpq's trace."""
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
            path.unlink()  # read once: the next checkout's trace may take its name
        return _transaction_statements(seen)

    event.listen(db_engine, "checkout", on_checkout)
    yield read_trace
    event.remove(db_engine, "checkout", on_checkout)
    read_trace()


def _transaction_statements(seen: list[str]) -> list[str]:
    found = [s for s in seen if s.upper().startswith(("BEGIN", "COMMIT", "ROLLBACK"))]
    seen.clear()
    return found


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
    headers = login("rcc_director")
    assert _answers_while_a_writer_holds_sqlite(db_engine, lambda: client.get("/api/tasks", headers=headers)) == [200]


# Pages that read a case (the inbox, a task, a case) and others; each runs the look-up of its reader,
# its own reads and the navigation's counts.
PAGES = ("/tasks", "/tasks/{task_id}", "/instances/{instance_id}", "/tasks/done", "/started", "/notifications",
         "/account", "/processes", "/admin/users")


def test_every_page_is_read_while_a_writer_holds_sqlite(db_engine: Engine, client: TestClient,
                                                       case: dict[str, uuid.UUID]) -> None:
    """One test for all pages: on PostgreSQL, where it is skipped, there is nothing to wait for."""
    web_login(client, "admin")
    answers = {page: _answers_while_a_writer_holds_sqlite(db_engine, lambda page=page: client.get(page.format(**case)))
               for page in PAGES}
    assert answers == {page: [200] for page in PAGES}


@pytest.mark.parametrize("page", PAGES)
def test_a_page_view_sends_no_begin_and_no_commit(client: TestClient, sent: Callable[[], list[str]], page: str,
                                                  case: dict[str, uuid.UUID]) -> None:
    web_login(client, "admin")
    sent()  # the login's
    assert client.get(page.format(**case)).status_code == 200
    assert sent() == []


@pytest.mark.parametrize("path", ("/api/my/counts", "/api/my/done", "/api/notifications", "/api/definitions",
                                  "/api/groups", "/api/regions", "/api/instances/{instance_id}/attachments"))
def test_an_api_read_sends_no_begin_and_no_commit(client: TestClient, login: Callable[[str], dict[str, str]],
                                                  sent: Callable[[], list[str]], path: str,
                                                  case: dict[str, uuid.UUID]) -> None:
    headers = login("admin")
    sent()  # the login's
    assert client.get(path.format(**case), headers=headers).status_code == 200
    assert sent() == []


def _answers_while_a_writer_holds_sqlite(db_engine: Engine, get: Callable[[], Response]) -> list[int]:
    """The status of `get`, sent while another connection holds SQLite's write lock (within 10 s, or none)."""
    if db_engine.dialect.name != "sqlite":
        pytest.skip("PostgreSQL readers never waited for writers")
    writer = sqlite3.connect(str(db_engine.url.database), isolation_level=None)
    writer.execute("BEGIN IMMEDIATE")
    answers: list[int] = []
    reader = threading.Thread(target=lambda: answers.append(get().status_code))
    try:
        reader.start()
        reader.join(timeout=10)
        return list(answers)  # as they are now: the reader may answer once the writer lets go, below
    finally:
        writer.execute("ROLLBACK")
        writer.close()
        reader.join()


@pytest.fixture
def case(factory: sessionmaker[Session], clock: FrozenClock, catalog: FormCatalog) -> dict[str, uuid.UUID]:
    """A running case of the two-task process and its open task, by the names the paths above use."""
    instance_id = start_two_task_case(factory, clock, catalog)
    with factory() as session:
        task_id = session.scalars(select(Task.task_id).where(Task.instance_id == instance_id)).one()
    return {"instance_id": instance_id, "task_id": task_id}


def test_a_case_read_gives_its_workflow_back_to_the_cache(factory: sessionmaker[Session], clock: FrozenClock,
                                                         catalog: FormCatalog) -> None:
    """A read takes the case's workflow from the server's cache and must give it back, as a commit does."""
    instance_id = start_two_task_case(factory, clock, catalog)
    with factory() as session, reading(session):
        instances.get_instance(session, actor=OUTLET, instance_id=instance_id)
    with factory() as session:
        record = session.get(Instance, instance_id)
        cache = store_of(session).cache
        assert record is not None and cache is not None
        bundle = bundle_of(session, record)
        assert cache.take(instance_id, record.state_revision, bundle.cache_key) is not None
