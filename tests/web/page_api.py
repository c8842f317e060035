"""Setting up a browser test's case through the JSON API, with the logged-in page's own cookies."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from playwright.sync_api import Page

from engine.business_calendar import LOCAL
from tests.api.test_case_moves import INSPECTED
from tests.api.test_return_exchange import REQUEST, purchased

# The browser tests' server runs on the real clock, where the inspection works the days since purchase
# out: bought 20 days ago, a return case is inside the exchange period (16-30 days) whatever the day.
RETURN_REQUEST: dict[str, Any] = {**REQUEST, "purchase_date": purchased(20, datetime.now(LOCAL).date())}
INSPECTION = {name: value for name, value in INSPECTED.items() if name != "days_since_purchase"}


def call(page: Page, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
    """One API request as the page's user; a failure fails the test with the problem body."""
    csrf = next(c["value"] for c in page.context.cookies() if c["name"] == "tixi_csrf")
    response = page.request.fetch(path, method=method, headers={"X-CSRF-Token": csrf}, data=body)
    assert response.ok, f"{method} {path}: {response.status} {response.text()}"
    return response.json()


def start_case(page: Page, key: str, variables: dict[str, Any], business_key: str,
               dispatch_to: str | None = None) -> str:
    """Start a case as the page's user; `dispatch_to`: then dispatch it (as the RCC agent starting it) to that outlet."""
    started = call(page, "POST", "/api/instances",
                   {"definition_key": key, "business_key": business_key, "variables": variables})
    if dispatch_to:
        work(page, business_key, "dispatch_outlet", {"outlet_code": dispatch_to})
    return str(started["instance_id"])


def stage_file(page: Page, name: str, content: bytes) -> str:
    """Upload a file for a start form (e.g. the return request's invoice) as the page's user; its attachment id."""
    csrf = next(c["value"] for c in page.context.cookies() if c["name"] == "tixi_csrf")
    response = page.request.post("/api/attachments", headers={"X-CSRF-Token": csrf},
                                 multipart={"file": {"name": name, "mimeType": "application/pdf", "buffer": content}})
    assert response.ok, response.text()
    return str(response.json()["attachment_id"])


def task_id_of(page: Page, business_key: str, element_id: str) -> str:
    """The open task of a case at `element_id`, as the page's user sees it in their queue."""
    items = call(page, "GET", f"/api/tasks?business_key={business_key}")["items"]
    found = [t["task_id"] for t in items if t["element_id"] == element_id]
    assert len(found) == 1, f"{element_id} among {[t['element_id'] for t in items]}"
    return str(found[0])


def work(page: Page, business_key: str, element_id: str, data: dict[str, Any]) -> None:
    task_id = task_id_of(page, business_key, element_id)
    call(page, "POST", f"/api/tasks/{task_id}/claim")
    call(page, "POST", f"/api/tasks/{task_id}/complete", {"data": data})
