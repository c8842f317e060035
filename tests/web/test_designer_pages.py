"""Process designers: see every deployed process and decision table with its diagram, draw or edit a
process in the bpmn-js modeler, see deploy errors on the element they name, deploy new versions,
upload a file made elsewhere, and start a test instance of a version."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

from playwright.sync_api import Page, expect

from tests.web.conftest import screenshot

BROKEN_UPLOAD = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="d" targetNamespace="t">
  <bpmn:process id="uploaded_broken" isExecutable="true">
    <bpmn:startEvent id="s"/><bpmn:userTask id="orphan_task" name="无人处理 / Nobody's task"/>
  </bpmn:process>
</bpmn:definitions>"""


def test_designer_sees_processes_decisions_and_their_diagrams(as_user: Callable[..., Page]) -> None:
    page = as_user("designer")
    page.get_by_role("link", name="Processes and decisions").click()
    table = page.get_by_test_id("definition-list")
    expect(table.get_by_role("row").filter(has_text="Return policy")).to_contain_text("Decision table")
    table.get_by_role("link", name="Complaint handling").click()
    diagram = page.locator("#diagram")
    expect(diagram).to_have_attribute("data-rendered", "true")
    expect(diagram.locator('g.djs-element[data-element-id="onsite_repair"]')).to_have_count(1)
    expect(page.get_by_test_id("version-list").get_by_role("row")).to_have_count(2)  # header + v1
    screenshot(page, "process-diagram")

    page.goto("/processes/return_policy")
    expect(page.locator("#diagram")).to_have_attribute("data-rendered", "true")
    expect(page.locator("#diagram .tjs-table")).to_be_visible()  # dmn-js draws the decision table
    expect(page.locator("#diagram")).to_contain_text("free_repair")
    screenshot(page, "decision-table")


def test_modeler_shows_deploy_errors_on_elements_then_deploys_new_versions(as_user: Callable[..., Page]) -> None:
    page = as_user("designer")
    page.goto("/modeler")
    expect(page.locator("#modeler")).to_have_attribute("data-ready", "true")

    # The new diagram's process: rename it and its key, with the keyboard-reachable panel.
    page.get_by_label("Element", exact=True).select_option("new_process")
    page.get_by_label("Id", exact=True).fill("web_drawn_process")
    page.get_by_label("Id", exact=True).press("Tab")
    page.get_by_label(re.compile("^Name")).fill("网页绘制 / Drawn in the browser")
    page.get_by_label(re.compile("^Name")).press("Tab")

    # The user task has neither groups nor form yet: the check names it, on the diagram too.
    page.get_by_role("button", name="Check").click()
    problems = page.get_by_test_id("deploy-problems")
    expect(problems.locator("li[data-element=first_task]").first).to_contain_text("candidateGroups")
    task_shape = page.locator('g.djs-element[data-element-id="first_task"]')
    expect(task_shape).to_have_class(re.compile("mark-error"))
    expect(page.locator(".djs-overlay .diagram-error").first).to_be_visible()
    screenshot(page, "modeler-errors")

    # Fix it in the panel: candidate group and form key on the user task.
    problems.get_by_role("button", name=re.compile("first_task")).first.click()
    expect(page.get_by_label("Element", exact=True)).to_have_value("first_task")
    page.get_by_label(re.compile("Candidate groups")).select_option(["rcc_agent"])
    page.get_by_label(re.compile("^Form")).select_option("complaint_resolution")
    page.get_by_role("button", name="Check").click()
    expect(page.locator("#deploy-result")).to_contain_text("Check passed: web_drawn_process v1")
    expect(task_shape).not_to_have_class(re.compile("mark-error"))

    page.get_by_role("button", name="Deploy as a new version").click()
    expect(page.locator("#deploy-result")).to_contain_text("Deployed: web_drawn_process v1")
    page.locator("#deploy-result a").click()
    expect(page.get_by_test_id("shown-version")).to_have_text("1")
    expect(page.locator('#diagram g.djs-element[data-element-id="first_task"]')).to_have_count(1)

    # Edit that version: a new name for the step makes version 2; version 1 stays as it was.
    page.get_by_role("link", name="Edit in the modeler").click()
    expect(page.locator("#modeler")).to_have_attribute("data-ready", "true")
    page.get_by_label("Element", exact=True).select_option("first_task")
    page.get_by_label(re.compile("^Name")).fill("第一步（改） / First step, revised")
    page.get_by_label(re.compile("^Name")).press("Tab")
    page.get_by_role("button", name="Deploy as a new version").click()
    expect(page.locator("#deploy-result")).to_contain_text("Deployed: web_drawn_process v2")
    screenshot(page, "modeler")
    page.goto("/processes/web_drawn_process")
    expect(page.get_by_test_id("shown-version")).to_have_text("2")
    expect(page.get_by_test_id("version-list").get_by_role("row")).to_have_count(3)

    # Start a test instance of version 1 from its page.
    page.goto("/processes/web_drawn_process?version=1")
    page.get_by_role("link", name="Start a test instance of this version").click()
    page.get_by_label("Business key").fill("TEST-V1")
    page.get_by_role("button", name="Start", exact=True).click()
    expect(page).to_have_url(re.compile(r"/instances/[0-9a-f-]{36}$"))
    expect(page.locator("p.meta").first).to_contain_text("web_drawn_process v1")
    expect(page.get_by_test_id("marks-active")).to_have_text("first_task")
    expect(page.locator('#diagram g.djs-element.mark-active[data-element-id="first_task"]')).to_have_count(1)


