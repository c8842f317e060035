"""An admin makes a service account for the hotline's system on the external-tasks page (issue 16,
integration basics): scoped to groups, its key shown once, usable on /api at once, re-scoped from the
same list. Both languages."""

from __future__ import annotations

import re
from collections.abc import Callable

import httpx
import pytest
from playwright.sync_api import Page, expect

from tests.api.test_complaint_handling import CUSTOMER_INTAKE
from tests.web.conftest import DESKTOP, PHONE, no_horizontal_scroll, screenshot

TEXT = {
    "zh": {"name": "名称", "groups": "所属组", "create": "创建服务账号", "save": "保存组",
           "row_groups": "所属组", "shown_once": "只显示这一次"},
    "en": {"name": "Name", "groups": "Groups (its", "create": "Create a service account",
           "save": "Save groups", "row_groups": "Groups", "shown_once": "shown this once"},
}


@pytest.mark.parametrize("lang", ["zh", "en"])
@pytest.mark.parametrize("viewport", ["desktop", "phone"])
def test_admin_creates_a_scoped_account_whose_key_works_on_the_api_at_once(as_user: Callable[..., Page],
                                                                          base_url: str, lang: str,
                                                                          viewport: str) -> None:
    text, name = TEXT[lang], f"hotline-{lang}-{viewport}"
    admin = as_user("admin", lang=lang, viewport=PHONE if viewport == "phone" else DESKTOP)
    admin.goto("/admin/external-tasks")
    form = admin.locator("#new-service-account")
    expect(form.get_by_label(text["groups"]).locator("option[value=admin]")).to_have_count(0)  # people only
    form.get_by_label(text["name"]).fill(name)
    form.get_by_label(text["groups"]).select_option(["rcc_agent"])
    form.get_by_role("button", name=text["create"]).click()
    shown = admin.get_by_test_id("new-api-key")
    expect(shown).to_be_visible()
    expect(shown).to_contain_text(text["shown_once"])
    expect(shown.locator("code")).to_have_text(re.compile(r"^tixi_\S{40,}$"))
    key = shown.locator("code").inner_text()
    assert no_horizontal_scroll(admin)
    if (lang, viewport) == ("en", "desktop"):
        shown.scroll_into_view_if_needed()
        screenshot(admin, "service-account-key")

    start = {"definition_key": "complaint_handling", "business_key": f"TS-WEB-HOTLINE-{lang}",
             "variables": CUSTOMER_INTAKE}
    with httpx.Client(base_url=base_url, auth=(name, key), timeout=30) as hotline:
        assert hotline.post("/api/instances", json=start).status_code == 201

        admin.reload()
        row = admin.get_by_test_id("service-account-list").locator(f"tr[data-account={name}]")
        select = row.get_by_label(f"{text['row_groups']}: {name}")
        expect(select).to_have_values(["rcc_agent"])
        expect(row.locator("td").nth(2)).not_to_have_text("–")  # last used: just now
        select.select_option([])
        with admin.expect_navigation():
            row.get_by_role("button", name=text["save"]).click()
        expect(row.get_by_label(f"{text['row_groups']}: {name}")).to_have_values([])
        refused = hotline.post("/api/instances", json={**start, "business_key": f"TS-WEB-HOTLINE-{lang}-2"})
        assert refused.status_code == 403, refused.text  # no longer a starter of complaints
