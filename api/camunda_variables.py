"""Camunda 7's typed variables on the wire: `{"name": {"value": ..., "type": "String", "valueInfo": {}}}`.

Workers written for Camunda (the Python client among them) send and expect this shape; inside
Tixi a variable is plain JSON. `Json` and `Object` values travel as JSON text, as Camunda sends them.
"""

from __future__ import annotations

import json
from typing import Any

from engine.errors import ValidationError

_INT32 = 2**31


def to_typed(variables: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {name: _typed(value) for name, value in variables.items()}


def _typed(value: Any) -> dict[str, Any]:
    if value is None:
        return {"value": None, "type": "Null", "valueInfo": {}}
    if isinstance(value, bool):
        return {"value": value, "type": "Boolean", "valueInfo": {}}
    if isinstance(value, int):
        return {"value": value, "type": "Integer" if -_INT32 <= value < _INT32 else "Long", "valueInfo": {}}
    if isinstance(value, float):
        return {"value": value, "type": "Double", "valueInfo": {}}
    if isinstance(value, str):
        return {"value": value, "type": "String", "valueInfo": {}}
    return {"value": json.dumps(value, ensure_ascii=False), "type": "Json", "valueInfo": {}}


def from_typed(variables: dict[str, Any] | None, field: str) -> dict[str, Any]:
    """Plain values from typed ones. Raises: ValidationError naming the variable."""
    plain: dict[str, Any] = {}
    for name, typed in (variables or {}).items():
        if not isinstance(typed, dict) or "value" not in typed:
            raise ValidationError(f"{field}.{name} must be an object with a 'value' (Camunda's typed variable)",
                                  field=f"{field}.{name}")
        value, kind = typed["value"], str(typed.get("type") or "").lower()
        info = typed.get("valueInfo") or {}
        textual = kind == "json" or (kind == "object" and "json" in str(info.get("serializationDataFormat", "")))
        if textual and isinstance(value, str):
            try:
                value = json.loads(value)
            except ValueError:
                raise ValidationError(f"{field}.{name} is typed {typed.get('type')} but its value is not JSON",
                                      field=f"{field}.{name}") from None
        elif kind in ("file", "bytes"):
            raise ValidationError(f"{field}.{name}: {typed.get('type')} variables are not stored in a case; store the "
                                  "content elsewhere and pass a reference", field=f"{field}.{name}")
        plain[name] = value
    return plain
