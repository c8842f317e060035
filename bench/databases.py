"""Scratch databases for the benchmarks: an SQLite file in a temporary folder, or a throw-away
PostgreSQL database created on the test server (as tests/conftest.py does) and dropped afterwards.
"""

from __future__ import annotations

import sqlite3
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import Engine, create_engine, text

from engine.catalog import DEFAULT_FORMS_DIR, FormCatalog
from engine.clock import FrozenClock
from engine.config import DEFAULT_DEMO_DIR, EngineConfig, postgres_server_url
from engine.db import make_engine, scratch_postgres_database, transaction
from engine.definitions import DefinitionInfo, deploy_files
from engine.demo_network import sync_demo_network
from engine.identity import Actor
from engine.migrations import upgrade_to_head
from engine.workflow_store import session_factory

PROCESSES = Path(__file__).resolve().parent / "processes"
SERVICE_PROCESSES = Path(__file__).resolve().parent.parent / "processes"
DESIGNER = Actor("designer", frozenset({"designer"}))


@contextmanager
def scratch_database(kind: str) -> Iterator[Engine]:
    """A migrated, empty database of `kind` ("sqlite" or "postgresql"), gone after the block."""
    if kind == "sqlite":
        with tempfile.TemporaryDirectory(prefix="tixi-bench-") as folder:
            engine = make_engine(f"sqlite:///{folder}/bench.db")
            try:
                upgrade_to_head(engine)
                _enter_network(engine)
                yield engine
            finally:
                engine.dispose()
        return
    with scratch_postgres_database("tixi_bench") as engine:
        upgrade_to_head(engine)
        _enter_network(engine)
        yield engine


def _enter_network(engine: Engine) -> None:
    """The demo network's regions and outlets: the service processes dispatch to them and check them."""
    with transaction(session_factory(engine, EngineConfig())) as session:
        sync_demo_network(session, FrozenClock(), DEFAULT_DEMO_DIR, customers=False, staff=False)


def deploy_bench_process(engine: Engine, clock: FrozenClock, catalog: FormCatalog, filename: str) -> DefinitionInfo:
    path = PROCESSES / filename
    with transaction(session_factory(engine, EngineConfig())) as session:
        return deploy_files(session, clock, catalog, actor=DESIGNER, files=[(path.name, path.read_bytes())])[0]


def deploy_files_together(engine: Engine, clock: FrozenClock, catalog: FormCatalog,
                          filenames: tuple[str, ...]) -> list[DefinitionInfo]:
    """Deploy benchmark or service processes (bench/processes/ first, then processes/) as one deployment."""
    paths = [PROCESSES / name if (PROCESSES / name).exists() else SERVICE_PROCESSES / name for name in filenames]
    with transaction(session_factory(engine, EngineConfig())) as session:
        return deploy_files(session, clock, catalog, actor=DESIGNER, files=[(p.name, p.read_bytes()) for p in paths])


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
