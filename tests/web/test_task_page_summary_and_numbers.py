"""Two of issue 16's "forms that help": on a phone the case summary (customer, serial number, model,
outlet) is read before the form, and number fields open empty (no bogus 0 the approver must notice
and clear). Both languages; the summary at desktop and phone width."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from playwright.sync_api import Page, expect

from tests.api.test_complaint_handling import CUSTOMER_INTAKE, REPAIRED
from tests.web.conftest import DESKTOP, PHONE
from tests.web.page_api import call, start_case, task_id_of, work

BOTH_LANGUAGES = pytest.mark.parametrize("lang", ["zh", "en"])
LABELS = {"zh": ("顾客", "序列号", "型号"), "en": ("Customer", "Serial no.", "Model")}


@BOTH_LANGUAGES
@pytest.mark.parametrize("viewport", ["desktop", "phone"])
def test_the_case_summary_comes_before_the_form(as_user: Callable[..., Page], lang: str, viewport: str) -> None:
    key = f"TS-WEB-SUMMARY-{lang}-{viewport}"
    start_case(as_user("rcc_agent"), "complaint_handling", CUSTOMER_INTAKE, key, dispatch_to="HD-001")
    page = as_user("outlet", lang=lang, viewport=PHONE if viewport == "phone" else DESKTOP)
    task_id = task_id_of(page, key, "onsite_repair")
    call(page, "POST", f"/api/tasks/{task_id}/claim")
    page.goto(f"/tasks/{task_id}")
    summary = page.get_by_test_id("case-summary")
    expect(summary.get_by_test_id("summary-customer")).to_have_text(CUSTOMER_INTAKE["customer_name"])
    expect(summary.get_by_test_id("summary-serial_number")).to_have_text(CUSTOMER_INTAKE["serial_number"])
    expect(summary.get_by_test_id("summary-product_model")).to_have_text(CUSTOMER_INTAKE["product_model"])
    # The outlet by its name in the page's language, with its code
    outlet = {"zh": "上海徐汇特约服务网点 (HD-001)", "en": "Shanghai Xuhui outlet (HD-001)"}[lang]
    expect(summary.get_by_test_id("summary-outlet")).to_have_text(outlet)
    for title in LABELS[lang]:
        expect(summary.locator("dt", has_text=title)).to_have_count(1)
    form = page.locator("#form-editor [data-schemapath]").first
    expect(form).to_be_visible()
    summary_box, form_box = summary.bounding_box(), form.bounding_box()
    assert summary_box is not None and form_box is not None
    assert summary_box["y"] + summary_box["height"] <= form_box["y"]  # read first, scrolling down


@BOTH_LANGUAGES
def test_number_fields_open_empty(as_user: Callable[..., Page], lang: str) -> None:
    key = f"TS-WEB-NUMBERS-{lang}"
    start_case(as_user("rcc_agent"), "complaint_handling", CUSTOMER_INTAKE, key, dispatch_to="HD-001")
    work(as_user("outlet"), key, "onsite_repair", REPAIRED)
    page = as_user("rcc_visitor", lang=lang)
    task_id = task_id_of(page, key, "conduct_return_visit")
    call(page, "POST", f"/api/tasks/{task_id}/claim")
    page.goto(f"/tasks/{task_id}")
    ratings = page.locator('[data-schemapath^="root.rating_"] input:visible')
    expect(ratings.first).to_be_visible()
    values = ratings.evaluate_all("nodes => nodes.map(n => n.value)")
    assert len(values) >= 6  # the six SERVQUAL-style ratings of the return visit form
    assert values == [""] * len(values)
