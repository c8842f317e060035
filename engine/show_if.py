"""Fields a form shows only after an earlier answer: `x-show-if` on a top-level property.

    "rejection_reason": {"type": "string", "x-show-if": {"csd_approved": false}}
    "refund_amount": {"type": "number", "x-show-if": {"remedy_given": ["return", "partial_refund"]}}

Every named field must have one of its values (a list means any of them). The page hides a field
whose condition fails and does not send it; the server holds it to the same rule through the
schema compiled here, so a completion through the API is checked as the page's is: a hidden field
must be absent, and a field in `required` is required only while it is shown. A field named by a
condition that is itself hidden counts as absent, so a chain of conditions hides all of its tail.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError

KEYWORD = "x-show-if"


def conditions_of(schema: Mapping[str, Any]) -> dict[str, dict[str, list[Any]]]:
    """Each conditional field's condition, a value list per named field (a single value made a list)."""
    return {
        name: {other: list(values) if isinstance(values, list) else [values] for other, values in prop[KEYWORD].items()}
        for name, prop in schema.get("properties", {}).items()
        if isinstance(prop, dict) and isinstance(prop.get(KEYWORD), dict)
    }


def check_declaration(schema: Mapping[str, Any]) -> None:
    """Refuse an `x-show-if` that names an unknown field or itself, a value its field refuses, or a cycle.

    Raises: ValueError naming the field whose condition is wrong.
    """
    properties = schema.get("properties", {})
    for name, prop in properties.items():
        if isinstance(prop, dict) and KEYWORD in prop and (not isinstance(prop[KEYWORD], dict) or not prop[KEYWORD]):
            raise ValueError(f"field '{name}': {KEYWORD} must be an object naming at least one field")
        # The page hides top-level fields only: a condition deeper down would be enforced but never shown.
        if isinstance(prop, dict) and _nested(prop):
            raise ValueError(f"field '{name}': {KEYWORD} belongs on a top-level field, not inside one")
    conditions = conditions_of(schema)
    for name, condition in conditions.items():
        for other, values in condition.items():
            if other == name:
                raise ValueError(f"field '{name}': {KEYWORD} depends on the field itself")
            if other not in properties:
                raise ValueError(f"field '{name}': {KEYWORD} names '{other}', which is not a field of the form")
            if not values:
                raise ValueError(f"field '{name}': {KEYWORD} gives no value for '{other}'")
            field = Draft202012Validator(properties[other])
            if wrong := [value for value in values if not field.is_valid(value)]:
                raise ValueError(f"field '{name}': {KEYWORD} gives '{other}' values it cannot take: {wrong}")
    if cycle := _cycle(conditions):
        raise ValueError(f"field '{cycle[0]}': {KEYWORD} conditions form a cycle: {' -> '.join(cycle)}")


def compiled(schema: Mapping[str, Any]) -> dict[str, Any]:
    """The schema the server validates with: each condition added as an if/then/else, stored forms untouched.

    A required conditional field leaves the top-level `required` and is required by its condition's
    `then` instead; its `else` forbids the field, so a hidden field sent anyway is refused by name.
    """
    conditions = conditions_of(schema)
    if not conditions:
        return dict(schema)
    result = copy.deepcopy(dict(schema))
    required = list(result.get("required", []))
    rules = []
    for name, condition in conditions.items():
        rule: dict[str, Any] = {
            "if": {"properties": {other: {"enum": values} for other, values in condition.items()},
                   "required": list(condition)},
            # `{"not": {}}` rather than `false`: jsonschema reports a false subschema without the field's path.
            "else": {"properties": {name: {"not": {}, KEYWORD: condition}}},
        }
        if name in required:
            rule["then"] = {"required": [name]}
        rules.append(rule)
    result["required"] = [name for name in required if name not in conditions]
    result["allOf"] = [*result.get("allOf", []), *rules]
    return result


def hidden_message(error: ValidationError) -> str | None:
    """The message for a field sent while its condition hides it; None for any other error."""
    if error.validator != "not" or not isinstance(error.schema, dict) or KEYWORD not in error.schema:
        return None
    field = ".".join(map(str, error.absolute_path))
    wanted = " and ".join(f"'{other}' is one of {json.dumps(values)}" for other, values in error.schema[KEYWORD].items())
    return f"'{field}' applies only when {wanted}: leave it out"


def _nested(prop: Mapping[str, Any]) -> bool:
    """Whether `x-show-if` appears anywhere inside a field's schema (not on the field itself)."""
    def anywhere(node: Any) -> bool:
        if isinstance(node, dict):
            return KEYWORD in node or any(anywhere(value) for value in node.values())
        return isinstance(node, list) and any(anywhere(value) for value in node)

    return any(anywhere(value) for key, value in prop.items() if key != KEYWORD)


def _cycle(conditions: Mapping[str, Mapping[str, Any]]) -> list[str]:
    """A cycle of fields each depending on the next, [] when there is none."""
    done: set[str] = set()

    def visit(name: str, path: list[str]) -> list[str]:
        if name in path:
            return [*path[path.index(name):], name]
        if name in done:
            return []
        for other in conditions.get(name, {}):
            if found := visit(other, [*path, name]):
                return found
        done.add(name)
        return []

    for start in conditions:
        if found := visit(start, []):
            return found
    return []
