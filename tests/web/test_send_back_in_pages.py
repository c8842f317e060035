"""退回 from the task page, in both languages at desktop and phone width: the director sends a return
case back to the outlet's inspection with a reason; the outlet finds the step reopened, the reason
above the form and the values it submitted filled in; the approval record says who sent what back,
and why."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from playwright.sync_api import Page, expect

from tests.api.conftest import PDF
from tests.web.conftest import DESKTOP, PHONE, no_horizontal_scroll
from tests.web.page_api import INSPECTION, RETURN_REQUEST, call, stage_file, start_case, task_id_of, work

REASON = "发票照片看不清，请重新检测并补拍 / the invoice photo is unreadable: inspect again"
WORDS = {
    "zh": {"moves": "退回与转交", "to": "退回到", "send_back": "退回", "reason": "原因",
           "notice": "rcc_director 退回了此步骤", "record": "把「RCC 主任批准退换货」退回到「网点检测产品」",
           "claim": "认领"},
    "en": {"moves": "Send back or hand on", "to": "Send back to", "send_back": "Send back", "reason": "Reason",
           "notice": "rcc_director sent this step back",
           "record": "sent “RCC director approves” back to “Outlet inspects the product”", "claim": "Claim"},
}


@pytest.mark.parametrize("lang", ["zh", "en"])
@pytest.mark.parametrize("viewport", ["desktop", "phone"])
def test_the_director_sends_a_case_back_from_the_task_page(as_user: Callable[..., Page], lang: str,
                                                           viewport: str) -> None:
    key, words, size = f"TH-WEB-SEND-BACK-{lang}-{viewport}", WORDS[lang], PHONE if viewport == "phone" else DESKTOP
    outlet = as_user("outlet", lang=lang, viewport=size)
    instance_id = start_case(outlet, "return_exchange", {**RETURN_REQUEST, "invoice": [stage_file(outlet, "发票.pdf", PDF)]}, key)
    work(outlet, key, "inspect_product", INSPECTION)
    director = as_user("rcc_director", lang=lang, viewport=size)
    director.goto(f"/tasks/{task_id_of(director, key, 'rcc_director_approval')}")

    moves = director.get_by_role("region", name=words["moves"])
    expect(moves.get_by_label(words["to"])).to_have_value("inspect_product")  # the one step it may go back to
    send_back = moves.get_by_role("button", name=words["send_back"], exact=True)
    send_back.click()  # without a reason the page does not send it
    expect(director).to_have_url(re.compile(r"/tasks/[0-9a-f-]{36}$"))
    moves.get_by_label(words["reason"]).fill(REASON)
    assert no_horizontal_scroll(director)
    director.once("dialog", lambda dialog: dialog.accept())  # 确定把案件退回到所选步骤吗？
    send_back.click()
    expect(director).to_have_url(re.compile(r"/tasks$"))

    outlet.goto(f"/tasks/{task_id_of(outlet, key, 'inspect_product')}")
    expect(outlet.get_by_test_id("sent-back-notice")).to_contain_text(words["notice"])
    expect(outlet.get_by_test_id("sent-back-notice")).to_contain_text(REASON)
    sent = outlet.get_by_test_id("approval-record").locator("li[data-kind=sent_back]")
    expect(sent).to_contain_text(words["record"])
    expect(sent).to_contain_text(REASON)
    assert no_horizontal_scroll(outlet)
    outlet.get_by_role("button", name=words["claim"]).click()
    notes = outlet.locator('[data-schemapath="root.inspection_notes"]:visible').last.locator("input, textarea").first
    expect(notes).to_have_value(str(INSPECTION["inspection_notes"]))  # the values it last submitted
    waiting = [t["element_id"] for t in call(outlet, "GET", f"/api/instances/{instance_id}")["waiting_tasks"]]
    assert waiting == ["inspect_product"]
