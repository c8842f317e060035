"""Computed form fields: values the case already holds, worked out by the server instead of typed.

    "days_since_purchase": {"title": "购买天数 / Days since purchase", "type": "integer",
                            "x-computed": {"days_since": "purchase_date"}}

`days_since` counts whole calendar days from a date the case holds (the request's purchase date) to
today on the business clock (China Standard Time, where the outlets are): 三包 periods are calendar
days. When the case holds the date, the task page shows the value instead of asking for it, the
server fills it in when a submission leaves it out, and refuses any other value: the return policy
reads it, and an outlet must not choose its own count. A case that holds no such date (one started
before the request form asked for it) has the field typed like any other.

The catalog checks each declaration when it loads the forms (`check_declarations`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from engine.business_calendar import LOCAL
from engine.errors import FormDataError

COMPUTED_KEY = "x-computed"
DAYS_SINCE = "days_since"


@dataclass(frozen=True)
class ComputedValue:
    name: str
    value: int
    source: str  # the case variable it is worked out from


def check_declarations(schemas: Mapping[str, dict[str, Any]]) -> None:
    """Every `x-computed` of the forms names a known kind and a date field some form asks for.

    Raises: ValueError naming the form and the field.
    """
    dates = {name for schema in schemas.values() for name, field in schema.get("properties", {}).items()
             if isinstance(field, dict) and field.get("format") == "date"}
    for key, schema in schemas.items():
        for name, field in schema.get("properties", {}).items():
            if not isinstance(field, dict) or COMPUTED_KEY not in field:
                continue
            declared = field[COMPUTED_KEY]
            where = f"form {key}.json, field '{name}': {COMPUTED_KEY}"
            if not isinstance(declared, dict) or list(declared) != [DAYS_SINCE]:
                raise ValueError(f"{where} must be {{\"{DAYS_SINCE}\": \"<a date field>\"}}")
            if field.get("type") != "integer":
                raise ValueError(f"{where} counts days: the field's type must be \"integer\"")
            if declared[DAYS_SINCE] not in dates:
                raise ValueError(f"{where} names '{declared[DAYS_SINCE]}', which no form asks for as a date "
                                 "(\"format\": \"date\")")


def has_computed(schema: dict[str, Any] | None) -> bool:
    return any(isinstance(f, dict) and COMPUTED_KEY in f for f in (schema or {}).get("properties", {}).values())


def computed_values(schema: dict[str, Any] | None, variables: Mapping[str, Any], now: datetime) -> list[ComputedValue]:
    """The form's computed fields whose source the case holds, with their values as of `now`."""
    today = now.astimezone(LOCAL).date()
    found = []
    for name, field in (schema or {}).get("properties", {}).items():
        if not isinstance(field, dict) or not isinstance(field.get(COMPUTED_KEY), dict):
            continue
        source = field[COMPUTED_KEY].get(DAYS_SINCE)
        since = _date(variables.get(source))
        if isinstance(source, str) and since is not None:
            found.append(ComputedValue(name, (today - since).days, source))
    return found


def with_computed(form_key: str, schema: dict[str, Any] | None, data: dict[str, Any], variables: Mapping[str, Any],
                  now: datetime) -> dict[str, Any]:
    """`data` with each computed field the case can work out filled in.

    Raises: FormDataError naming each field sent with another value than the computed one.
    """
    computed = computed_values(schema, variables, now)
    wrong = [c for c in computed if c.name in data and data[c.name] != c.value]
    if wrong:
        raise FormDataError(
            f"{len(wrong)} computed field(s) were sent with another value", form=form_key,
            errors=[{"field": c.name, "message": f"'{c.name}' is computed from '{c.source}' ({c.value} today): "
                                                 "leave it out or send it unchanged"} for c in wrong])
    return {**data, **{c.name: c.value for c in computed}}


def _date(value: Any) -> date | None:
    if not isinstance(value, str):
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        return None
