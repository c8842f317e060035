"""A complaint worked from intake to return visit through the pages alone, by four people, then found
by the admin with its highlighted diagram and full history."""

from __future__ import annotations

import re
from collections.abc import Callable

from playwright.sync_api import Page, expect

from tests.api.test_complaint_handling import CUSTOMER_INTAKE, FEEDBACK, REPAIRED, SATISFIED
from tests.web.conftest import fill_form, screenshot


def start_complaint(page: Page, business_key: str, dispatch_to: str | None = "HD-001") -> str:
    """Start a complaint from the start page as the RCC agent; unless told not to, dispatch it to an outlet."""
    page.get_by_role("link", name="Start a case").click()
    page.get_by_role("link", name="Complaint handling").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Start: Complaint handling")
    page.get_by_label("Business key").fill(business_key)
    fill_form(page, CUSTOMER_INTAKE)
    screenshot(page, "start-complaint")
    page.get_by_role("button", name="Start", exact=True).click()
    expect(page).to_have_url(re.compile(r"/instances/[0-9a-f-]{36}$"))
    expect(page.get_by_test_id("instance-status")).to_have_text("running")
    instance_id = page.url.rsplit("/", 1)[-1]
    if dispatch_to:
        work_task(page, business_key, "Dispatch to an outlet", {"outlet_code": dispatch_to})
    return instance_id


def work_task(page: Page, business_key: str, step: str, data: dict[str, object], *, shot: str | None = None) -> None:
    """Find the case in the inbox by search, claim it in one click, open it, fill and submit its form."""
    page.goto("/tasks")
    page.get_by_label(re.compile("^Search")).fill(business_key)
    page.get_by_role("button", name="Filter", exact=True).click()
    row = page.get_by_test_id("task-list").get_by_role("row").filter(has_text=step)
    expect(row).to_have_count(1)
    row.get_by_role("button", name="Claim").click()
    expect(row.get_by_role("button", name="Unclaim")).to_be_visible()
    if shot:
        screenshot(page, "inbox")
    row.get_by_role("link", name=step).click()
    expect(page.get_by_role("heading", level=1)).to_have_text(step)
    expect(page.locator("#form-editor [data-schemapath]").first).to_be_visible()
    fill_form(page, data)
    if shot:
        screenshot(page, shot)
    page.get_by_role("button", name="Submit and complete").click()
    expect(page).to_have_url(re.compile(r"/tasks\?done=[0-9a-f-]{36}$"))


def decide_task(page: Page, business_key: str, step: str, decision: str) -> None:
    """Find the case in the inbox, open the step and press one of its decision buttons (it claims, too)."""
    page.goto(f"/tasks?q={business_key}")
    page.get_by_test_id("task-list").get_by_role("link", name=step).click()
    page.get_by_role("button", name=decision, exact=True).click()
    expect(page).to_have_url(re.compile(r"/tasks\?done=[0-9a-f-]{36}$"))


def test_complaint_from_intake_to_return_visit_through_the_pages(as_user: Callable[..., Page]) -> None:
    key = "TS-WEB-0001"
    agent = as_user("rcc_agent")
    instance_id = start_complaint(agent, key, dispatch_to=None)
    expect(agent.get_by_test_id("marks-active")).to_have_text("dispatch_outlet")
    work_task(agent, key, "Dispatch to an outlet", {"outlet_code": "HD-001"})

    outlet = as_user("outlet")
    work_task(outlet, key, "On-site repair within 24 hours", REPAIRED, shot="task-form")

    visitor = as_user("rcc_visitor")
    work_task(visitor, key, "Conduct the return visit", SATISFIED)

    tech = as_user("tech_section")
    work_task(tech, key, "Quality feedback to the technical lead", FEEDBACK)

    admin = as_user("admin")
    admin.get_by_role("link", name="Instances").click()
    admin.get_by_label("Business key").fill(key)
    admin.get_by_role("button", name="Filter", exact=True).click()
    expect(admin.get_by_test_id("instance-count")).to_have_text("1 instances")
    admin.get_by_test_id("instance-list").get_by_role("link", name="Complaint handling").click()
    expect(admin).to_have_url(re.compile(f"/instances/{instance_id}$"))
    expect(admin.get_by_test_id("instance-status")).to_have_text("completed")
    history = admin.get_by_test_id("history")
    for event in ("started", "task completed", "gateway decision", "ended"):
        expect(history.locator("li").filter(has_text=event).first).to_be_visible()
    completed_by = history.locator("li[data-event=task_completed] .by").all_inner_texts()
    assert completed_by == ["rcc_agent", "outlet", "rcc_visitor", "tech_section"]
    diagram = admin.locator("#diagram")
    expect(diagram).to_have_attribute("data-rendered", "true")
    for element in ("dispatch_outlet", "onsite_repair", "category_decision", "severity_decision"):
        expect(diagram.locator(f'g.djs-element.mark-finished[data-element-id="{element}"]')).to_have_count(1)
    screenshot(admin, "instance")
