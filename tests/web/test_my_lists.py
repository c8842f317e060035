"""已办 and 我发起的 in the navigation, with their counts, on a phone in Chinese and on a desktop in
English: each row says where the case is now and what tells it apart (serial number, model, outlet)."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable

from playwright.sync_api import Page, expect

from tests.api.test_outlet_onboarding import REGISTRATION
from tests.api.test_return_exchange import REQUEST
from tests.web.conftest import DESKTOP, PHONE, log_in, no_horizontal_scroll, screenshot
from tests.web.page_api import call, start_case
from tests.web.test_extra_sign_in_pages import _at_director


def new_user(as_user: Callable[..., Page], group: str) -> str:
    """A person of their own, so the counts are theirs alone whatever the other tests did."""
    username = f"{group[:6]}.{uuid.uuid4().hex[:8]}"
    call(as_user("admin"), "POST", "/api/users", {"username": username, "password": "long-enough-pw", "groups": [group]})
    return username


def test_started_and_done_lists_with_their_counts(as_user: Callable[..., Page], new_context: Callable[..., object],
                                                  page: Page) -> None:
    starter = new_user(as_user, "outlet")
    outlet = new_context(viewport=PHONE).new_page()  # type: ignore[attr-defined]
    log_in(outlet, starter, password="long-enough-pw", lang="zh")
    expect(outlet.get_by_test_id("count-started")).to_have_text("0")
    start_case(outlet, "outlet_onboarding", REGISTRATION, "TS-WEB-MINE")
    outlet.get_by_role("link", name=re.compile("^我发起的")).click()
    expect(outlet.get_by_test_id("count-started")).to_have_text("1")
    row = outlet.get_by_test_id("started-list").get_by_role("row").filter(has_text="TS-WEB-MINE")
    expect(row.get_by_test_id("now-at")).to_have_text("RCC 审核申请并现场考察 · rcc_director")
    assert no_horizontal_scroll(outlet)
    screenshot(outlet, "phone-started-zh")

    director = new_user(as_user, "rcc_director")
    log_in(page, director, password="long-enough-pw")
    expect(page.get_by_test_id("count-done")).to_have_text("0")
    waiting = int(page.get_by_test_id("count-open").inner_text().rstrip("+"))
    page.goto("/tasks?q=TS-WEB-MINE")
    page.get_by_role("link", name="RCC reviews the application and inspects the site").click()
    page.get_by_role("button", name="Pass", exact=True).click()
    expect(page.get_by_test_id("where-it-went")).to_contain_text("Technical section review (tech_section)")
    expect(page.get_by_test_id("count-done")).to_have_text("1")
    if waiting < 1000:
        expect(page.get_by_test_id("count-open")).to_have_text(str(waiting - 1))
    page.get_by_role("link", name=re.compile("^Done by me")).click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Tasks I completed")
    row = page.get_by_test_id("done-list").get_by_role("row").filter(has_text="TS-WEB-MINE")
    expect(row.get_by_test_id("now-at")).to_have_text("Technical section review · tech_section")


def test_done_and_started_rows_show_serial_model_and_outlet_in_the_pages_language(
        as_user: Callable[..., Page]) -> None:
    key = f"TH-WEB-LISTS-{uuid.uuid4().hex[:6]}"
    _at_director(as_user, key)  # the outlet started the return and inspected the product
    for lang, viewport, outlet in (("zh", PHONE, "天津和平特约服务网点"), ("en", DESKTOP, "Tianjin Heping outlet")):
        page = as_user("outlet", lang=lang, viewport=viewport)
        marks = f"{REQUEST['serial_number']} · {REQUEST['product_model']} · {outlet}"
        page.goto("/started")
        row = page.get_by_test_id("started-list").get_by_role("row").filter(has_text=key)
        expect(row.get_by_test_id("case-marks")).to_have_text(marks)
        expect(row.get_by_test_id("now-at")).to_contain_text("rcc_director")
        assert no_horizontal_scroll(page)
        screenshot(page, f"started-list-{lang}")
        page.goto("/tasks/done")
        row = page.get_by_test_id("done-list").get_by_role("row").filter(has_text=key)
        expect(row.get_by_test_id("case-marks")).to_have_text(marks)
        assert no_horizontal_scroll(page)
        screenshot(page, f"done-list-{lang}")
