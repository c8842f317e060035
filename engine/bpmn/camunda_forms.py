"""Camunda 7's generated task forms (`camunda:formData`) turned into Tixi's JSON Schema form at deploy.

Camunda Modeler's "Generated Task Form" writes, inside a user task's extensionElements,
`<camunda:formData><camunda:formField id label type defaultValue>` with `camunda:value` children
for an enum and `camunda:validation/camunda:constraint` (required, minlength, maxlength, min, max,
readonly). Each field becomes a property of a JSON Schema (draft 2020-12) that validates the
submitted data exactly as Camunda would refuse it; `readonly` is honoured when the task is
completed (engine/task_forms.py: the field may be sent only with its current value). Anything else
— a custom type, a custom validator, field properties, a business-key field — is refused naming the
field, so a form never deploys with a rule that is then not kept.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from lxml import etree

CAMUNDA_NS = "http://camunda.org/schema/1.0/bpmn"
BPMN_NS = "http://www.omg.org/spec/BPMN/20100524/MODEL"
GENERATED_PREFIX = "formData:"  # a generated form's key: never a file name of forms/ (which holds no ':')
_TYPES: dict[str, dict[str, Any]] = {
    "string": {"type": "string"},
    "long": {"type": "integer"},
    "boolean": {"type": "boolean"},
    "date": {"type": "string", "format": "date"},
    "enum": {"type": "string"},
}
_CONSTRAINTS = ("required", "minlength", "maxlength", "min", "max", "readonly")


class FormDataProblem(ValueError):
    """A generated form Tixi cannot keep as written; the message names the field."""


@dataclass(frozen=True)
class ElementFormProblem(Exception):
    message: str
    element_id: str
    line: int | None


def generated_forms(process: etree._Element) -> dict[str, dict[str, Any]]:
    """Each user task's generated form by the task's id. Raises: ElementFormProblem naming the element.

    A start event's generated form is refused: Tixi's start forms are named by camunda:formKey.
    """
    for start in process.iter(f"{{{BPMN_NS}}}startEvent"):
        if form_data_of(start) is not None:
            raise ElementFormProblem("a generated start form (camunda:formData on a start event) is not read by Tixi: "
                                     "name a form of forms/ in camunda:formKey, or put the generated form on the "
                                     "first user task", start.get("id") or "", start.sourceline)
    forms = {}
    for task in process.iter(f"{{{BPMN_NS}}}userTask"):
        try:
            schema = generated_schema(task)
        except FormDataProblem as problem:
            raise ElementFormProblem(str(problem), task.get("id") or "", task.sourceline) from None
        if schema is not None:
            forms[generated_form_key(task.get("id") or "")] = schema
    return forms


def form_data_of(task: etree._Element) -> etree._Element | None:
    return task.find(f"{{{BPMN_NS}}}extensionElements/{{{CAMUNDA_NS}}}formData")


def generated_form_key(element_id: str) -> str:
    return GENERATED_PREFIX + element_id


def generated_schema(task: etree._Element) -> dict[str, Any] | None:
    """The user task's generated form as a JSON Schema, or None when it has none. Raises: FormDataProblem."""
    form = form_data_of(task)
    if form is None:
        return None
    if task.get(f"{{{CAMUNDA_NS}}}formKey"):
        raise FormDataProblem("has both camunda:formKey and a generated form (camunda:formData): keep one")
    if form.get(f"{{{CAMUNDA_NS}}}businessKey") or form.get("businessKey"):
        raise FormDataProblem("camunda:formData names a business-key field, which only a start form has in Camunda; "
                              "Tixi reads generated forms on user tasks: remove businessKey")
    properties: dict[str, Any] = {}
    required: list[str] = []
    for child in form:
        if not isinstance(child.tag, str):
            continue
        if etree.QName(child).localname != "formField" or etree.QName(child).namespace != CAMUNDA_NS:
            raise FormDataProblem(f"camunda:formData holds <{etree.QName(child).localname}>, which Tixi does not read: "
                                  "keep only camunda:formField elements")
        name, prop, is_required = _field(child)
        if name in properties:
            raise FormDataProblem(f"form field '{name}' is defined twice: give each field an id of its own")
        properties[name] = prop
        if is_required:
            required.append(name)
    if not properties:
        raise FormDataProblem("camunda:formData has no camunda:formField: add the fields, or remove the form")
    schema: dict[str, Any] = {"$schema": "https://json-schema.org/draft/2020-12/schema",
                              "title": task.get("name") or task.get("id") or "", "type": "object",
                              "properties": properties, "additionalProperties": False}
    if required:
        schema["required"] = required
    return schema


