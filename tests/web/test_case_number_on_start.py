"""Starting a complaint on its page without typing a business key gives it a case number."""

from __future__ import annotations

import re
from collections.abc import Callable

from playwright.sync_api import Page, expect

from tests.api.test_complaint_handling import CUSTOMER_INTAKE
from tests.web.conftest import fill_form


def test_a_case_started_without_a_key_is_numbered(as_user: Callable[..., Page]) -> None:
    page = as_user("rcc_agent", lang="zh")
    page.goto("/start/complaint_handling")
    expect(page.get_by_test_id("case-number-hint")).to_contain_text("留空则自动编号，如 TS-")
    fill_form(page, CUSTOMER_INTAKE)
    page.get_by_role("button", name="发起", exact=True).click()
    expect(page).to_have_url(re.compile(r"/instances/[0-9a-f-]{36}$"))
    expect(page.locator("p.meta strong").first).to_have_text(re.compile(r"^TS-\d{4}-\d{6}$"))
