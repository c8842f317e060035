"""The task page's reported bugs, each shown the way a person meets it: fields out of the form's
order, Chinese shown as \\uXXXX, the last field typed lost on Enter or a phone tap, a suspended case's
task offered for claiming, and the SLA chart's bars drawn over each other."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path

from playwright.sync_api import Page, expect

from tests.api.test_complaint_handling import CUSTOMER_INTAKE, REPAIRED
from tests.web.conftest import PHONE, fill_form
from tests.web.page_api import call, start_case, task_id_of

FORMS = Path(__file__).resolve().parents[2] / "forms"
REPAIR_STEP = "onsite_repair"


def open_repair_task(as_user: Callable[..., Page], business_key: str, **options: object) -> Page:
    start_case(as_user("rcc_agent"), "complaint_handling", CUSTOMER_INTAKE, business_key)
    page = as_user("outlet", **options)
    task_id = task_id_of(page, business_key, REPAIR_STEP)
    call(page, "POST", f"/api/tasks/{task_id}/claim")
    page.goto(f"/tasks/{task_id}")
    expect(page.locator("#form-editor [data-schemapath]").first).to_be_visible()
    return page


def test_fields_come_in_the_forms_order_and_chinese_is_shown_as_written(as_user: Callable[..., Page]) -> None:
    page = open_repair_task(as_user, "TS-WEB-ORDER", lang="zh")
    shown = page.locator('#form-editor [data-schemapath^="root."]').evaluate_all(
        "nodes => [...new Set(nodes.map(n => n.dataset.schemapath).filter(p => p.split('.').length === 2))]")
    written = list(json.loads((FORMS / "onsite_repair_report.json").read_text(encoding="utf-8"))["properties"])
    assert [path.removeprefix("root.") for path in shown] == written
    assert written != sorted(written)  # the form's order is not the alphabet's, so this shows something
    # The start's recorded data (a nested value) holds the customer's Chinese name as typed.
    data = page.get_by_test_id("history").locator("pre").all_text_contents()
    assert any("张三" in text for text in data)
    assert not any("\\u" in text for text in data)


def test_the_last_field_typed_counts_when_enter_is_pressed(as_user: Callable[..., Page]) -> None:
    page = open_repair_task(as_user, "TS-WEB-ENTER")
    fill_form(page, {k: v for k, v in REPAIRED.items() if k != "resolution_summary"})
    last = page.locator('[data-schemapath="root.resolution_summary"]:visible').last.locator("input, textarea").first
    last.click()
    page.keyboard.type("已修复 / repaired")
    page.keyboard.press("Enter")  # submits the form before the field has lost its focus
    expect(page).to_have_url(re.compile(r"/tasks(\?.*)?$"))


def test_the_last_field_typed_counts_when_the_button_is_tapped_on_a_phone(as_user: Callable[..., Page]) -> None:
    page = open_repair_task(as_user, "TS-WEB-TAP", viewport=PHONE, has_touch=True, is_mobile=True)
    fill_form(page, {k: v for k, v in REPAIRED.items() if k != "resolution_summary"})
    last = page.locator('[data-schemapath="root.resolution_summary"]:visible').last.locator("input, textarea").first
    last.tap()
    page.keyboard.type("已修复 / repaired")
    page.get_by_role("button", name="Submit and complete").tap()
    expect(page).to_have_url(re.compile(r"/tasks(\?.*)?$"))
