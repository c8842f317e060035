"""Values a workflow can store: JSON data with finite numbers (and the few types the serializer converts).

A decision's output cells are Python expressions, so `float('nan')`, `1e999` and `len` are cells
that evaluate fine and give values no workflow state can hold: NaN and Infinity were stored as such
on SQLite and refused by PostgreSQL (a 500), a function failed the serializer (a 500). Scripts are
filtered by the sandbox, which keeps only JSON values; a decision's outputs go straight into the
task data. So the decision engine's result is checked here, before it is merged into the data: an
unstorable output fails its business-rule task, which becomes an incident at that element with the
case data as it was before the decision. As the last line, the serializer's write refuses any
such value at save time (`serialization._json_safe`).

The decision check (`spiff_patches`) wraps `DMNEngine.result`, the one call through which every decision's outputs
pass (hit policies UNIQUE, FIRST and COLLECT alike); the robustness test of decision outputs fails
if the library stops calling it.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta
from uuid import UUID

# What the serializer writes besides JSON's own types (its registry's UUID, datetime, timedelta).
_SCALARS = (str, int, float, UUID, datetime, timedelta)


def unstorable_value(value: object, path: str) -> tuple[str, str] | None:
    """The first part of `value` no workflow state can hold, with its dotted path and why; None if all can."""
    pending: list[tuple[object, str]] = [(value, path)]
    while pending:
        item, where = pending.pop()
        if isinstance(item, dict):
            for key, child in item.items():
                if not isinstance(key, str):
                    return where, f"has a key {key!r} that is not text"
                pending.append((child, f"{where}.{key}" if where else key))
        elif isinstance(item, list | tuple):
            pending.extend((child, f"{where}.{index}" if where else str(index)) for index, child in enumerate(item))
        elif isinstance(item, float) and not math.isfinite(item):
            return where, f"is {item} (not a finite number)"
        elif not (item is None or isinstance(item, _SCALARS)):
            return where, f"is a {type(item).__name__}, not data"
    return None

