"""Fields a form marks internal (x-internal: the RCC's site inspection notes) are kept from the outlet on
every page it opens — its task, the case page with its approval record and case data — while the
rejection reason it must be told is there; the RCC director reads the notes on the same pages. Both
languages, desktop and phone (issue 16, the approval record)."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from playwright.sync_api import Page, expect

from tests.api.test_outlet_onboarding import REGISTRATION
from tests.web.conftest import DESKTOP, PHONE
from tests.web.page_api import call, start_case, task_id_of

NOTES = "只看到一间办公室，没有维修区 / only an office, no repair area"
REASON = "维修区面积不足 / repair area too small"
NOTES_LABEL = {"zh": "现场考察记录", "en": "Site inspection notes"}


def _rejected_with_notes(as_user: Callable[..., Page], key: str) -> str:
    instance_id = start_case(as_user("outlet"), "outlet_onboarding", REGISTRATION, key)
    director = as_user("rcc_director")
    call(director, "POST", f"/api/tasks/{task_id_of(director, key, 'rcc_review')}/decide",
         {"outcome": "reject", "opinion": REASON, "data": {"site_inspection_notes": NOTES}})
    return instance_id


@pytest.mark.parametrize("lang", ["zh", "en"])
@pytest.mark.parametrize("viewport", ["desktop", "phone"])
def test_the_outlet_never_sees_the_reviewers_notes_but_reads_the_reason(as_user: Callable[..., Page], lang: str,
                                                                        viewport: str) -> None:
    key = f"TS-WEB-INTERNAL-{lang}-{viewport}"
    instance_id = _rejected_with_notes(as_user, key)
    outlet = as_user("outlet", lang=lang, viewport=PHONE if viewport == "phone" else DESKTOP)
    task_id = task_id_of(outlet, key, "review_rejection")
    for path in (f"/tasks/{task_id}", f"/instances/{instance_id}"):
        outlet.goto(path)
        expect(outlet.get_by_test_id("approval-record")).to_contain_text(REASON)
        page_text = outlet.locator("body").inner_text()
        assert NOTES not in page_text and NOTES_LABEL[lang] not in page_text, path
        assert "site_inspection_notes" not in outlet.content(), path  # nor in the page's data for scripts

    director = as_user("rcc_director", lang=lang)
    director.goto(f"/instances/{instance_id}")
    expect(director.get_by_test_id("case-fields").locator("tr[data-field=site_inspection_notes]")).to_contain_text(
        NOTES)
