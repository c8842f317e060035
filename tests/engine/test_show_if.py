"""`x-show-if` (engine/show_if.py): checked when the catalog loads the forms, enforced by its validator."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from engine.catalog import DEFAULT_FORMS_DIR, FormCatalog
from engine.errors import FormDataError


def _form(**properties: dict[str, Any]) -> dict[str, Any]:
    return {"type": "object", "additionalProperties": False, "required": ["answer"], "properties": {
        "answer": {"type": "string", "enum": ["yes", "no"]},
        "flag": {"type": "boolean"},
        **properties,
    }}


def _catalog(tmp_path: Path, schema: dict[str, Any]) -> FormCatalog:
    (tmp_path / "conditional.json").write_text(json.dumps(schema), encoding="utf-8")
    return FormCatalog(tmp_path)


@pytest.mark.parametrize(("prop", "expected"), [
    ({"type": "string", "x-show-if": {"missing": "yes"}}, "names 'missing', which is not a field of the form"),
    ({"type": "string", "x-show-if": {"answer": "maybe"}}, "gives 'answer' values it cannot take: ['maybe']"),
    ({"type": "string", "x-show-if": {"flag": ["true"]}}, "gives 'flag' values it cannot take: ['true']"),
    ({"type": "string", "x-show-if": {"answer": []}}, "gives no value for 'answer'"),
    ({"type": "string", "x-show-if": {"reason": "x"}}, "depends on the field itself"),
    ({"type": "string", "x-show-if": {}}, "must be an object naming at least one field"),
    ({"type": "string", "x-show-if": "answer"}, "must be an object naming at least one field"),
    ({"type": "object", "properties": {"part": {"type": "string", "x-show-if": {"answer": "no"}}}},
     "belongs on a top-level field, not inside one"),
])
def test_a_bad_condition_is_refused_naming_the_form_and_the_field(tmp_path: Path, prop: dict[str, Any],
                                                                   expected: str) -> None:
    with pytest.raises(ValueError) as refused:
        _catalog(tmp_path, _form(reason=prop))
    assert "form conditional.json: field 'reason'" in str(refused.value)
    assert expected in str(refused.value)


def test_a_cycle_of_conditions_is_refused(tmp_path: Path) -> None:
    schema = _form(first={"type": "string", "x-show-if": {"second": "b"}},
                   second={"type": "string", "x-show-if": {"third": "c"}},
                   third={"type": "string", "x-show-if": {"first": "a"}})
    with pytest.raises(ValueError, match="conditions form a cycle: first -> second -> third -> first"):
        _catalog(tmp_path, schema)


def _errors(catalog: FormCatalog, data: dict[str, Any]) -> list[dict[str, str]]:
    with pytest.raises(FormDataError) as refused:
        catalog.check("conditional", data)
    errors: list[dict[str, str]] = refused.value.extras()["errors"]
    return errors


def test_a_hidden_field_is_refused_by_name_and_a_shown_required_one_is_required(tmp_path: Path) -> None:
    schema = _form(reason={"type": "string", "minLength": 1, "x-show-if": {"answer": "no"}},
                   detail={"type": "string", "x-show-if": {"reason": ["late", "lost"]}})
    schema["required"] = ["answer", "reason"]  # required only while shown
    catalog = _catalog(tmp_path, schema)
    catalog.check("conditional", {"answer": "yes"})
    catalog.check("conditional", {"answer": "no", "reason": "late", "detail": "two days"})
    assert _errors(catalog, {"answer": "yes", "reason": "late"}) == [
        {"field": "reason", "message": """'reason' applies only when 'answer' is one of ["no"]: leave it out""",
         "kind": "hidden"}]
    assert _errors(catalog, {"answer": "no"}) == [{"field": "reason", "message": "'reason' is a required property",
                                                   "kind": "required"}]
    # A condition on a hidden field fails: the chain's tail is hidden too.
    assert [e["field"] for e in _errors(catalog, {"answer": "yes", "detail": "x"})] == ["detail"]
    assert catalog.schema("conditional") == schema  # the form as written; only the validator is compiled


def test_the_projects_forms_use_it_and_load() -> None:
    catalog = FormCatalog(DEFAULT_FORMS_DIR)
    uses = [key for key in catalog.keys()
            if any("x-show-if" in prop for prop in catalog.schema(key).get("properties", {}).values())]
    assert {"csd_approval", "onsite_repair_report"} <= set(uses)
