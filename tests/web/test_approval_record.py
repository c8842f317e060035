"""The approval record (审批记录) on the case and task pages: who decided what, when, with which
opinion; where the case is now and who holds it; the case data as the forms label it. The engine
log is for admins."""

from __future__ import annotations

from collections.abc import Callable

from playwright.sync_api import Page, expect

from tests.api.test_outlet_onboarding import REGISTRATION
from tests.web.conftest import DESKTOP, PHONE, no_horizontal_scroll, screenshot
from tests.web.page_api import call, start_case, task_id_of


def rejected_onboarding(as_user: Callable[..., Page], key: str) -> tuple[str, Page]:
    """An onboarding passed by the RCC director and rejected by the technical section, both with opinions."""
    outlet = as_user("outlet")
    instance_id = start_case(outlet, "outlet_onboarding", REGISTRATION, key)
    for user, step, outcome, opinion in (("rcc_director", "rcc_review", "approve", "现场整洁 / tidy site"),
                                         ("tech_section", "tech_review", "reject", "工程师不足 / too few engineers")):
        page = as_user(user)
        call(page, "POST", f"/api/tasks/{task_id_of(page, key, step)}/decide", {"outcome": outcome, "opinion": opinion})
    return instance_id, outlet


def test_the_case_page_opens_with_the_approval_record(as_user: Callable[..., Page]) -> None:
    instance_id, _ = rejected_onboarding(as_user, "TS-WEB-RECORD")
    page = as_user("outlet", lang="zh")
    page.goto(f"/instances/{instance_id}")
    record = page.get_by_test_id("approval-record")
    entries = record.locator("li")
    expect(entries.nth(0)).to_contain_text("outlet")
    expect(entries.nth(0)).to_contain_text("发起了案件")
    approved = record.locator("li[data-kind=decided]").nth(0)
    expect(approved).to_contain_text("rcc_director")
    expect(approved).to_contain_text("审批「RCC 审核申请并现场考察」")
    expect(approved.get_by_test_id("outcome")).to_have_text("通过")
    expect(approved.locator(".opinion")).to_have_text("现场整洁 / tidy site")
    rejected = record.locator("li[data-kind=decided]").nth(1)
    expect(rejected.get_by_test_id("outcome")).to_have_text("驳回")
    expect(rejected.locator(".opinion")).to_have_text("工程师不足 / too few engineers")
    expect(record.locator("li[data-kind=completed]")).to_have_count(0)  # a decision is its step's completion
    expect(page.get_by_test_id("case-now")).to_contain_text("等待「查看驳回原因并决定是否重新申请」 · 处理人：outlet")

    fields = page.get_by_test_id("case-fields")
    expect(fields.locator("tr[data-field=legal_entity]")).to_have_text("具备法人资格是")
    expect(fields.locator("tr[data-field=region_class]")).to_contain_text("A 类：中心城市")
    expect(fields.locator("tr[data-field=tech_approved]")).to_have_text("审核通过否")
    expect(page.get_by_text("True")).to_have_count(0)
    expect(page.get_by_test_id("history")).to_have_count(0)  # the engine log is the admins'
    screenshot(page, "approval-record-zh")

    admin = as_user("admin")
    admin.goto(f"/instances/{instance_id}")
    expect(admin.get_by_test_id("history").locator("li[data-event=task_decided]")).to_have_count(2)


RECORD_WORDS = {
    "zh": {"decided": "审批「技术管理科审核」", "reject": "驳回", "holder": "处理人：outlet",
           "legal_entity": "具备法人资格是", "reason": "驳回原因工程师不足 / too few engineers"},
    "en": {"decided": "tech_section decided “Technical section review” Reject", "reject": "Reject",
           "holder": "held by outlet", "legal_entity": "Has legal-entity statusyes",
           "reason": "Reason for rejection工程师不足 / too few engineers"},
}


def test_the_task_page_shows_the_record_in_both_languages_at_desktop_and_phone_width(
        as_user: Callable[..., Page]) -> None:
    key = "TS-WEB-RECORD-EN"
    rejected_onboarding(as_user, key)
    for lang, viewport in (("zh", DESKTOP), ("zh", PHONE), ("en", DESKTOP), ("en", PHONE)):
        words = RECORD_WORDS[lang]
        page = as_user("outlet", lang=lang, viewport=viewport)
        page.goto(f"/tasks/{task_id_of(page, key, 'review_rejection')}")
        decided = page.get_by_test_id("approval-record").locator("li[data-kind=decided]").nth(1)
        expect(decided).to_contain_text(words["decided"])
        expect(decided.get_by_test_id("outcome")).to_have_text(words["reject"])
        expect(page.get_by_test_id("case-now")).to_contain_text(words["holder"])
        expect(page.get_by_test_id("case-fields").locator("tr[data-field=legal_entity]")).to_have_text(
            words["legal_entity"])
        expect(page.get_by_test_id("case-fields").locator("tr[data-field=rejection_reason]")).to_have_text(
            words["reason"])
        assert no_horizontal_scroll(page)
    screenshot(page, "phone-task-record")
