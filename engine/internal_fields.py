"""Fields a form marks internal (`"x-internal": true`): the reviewers' own notes, kept from outlet staff.

An outlet is a contracted third party: it applies, repairs and is assessed, and the RCC's and the
CSD's working notes about it (site inspection notes, review comments) are not for its eyes, while
what it must be told (a rejection reason) is. A case's variables are one namespace, so a name marked
internal on any form is internal in every case; a decision's opinion is internal when the field it
is written to (`opinion_field`) is.

Outlet staff are the people bound to an outlet, and members of the outlet group who see no more
than a participant does (the applicant of an onboarding before its outlet exists).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Any

from engine.audit import HistoryEvent
from engine.identity import Actor

INTERNAL_KEY = "x-internal"
OUTLET_GROUP = "outlet"
# History rows that carry form data, and the key they carry it under.
_DATA_KEYS = ("variables", "submitted")


@dataclass(frozen=True)
class InternalFields:
    names: frozenset[str] = frozenset()
    opinions: frozenset[tuple[str, str]] = frozenset()  # (form key, outcome key) whose opinion is internal

    @classmethod
    def of(cls, schemas: Mapping[str, Mapping[str, Any]]) -> InternalFields:
        names = {name for schema in schemas.values() for name, field in _properties(schema)
                 if isinstance(field, dict) and field.get(INTERNAL_KEY) is True}
        opinions = {(key, str(o.get("key"))) for key, schema in schemas.items()
                    for o in schema.get("x-outcomes", []) if isinstance(o, dict) and o.get("opinion_field") in names}
        return cls(frozenset(names), frozenset(opinions))


NONE_INTERNAL = InternalFields()


def is_outlet_staff(actor: Actor) -> bool:
    return actor.outlet_code is not None or actor.groups == {OUTLET_GROUP}


def visible_variables(actor: Actor, variables: dict[str, Any], internal: InternalFields) -> dict[str, Any]:
    """The case's variables as the actor may read them."""
    if not internal.names or not is_outlet_staff(actor):
        return variables
    return {k: v for k, v in variables.items() if k not in internal.names}


def visible_history(actor: Actor, history: list[HistoryEvent], internal: InternalFields) -> list[HistoryEvent]:
    """The history as the actor may read it: internal fields out of each row's data, internal opinions out."""
    if not internal.names or not is_outlet_staff(actor):
        return history
    forms = {e.task_id: str(e.data.get("form_key")) for e in history if e.event_type == "task_completed"}
    return [_without_internal(e, internal, forms.get(e.task_id)) for e in history]


def _without_internal(event: HistoryEvent, internal: InternalFields, form_key: str | None) -> HistoryEvent:
    data = dict(event.data)
    for key in _DATA_KEYS:
        if isinstance(data.get(key), dict):
            data[key] = {k: v for k, v in data[key].items() if k not in internal.names}
    if event.event_type == "task_decided" and (form_key or "", str(data.get("outcome"))) in internal.opinions:
        data["opinion"] = None
    return replace(event, data=data) if data != event.data else event


def _properties(schema: Mapping[str, Any]) -> Iterable[tuple[str, Any]]:
    properties = schema.get("properties", {})
    return properties.items() if isinstance(properties, dict) else ()
