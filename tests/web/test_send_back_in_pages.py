"""退回 from the task page, in Chinese: the director sends a return case back to the outlet's
inspection with a reason; the outlet finds the step reopened, the reason above the form and the
values it submitted filled in; the approval record says who sent what back, and why."""

from __future__ import annotations

import re
from collections.abc import Callable

from playwright.sync_api import Page, expect

from tests.api.conftest import PDF
from tests.api.test_case_moves import INSPECTED
from tests.api.test_return_exchange import REQUEST
from tests.web.page_api import call, stage_file, start_case, task_id_of, work

REASON = "发票照片看不清，请重新检测并补拍"


def test_the_director_sends_a_case_back_from_the_task_page_in_chinese(as_user: Callable[..., Page]) -> None:
    key = "TH-WEB-SEND-BACK"
    outlet = as_user("outlet", lang="zh")
    instance_id = start_case(outlet, "return_exchange", {**REQUEST, "invoice": [stage_file(outlet, "发票.pdf", PDF)]}, key)
    work(outlet, key, "inspect_product", INSPECTED)
    director = as_user("rcc_director", lang="zh")
    director.goto(f"/tasks/{task_id_of(director, key, 'rcc_director_approval')}")

    moves = director.get_by_role("region", name="退回与转交")
    expect(moves.get_by_label("退回到")).to_have_value("inspect_product")  # the one step it may go back to
    send_back = moves.get_by_role("button", name="退回", exact=True)
    send_back.click()  # without a reason the page does not send it
    expect(director).to_have_url(re.compile(r"/tasks/[0-9a-f-]{36}$"))
    moves.get_by_label("原因").fill(REASON)
    director.once("dialog", lambda dialog: dialog.accept())  # 确定把案件退回到所选步骤吗？
    send_back.click()
    expect(director).to_have_url(re.compile(r"/tasks$"))

    outlet.goto(f"/tasks/{task_id_of(outlet, key, 'inspect_product')}")
    expect(outlet.get_by_test_id("sent-back-notice")).to_contain_text("rcc_director 退回了此步骤")
    expect(outlet.get_by_test_id("sent-back-notice")).to_contain_text(REASON)
    sent = outlet.get_by_test_id("approval-record").locator("li[data-kind=sent_back]")
    expect(sent).to_contain_text("把「RCC 主任批准退换货」退回到「网点检测产品」")
    expect(sent).to_contain_text(REASON)
    outlet.get_by_role("button", name="认领").click()
    notes = outlet.locator('[data-schemapath="root.inspection_notes"]:visible').last.locator("input, textarea").first
    expect(notes).to_have_value(str(INSPECTED["inspection_notes"]))  # the values it last submitted
    waiting = [t["element_id"] for t in call(outlet, "GET", f"/api/instances/{instance_id}")["waiting_tasks"]]
    assert waiting == ["inspect_product"]
