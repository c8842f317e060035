"""Values the case already holds are worked out, never retyped (issue 16, forms that help): the return
inspection shows the days since purchase, computed from the request's purchase date on the business
clock, instead of asking for them, and the server records that count. Both languages, desktop and phone."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from playwright.sync_api import Page, expect

from tests.api.conftest import PDF
from tests.web.conftest import DESKTOP, PHONE, fill_form, no_horizontal_scroll, screenshot
from tests.web.page_api import INSPECTION, RETURN_REQUEST, call, stage_file, start_case, task_id_of

MISSING = {"zh": "缺少必填项", "en": "required"}
WORDS = {"zh": ("购买天数", "由系统按「购买日期」计算，无需填写", "提交并完成"),
         "en": ("Days since purchase", "worked out from Purchase date: nothing to type", "Submit and complete")}


@pytest.mark.parametrize("lang", ["zh", "en"])
@pytest.mark.parametrize("viewport", ["desktop", "phone"])
def test_the_inspection_shows_the_days_since_purchase_instead_of_asking(as_user: Callable[..., Page], lang: str,
                                                                        viewport: str) -> None:
    key = f"TH-WEB-COMPUTED-{lang}-{viewport}"
    title, hint, submit = WORDS[lang]
    outlet = as_user("outlet", lang=lang, viewport=PHONE if viewport == "phone" else DESKTOP)
    instance_id = start_case(outlet, "return_exchange",
                             {**RETURN_REQUEST, "invoice": [stage_file(outlet, "发票.pdf", PDF)]}, key)
    task_id = task_id_of(outlet, key, "inspect_product")
    call(outlet, "POST", f"/api/tasks/{task_id}/claim")
    outlet.goto(f"/tasks/{task_id}")
    computed = outlet.get_by_test_id("computed-fields").locator("[data-field=days_since_purchase]")
    expect(computed.locator("dt")).to_have_text(title)
    expect(computed.locator("dd strong")).to_have_text("20")
    expect(computed.locator("dd .hint")).to_have_text(hint)
    expect(outlet.locator('[data-schemapath="root.days_since_purchase"]')).to_have_count(0)  # nothing to type
    # A form opens without complaints: nothing is wrong before it is sent (JSON Editor's first check is not shown).
    expect(outlet.locator("#form-editor").get_by_text(MISSING[lang])).to_be_hidden()
    assert no_horizontal_scroll(outlet)
    if (lang, viewport) == ("zh", "phone"):
        screenshot(outlet, "phone-computed-field-zh")

    fill_form(outlet, {k: v for k, v in INSPECTION.items()})
    outlet.get_by_role("button", name=submit).click()
    expect(outlet).to_have_url(f"/tasks?done={task_id}")
    variables = call(outlet, "GET", f"/api/instances/{instance_id}")["variables"]
    assert variables["days_since_purchase"] == 20  # 16-30 days with a significant problem: an exchange
    assert variables["policy_outcome"] == "exchange"


UNTICK = {"zh": "此处不能勾选（见说明）", "en": "Must not be ticked here (see the note)"}


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_a_checkbox_the_answers_rule_out_is_told_to_be_unticked_before_anything_is_sent(
        as_user: Callable[..., Page], lang: str) -> None:
    """The inspection's rule: no quality problem, so no significant one (an if/then with const false)."""
    key = f"TH-WEB-CONST-{lang}"
    outlet = as_user("outlet", lang=lang)
    start_case(outlet, "return_exchange", {**RETURN_REQUEST, "invoice": [stage_file(outlet, "发票.pdf", PDF)]}, key)
    task_id = task_id_of(outlet, key, "inspect_product")
    call(outlet, "POST", f"/api/tasks/{task_id}/claim")
    outlet.goto(f"/tasks/{task_id}")
    sent: list[str] = []
    outlet.on("request", lambda request: sent.append(request.url) if "/complete" in request.url else None)
    fill_form(outlet, {**INSPECTION, "quality_problem": False, "significant_problem": True})
    outlet.get_by_role("button", name=WORDS[lang][2]).click()
    field = outlet.locator('[data-schemapath="root.significant_problem"]')
    expect(field.locator(".server-error")).to_have_text(UNTICK[lang])
    assert sent == []
