"""The task page's reported bugs, each shown the way a person meets it: fields out of the form's
order, Chinese shown as \\uXXXX, the last field typed lost on Enter or a phone tap, a suspended case's
task offered for claiming, and the SLA chart's bars drawn over each other. The first three in both
languages, at desktop and phone width (Enter on a desktop's keyboard, a tap on a phone)."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.api.test_complaint_handling import CUSTOMER_INTAKE, REPAIRED
from tests.web.conftest import DESKTOP, PHONE, fill_form, no_horizontal_scroll
from tests.web.page_api import call, start_case, task_id_of

FORMS = Path(__file__).resolve().parents[2] / "forms"
REPAIR_STEP = "onsite_repair"
BOTH_LANGUAGES = pytest.mark.parametrize("lang", ["zh", "en"])
BOTH_WIDTHS = pytest.mark.parametrize("viewport", ["desktop", "phone"])
WORDS = {
    "zh": {"instance": "流程实例", "submit": "提交并完成", "step": "网点 24 小时内上门维修", "claim": "认领",
           "stale": "409 此案件已挂起，现在不能处理其任务。", "case_status": "案件已挂起", "not_running": "此案件已挂起"},
    "en": {"instance": "Process instance", "submit": "Submit and complete", "step": "On-site repair within 24 hours",
           "claim": "Claim", "stale": "409 This case is suspended; its tasks cannot be worked now.",
           "case_status": "case suspended", "not_running": "This case is suspended"},
}


def _size(viewport: str) -> dict[str, int]:
    return PHONE if viewport == "phone" else DESKTOP


def open_repair_task(as_user: Callable[..., Page], business_key: str, **options: object) -> Page:
    start_case(as_user("rcc_agent"), "complaint_handling", CUSTOMER_INTAKE, business_key, dispatch_to="HD-001")
    page = as_user("outlet", **options)
    task_id = task_id_of(page, business_key, REPAIR_STEP)
    call(page, "POST", f"/api/tasks/{task_id}/claim")
    page.goto(f"/tasks/{task_id}")
    expect(page.locator("#form-editor [data-schemapath]").first).to_be_visible()
    return page


@BOTH_LANGUAGES
@BOTH_WIDTHS
def test_fields_come_in_the_forms_order_and_chinese_is_shown_as_written(as_user: Callable[..., Page], lang: str,
                                                                         viewport: str) -> None:
    page = open_repair_task(as_user, f"TS-WEB-ORDER-{lang}-{viewport}", lang=lang, viewport=_size(viewport))
    shown = page.locator('#form-editor [data-schemapath^="root."]').evaluate_all(
        "nodes => [...new Set(nodes.map(n => n.dataset.schemapath).filter(p => p.split('.').length === 2))]")
    written = list(json.loads((FORMS / "onsite_repair_report.json").read_text(encoding="utf-8"))["properties"])
    assert [path.removeprefix("root.") for path in shown] == written
    assert written != sorted(written)  # the form's order is not the alphabet's, so this shows something
    # The engine log's recorded data (nested values) holds the customer's Chinese name as typed.
    admin = as_user("admin")
    admin.goto(page.get_by_role("link", name=WORDS[lang]["instance"]).last.get_attribute("href") or "")
    data = admin.get_by_test_id("history").locator("pre").all_text_contents()
    assert any("张三" in text for text in data)
    assert not any("\\u" in text for text in data)


@BOTH_LANGUAGES
def test_the_last_field_typed_counts_when_enter_is_pressed(as_user: Callable[..., Page], lang: str) -> None:
    page = open_repair_task(as_user, f"TS-WEB-ENTER-{lang}", lang=lang)
    fill_form(page, {k: v for k, v in REPAIRED.items() if k != "resolution_summary"})
    last = page.locator('[data-schemapath="root.resolution_summary"]:visible').last.locator("input, textarea").first
    last.click()
    page.keyboard.type("已修复 / repaired")
    page.keyboard.press("Enter")  # submits the form before the field has lost its focus
    expect(page).to_have_url(re.compile(r"/tasks\?done=[0-9a-f-]{36}$"))


@BOTH_LANGUAGES
def test_the_last_field_typed_counts_when_the_button_is_tapped_on_a_phone(as_user: Callable[..., Page],
                                                                           lang: str) -> None:
    page = open_repair_task(as_user, f"TS-WEB-TAP-{lang}", lang=lang, viewport=PHONE, has_touch=True, is_mobile=True)
    fill_form(page, {k: v for k, v in REPAIRED.items() if k != "resolution_summary"})
    last = page.locator('[data-schemapath="root.resolution_summary"]:visible').last.locator("input, textarea").first
    last.tap()
    page.keyboard.type("已修复 / repaired")
    page.get_by_role("button", name=WORDS[lang]["submit"]).tap()
    expect(page).to_have_url(re.compile(r"/tasks\?done=[0-9a-f-]{36}$"))


@BOTH_LANGUAGES
@BOTH_WIDTHS
def test_a_suspended_cases_task_is_not_offered_and_a_stale_claim_is_refused_in_the_pages_language(
        as_user: Callable[..., Page], lang: str, viewport: str) -> None:
    key, words = f"TS-WEB-SUSPENDED-{lang}-{viewport}", WORDS[lang]
    instance_id = start_case(as_user("rcc_agent"), "complaint_handling", CUSTOMER_INTAKE, key, dispatch_to="HD-001")
    outlet = as_user("outlet", lang=lang, viewport=_size(viewport))
    outlet.goto(f"/tasks?q={key}")
    row = outlet.get_by_test_id("task-list").get_by_role("row").filter(has_text=words["step"])
    expect(row.get_by_role("button", name=words["claim"])).to_be_visible()  # running: offered

    call(as_user("admin"), "POST", f"/api/instances/{instance_id}/suspend", {"reason": "顾客出差 / customer away"})
    row.get_by_role("button", name=words["claim"]).click()  # the page was loaded before the suspension
    expect(outlet.locator("#flash")).to_contain_text(words["stale"])

    outlet.goto(f"/tasks?q={key}")
    expect(row.get_by_test_id("case-status")).to_have_text(words["case_status"])
    expect(row.get_by_role("button")).to_have_count(0)
    assert no_horizontal_scroll(outlet)
    row.get_by_role("link", name=words["step"]).click()
    expect(outlet.get_by_test_id("case-not-running")).to_contain_text(words["not_running"])
    expect(outlet.get_by_role("button", name=words["claim"])).to_have_count(0)


def test_the_sla_charts_bars_stand_side_by_side(as_user: Callable[..., Page]) -> None:
    key = "TS-WEB-SLA-BARS"
    start_case(as_user("rcc_agent"), "complaint_handling", CUSTOMER_INTAKE, key, dispatch_to="HD-001")
    outlet = as_user("outlet")
    task_id = task_id_of(outlet, key, REPAIR_STEP)
    call(outlet, "POST", f"/api/tasks/{task_id}/claim")
    call(outlet, "POST", f"/api/tasks/{task_id}/complete", {"data": REPAIRED})  # the repair deadline is met

    page = as_user("quality")
    page.goto("/reports/sla?process=complaint_handling")
    bars = page.get_by_test_id("sla-chart").locator("rect").evaluate_all(
        "rects => rects.map(r => ({part: r.getAttribute('class'), x: +r.getAttribute('x'),"
        " width: +r.getAttribute('width')}))")
    parts = {bar["part"]: bar for bar in bars}  # one process chosen: one row of three bars
    assert len(bars) == 3 and parts["met"]["width"] > 0 and parts["open"]["width"] > 0
    assert parts["breached"]["x"] == parts["met"]["x"] + parts["met"]["width"]
    assert parts["open"]["x"] == parts["breached"]["x"] + parts["breached"]["width"]
