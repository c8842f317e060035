"""Every web page × every demo user: a page answers each person as the API route it reads does.

The pages come from the app's own route list: a new page fails `test_every_page_is_in_the_matrix`
until it is added to PAGES, naming the API route whose rule it shares (or saying it is public).
For each caller, the page's outcome (shown, refused, not found) must equal the API route's in
tests/api/test_authorisation_matrix.py, so a page cannot ship with a rule of its own.
"""

from __future__ import annotations

import pytest
from fastapi.routing import iter_route_contexts
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from api.auth import issue_token
from api.settings import Settings
from api.web.session import SESSION_COOKIE
from engine.catalog import FormCatalog
from engine.clock import FrozenClock
from tests.api.test_authorisation_matrix import ANONYMOUS, MATRIX, USERS, _call, _headers, _prepare, deploy_targets

# page -> the API route whose rule it shares; None: a public page (login, language switch, docs).
PAGES: dict[tuple[str, str], tuple[str, str] | None] = {
    ("GET", "/"): None,  # a redirect to /tasks, for anyone
    ("GET", "/tasks"): ("GET", "/api/tasks"),
    ("GET", "/tasks/{task_id}"): ("GET", "/api/tasks/{task_id}"),
    ("GET", "/tasks/done"): ("GET", "/api/my/done"),
    ("GET", "/started"): ("GET", "/api/my/started"),
    ("GET", "/start"): ("GET", "/api/definitions"),
    ("GET", "/start/{key}"): ("GET", "/api/definitions/{key}"),
    ("GET", "/processes"): ("GET", "/api/definitions"),
    ("GET", "/processes/{key}"): ("GET", "/api/definitions/{key}"),
    ("GET", "/modeler"): ("POST", "/api/definitions"),
    ("GET", "/instances"): ("GET", "/api/instances"),
    ("GET", "/instances/{instance_id}"): ("GET", "/api/instances/{instance_id}"),
    ("GET", "/reports/sla"): ("GET", "/api/reports/sla"),
    ("GET", "/admin/users"): ("GET", "/api/users"),
    ("GET", "/admin/external-tasks"): ("GET", "/api/external-tasks"),
    ("GET", "/notifications"): ("GET", "/api/notifications"),
    ("GET", "/admin/notifications"): ("GET", "/api/admin/notifications/dead"),
    ("GET", "/account"): ("GET", "/api/auth/me"),
    ("GET", "/network"): ("GET", "/api/outlets"),
    ("GET", "/customers"): ("GET", "/api/customers"),
    ("GET", "/customers/{customer_id}"): ("GET", "/api/customers/{customer_id}"),
    ("POST", "/logout"): None,  # ends the session a browser holds, if any
    ("GET", "/login"): None,
    ("POST", "/login"): None,
    ("GET", "/lang/{code}"): None,
    ("GET", "/docs"): None,
    ("GET", "/docs/oauth2-redirect"): None,
    ("GET", "/redoc"): None,
    ("GET", "/openapi.json"): None,
}


def page_routes(client: TestClient) -> set[tuple[str, str]]:
    """Every (method, path) the app serves outside /api, the static files and the workers' /engine-rest.

    /engine-rest is Camunda's API for workers' service accounts, no page's: tests/api/test_external_tasks.py.
    """
    contexts = iter_route_contexts(client.app.routes)  # type: ignore[attr-defined]
    return {(method, str(route.path)) for route in contexts
            if getattr(route, "methods", None) and not str(route.path).startswith(("/api", "/static", "/engine-rest"))
            for method in (route.methods or set()) - {"HEAD"}}


def test_every_page_is_in_the_matrix(client: TestClient) -> None:
    assert page_routes(client) == set(PAGES)
    assert {api for api in PAGES.values() if api is not None} <= set(MATRIX)


def _outcome(status: int) -> str:
    """What a person sees: the page (or where it sends them), a refusal, or nothing there."""
    if status in (401, 403, 404):
        return str(status)
    assert status < 400, status
    return "shown"


def _page_outcome(client: TestClient, method: str, path: str, url_of: dict[str, str], token: str | None,
                  settings: Settings) -> str:
    url = path
    for name, value in url_of.items():
        url = url.replace("{" + name + "}", value)
    client.cookies.clear()
    if token:
        client.cookies.set(SESSION_COOKIE, token)
    response = client.request(method, url, follow_redirects=False,
                              params={"start": "2026-01-01", "end": "2026-12-31"} if path == "/reports/sla" else None)
    if response.status_code == 303 and response.headers["location"].startswith("/login"):
        return "401"  # a page asks for a login where the API answers 401
    return _outcome(response.status_code)


@pytest.mark.parametrize(("method", "path"), sorted(p for p, api in PAGES.items() if api is not None),
                         ids=[f"{m} {p}" for (m, p), api in sorted(PAGES.items()) if api is not None])
def test_a_page_answers_everyone_as_its_api_route_does(
    client: TestClient, factory: sessionmaker[Session], clock: FrozenClock, catalog: FormCatalog,
    app_settings: Settings, method: str, path: str,
) -> None:
    api_method, api_path = PAGES[(method, path)]  # type: ignore[misc]
    row = MATRIX[(api_method, api_path)]
    deploy_targets(factory, clock, catalog)
    # Pages only read: one target serves every caller (a mutating API row's state is what the page shows).
    target = _prepare(factory, clock, catalog, row.target)
    url_of = {"task_id": target.task_id, "instance_id": target.instance_id, "key": "two_step_review",
              "customer_id": target.customer_id}
    page: dict[str, str] = {}
    api: dict[str, str] = {}
    for caller in USERS:
        token = issue_token(caller, generation=0, secret=app_settings.secret_key, now=clock.now(), minutes=480)
        page[caller] = _page_outcome(client, method, path, url_of, token, app_settings)
        client.cookies.clear()
        if row.mutates:  # the API's answer to this caller, from the matrix, without changing the shared target
            api[caller] = _outcome(row.allowed.get(caller, row.default))
        else:
            api[caller] = _outcome(_call(client, api_method, api_path, row, target,
                                         _headers(caller, settings=app_settings, clock=clock)).status_code)
    for caller in ANONYMOUS[:1]:
        page[caller] = _page_outcome(client, method, path, url_of, None, app_settings)
        api[caller] = "401"
    assert page == api


@pytest.mark.parametrize(("method", "path"), sorted(p for p, api in PAGES.items() if api is None))
def test_a_public_page_needs_no_login(client: TestClient, method: str, path: str) -> None:
    url = path.replace("{code}", "en")
    data = {"username": "nobody", "password": "wrong"} if (method, path) == ("POST", "/login") else None
    response = client.request(method, url, data=data, follow_redirects=False)
    assert response.status_code in (200, 303, 401), response.text  # a failed login is shown, as a 401 page
    assert not response.headers.get("location", "").startswith("/login?next")
