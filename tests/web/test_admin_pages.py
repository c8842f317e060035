"""Admins: find instances, see the highlighted diagram and history, suspend, resume, terminate and retry
an incident; the SLA report as table and chart; users and groups."""

from __future__ import annotations

import json
import re
from collections.abc import Callable

from playwright.sync_api import Page, expect

from tests.conftest import TEST_PROCESSES
from tests.web.conftest import log_in, screenshot
from tests.web.test_complaint_through_pages import decide_task, start_complaint, work_task


def upload(page: Page, name: str) -> None:
    page.goto("/processes")
    page.get_by_label(re.compile("^Upload")).set_input_files(str(TEST_PROCESSES / f"{name}.bpmn"))
    page.get_by_role("button", name="Deploy as a new version").click()
    expect(page.locator("#upload-result")).to_contain_text(f"Deployed: {name}")


def act(page: Page, action: str, reason: str, variables: dict[str, object] | None = None) -> None:
    page.get_by_label("Reason").fill(reason)
    if variables is not None:
        page.get_by_label(re.compile("^Corrected variables")).fill(json.dumps(variables))
    page.get_by_role("button", name=action).click()


def test_admin_suspends_resumes_and_terminates_from_the_instance_page(as_user: Callable[..., Page]) -> None:
    instance_id = start_complaint(as_user("rcc_agent"), "TS-WEB-ADMIN", dispatch_to=None)
    admin = as_user("admin")
    admin.goto("/instances?business_key=TS-WEB-ADMIN&participant=rcc_agent&status=running")
    expect(admin.get_by_test_id("instance-count")).to_have_text("1 instances")
    admin.get_by_test_id("instance-list").get_by_role("link").click()
    expect(admin).to_have_url(re.compile(instance_id))
    expect(admin.locator('#diagram g.djs-element.mark-active[data-element-id="dispatch_outlet"]')).to_have_count(1)
    expect(admin.locator('#diagram g.djs-element.mark-finished[data-element-id="severity_decision"]')).to_have_count(1)

    act(admin, "Suspend", "顾客出差 / customer away")
    expect(admin.get_by_test_id("instance-status")).to_have_text("suspended")
    expect(admin.get_by_test_id("status-reason")).to_have_text("顾客出差 / customer away")
    act(admin, "Resume", "顾客已回 / customer back")
    expect(admin.get_by_test_id("instance-status")).to_have_text("running")
    admin.once("dialog", lambda dialog: dialog.accept())
    act(admin, "Terminate", "重复登记 / duplicate")
    expect(admin.get_by_test_id("instance-status")).to_have_text("terminated")
    history = admin.get_by_test_id("history")
    for event in ("suspended", "resumed", "terminated"):
        expect(history.locator("li").filter(has_text=event).first).to_be_visible()
    # Nobody works a terminated case any more.
    expect(history.locator("li[data-event=task_cancelled]")).to_have_count(1)


def test_admin_retries_an_incident_with_corrected_variables(as_user: Callable[..., Page]) -> None:
    designer = as_user("designer")
    upload(designer, "callee_visit")
    upload(designer, "caller_case")
    agent = as_user("rcc_agent")
    agent.goto("/start/caller_case")
    agent.get_by_label("Business key").fill("CASE-WEB-1")
    agent.get_by_role("button", name="Start", exact=True).click()
    expect(agent).to_have_url(re.compile(r"/instances/[0-9a-f-]{36}$"))
    instance_path = agent.url.removeprefix(agent.url.split("/instances/")[0])
    decide_task(as_user("rcc_director"), "CASE-WEB-1", "Handle", "Pass")
    work_task(as_user("rcc_visitor"), "CASE-WEB-1", "Visit", {"agreement_confirmed": True, "signatory_name": "王"})

    admin = as_user("admin")
    admin.goto("/instances?status=failed&business_key=CASE-WEB-1")
    admin.get_by_test_id("instance-list").get_by_role("link").click()
    expect(admin).to_have_url(re.compile(instance_path))
    expect(admin.get_by_test_id("instance-status")).to_have_text("failed")
    expect(admin.get_by_test_id("marks-failed")).to_have_text("check")
    diagram = admin.locator("#diagram")
    expect(diagram.locator('g.djs-element.mark-failed[data-element-id="check"]')).to_have_count(1)
    for finished in ("handle", "visit_call"):
        expect(diagram.locator(f'g.djs-element.mark-finished[data-element-id="{finished}"]')).to_have_count(1)
    screenshot(admin, "instance-incident")

    act(admin, "Retry the failed step", "再试 / try again")  # still missing: refused, nothing changes
    expect(admin.locator("#flash")).to_contain_text("missing_until_retry")
    expect(admin.get_by_test_id("instance-status")).to_have_text("failed")
    act(admin, "Retry the failed step", "补录缺失字段 / add the missing field", {"missing_until_retry": 1})
    expect(admin.get_by_test_id("instance-status")).to_have_text("completed")
    expect(admin.get_by_test_id("history").locator("li[data-event=incident_resolved]")).to_have_count(1)


