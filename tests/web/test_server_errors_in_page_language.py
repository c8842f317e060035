"""A form error only the server found is shown on its field in the page's language (issue 16, forms
that help): the server names the rule each value broke and its number, and the page words it. The
request is altered on its way (a longer note than the form allows, as a client that skips the page's
check would send), so the real server's 422 is what the page shows."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest
from playwright.sync_api import Page, Route, expect

from tests.api.test_outlet_onboarding import REGISTRATION
from tests.web.conftest import DESKTOP, PHONE
from tests.web.page_api import start_case, task_id_of

WORDS = {"zh": ("通过", "最多 2000 个字符"), "en": ("Pass", "Value must be at most 2000 characters long")}


@pytest.mark.parametrize("lang", ["zh", "en"])
@pytest.mark.parametrize("viewport", ["desktop", "phone"])
def test_a_too_long_note_refused_by_the_server_is_marked_in_the_pages_language(as_user: Callable[..., Page],
                                                                               lang: str, viewport: str) -> None:
    key = f"TS-WEB-SERVER-WORDS-{lang}-{viewport}"
    approve, too_long = WORDS[lang]
    start_case(as_user("outlet"), "outlet_onboarding", REGISTRATION, key)
    director = as_user("rcc_director", lang=lang, viewport=PHONE if viewport == "phone" else DESKTOP)
    director.goto(f"/tasks/{task_id_of(director, key, 'rcc_review')}")

    def longer_note(route: Route) -> None:
        body = json.loads(route.request.post_data or "{}")
        body.setdefault("data", {})["site_inspection_notes"] = "长" * 2001
        route.continue_(post_data=json.dumps(body))

    director.route("**/api/tasks/*/decide", longer_note)
    director.get_by_role("button", name=approve, exact=True).click()
    field = director.locator('[data-schemapath="root.site_inspection_notes"]')
    expect(field.locator(".server-error")).to_have_text(too_long)
    expect(director.locator("#flash")).to_contain_text(f"site_inspection_notes: {too_long}")
