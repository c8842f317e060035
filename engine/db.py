"""Database engines and sessions for SQLite (embedded default) and PostgreSQL."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, exc, text
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.orm.exc import StaleDataError

from engine.config import postgres_server_url
from engine.errors import ConcurrentUpdateError


def make_engine(url: str, **kwargs: Any) -> Engine:
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    if url.startswith("sqlite"):
        return _make_sqlite_engine(url, **kwargs)
    engine = create_engine(url, **kwargs)
    # An executemany INSERT with no RETURNING (the history rows, engine/audit.py) as one multi-row
    # statement, as SQLAlchemy does for psycopg2, instead of psycopg's pipeline of one INSERT per row.
    engine.dialect.use_insertmanyvalues_wo_returning = True
    _ping_after_idle(engine)
    return engine


# A pooled connection idle this long is pinged before use; a busier one is used as it is.
IDLE_BEFORE_PING_SECONDS = 10.0


def _ping_after_idle(engine: Engine) -> None:
    """Check a pooled connection before handing it out, but only if it sat idle for a while.

    A database restarted or a connection cut while the pool held it shows up on the first use after
    a pause; under load connections come back within milliseconds and are live. SQLAlchemy's
    `pool_pre_ping` pings at every checkout: one more round trip per transaction, 3-6 % of a step
    on PostgreSQL (issue 18's profile). Raising DisconnectionError makes the pool discard the
    connection and open a new one, as pre-ping does.
    """

    @event.listens_for(engine, "checkin")
    def _on_checkin(_dbapi_connection: Any, record: Any) -> None:
        record.info["idle_since"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _on_checkout(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        idle_since = record.info.get("idle_since")
        if idle_since is None or time.monotonic() - idle_since < IDLE_BEFORE_PING_SECONDS:
            return
        try:
            with dbapi_connection.cursor() as cursor:
                cursor.execute("SELECT 1")
            dbapi_connection.rollback()  # end the ping's transaction; the pool hands out a clean connection
        except Exception as error:  # any driver error here means the connection is gone
            raise exc.DisconnectionError() from error


def _make_sqlite_engine(url: str, **kwargs: Any) -> Engine:
    path = url.split("///", 1)[-1]
    if path and path != ":memory:":
        Path(path).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False}, **kwargs)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Take transaction control away from pysqlite so that BEGIN IMMEDIATE below is honoured.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        # SQLite has no SELECT ... FOR UPDATE: taking the write lock at BEGIN serialises writers,
        # so a read-modify-write of an instance cannot interleave with another one. A read (`reading`)
        # takes no lock and opens no transaction: each statement is its own, in autocommit.
        if not connection.get_execution_options().get(READS_ONLY):
            connection.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


def flush(session: Session) -> None:
    """Flush, turning a lost optimistic-lock race into a conflict the caller can report."""
    try:
        session.flush()
    except StaleDataError:
        raise ConcurrentUpdateError("the instance was changed by someone else at the same moment; reload and retry") from None


@contextmanager
def transaction(factory: sessionmaker[Session]) -> Iterator[Session]:
    """One unit of work: commit on success, roll back on any error."""
    with factory() as session, session.begin():
        yield session


READS_ONLY = "tixi_reads_only"  # the execution option that marks a read's connection (`reading`)


@contextmanager
def reading(session: Session) -> Iterator[Session]:
    """Reads outside a transaction: no BEGIN or COMMIT goes to the database, and SQLite takes no lock.

    Each statement sees what was committed before it started, as in a READ COMMITTED transaction
    (PostgreSQL's default), so a read loses nothing by it. Nothing may be written: a write would
    commit statement by statement, so the session does not autoflush, and a change left in it is
    a programming error.
    """
    sqlite = session.get_bind().dialect.name == "sqlite"
    # SQLite's connections are in autocommit already (the BEGIN IMMEDIATE above is ours); psycopg's are not.
    session.connection(execution_options={READS_ONLY: True} if sqlite
                       else {READS_ONLY: True, "isolation_level": "AUTOCOMMIT"})
    try:
        with session.no_autoflush:
            yield session
        if session.new or session.dirty or session.deleted:
            raise RuntimeError("a read changed rows: run it in a transaction")
    except BaseException:
        session.rollback()
        raise
    # Sends nothing in autocommit; ends the session's transaction as a write's does, so what it read
    # stays loaded and the workflows it read go back to the cache (engine/workflow_cache.py).
    session.commit()


@contextmanager
def scratch_postgres_database(prefix: str) -> Iterator[Engine]:
    """An engine on a new, empty PostgreSQL database, dropped (with its connections) afterwards."""
    server_url = postgres_server_url()
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    admin = create_engine(server_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    engine = make_engine(server_url.rsplit("/", 1)[0] + f"/{name}")
    try:
        yield engine
    finally:
        engine.dispose()
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
