"""Computed form fields (x-computed): each declaration is checked when the catalog loads the forms, and
the days since purchase are counted in China's calendar days, whatever the server's time zone."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from engine.catalog import DEFAULT_FORMS_DIR, FormCatalog
from engine.computed_fields import computed_values, with_computed
from engine.errors import FormDataError

REQUEST_FORM = {"type": "object", "properties": {"purchase_date": {"type": "string", "format": "date"}}}


@pytest.mark.parametrize(("field", "problem"), [
    ({"type": "integer", "x-computed": {"days_until": "purchase_date"}}, "must be"),
    ({"type": "integer", "x-computed": "purchase_date"}, "must be"),
    ({"type": "string", "x-computed": {"days_since": "purchase_date"}}, "must be \"integer\""),
    ({"type": "integer", "x-computed": {"days_since": "invoice_no"}}, "no form asks for as a date"),
])
def test_the_catalog_refuses_a_computed_field_it_cannot_work_out(tmp_path: Path, field: dict[str, Any],
                                                                problem: str) -> None:
    (tmp_path / "request.json").write_text(json.dumps(REQUEST_FORM))
    (tmp_path / "inspection.json").write_text(json.dumps({"type": "object", "properties": {"days": field}}))
    with pytest.raises(ValueError, match=f"form inspection.json, field 'days'.*{problem}"):
        FormCatalog(tmp_path)


def test_days_are_counted_on_the_chinese_calendar_day() -> None:
    schema = FormCatalog(DEFAULT_FORMS_DIR).schema("product_inspection")
    # 2026-01-05 17:30 UTC is already 2026-01-06 in China: six days since New Year's Eve there.
    late = datetime(2026, 1, 5, 17, 30, tzinfo=UTC)
    [days] = computed_values(schema, {"purchase_date": "2025-12-31"}, late)
    assert (days.name, days.value, days.source) == ("days_since_purchase", 6, "purchase_date")
    assert computed_values(schema, {"purchase_date": "not a date"}, late) == []  # typed by hand then
    assert computed_values(schema, {}, late) == []
    assert with_computed("product_inspection", schema, {"disputed": False}, {"purchase_date": "2025-12-31"},
                         late) == {"disputed": False, "days_since_purchase": 6}
    with pytest.raises(FormDataError) as refused:
        with_computed("product_inspection", schema, {"days_since_purchase": 5}, {"purchase_date": "2025-12-31"}, late)
    assert refused.value.extras()["errors"][0]["field"] == "days_since_purchase"
