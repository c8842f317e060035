"""Every demo role logs in through the page and sees the menu its groups allow."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable

import pytest
from playwright.sync_api import Page, expect

from tests.web.conftest import log_in, screenshot

ROLE_MENUS = {
    "outlet": {"Task inbox", "Done by me", "Started by me", "Start a case", "Instances", "Service network"},
    "rcc_agent": {"Task inbox", "Done by me", "Started by me", "Start a case", "Instances", "Service network", "Customer archive"},
    "rcc_visitor": {"Task inbox", "Done by me", "Started by me", "Start a case", "Instances", "Service network", "Customer archive"},
    "rcc_director": {"Task inbox", "Done by me", "Started by me", "Start a case", "Instances", "Service network", "Customer archive"},
    "rcc_settlement": {"Task inbox", "Done by me", "Started by me", "Start a case", "Instances", "Service network", "Customer archive"},
    "tech_section": {"Task inbox", "Done by me", "Started by me", "Start a case", "Instances", "Service network", "Customer archive"},
    "training": {"Task inbox", "Done by me", "Started by me", "Start a case", "Instances", "Service network", "Customer archive"},
    "csd_head": {"Task inbox", "Done by me", "Started by me", "Start a case", "Instances", "Service network", "Customer archive", "SLA report"},
    "quality": {"Task inbox", "Done by me", "Started by me", "Start a case", "Instances", "Service network", "Customer archive", "SLA report"},
    "designer": {"Task inbox", "Done by me", "Started by me", "Start a case", "Processes and decisions", "Instances", "Service network"},
    "admin": {"Task inbox", "Done by me", "Started by me", "Start a case", "Processes and decisions", "Instances", "Service network", "Customer archive", "SLA report",
              "Users and groups", "External tasks",
              "Undelivered notifications"},
}


@pytest.mark.parametrize("role", sorted(ROLE_MENUS))
def test_each_demo_role_logs_in_and_sees_its_menu(as_user: Callable[..., Page], role: str) -> None:
    page = as_user(role)
    expect(page).to_have_url(re.compile(r"/tasks$"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Task inbox")
    menu = page.get_by_role("navigation", name="Main menu").get_by_role("link")
    # The lists carry their counts (待办, 已办, 我发起的), which other tests' cases change.
    assert {re.sub(r" \d+\+?$", "", text) for text in menu.all_inner_texts()} == ROLE_MENUS[role]


def test_wrong_password_is_refused_on_the_page(page: Page) -> None:
    page.goto("/lang/en?next=/login")
    page.get_by_label("Username").fill("admin")
    page.get_by_label("Password").fill("not-the-password")
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("alert").filter(has_text="Wrong username or password")).to_be_visible()
    page.goto("/tasks")
    expect(page).to_have_url(re.compile(r"/login\?next=/tasks$"))


def test_language_switch_shows_chinese_labels_from_bpmn_and_the_app(page: Page) -> None:
    log_in(page, "designer", lang="zh")
    expect(page.get_by_role("heading", level=1)).to_have_text("待办任务")
    page.get_by_role("link", name="流程与决策表").click()
    expect(page.get_by_role("link", name="投诉处理")).to_be_visible()
    screenshot(page, "processes-zh")
    page.get_by_role("link", name="English").click()
    expect(page.get_by_role("link", name="Complaint handling")).to_be_visible()
    expect(page.get_by_role("heading", level=1)).to_have_text("Processes and decisions")


def test_logout_ends_the_session(as_user: Callable[..., Page]) -> None:
    page = as_user("rcc_agent")
    page.get_by_role("button", name="Log out").click()
    expect(page).to_have_url(re.compile(r"/login$"))
    page.goto("/tasks")
    expect(page).to_have_url(re.compile(r"/login\?next="))


def test_a_user_changes_their_password_on_the_account_page(as_user: Callable[..., Page], page: Page) -> None:
    admin = as_user("admin")
    csrf = next(c["value"] for c in admin.context.cookies() if c["name"] == "tixi_csrf")
    username = f"pw.{uuid.uuid4().hex[:8]}"
    created = admin.request.post("/api/users", headers={"X-CSRF-Token": csrf},
                                 data={"username": username, "password": "first-password", "groups": ["quality"]})
    assert created.status == 201, created.text()
    log_in(page, username, password="first-password")
    page.get_by_role("link", name="My account").click()
    page.get_by_label("Current password").fill("first-password")
    page.get_by_label("New password").fill("second-password")
    page.get_by_role("button", name="Change password").click()
    expect(page).to_have_url(re.compile(r"/account\?changed=true$"))
    expect(page.get_by_role("status")).to_contain_text("Password changed")
    page.get_by_role("button", name="Log out").click()
    expect(page).to_have_url(re.compile(r"/login$"))
    log_in(page, username, password="second-password")