def _field(field: etree._Element) -> tuple[str, dict[str, Any], bool]:
    name = (field.get("id") or "").strip()
    if not name.isidentifier():
        raise FormDataProblem(f"form field id '{name}' is not a variable name: use letters, digits and _")
    kind = field.get("type") or ""
    if kind not in _TYPES:
        raise FormDataProblem(f"form field '{name}' has type '{kind}', which Tixi does not read: use one of "
                              f"{', '.join(_TYPES)}")
    prop: dict[str, Any] = {**_TYPES[kind], "title": field.get("label") or name}
    values: list[etree._Element] = []
    constraints: list[etree._Element] = []
    for child in field:
        if not isinstance(child.tag, str):
            continue
        local = etree.QName(child).localname
        if local == "value" and kind == "enum":
            values.append(child)
        elif local == "validation":
            constraints.extend(c for c in child if isinstance(c.tag, str))
        else:
            raise FormDataProblem(f"form field '{name}' holds <camunda:{local}>, which Tixi does not read"
                                  + (" (camunda:value belongs to enum fields)" if local == "value" else
                                     ": remove it"))
    if kind == "enum":
        if not values:
            raise FormDataProblem(f"enum form field '{name}' has no camunda:value: add the choices")
        prop["enum"] = [v.get("id") or "" for v in values]
        prop["x-enum-titles"] = [v.get("name") or v.get("id") or "" for v in values]
    is_required = False
    for constraint in constraints:
        rule, config = constraint.get("name") or "", constraint.get("config")
        if etree.QName(constraint).localname != "constraint" or rule not in _CONSTRAINTS:
            raise FormDataProblem(f"form field '{name}' has the constraint '{rule or etree.QName(constraint).localname}',"
                                  f" which Tixi cannot keep: use {', '.join(_CONSTRAINTS)}")
        if rule == "required":
            is_required = True
        elif rule == "readonly":
            prop["readOnly"] = True
        else:
            _bound(prop, name, kind, rule, config)
    default = field.get("defaultValue")
    if default is not None and default != "":
        prop["default"] = _typed(default, kind, name, prop)
    return name, prop, is_required


def _bound(prop: dict[str, Any], name: str, kind: str, rule: str, config: str | None) -> None:
    keyword = {"minlength": "minLength", "maxlength": "maxLength", "min": "minimum", "max": "maximum"}[rule]
    fits = kind in ("string", "enum") if rule in ("minlength", "maxlength") else kind == "long"
    if not fits:
        raise FormDataProblem(f"form field '{name}' of type '{kind}' has the constraint '{rule}', which Tixi keeps "
                              f"only on {'string' if rule.endswith('length') else 'long'} fields")
    try:
        prop[keyword] = int(config or "")
    except ValueError:
        raise FormDataProblem(f"form field '{name}': the constraint '{rule}' needs a whole number as its config, "
                              f"not '{config}'") from None


def _typed(default: str, kind: str, name: str, prop: dict[str, Any]) -> Any:
    """A default value as the field's type; an expression there is not evaluated, so it is refused."""
    if "${" in default or "#{" in default:
        raise FormDataProblem(f"form field '{name}' has the default '{default}', an expression, which Tixi does "
                              "not evaluate in a form: write the value itself")
    if kind == "long":
        try:
            return int(default)
        except ValueError:
            raise FormDataProblem(f"form field '{name}' of type long has the default '{default}': write a whole "
                                  "number") from None
    if kind == "boolean":
        if default.lower() not in ("true", "false"):
            raise FormDataProblem(f"form field '{name}' of type boolean has the default '{default}': write true or "
                                  "false")
        return default.lower() == "true"
    if kind == "date":
        try:
            date.fromisoformat(default)
        except ValueError:
            raise FormDataProblem(f"date form field '{name}' has the default '{default}': write it as yyyy-mm-dd, "
                                  "e.g. 2026-12-31") from None
    if kind == "enum" and default not in prop["enum"]:
        raise FormDataProblem(f"enum form field '{name}' has the default '{default}', which is none of its values")
    return default
