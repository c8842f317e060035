"""The web app's session: the API's own token in an HttpOnly, SameSite=Strict cookie; writes with the
cookie need the CSRF header; pages send the logged-out to /login and never redirect off-site.
Also the API additions the pages use: task search, instance filters, deploy dry run."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

from fastapi.routing import iter_route_contexts
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from api.web.session import CSRF_COOKIE, CSRF_HEADER, SESSION_COOKIE
from tests.api.conftest import Desk
from tests.api.test_complaint_handling import _complain
from tests.api.test_task_queue_api import _snapshot
from tests.conftest import TEST_PROCESSES


def web_login(client: TestClient, username: str = "outlet", next_url: str = "/tasks") -> Any:
    return client.post("/login", data={"username": username, "password": "demo", "next": next_url},
                       follow_redirects=False)


def test_login_sets_a_strict_httponly_session_cookie_and_a_csrf_cookie(client: TestClient) -> None:
    response = web_login(client)
    assert response.status_code == 303 and response.headers["location"] == "/tasks"
    cookies = {c.split("=", 1)[0]: c.lower() for c in response.headers.get_list("set-cookie")}
    assert "httponly" in cookies[SESSION_COOKIE] and "samesite=strict" in cookies[SESSION_COOKIE]
    assert "httponly" not in cookies[CSRF_COOKIE] and "samesite=strict" in cookies[CSRF_COOKIE]
    assert client.get("/api/auth/me").json()["username"] == "outlet"
    assert client.get("/tasks").status_code == 200


def test_a_write_with_the_cookie_needs_the_csrf_header(desk: Desk, client: TestClient,
                                                       factory: sessionmaker[Session]) -> None:
    instance_id = _complain(desk, business_key="TS-CSRF")
    task_id = desk.task_of("outlet", instance_id, "onsite_repair")["task_id"]
    web_login(client, "outlet")
    before = _snapshot(factory)
    for headers in ({}, {CSRF_HEADER: "forged"}):
        refused = client.post(f"/api/tasks/{task_id}/claim", headers=headers)
        assert refused.status_code == 401, refused.text
        assert CSRF_HEADER in refused.json()["detail"]
    assert _snapshot(factory) == before
    claimed = client.post(f"/api/tasks/{task_id}/claim", headers={CSRF_HEADER: client.cookies[CSRF_COOKIE]})
    assert claimed.status_code == 200 and claimed.json()["assignee"] == "outlet"


PUBLIC_PAGES = {"/login", "/logout", "/lang/{code}", "/"}


def test_pages_send_the_logged_out_to_login_and_never_off_site(client: TestClient) -> None:
    # Every page of the app, read from its routes, so a new page cannot ship without the login check.
    pages = [str(route.path) for route in iter_route_contexts(client.app.routes)  # type: ignore[attr-defined]
             if route.path and not route.path.startswith(("/api/", "/engine-rest/", "/docs", "/redoc", "/openapi",
                                                           "/static"))
             and "GET" in (route.methods or set()) and route.path not in PUBLIC_PAGES]
    assert len(pages) >= 10
    for path in pages:
        concrete = (path.replace("{task_id}", str(uuid.uuid4())).replace("{instance_id}", str(uuid.uuid4()))
                    .replace("{customer_id}", str(uuid.uuid4())))
        response = client.get(concrete.replace("{key}", "complaint_handling"), follow_redirects=False)
        assert response.status_code == 303 and response.headers["location"].startswith("/login?next="), path
    for target in ("//evil.example/x", "https://evil.example/", "/\\evil.example"):
        assert web_login(client, next_url=target).headers["location"] == "/tasks"
    refused = client.post("/login", data={"username": "outlet", "password": "wrong"}, follow_redirects=False)
    assert refused.status_code == 401 and SESSION_COOKIE not in refused.cookies


def test_logout_needs_the_page_token(client: TestClient) -> None:
    web_login(client)
    client.post("/logout", data={"csrf": "forged"}, follow_redirects=False)  # another site's form
    assert client.get("/api/auth/me").status_code == 200
    client.post("/logout", data={"csrf": client.cookies[CSRF_COOKIE]}, follow_redirects=False)
    client.cookies.clear()  # the browser drops what the response deleted
    assert client.get("/api/auth/me").status_code == 401


def test_page_errors_are_pages_and_api_errors_stay_problems(client: TestClient) -> None:
    web_login(client, "outlet")
    page = client.get("/admin/users")
    assert page.status_code == 403 and page.headers["content-type"].startswith("text/html")
    assert "admin" in page.text
    api = client.get("/api/users")
    assert api.status_code == 403 and api.headers["content-type"] == "application/problem+json"
    assert client.get("/instances?started_from=yesterday").status_code == 422


def test_task_search_and_instance_filters(desk: Desk, client: TestClient,
                                          login: Callable[[str], dict[str, str]]) -> None:
    first = _complain(desk, business_key="TS-FIND-1")
    _complain(desk, business_key="TS-FIND-2", customer_name="李四")
    assert [t["business_key"] for t in desk.queue("outlet", search="find-1")] == ["TS-FIND-1"]
    assert [t["business_key"] for t in desk.queue("outlet", search="李")] == ["TS-FIND-2"]
    assert desk.queue("outlet", search="%") == []  # wildcards are searched for, not expanded
    desk.work("outlet", first, "onsite_repair", {"declined": False, "onsite_resolved": True, "onsite_visit_date": "2026-01-05",
                                                 "fault_found": "x", "resolution_summary": "ok"})
    admin = login("admin")

    def keys(**params: Any) -> list[str]:
        response = client.get("/api/instances", headers=admin, params=params)
        assert response.status_code == 200, response.text
        return sorted(i["business_key"] for i in response.json()["items"])

    assert keys(participant="outlet") == ["TS-FIND-1"]
    assert keys(participant="rcc_agent") == ["TS-FIND-1", "TS-FIND-2"]
    assert keys(started_from="2000-01-01", started_to="2000-12-31") == []
    assert keys(started_from="2000-01-01") == ["TS-FIND-1", "TS-FIND-2"]
    assert keys(started_to="9999-12-31") == ["TS-FIND-1", "TS-FIND-2"]  # the calendar's last day, no overflow
    web_login(client, "admin")
    page = client.get("/instances", params={"started_to": "9999-12-31", "business_key": "TS-FIND-2"})
    assert page.status_code == 200 and 'data-testid="instance-list"' in page.text
    assert client.get("/reports/sla", params={"end": "9999-12-31"}).status_code == 200


def test_deploy_dry_run_checks_and_stores_nothing(client: TestClient, login: Callable[[str], dict[str, str]],
                                                  factory: sessionmaker[Session]) -> None:
    designer = login("designer")
    content = (TEST_PROCESSES / "two_step_review.bpmn").read_bytes()
    checked = client.post("/api/definitions", params={"dry_run": "true"}, headers=designer,
                          files={"file": ("two_step_review.bpmn", content, "application/xml")})
    assert checked.status_code == 201 and checked.json()["dry_run"] is True
    assert checked.json()["definitions"][0]["version"] == 1
    assert client.get("/api/definitions/two_step_review", headers=designer).status_code == 404
    deployed = client.post("/api/definitions", headers=designer,
                           files={"file": ("two_step_review.bpmn", content, "application/xml")})
    assert deployed.status_code == 201 and deployed.json()["dry_run"] is False
    assert [d["version"] for d in client.get("/api/definitions/two_step_review", headers=designer).json()] == [1]


def test_pages_refuse_unstorable_text_before_any_query(client: TestClient) -> None:
    web_login(client, "admin")
    for path in ("/tasks?q=a%00b", "/instances?business_key=%00", "/processes/a%00b", "/start/x%00"):
        response = client.get(path)
        assert response.status_code == 422, path
        assert response.headers["content-type"].startswith("text/html")


def test_login_page_refuses_unstorable_text(client: TestClient) -> None:
    refused = client.post("/login", data={"username": "adm\x00in", "password": "demo"}, follow_redirects=False)
    assert refused.status_code in (401, 422) and SESSION_COOKIE not in refused.cookies
