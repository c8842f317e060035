"""A case's data as labelled fields: each value with the form field that asked for it, grouped by
the step that set it last (the start form, then each completed step), the rest apart."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from engine.audit import HistoryEvent
from engine.catalog import FormCatalog


@dataclass(frozen=True)
class CaseField:
    name: str
    value: Any
    schema: dict[str, Any]  # the form's field: title, type, enum and x-enum-titles; {} when no form has it


@dataclass(frozen=True)
class FieldGroup:
    step: str | None  # "中文 / English" name of the step; None for the start, "" for data no form set
    actor: str | None
    fields: tuple[CaseField, ...]


def case_fields(history: list[HistoryEvent], variables: dict[str, Any], catalog: FormCatalog,
                start_form: str | None) -> list[FieldGroup]:
    """The case's current values, grouped by the start form and the steps whose forms set them."""
    setters: list[tuple[str | None, str | None, dict[str, Any], list[str]]] = []  # step, actor, form, names
    for event in history:
        if event.event_type == "started":
            form = _form(catalog, start_form)
            setters.append((None, event.actor, form, list(event.data.get("variables") or {})))
        elif event.event_type == "task_completed":
            form = _form(catalog, event.data.get("form_key"))
            setters.append((str(event.data.get("name") or ""), event.actor, form,
                            list(event.data.get("submitted") or {})))
    last_set: dict[str, int] = {}
    for index, (_, _, _, names) in enumerate(setters):
        for name in names:
            last_set[name] = index
    groups = []
    for index, (step, actor, form, names) in enumerate(setters):
        properties = form.get("properties", {})
        mine = [n for n in names if last_set.get(n) == index and n in variables]
        ordered = [n for n in properties if n in mine] + [n for n in mine if n not in properties]
        if ordered:
            groups.append(FieldGroup(step, actor, tuple(CaseField(n, variables[n], properties.get(n, {}))
                                                         for n in ordered)))
    rest = [n for n in variables if n not in last_set]
    if rest:
        groups.append(FieldGroup("", None, tuple(CaseField(n, variables[n], {}) for n in sorted(rest))))
    return groups


def _form(catalog: FormCatalog, key: Any) -> dict[str, Any]:
    return catalog.schema(key) if isinstance(key, str) and catalog.exists(key) else {}
