"""The account page's notification settings: the daily digest for every kind, or for the kinds one picks."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from playwright.sync_api import Page, expect

from tests.web.page_api import call

LABELS = {
    "en": {"digest": "Mail me one digest each working day", "breached": "A deadline is breached",
           "mentioned": "I am mentioned in a comment", "save": "Save notification settings"},
    "zh": {"digest": "邮件每个工作日汇总发一封", "breached": "已超期", "mentioned": "评论中提到我",
           "save": "保存通知设置"},
}


def save(page: Page, button: str) -> None:
    """Press save and wait for the settings' PUT to answer (the page then reloads /account)."""
    with page.expect_navigation(url=re.compile(r"/account$")), \
            page.expect_response(lambda r: r.url.endswith("/api/me/notification-settings")
                                 and r.request.method == "PUT") as answer:
        page.get_by_role("button", name=button).click()
    assert answer.value.status == 200, answer.value.text()


@pytest.mark.parametrize(("username", "lang"), [("training", "en"), ("quality", "zh")])
def test_a_person_picks_the_kinds_mailed_in_the_daily_digest_on_the_account_page(
        as_user: Callable[..., Page], username: str, lang: str) -> None:
    words = LABELS[lang]
    page = as_user(username, lang=lang)
    call(page, "PUT", "/api/me/notification-settings", {"digest": []})
    page.goto("/account")
    kinds = page.locator("#digest-kinds")
    expect(kinds.get_by_label(words["breached"])).not_to_be_checked()
    kinds.get_by_label(words["breached"]).check()
    kinds.get_by_label(words["mentioned"]).check()
    save(page, words["save"])
    expect(kinds.get_by_label(words["breached"])).to_be_checked()
    expect(kinds.get_by_label(words["mentioned"])).to_be_checked()
    expect(page.get_by_label(words["digest"])).not_to_be_checked()
    saved = call(page, "GET", "/api/me/notification-settings")
    assert sorted(saved["digest"]) == ["deadline_breached", "mentioned"]

    kinds.get_by_label(words["mentioned"]).uncheck()
    save(page, words["save"])
    assert call(page, "GET", "/api/me/notification-settings")["digest"] == ["deadline_breached"]