def test_sla_report_shows_a_table_and_a_chart(as_user: Callable[..., Page]) -> None:
    start_complaint(as_user("rcc_agent"), "TS-WEB-SLA")
    page = as_user("quality")
    page.get_by_role("link", name="SLA report").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("SLA report")
    row = page.get_by_test_id("sla-table").get_by_role("row").filter(has_text="Complaint handling")
    expect(row.first).to_be_visible()
    open_cells = row.locator("td[data-label=Open]").all_inner_texts()
    assert sum(int(text) for text in open_cells) >= 2  # the repair deadline and the case's own
    chart = page.get_by_test_id("sla-chart")
    expect(chart.locator("rect.open").first).to_be_visible()
    expect(chart).to_contain_text("Complaint hand")
    screenshot(page, "sla-report")
    page.get_by_label("From").fill("2020-01-01")
    page.get_by_label("To").fill("2020-01-31")
    page.get_by_role("button", name="Apply").click()
    expect(page.get_by_text("No deadlines in this period.").first).to_be_visible()


def test_admin_manages_users_and_groups(as_user: Callable[..., Page], page: Page) -> None:
    admin = as_user("admin")
    admin.get_by_role("link", name="Users and groups").click()
    form = admin.locator("#new-user")
    form.get_by_label("Username").fill("wang_wei")
    form.get_by_label("Display name").fill("王伟")
    form.get_by_label("Password").fill("s3cret-pass")
    form.get_by_label(re.compile("^Outlet code")).fill("HD-001")
    form.get_by_label("Candidate groups").select_option(["outlet"])
    form.get_by_role("button", name="Create user").click()
    row = admin.get_by_test_id("user-list").locator("tr[data-username=wang_wei]")
    expect(row).to_contain_text("HD-001")
    screenshot(admin, "users")

    log_in(page, "wang_wei", password="s3cret-pass")
    expect(page.get_by_role("navigation", name="Main menu")).not_to_contain_text("SLA report")

    row.get_by_label("Candidate groups: wang_wei").select_option(["outlet", "quality"])
    with admin.expect_navigation():
        row.get_by_role("button", name="Save groups").click()
    expect(row.get_by_label("Candidate groups: wang_wei")).to_have_values(["outlet", "quality"])
    page.reload()
    expect(page.get_by_role("navigation", name="Main menu")).to_contain_text("SLA report")

    row.get_by_role("button", name="Disable").click()
    expect(row).to_contain_text("disabled")
    page.reload()  # a disabled user is out at once
    expect(page).to_have_url(re.compile(r"/login\?next="))
    row.get_by_role("button", name="Enable").click()
    expect(row).to_contain_text("active")
    row.get_by_label("New password").fill("another-pass-1")
    row.get_by_role("button", name="Reset password").click()
    expect(row.get_by_label("New password")).to_have_value("")
    log_in(page, "wang_wei", password="another-pass-1")

    groups = admin.locator("#new-group")
    groups.get_by_label("Group id").fill("hotline_night")
    groups.get_by_label(re.compile("^Name")).fill("夜班热线 / Night hotline")
    groups.get_by_role("button", name="Create group").click()
    expect(admin.get_by_test_id("group-list")).to_contain_text("Night hotline")
