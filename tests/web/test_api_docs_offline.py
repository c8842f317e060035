"""/docs (Swagger UI) and /redoc (ReDoc) work without internet access: every script, style and font
they load comes from Tixi itself, and they draw the API's operations."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Page, expect


@pytest.mark.parametrize(("path", "operation"), [
    ("/docs", "#operations-tasks-complete_api_tasks__task_id__complete_post"),
    ("/redoc", "[data-section-id^='tag/tasks']"),
])
def test_api_documentation_loads_everything_from_tixi(page: Page, base_url: str, path: str, operation: str) -> None:
    requested: list[str] = []
    page.on("request", lambda request: requested.append(request.url))
    page.goto(path)
    expect(page.locator(operation).first).to_be_attached()
    expect(page.get_by_text("Tixi (体系)").first).to_be_visible()
    own = urlsplit(base_url).netloc
    elsewhere = [url for url in requested if urlsplit(url).scheme in ("http", "https") and urlsplit(url).netloc != own]
    assert elsewhere == []
