"""Fixtures the engine's tests share."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import Engine, event


@pytest.fixture
def statements(db_engine: Engine) -> Iterator[list[str]]:
    """Every statement the driver sends while the test runs, whitespace folded (issue 18's counts)."""
    seen: list[str] = []

    def count(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, executemany: bool) -> None:
        seen.append(re.sub(r"\s+", " ", statement))

    event.listen(db_engine, "before_cursor_execute", count)
    yield seen
    event.remove(db_engine, "before_cursor_execute", count)