def test_upload_from_another_modeller_checks_and_reports_the_element(as_user: Callable[..., Page],
                                                                     tmp_path: Path) -> None:
    page = as_user("designer")
    page.goto("/processes")
    broken = tmp_path / "uploaded_broken.bpmn"
    broken.write_text(BROKEN_UPLOAD)
    page.get_by_label(re.compile("^Upload")).set_input_files(str(broken))
    page.get_by_role("button", name="Deploy as a new version").click()
    expect(page.locator("#flash")).to_contain_text("orphan_task")
    expect(page.get_by_test_id("definition-list")).not_to_contain_text("uploaded_broken")

    good = tmp_path / "uploaded_good.bpmn"
    good.write_text(BROKEN_UPLOAD.replace("uploaded_broken", "uploaded_good").replace(
        '<bpmn:userTask id="orphan_task"',
        '<bpmn:userTask camunda:candidateGroups="outlet" camunda:formKey="repair_record" id="orphan_task"').replace(
        'id="d"', 'xmlns:camunda="http://camunda.org/schema/1.0/bpmn" id="d"'))
    page.get_by_label(re.compile("^Upload")).set_input_files(str(good))
    page.get_by_role("button", name="Check").click()
    expect(page.locator("#upload-result")).to_contain_text("Check passed: uploaded_good v1")
    page.reload()
    expect(page.get_by_test_id("definition-list")).not_to_contain_text("uploaded_good")  # a check stores nothing
    page.get_by_label(re.compile("^Upload")).set_input_files(str(good))
    page.get_by_role("button", name="Deploy as a new version").click()
    expect(page.locator("#upload-result")).to_contain_text("Deployed: uploaded_good v1")
    page.reload()
    page.get_by_test_id("definition-list").get_by_role("link", name="uploaded_good").click()
    # Written without a layout (BPMN DI): the page says so instead of drawing an empty box.
    expect(page.locator("#diagram")).to_have_attribute("data-rendered", "no-layout")
    expect(page.locator("#diagram")).to_contain_text("no diagram layout")


def test_approvers_cannot_open_designer_pages(as_user: Callable[..., Page]) -> None:
    page = as_user("outlet")
    response = page.goto("/modeler")
    assert response is not None and response.status == 403
    expect(page.get_by_test_id("error-detail")).to_contain_text("designer")
