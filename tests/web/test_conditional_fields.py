"""Fields shown or hidden by earlier answers, checked in the page as the server checks them: a field
with `x-show-if` appears when the answer makes it apply and is not sent while hidden; a field the
form's if/then requires is marked on the field, in the page's language, before anything is sent.
Both languages; desktop and phone width where the layout matters."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from playwright.sync_api import Locator, Page, expect

from tests.api.test_complaint_handling import CUSTOMER_INTAKE
from tests.api.test_outlet_onboarding import APPROVE_RCC, APPROVE_TECH, REGISTRATION
from tests.web.conftest import DESKTOP, PHONE, fill_form, no_horizontal_scroll
from tests.web.page_api import call, start_case, task_id_of, work

BOTH_LANGUAGES = pytest.mark.parametrize("lang", ["zh", "en"])
BOTH_WIDTHS = pytest.mark.parametrize("viewport", ["desktop", "phone"])
WORDS = {
    "zh": {"submit": "提交并完成", "invalid": "表单有错误", "required": "必填", "resolution": "处理结果摘要",
           "unresolved": "未解决原因", "declined_why": "拒单原因", "fault": "故障现象与原因",
           "start": "发起", "enum": "请选择列表中的值"},
    "en": {"submit": "Submit and complete", "invalid": "The form has errors", "required": "Required",
           "resolution": "Resolution summary", "unresolved": "Why it is not resolved", "declined_why": "Why declined",
           "fault": "Fault found", "start": "Start", "enum": "Value must be one of the enumerated values"},
}


def _repair_task(as_user: Callable[..., Page], business_key: str, lang: str,
                 viewport: dict[str, int] = DESKTOP) -> tuple[Page, str]:
    """A complaint dispatched to outlet HD-001, its on-site repair claimed and open in the outlet's page."""
    instance_id = start_case(as_user("rcc_agent"), "complaint_handling", CUSTOMER_INTAKE, business_key,
                             dispatch_to="HD-001")
    page = as_user("outlet", lang=lang, viewport=viewport)
    task_id = task_id_of(page, business_key, "onsite_repair")
    call(page, "POST", f"/api/tasks/{task_id}/claim")
    page.goto(f"/tasks/{task_id}")
    expect(page.locator("#form-editor [data-schemapath]").first).to_be_visible()
    return page, instance_id


def _field(page: Page, name: str) -> Locator:
    return page.locator(f'#form-editor [data-schemapath="root.{name}"]')


def _count_sends(page: Page) -> list[str]:
    sent: list[str] = []
    page.on("request", lambda r: sent.append(r.url) if re.search(r"/(complete|decide)$|/api/instances$", r.url)
            and r.method == "POST" else None)
    return sent


@BOTH_LANGUAGES
@BOTH_WIDTHS
def test_a_field_appears_with_the_answer_that_makes_it_apply_and_is_not_sent_when_hidden(
        as_user: Callable[..., Page], lang: str, viewport: str) -> None:
    words, size = WORDS[lang], PHONE if viewport == "phone" else DESKTOP
    page, instance_id = _repair_task(as_user, f"TS-WEB-SHOWIF-{lang}-{viewport}", lang, size)
    resolution, unresolved = _field(page, "resolution_summary"), _field(page, "unresolved_reason")
    # Not resolved, not declined (both boxes start unticked): the reason it is not resolved applies.
    expect(resolution).to_be_hidden()
    expect(page.get_by_text(words["resolution"], exact=True)).to_be_hidden()  # with its label
    expect(_field(page, "decline_reason")).to_be_hidden()
    expect(unresolved).to_be_visible()

    fill_form(page, {"onsite_resolved": True})
    expect(resolution).to_be_visible()
    expect(page.get_by_text(words["resolution"], exact=True)).to_be_visible()
    expect(unresolved).to_be_hidden()
    fill_form(page, {"resolution_summary": "已修复 / repaired"})

    # Declining the dispatch hides the whole visit, and asks why.
    fill_form(page, {"declined": True})
    expect(_field(page, "decline_reason")).to_be_visible()
    for name in ("fault_found", "onsite_visit_date", "resolution_summary", "unresolved_reason"):
        expect(_field(page, name)).to_be_hidden()
    fill_form(page, {"declined": False, "onsite_resolved": False})
    expect(resolution).to_be_hidden()  # typed into, then ruled out again: not sent
    expect(_field(page, "decline_reason")).to_be_hidden()
    assert no_horizontal_scroll(page)

    sent = _count_sends(page)
    fill_form(page, {"onsite_visit_date": "2026-01-05", "fault_found": "压缩机损坏",
                     "unresolved_reason": "缺压缩机配件 / no compressor in stock"})
    page.get_by_role("button", name=words["submit"]).click()
    expect(page).to_have_url(re.compile(r"/tasks\?done=[0-9a-f-]{36}$"))
    assert len(sent) == 1
    stored = call(as_user("admin"), "GET", f"/api/instances/{instance_id}")["variables"]
    assert stored["unresolved_reason"] == "缺压缩机配件 / no compressor in stock"
    assert "resolution_summary" not in stored and "decline_reason" not in stored


