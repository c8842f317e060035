"""Deciding on the task page with the form's outcome buttons: an approval in two clicks from the inbox
(open, 通过) in both languages at desktop and phone width, and a rejection that asks for its opinion
first (a phone, in Chinese)."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from playwright.sync_api import Page, expect

from tests.api.test_outlet_onboarding import APPROVE_RCC, REGISTRATION
from tests.web.conftest import DESKTOP, PHONE, no_horizontal_scroll, screenshot
from tests.web.page_api import call, start_case, work

# Every click a person makes in the tab, kept across the page loads it causes.
COUNT_CLICKS = """
document.addEventListener("click", () => {
  sessionStorage.setItem("clicks", String(Number(sessionStorage.getItem("clicks") || 0) + 1));
}, true);
"""


def clicks(page: Page) -> int:
    return int(page.evaluate("Number(sessionStorage.getItem('clicks') || 0)"))


def history_of(page: Page, instance_id: str) -> list[dict[str, object]]:
    return list(call(page, "GET", f"/api/instances/{instance_id}/history"))


TWO_CLICKS = {
    "zh": {"step": "RCC 审核申请并现场考察", "pass": "通过", "claim": "认领", "went": "技术管理科审核 (tech_section)"},
    "en": {"step": "RCC reviews the application and inspects the site", "pass": "Pass", "claim": "Claim",
           "went": "Technical section review (tech_section)"},
}


@pytest.mark.parametrize("lang", ["zh", "en"])
@pytest.mark.parametrize("viewport", ["desktop", "phone"])
def test_an_approval_takes_two_clicks_from_the_inbox(as_user: Callable[..., Page], lang: str, viewport: str) -> None:
    key, words = f"TS-WEB-TWO-CLICKS-{lang}-{viewport}", TWO_CLICKS[lang]
    instance_id = start_case(as_user("outlet"), "outlet_onboarding", REGISTRATION, key)
    director = as_user("rcc_director", lang=lang, viewport=PHONE if viewport == "phone" else DESKTOP)
    director.context.add_init_script(COUNT_CLICKS)
    director.goto(f"/tasks?q={key}")  # the inbox, as bookmarked
    assert clicks(director) == 0

    director.get_by_role("link", name=words["step"]).click()
    pass_button = director.get_by_role("button", name=words["pass"], exact=True)
    expect(pass_button).to_be_visible()  # offered at once, although nobody has claimed the task
    expect(director.get_by_role("button", name=words["claim"])).to_have_count(0)
    expect(director.get_by_role("checkbox")).to_have_count(0)  # no tick box standing for the decision
    assert no_horizontal_scroll(director)
    if (lang, viewport) == ("en", "desktop"):
        screenshot(director, "task-decision")
    pass_button.click()

    expect(director).to_have_url(re.compile(r"/tasks\?done=[0-9a-f-]{36}$"))
    expect(director.get_by_test_id("where-it-went")).to_contain_text(words["went"])
    assert clicks(director) == 2
    decided = [e for e in history_of(director, instance_id) if e["event_type"] == "task_decided"]
    assert [(e["actor"], e["data"]["outcome"]) for e in decided] == [("rcc_director", "approve")]  # type: ignore[index]


def test_a_rejection_on_a_phone_asks_for_the_opinion_first(as_user: Callable[..., Page]) -> None:
    key = "TS-WEB-REJECT-PHONE"
    outlet = as_user("outlet")
    instance_id = start_case(outlet, "outlet_onboarding", REGISTRATION, key)
    work(as_user("rcc_director"), key, "rcc_review", APPROVE_RCC)
    section = as_user("tech_section", lang="zh", viewport=PHONE, has_touch=True, is_mobile=True)
    section.goto(f"/tasks?q={key}")
    section.get_by_role("link", name="技术管理科审核").tap()
    reject = section.get_by_role("button", name="驳回", exact=True)
    expect(reject).to_be_visible()
    assert no_horizontal_scroll(section)

    requests: list[str] = []
    section.on("request", lambda request: requests.append(request.url) if "/decide" in request.url else None)
    reject.tap()
    opinion = section.get_by_label("审批意见")
    expect(section.locator("#opinion-field .server-error")).to_have_text("此决定需要填写审批意见。")
    expect(opinion).to_have_attribute("aria-invalid", "true")
    assert requests == []

    opinion.tap()
    section.keyboard.type("工程师人数不足 / too few engineers")
    reject.tap()
    expect(section.get_by_test_id("where-it-went")).to_contain_text("已完成「技术管理科审核」")
    screenshot(section, "phone-decided-zh")
    detail = call(outlet, "GET", f"/api/instances/{instance_id}")
    assert detail["variables"]["tech_approved"] is False
    assert detail["variables"]["rejection_reason"] == "工程师人数不足 / too few engineers"
    [decided] = [e for e in history_of(outlet, instance_id) if e["event_type"] == "task_decided"
                 and e["data"]["element"] == "tech_review"]  # type: ignore[index]
    assert decided["data"]["opinion"] == "工程师人数不足 / too few engineers"  # type: ignore[index]
