"""What docs/architecture.md promises of the code's shape, checked so it stays true.

import-linter (make lint) checks the layers; these check what it cannot: no engine module grows past
400 lines, and no module compares a status with a bare string instead of engine/states.py's enums.
"""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
ENGINE_MODULES = sorted(p for p in (ROOT / "engine").rglob("*.py") if "migrations" not in p.parts)
BARE_STATUS = re.compile(r"""status\s*(==|!=|=)\s*["'](open|completed|cancelled|running|suspended|terminated|failed|pending|fired|replaced|met|breached)["']""")


def test_no_engine_module_is_over_four_hundred_lines() -> None:
    long = {str(p.relative_to(ROOT)): n for p in ENGINE_MODULES if (n := len(p.read_text().splitlines())) > 400}
    assert long == {}


def test_statuses_are_compared_through_their_enums() -> None:
    sources = [*ENGINE_MODULES, *sorted((ROOT / "api").rglob("*.py"))]
    bare = [f"{p.relative_to(ROOT)}:{n}" for p in sources
            for n, line in enumerate(p.read_text().splitlines(), start=1) if BARE_STATUS.search(line)]
    assert bare == []


def test_every_foreign_key_to_a_case_or_a_task_is_declared_to_the_unit_of_work() -> None:
    """A new case and its rows go out in one flush, in foreign-key order only if the keys are relationships.

    Without them the unit of work orders tables by class name; with some of them, the undeclared
    rest may go out before the rows they point to (a task's groups before the task).
    """
    from sqlalchemy.orm import configure_mappers

    from engine.tables import Base

    configure_mappers()  # resolves the relationships named by string

    declared = {(mapper.local_table.name, column.name)
                for mapper in Base.registry.mappers for relation in mapper.relationships
                for column in relation.local_columns}
    undeclared = sorted(f"{table.name}.{key.parent.name}" for table in Base.metadata.sorted_tables
                        for key in table.foreign_keys if key.column.table.name in ("instances", "tasks")
                        and (table.name, key.parent.name) not in declared)
    assert undeclared == []
