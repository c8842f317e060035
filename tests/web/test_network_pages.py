"""The service network and the customer archive through the pages, as an admin, an RCC director and an agent."""

from __future__ import annotations

import re
from collections.abc import Callable

from playwright.sync_api import Page, expect

from tests.web.conftest import screenshot


def test_admin_enters_a_region_and_a_director_suspends_an_outlet_of_their_region(as_user: Callable[..., Page]) -> None:
    admin = as_user("admin")
    admin.get_by_role("link", name="Service network").click()
    expect(admin.get_by_role("heading", level=1)).to_have_text("Service network")
    form = admin.locator("#new-region")
    form.get_by_label("Key").fill("south")
    form.get_by_label(re.compile("^Name")).fill("华南 / South China")
    form.get_by_label(re.compile("^Cities")).fill("广州, 深圳")
    form.get_by_label(re.compile("^Central cities")).fill("广州")
    form.get_by_role("button", name="New region").click()
    row = admin.get_by_test_id("region-list").get_by_role("row").filter(has_text="south")
    expect(row).to_contain_text("广州、深圳")

    director = as_user("east.director")
    director.goto("/network?region=east")
    outlets = director.get_by_test_id("outlet-list")
    expect(outlets.get_by_role("row").filter(has_text="HB-001")).to_have_count(0)  # filtered to east
    suspend = outlets.locator('tr[data-outlet="HD-002"] form').filter(has=director.get_by_role("button", name="Suspend"))
    suspend.get_by_placeholder("Reason").fill("整改 / under review")
    suspend.get_by_role("button", name="Suspend").click()
    expect(director.locator('tr[data-outlet="HD-002"]')).to_contain_text("suspended")
    screenshot(director, "network")
    director.goto("/network")  # north's outlets are listed, but this director changes only east's
    expect(director.locator('tr[data-outlet="HB-001"]').get_by_role("button")).to_have_count(0)
    reinstate = director.locator('tr[data-outlet="HD-002"] form').filter(
        has=director.get_by_role("button", name="Reinstate"))
    reinstate.get_by_placeholder("Reason").fill("整改完成 / done")
    reinstate.get_by_role("button", name="Reinstate").click()
    expect(director.locator('tr[data-outlet="HD-002"]')).to_contain_text("active")


def test_an_agent_enters_a_customer_and_a_product_on_the_pages(as_user: Callable[..., Page]) -> None:
    agent = as_user("east.agent", lang="zh")
    agent.get_by_role("link", name="顾客档案").click()
    form = agent.locator("#new-customer")
    form.get_by_label("名称").fill("卫十五")
    form.get_by_label("电话").fill("188-1234-5678")
    form.get_by_label("城市").fill("杭州")
    form.get_by_role("button", name="建立顾客档案").click()
    agent.get_by_label(re.compile("^搜索")).fill("188-1234")
    agent.get_by_role("button", name="筛选", exact=True).click()
    agent.get_by_test_id("customer-list").get_by_role("link", name="卫十五").click()
    expect(agent.get_by_role("heading", level=1)).to_contain_text("卫十五")
    product = agent.locator("#new-product")
    product.get_by_label("序列号").fill("SN-2026-WEB-01")
    product.get_by_label("型号").fill("KFR-35GW")
    product.get_by_role("button", name="添加产品").click()
    expect(agent.get_by_test_id("product-list")).to_contain_text("SN-2026-WEB-01")
    screenshot(agent, "customer-zh")
