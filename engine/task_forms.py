"""A task's form: a JSON Schema of forms/ named by camunda:formKey, or one generated at deploy from
camunda:formData (engine/bpmn/camunda_forms.py) and kept with the process version that declares it.

Generated forms travel with their definition, not with the server's forms/ folder, so every server
process validates a task exactly as the version that created it says.
"""

from __future__ import annotations

from typing import Any

from jsonschema import Draft202012Validator, FormatChecker

from engine.bpmn.camunda_forms import GENERATED_PREFIX
from engine.catalog import FormCatalog, check_with
from engine.errors import FormDataError


def is_generated(form_key: str | None) -> bool:
    return bool(form_key) and str(form_key).startswith(GENERATED_PREFIX)


def form_schema(catalog: FormCatalog, elements: dict[str, Any], form_key: str | None) -> dict[str, Any] | None:
    """The form's JSON Schema (`elements`: the declaring process version's), or None when there is none."""
    if not form_key:
        return None
    if is_generated(form_key):
        schema: dict[str, Any] | None = elements.get("generated_forms", {}).get(form_key)
        return schema
    return catalog.schema(form_key) if catalog.exists(form_key) else None


def check_form(catalog: FormCatalog, elements: dict[str, Any], form_key: str, data: dict[str, Any],
               current: dict[str, Any]) -> None:
    """Validate submitted data against the task's form; a read-only field may be sent only as it is.

    Raises: FormDataError naming each wrong field.
    """
    if not is_generated(form_key):
        catalog.check(form_key, data)
        return
    schema = form_schema(catalog, elements, form_key) or {"type": "object"}
    check_with(Draft202012Validator(schema, format_checker=FormatChecker()), form_key, data)
    changed = [name for name, prop in schema.get("properties", {}).items()
               if prop.get("readOnly") and name in data and data[name] != current.get(name)]
    if changed:
        raise FormDataError(f"{len(changed)} read-only field(s) were changed", form=form_key,
                            errors=[{"field": name, "message": f"'{name}' is read-only: send it unchanged or leave "
                                                               "it out"} for name in changed])
