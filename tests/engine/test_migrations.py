"""Migrations: upgrade, downgrade, upgrade on both dialects, and the ORM agrees with the schema they build.

Each test gets a brand-new database (not the session-wide `db_engine`, which must stay at head):
an SQLite file, or a PostgreSQL database created and dropped on the test server.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, func, inspect, select

from engine import definitions, instances
from engine.catalog import DEFAULT_FORMS_DIR, FormCatalog
from engine.clock import FrozenClock
from engine.db import make_engine, scratch_postgres_database, transaction
from engine.identity import Actor, sync_demo_users
from engine.migrations import alembic_config, downgrade_to, upgrade_to_head
from engine.states import TaskStatus
from engine.tables import OPEN_TASKS, AuditEvent, Base, Group, Instance
from tests.conftest import DATABASES, DESIGNER, STANDARD_GROUPS, TEST_PROCESSES, sessions

APP_TABLES = set(Base.metadata.tables)


@pytest.fixture(params=DATABASES)
def blank_engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    """An engine on an empty database of the parametrized dialect, dropped afterwards."""
    if request.param == "sqlite":
        engine = make_engine(f"sqlite:///{tmp_path / 'migrations.db'}")
        yield engine
        engine.dispose()
        return
    with scratch_postgres_database("tixi_migrations") as engine:
        yield engine


def _tables(engine: Engine) -> set[str]:
    return set(inspect(engine).get_table_names()) - {"alembic_version"}


def _current_revision(engine: Engine) -> str | None:
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def _head(engine: Engine) -> str | None:
    return ScriptDirectory.from_config(alembic_config(engine)).get_current_head()


def _groups(engine: Engine) -> list[str]:
    with engine.connect() as conn:
        return list(conn.scalars(select(Group.group_id).order_by(Group.group_id)))


def _autogenerate_diff(engine: Engine) -> list[object]:
    with engine.connect() as conn:
        # The same options as engine/migrations/env.py, so the comparison is the one Alembic makes.
        context = MigrationContext.configure(conn, opts={"compare_type": True, "render_as_batch": True})
        return list(compare_metadata(context, Base.metadata))


def test_upgrade_downgrade_upgrade(blank_engine: Engine) -> None:
    assert _tables(blank_engine) == set()
    upgrade_to_head(blank_engine)
    assert _tables(blank_engine) == APP_TABLES
    assert _current_revision(blank_engine) == _head(blank_engine)

    downgrade_to(blank_engine, "base")
    assert _tables(blank_engine) == set()  # every table gone; only Alembic's bookkeeping is left
    assert _current_revision(blank_engine) is None
    if blank_engine.dialect.name == "postgresql":
        assert inspect(blank_engine).get_sequence_names() == []  # the audit_events id sequence too

    upgrade_to_head(blank_engine)
    assert _tables(blank_engine) == APP_TABLES
    assert _current_revision(blank_engine) == _head(blank_engine)
    assert _autogenerate_diff(blank_engine) == []


def test_standard_groups_are_seeded_once(blank_engine: Engine) -> None:
    upgrade_to_head(blank_engine)
    assert set(_groups(blank_engine)) == STANDARD_GROUPS
    upgrade_to_head(blank_engine)  # at head already: a no-op, no second seeding
    assert sorted(_groups(blank_engine)) == sorted(STANDARD_GROUPS)
    with blank_engine.connect() as conn:
        names = {group_id: name for group_id, name in conn.execute(select(Group.group_id, Group.name))}
        seeded_at = conn.scalar(select(func.min(Group.created_at)))
    assert names["rcc_director"].startswith("地区顾客服务中心主任")
    assert seeded_at is not None and seeded_at.tzinfo is not None  # UTC-aware, like every *_at column


def test_orm_and_migrations_agree(blank_engine: Engine) -> None:
    upgrade_to_head(blank_engine)
    assert _autogenerate_diff(blank_engine) == []


def test_downgrade_with_data_in_every_table(blank_engine: Engine) -> None:
    # Foreign keys between tables holding rows must not stop a downgrade on either dialect.
    upgrade_to_head(blank_engine)
    factory, clock = sessions(blank_engine), FrozenClock()
    review = TEST_PROCESSES / "two_step_review.bpmn"
    with transaction(factory) as session:
        sync_demo_users(session, clock, enabled=True)
        definitions.deploy(session, clock, FormCatalog(DEFAULT_FORMS_DIR), actor=DESIGNER, filename=review.name,
                           content=review.read_bytes())
        instances.start_instance(session, clock, FormCatalog(DEFAULT_FORMS_DIR),
                                 actor=Actor("outlet", frozenset({"outlet"})), definition_key="two_step_review",
                                 variables={"days": 3})
    with factory() as session:
        assert session.scalar(select(func.count()).select_from(Instance)) == 1
        assert session.scalar(select(func.count()).select_from(AuditEvent)) > 0
    blank_engine.dispose()  # no pooled connection may hold a lock on the tables being dropped

    downgrade_to(blank_engine, "base")
    assert _tables(blank_engine) == set()
    upgrade_to_head(blank_engine)
    assert set(_groups(blank_engine)) == STANDARD_GROUPS
    with factory() as session:
        assert session.scalar(select(func.count()).select_from(Instance)) == 0


def test_the_open_task_indexes_name_the_open_status() -> None:
    assert OPEN_TASKS.text == f"status = '{TaskStatus.OPEN.value}'"