@BOTH_LANGUAGES
@BOTH_WIDTHS
def test_a_field_the_answers_require_left_empty_is_marked_on_it_and_nothing_is_sent(
        as_user: Callable[..., Page], lang: str, viewport: str) -> None:
    words, size = WORDS[lang], PHONE if viewport == "phone" else DESKTOP
    page, _ = _repair_task(as_user, f"TS-WEB-THEN-{lang}-{viewport}", lang, size)
    sent = _count_sends(page)
    # Not resolved: the form's if/then requires the reason (minLength 1, not in its top-level required).
    fill_form(page, {"onsite_visit_date": "2026-01-05", "fault_found": "压缩机损坏"})
    page.get_by_role("button", name=words["submit"]).click()
    expect(page.locator("#flash")).to_contain_text(words["invalid"])
    reason = _field(page, "unresolved_reason")
    expect(reason.locator(".server-error")).to_have_text(words["required"])
    expect(reason.locator("input, textarea").first).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#schema-form > .server-error")).to_have_count(0)  # on the field, not on the form
    assert no_horizontal_scroll(page)

    # Declined without a reason: the reason for declining is marked, no longer the repair's fields.
    fill_form(page, {"declined": True})
    page.get_by_role("button", name=words["submit"]).click()
    expect(_field(page, "decline_reason").locator(".server-error")).to_have_text(words["required"])
    expect(page.locator(".server-error")).to_have_count(1)
    assert sent == []

    fill_form(page, {"decline_reason": "距离太远 / too far"})
    page.get_by_role("button", name=words["submit"]).click()
    expect(page).to_have_url(re.compile(r"/tasks\?done=[0-9a-f-]{36}$"))
    assert len(sent) == 1


@BOTH_LANGUAGES
def test_a_start_form_narrowing_a_choice_by_an_earlier_answer_is_checked_before_the_start(
        as_user: Callable[..., Page], lang: str) -> None:
    words = WORDS[lang]
    page = as_user("rcc_agent", lang=lang)
    page.goto("/start/complaint_handling")
    expect(page.locator("#form-editor [data-schemapath]").first).to_be_visible()
    sent = _count_sends(page)
    # An outlet complaining may not file a product-quality complaint (complaint_intake.json's allOf).
    fill_form(page, {**CUSTOMER_INTAKE, "complainant_type": "outlet", "outlet_code": "HD-001",
                     "outlet_contact_name": "王五", "outlet_contact_phone": "13800000000"})
    page.get_by_role("button", name=words["start"], exact=True).click()
    expect(_field(page, "complaint_category").locator(".server-error")).to_have_text(words["enum"])
    assert sent == []


@BOTH_LANGUAGES
def test_a_rejection_decided_in_the_page_gives_the_reason_that_applies_only_to_it(as_user: Callable[..., Page], lang: str) -> None:
    """The CSD head's rejection reason applies only to a rejection (x-show-if) and is the rejection's opinion:
    the page checks the decision as the server completes it, with the button's fields and the opinion in."""
    words = {"zh": ("不批准", "此决定需要填写审批意见。"), "en": ("Reject", "This decision needs an opinion.")}[lang]
    key = f"TS-WEB-CSD-{lang}"
    instance_id = start_case(as_user("outlet"), "outlet_onboarding", REGISTRATION, key)
    work(as_user("rcc_director"), key, "rcc_review", APPROVE_RCC)
    work(as_user("tech_section"), key, "tech_review", APPROVE_TECH)
    head = as_user("csd_head", lang=lang, viewport=PHONE)
    head.goto(f"/tasks/{task_id_of(head, key, 'csd_approval')}")
    sent = _count_sends(head)
    reject = head.get_by_role("button", name=words[0], exact=True)
    reject.click()
    expect(head.locator("#opinion-field .server-error")).to_have_text(words[1])
    expect(head.locator(".server-error")).to_have_count(1)  # once, not again as the missing reason
    assert sent == []

    head.locator("#opinion").fill("本区网点已饱和 / enough outlets here")
    reject.click()
    expect(head).to_have_url(re.compile(r"/tasks\?done=[0-9a-f-]{36}$"))
    assert len(sent) == 1
    stored = call(as_user("admin"), "GET", f"/api/instances/{instance_id}")["variables"]
    assert (stored["csd_approved"], stored["rejection_reason"]) == (False, "本区网点已饱和 / enough outlets here")
