"""转交 and 撤回 on the pages, in both languages at desktop and phone width.

转交: the RCC director hands a return's approval to a colleague the page offers (one who may work
it), with a reason; the colleague finds it assigned to them, and the approval record says who
handed what to whom, when and why. 撤回: the outlet that started a case withdraws it from the case
page with a reason; the case ends, and the record says who withdrew it, when and why; a case the
director has decided meanwhile is refused with the page's own message and stays as it was."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from playwright.sync_api import Page, expect

from tests.api.conftest import PDF
from tests.web.conftest import DESKTOP, PHONE, log_in, no_horizontal_scroll
from tests.web.page_api import INSPECTION, RETURN_REQUEST, call, stage_file, start_case, task_id_of, work

HAND_ON_REASON = "本人出差，请代为审批 / away on a trip: please decide it"
WITHDRAW_REASON = "客户已自行解决 / the customer solved it"
WORDS = {
    "zh": {"moves": "退回与转交", "colleague": "同事", "reason": "原因", "hand_on": "转交",
           "claimed_by": "此任务已由 {user} 认领。", "handed": "把「RCC 主任批准退换货」转交给 {user}",
           "actions": "操作", "withdraw": "撤回", "terminated": "已终止", "withdrew": "撤回了案件",
           "refused": "此案件已不能撤回：他人已处理，或案件已结束。"},
    "en": {"moves": "Send back or hand on", "colleague": "Colleague", "reason": "Reason", "hand_on": "Hand on",
           "claimed_by": "This task is claimed by {user}.", "handed": "handed “RCC director approves” to {user}",
           "actions": "Actions", "withdraw": "Withdraw", "terminated": "terminated", "withdrew": "withdrew the case",
           "refused": "This case can no longer be withdrawn: someone else has acted on it, or it has ended."},
}
VIEWPORTS = {"desktop": DESKTOP, "phone": PHONE}


def _return_case(outlet: Page, key: str, *, inspected: bool = True) -> str:
    instance_id = start_case(outlet, "return_exchange", {**RETURN_REQUEST, "invoice": [stage_file(outlet, "发票.pdf", PDF)]}, key)
    if inspected:
        work(outlet, key, "inspect_product", INSPECTION)
    return instance_id


@pytest.mark.parametrize("lang", ["zh", "en"])
@pytest.mark.parametrize("viewport", ["desktop", "phone"])
def test_the_director_hands_a_task_to_a_colleague_with_a_reason(as_user: Callable[..., Page],
                                                                new_context: Callable[..., object],
                                                                lang: str, viewport: str) -> None:
    key, words = f"TH-WEB-HAND-ON-{lang}-{viewport}", WORDS[lang]
    instance_id = _return_case(as_user("outlet"), key)
    director = as_user("rcc_director", lang=lang, viewport=VIEWPORTS[viewport])
    task_id = task_id_of(director, key, "rcc_director_approval")
    call(director, "POST", f"/api/tasks/{task_id}/claim")
    director.goto(f"/tasks/{task_id}")

    moves = director.get_by_role("region", name=words["moves"])
    picker = moves.get_by_label(words["colleague"])
    offered = picker.locator("option").all_inner_texts()
    assert offered and "rcc_director" not in offered and "outlet" not in offered  # members of its group only
    colleague = offered[0]
    hand_on = moves.get_by_role("button", name=words["hand_on"], exact=True)
    hand_on.click()  # without a reason the page sends nothing
    assert call(director, "GET", f"/api/tasks/{task_id}")["assignee"] == "rcc_director"
    moves.get_by_label(words["reason"]).last.fill(HAND_ON_REASON)
    assert no_horizontal_scroll(director)
    hand_on.click()
    expect(director.get_by_text(words["claimed_by"].format(user=colleague))).to_be_visible()

    handed = director.get_by_test_id("approval-record").locator("li[data-kind=assigned]")
    expect(handed.locator(".who")).to_have_text("rcc_director")
    expect(handed.locator(".what")).to_have_text(words["handed"].format(user=colleague))
    expect(handed.locator(".opinion")).to_have_text(HAND_ON_REASON)
    expect(handed.locator("time")).to_have_attribute("datetime", re.compile(r"^\d{4}-\d\d-\d\dT"))

    other = new_context(viewport=VIEWPORTS[viewport]).new_page()  # type: ignore[attr-defined]
    log_in(other, colleague, lang=lang)
    other.goto(f"/tasks?q={key}&show=mine")
    other.get_by_role("link", name=re.compile("RCC 主任批准退换货" if lang == "zh" else "RCC director approves")).click()
    expect(other).to_have_url(re.compile(rf"/tasks/{task_id}$"))
    expect(other.get_by_role("button", name=re.compile("同意退换|Approve the return"))).to_be_visible()
    assert instance_id  # the case stays where it was: only its holder changed
    assert [t["assignee"] for t in call(other, "GET", f"/api/instances/{instance_id}")["waiting_tasks"]] == [colleague]


@pytest.mark.parametrize("lang", ["zh", "en"])
@pytest.mark.parametrize("viewport", ["desktop", "phone"])
def test_the_starter_withdraws_a_case_from_its_page(as_user: Callable[..., Page], lang: str, viewport: str) -> None:
    words = WORDS[lang]
    outlet = as_user("outlet", lang=lang, viewport=VIEWPORTS[viewport])
    # Acted on by the director while the outlet's page is open: refused, in the page's language.
    late = _return_case(outlet, f"TH-WEB-LATE-{lang}-{viewport}")
    outlet.goto(f"/instances/{late}")
    actions = outlet.get_by_role("region", name=words["actions"])
    actions.get_by_label(words["reason"]).fill(WITHDRAW_REASON)
    director = as_user("rcc_director")
    call(director, "POST", f"/api/tasks/{task_id_of(director, f'TH-WEB-LATE-{lang}-{viewport}', 'rcc_director_approval')}/decide",
         {"outcome": "approve"})
    actions.get_by_role("button", name=words["withdraw"], exact=True).click()
    expect(outlet.locator("#flash")).to_contain_text(words["refused"])
    assert call(outlet, "GET", f"/api/instances/{late}")["status"] == "running"

    # Not acted on by anyone else (the outlet's own inspection does not count): withdrawn.
    key = f"TH-WEB-WITHDRAW-{lang}-{viewport}"
    instance_id = _return_case(outlet, key)
    outlet.goto(f"/instances/{instance_id}")
    actions = outlet.get_by_role("region", name=words["actions"])
    withdraw = actions.get_by_role("button", name=words["withdraw"], exact=True)
    withdraw.click()  # without a reason the page sends nothing
    expect(actions.get_by_label(words["reason"])).to_have_js_property("validity.valueMissing", True)
    assert call(outlet, "GET", f"/api/instances/{instance_id}")["status"] == "running"
    actions.get_by_label(words["reason"]).fill(WITHDRAW_REASON)
    assert no_horizontal_scroll(outlet)
    withdraw.click()
    expect(outlet.get_by_test_id("instance-status")).to_have_text(words["terminated"])
    expect(outlet.get_by_role("region", name=words["actions"])).to_have_count(0)  # nothing left to do
    withdrawn = outlet.get_by_test_id("approval-record").locator("li[data-kind=withdrawn]")
    expect(withdrawn.locator(".who")).to_have_text("outlet")
    expect(withdrawn.locator(".what")).to_have_text(words["withdrew"])
    expect(withdrawn.locator(".opinion")).to_have_text(WITHDRAW_REASON)
    expect(withdrawn.locator("time")).to_have_attribute("datetime", re.compile(r"^\d{4}-\d\d-\d\dT"))
    detail = call(outlet, "GET", f"/api/instances/{instance_id}")
    assert (detail["status"], detail["status_reason"], detail["waiting_tasks"]) == ("terminated", "withdrawn", [])
