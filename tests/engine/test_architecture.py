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
