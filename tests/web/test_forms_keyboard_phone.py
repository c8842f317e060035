"""The task form checks in the page and shows the server's 422 on each field; every page works with the
keyboard alone; pages read at 1280×800 and on a 390-px-wide phone without sideways scrolling."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from playwright.sync_api import Page, expect

from tests.web.conftest import PHONE, fill_form, no_horizontal_scroll, screenshot
from tests.web.test_complaint_through_pages import start_complaint


def open_claimed_task(page: Page, business_key: str, step: str) -> None:
    page.goto(f"/tasks?q={business_key}")
    row = page.get_by_test_id("task-list").get_by_role("row").filter(has_text=step)
    row.get_by_role("button", name="Claim").click()
    expect(row.get_by_role("button", name="Unclaim")).to_be_visible()
    row.get_by_role("link", name=step).click()
    expect(page.locator("#form-editor [data-schemapath]").first).to_be_visible()


def test_form_is_checked_in_the_page_and_the_servers_422_is_shown_per_field(as_user: Callable[..., Page]) -> None:
    agent = as_user("rcc_agent")
    start_complaint(agent, "TS-WEB-FORM", dispatch_to=None)
    open_claimed_task(agent, "TS-WEB-FORM", "Dispatch to an outlet")

    # A required field left empty: the page refuses before anything is sent.
    requests: list[str] = []
    agent.on("request", lambda request: requests.append(request.url) if "/complete" in request.url else None)
    agent.get_by_role("button", name="Submit and complete").click()
    expect(agent.locator("#flash")).to_contain_text("The form has errors")
    outlet_field = agent.locator('[data-schemapath="root.outlet_code"]:visible').last
    expect(outlet_field.locator(".server-error")).to_be_visible()
    expect(outlet_field.locator("input")).to_have_attribute("aria-invalid", "true")
    assert requests == []
    # An outlet the register does not hold: only the server knows its register; its 422 marks the field.
    fill_form(agent, {"outlet_code": "HD-999"})
    agent.get_by_role("button", name="Submit and complete").click()
    expect(agent.locator("#flash")).to_contain_text("422")
    expect(outlet_field.locator(".server-error")).to_contain_text("HD-999")
    expect(outlet_field.locator("input")).to_have_attribute("aria-invalid", "true")
    assert len(requests) == 1
    screenshot(agent, "task-form-errors")
    fill_form(agent, {"outlet_code": "HD-001"})
    agent.get_by_role("button", name="Submit and complete").click()
    expect(agent).to_have_url(re.compile(r"/tasks(\?done=[0-9a-f-]+)?$"))
    requests.clear()

    page = as_user("outlet")
    open_claimed_task(page, "TS-WEB-FORM", "On-site repair within 24 hours")
    submit = page.get_by_role("button", name="Submit and complete")
    page.on("request", lambda request: requests.append(request.url) if "/complete" in request.url else None)

    # Not resolved without saying why: a rule between fields (the form's if/then), checked in the page too.
    fill_form(page, {"onsite_resolved": False, "onsite_visit_date": "2026-01-05", "fault_found": "压缩机损坏"})
    submit.click()
    reason = page.locator('[data-schemapath="root.unresolved_reason"]')
    expect(reason.locator(".server-error")).to_be_visible()
    expect(page.locator("#flash")).to_contain_text("The form has errors")
    assert requests == []

    fill_form(page, {"unresolved_reason": "缺压缩机配件 / no compressor in stock"})
    submit.click()
    expect(page).to_have_url(re.compile(r"/tasks\?done=[0-9a-f-]{36}$"))
    assert len(requests) == 1


def test_keyboard_alone_logs_in_finds_claims_and_opens_a_task(as_user: Callable[..., Page], page: Page) -> None:
    start_complaint(as_user("rcc_agent"), "TS-WEB-KEYS")
    page.goto("/lang/en?next=/login")
    expect(page.get_by_label("Username")).to_be_focused()  # the login page starts in its first field
    page.keyboard.type("outlet")
    page.keyboard.press("Tab")
    page.keyboard.type("demo")
    page.keyboard.press("Enter")
    expect(page.get_by_test_id("username")).to_have_text("outlet")
    page.keyboard.press("Tab")  # the first Tab on a page reaches the skip link
    expect(page.get_by_role("link", name="Skip to content")).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.locator("main")).to_be_focused()

    page.get_by_label(re.compile("^Search")).focus()
    page.keyboard.type("TS-WEB-KEYS")
    page.keyboard.press("Enter")  # submits the filter form
    row = page.get_by_test_id("task-list").get_by_role("row").filter(has_text="On-site repair")
    expect(row).to_have_count(1)
    claim = row.get_by_role("button", name="Claim")
    for _ in range(60):  # Tab through the page until the Claim button has the focus
        if claim.evaluate("node => node === document.activeElement"):
            break
        page.keyboard.press("Tab")
    expect(claim).to_be_focused()
    page.keyboard.press("Enter")
    expect(row.get_by_role("button", name="Unclaim")).to_be_visible()
    row.get_by_role("link", name="On-site repair within 24 hours").focus()
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", level=1)).to_have_text("On-site repair within 24 hours")
    # The form's first field is reachable by Tab and takes typing.
    page.locator('[data-schemapath="root.fault_found"]:visible input').last.focus()
    page.keyboard.type("冷媒泄漏")
    expect(page.locator('[data-schemapath="root.fault_found"]:visible input').last).to_have_value("冷媒泄漏")


PAGES = {
    "outlet": ["/tasks", "/start/complaint_handling", "/instances"],
    "designer": ["/processes", "/processes/complaint_handling", "/modeler?key=complaint_handling"],
    "admin": ["/instances", "/reports/sla", "/admin/users"],
}


@pytest.mark.parametrize("role", sorted(PAGES))
@pytest.mark.parametrize("viewport", ["desktop", "phone"])
def test_pages_fit_the_screen(as_user: Callable[..., Page], role: str, viewport: str) -> None:
    size = PHONE if viewport == "phone" else {"width": 1280, "height": 800}
    page = as_user(role, viewport=size)
    for path in PAGES[role]:
        page.goto(path)
        expect(page.get_by_role("heading", level=1)).to_be_visible()
        page.wait_for_load_state("networkidle")
        assert no_horizontal_scroll(page), f"{path} scrolls sideways at {size['width']} px"
    if viewport == "phone":
        page.goto(PAGES[role][0])
        screenshot(page, f"phone-{role}")


def test_a_task_page_on_a_phone(as_user: Callable[..., Page]) -> None:
    start_complaint(as_user("rcc_agent"), "TS-WEB-PHONE")
    page = as_user("outlet", viewport=PHONE, lang="zh")
    page.goto("/tasks?q=TS-WEB-PHONE")
    expect(page.get_by_test_id("task-list")).to_be_visible()
    assert no_horizontal_scroll(page)
    screenshot(page, "phone-inbox-zh")
    page.get_by_test_id("task-list").get_by_role("button", name="认领").click()
    expect(page.get_by_test_id("task-list").get_by_role("button", name="放回队列")).to_be_visible()
    page.get_by_role("link", name="网点 24 小时内上门维修").click()
    expect(page.locator("#form-editor [data-schemapath]").first).to_be_visible()
    assert no_horizontal_scroll(page)
    screenshot(page, "phone-task-zh")
