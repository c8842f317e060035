"""Issue 16's inbox in the browser: rows that tell cases apart (serial number, model, outlet in the
page's language), a mark and a filter for the tasks whose 加签 is asked of the reader, and saved
filters as tabs (save, open, delete; a bad name refused in the page's language), on a phone in
Chinese and on a desktop in English."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable

from playwright.sync_api import Page, expect

from tests.api.test_complaint_handling import CUSTOMER_INTAKE
from tests.web.conftest import DESKTOP, PHONE, log_in, no_horizontal_scroll, screenshot
from tests.web.page_api import call, start_case, task_id_of
from tests.web.test_extra_sign_in_pages import _at_director


def _new_director(as_user: Callable[..., Page]) -> str:
    """A person of their own, so their saved filters are theirs alone whatever the other tests saved."""
    username = f"rcc_di.{uuid.uuid4().hex[:8]}"
    call(as_user("admin"), "POST", "/api/users",
         {"username": username, "password": "long-enough-pw", "groups": ["rcc_director"]})
    return username


def test_inbox_rows_show_serial_model_and_outlet_in_the_pages_language(as_user: Callable[..., Page]) -> None:
    start_case(as_user("rcc_agent"), "complaint_handling", CUSTOMER_INTAKE, "TS-WEB-MARKS", dispatch_to="HD-001")
    for lang, viewport, outlet in (("zh", PHONE, "上海徐汇特约服务网点"), ("en", None, "Shanghai Xuhui outlet")):
        page = as_user("outlet", lang=lang, **({"viewport": viewport} if viewport else {}))
        page.goto("/tasks?q=TS-WEB-MARKS")
        row = page.get_by_test_id("task-list").get_by_role("row").filter(has_text="TS-WEB-MARKS")
        expect(row.get_by_test_id("case-marks")).to_have_text(f"SN-2025-000123 · KFR-35GW · {outlet}")
        if viewport:
            assert no_horizontal_scroll(page)


def test_a_sign_asked_of_the_reader_is_marked_and_filtered_in_both_languages(as_user: Callable[..., Page]) -> None:
    key = f"TH-WEB-ASKED-{uuid.uuid4().hex[:6]}"
    _at_director(as_user, key)
    director = as_user("rcc_director")
    task_id = task_id_of(director, key, "rcc_director_approval")
    call(director, "POST", f"/api/tasks/{task_id}/claim")
    call(director, "POST", f"/api/tasks/{task_id}/extra-signs",
         {"signer": "csd_head", "position": "before", "reason": "请会签 / please co-sign"})
    director.goto(f"/tasks?q={key}")
    row = director.get_by_test_id("task-list").get_by_role("row").filter(has_text=key)
    expect(row).to_have_count(1)
    expect(row.get_by_test_id("sign-asked")).to_have_count(0)  # the holder was not asked
    words = {"zh": ("请您加签", "显示", "请我加签的", "筛选"), "en": ("Sign asked of you", "Show", "Signs asked of me", "Filter")}
    for lang, viewport in (("zh", PHONE), ("en", DESKTOP)):
        badge, show, signing, button = words[lang]
        head = as_user("csd_head", lang=lang, viewport=viewport)
        head.goto(f"/tasks?q={key}")
        row = head.get_by_test_id("task-list").get_by_role("row").filter(has_text=key)
        expect(row.get_by_test_id("sign-asked")).to_have_text(badge)
        head.get_by_label(show, exact=True).select_option(label=signing)
        head.get_by_role("button", name=button, exact=True).click()
        expect(head).to_have_url(re.compile(r"show=signing"))
        expect(head.get_by_test_id("task-list").get_by_role("row").filter(has_text=key)
               .get_by_test_id("sign-asked")).to_have_text(badge)
        expect(head.get_by_test_id("task-list").locator("[data-testid=sign-asked]")).to_have_count(
            head.get_by_test_id("task-list").locator("tbody tr").count())  # only tasks asked of them
        if viewport is PHONE:
            assert no_horizontal_scroll(head)
            head.get_by_test_id("task-list").scroll_into_view_if_needed()  # the row, below the filters
        screenshot(head, f"inbox-sign-asked-{lang}")


def test_saved_filters_as_tabs_on_a_desktop_in_english(as_user: Callable[..., Page], page: Page) -> None:
    log_in(page, _new_director(as_user), password="long-enough-pw")
    page.goto("/tasks")
    page.get_by_label("Due").select_option("overdue")
    page.get_by_label("Process").select_option("outlet_onboarding")
    page.get_by_role("button", name="Filter", exact=True).click()
    page.get_by_label("Filter name").fill("Late onboardings")
    page.get_by_role("button", name="Save this filter").click()
    tabs = page.get_by_test_id("saved-filters")
    tab = tabs.get_by_role("link", name="Late onboardings")
    expect(tab).to_have_attribute("aria-current", "page")
    tabs.get_by_role("link", name="All").click()
    expect(page.get_by_label("Due")).to_have_value("")
    expect(tab).not_to_have_attribute("aria-current", "page")
    tab.click()
    expect(page).to_have_url(re.compile(r"due=overdue"))
    expect(page.get_by_label("Due")).to_have_value("overdue")
    expect(page.get_by_label("Process")).to_have_value("outlet_onboarding")
    screenshot(page, "inbox-saved-filters")
    page.get_by_role("button", name="Delete filter “Late onboardings”").click()
    expect(tabs.get_by_role("link", name="Late onboardings")).to_have_count(0)


def test_saved_filters_on_a_phone_in_chinese_with_a_bad_name(as_user: Callable[..., Page],
                                                             new_context: Callable[..., object]) -> None:
    username = _new_director(as_user)
    phone = new_context(viewport=PHONE).new_page()  # type: ignore[attr-defined]
    log_in(phone, username, password="long-enough-pw", lang="zh")
    phone.goto("/tasks?show=mine")
    phone.get_by_label("筛选名称").fill("   ")  # passes the browser's `required`, not the server
    phone.get_by_role("button", name="保存当前筛选").click()
    expect(phone.locator("#flash")).to_contain_text("筛选名称（name）不能为空")
    expect(phone.get_by_test_id("saved-filters").locator(".saved-filter")).to_have_count(0)
    phone.get_by_label("筛选名称").fill("我的")
    phone.get_by_role("button", name="保存当前筛选").click()
    tab = phone.get_by_test_id("saved-filters").get_by_role("link", name="我的")
    expect(tab).to_have_attribute("aria-current", "page")
    assert no_horizontal_scroll(phone)
    screenshot(phone, "phone-inbox-saved-filters-zh")
