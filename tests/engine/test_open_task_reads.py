"""A case's open-task reads (every step's, and the case page's) probe that case's open rows: they
neither walk a row per task the case ever had (a looping case) nor every open task of every case.

SQLite plans without statistics, so its plan is fixed by the schema and checked here on a migrated
file (migration 0024); PostgreSQL's plan, which depends on its statistics, was read with EXPLAIN
(bench/RESULTS.md). No time is asserted."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

from sqlalchemy import Engine

from engine.instance_detail import _OPEN_TASKS_WITH_GROUPS
from engine.step_sync import _OPEN_OR_READY_TASKS
from tests.conftest import migrated_database

CASE_INDEX = "USING INDEX ix_tasks_instance_id_status_created_at_task_id (instance_id=? AND status=?)"


def _plan(engine: Engine, statement: Any) -> list[str]:
    sql = str(statement.compile(engine, compile_kwargs={"literal_binds": True}))
    with engine.connect() as connection:
        return [row[3] for row in connection.exec_driver_sql("EXPLAIN QUERY PLAN " + sql)]


def test_the_step_and_the_case_page_probe_the_cases_open_tasks(tmp_path: Path) -> None:
    case = uuid.uuid4()
    with migrated_database("sqlite", tmp_path, "plan") as engine:
        step = _plan(engine, _OPEN_OR_READY_TASKS.params(instance_id=case, ready=[uuid.uuid4()]))
        assert step[0] == "MULTI-INDEX OR" and any(CASE_INDEX in line for line in step), step
        assert any("USING INDEX sqlite_autoindex_tasks_1 (task_id=?)" in line for line in step), step
        page = _plan(engine, _OPEN_TASKS_WITH_GROUPS.params(instance_id=case))
        assert CASE_INDEX in page[0] and not any("TEMP B-TREE" in line for line in page), page
