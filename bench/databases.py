"""Scratch databases for the benchmarks: an SQLite file in a temporary folder, or a throw-away
PostgreSQL database created on the test server (as tests/conftest.py does) and dropped afterwards.
"""

from __future__ import annotations

import os
import sqlite3
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import Engine, create_engine, text

from engine.catalog import DEFAULT_FORMS_DIR, FormCatalog
from engine.clock import FrozenClock
from engine.db import make_engine, make_session_factory, transaction
from engine.definitions import DefinitionInfo, deploy_files
from engine.identity import Actor
from engine.migrations import upgrade_to_head

PROCESSES = Path(__file__).resolve().parent / "processes"
DESIGNER = Actor("designer", frozenset({"designer"}))


def postgres_server_url() -> str:
    url = os.environ.get("TIXI_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
    return url.replace("postgresql://", "postgresql+psycopg://", 1)


@contextmanager
def scratch_database(kind: str) -> Iterator[Engine]:
    """A migrated, empty database of `kind` ("sqlite" or "postgresql"), gone after the block."""
    if kind == "sqlite":
        with tempfile.TemporaryDirectory(prefix="tixi-bench-") as folder:
            engine = make_engine(f"sqlite:///{folder}/bench.db")
            try:
                upgrade_to_head(engine)
                yield engine
            finally:
                engine.dispose()
        return
    server_url = postgres_server_url()
    name = f"tixi_bench_{uuid.uuid4().hex[:12]}"
    admin = create_engine(server_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    engine = make_engine(server_url.rsplit("/", 1)[0] + f"/{name}")
    try:
        upgrade_to_head(engine)
        yield engine
    finally:
        engine.dispose()
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def deploy_bench_process(engine: Engine, clock: FrozenClock, catalog: FormCatalog, filename: str) -> DefinitionInfo:
    path = PROCESSES / filename
    with transaction(make_session_factory(engine)) as session:
        return deploy_files(session, clock, catalog, actor=DESIGNER, files=[(path.name, path.read_bytes())])[0]


def form_catalog() -> FormCatalog:
    return FormCatalog(DEFAULT_FORMS_DIR)


def versions() -> dict[str, str]:
    """SQLite library and PostgreSQL server versions, for RESULTS.md."""
    found = {"sqlite": sqlite3.sqlite_version}
    try:
        admin = create_engine(postgres_server_url())
        with admin.connect() as conn:
            found["postgresql"] = str(conn.scalar(text("SHOW server_version")))
        admin.dispose()
    except Exception as error:  # noqa: BLE001 - only for the machine description
        found["postgresql"] = f"unreachable ({type(error).__name__})"
    return found
