"""Security headers on every answer of every route, read from the app's own route list.

Each route is called as an anonymous caller and as a logged-in admin, with path parameters that
exist nowhere (a UUID) and that are malformed ("1" where a UUID belongs), so the answers include
pages, redirects, 200s, 401s, 404s and 422s; a 500 and the static files are checked too.
"""

from __future__ import annotations

import re
import uuid
from typing import Any

from fastapi.routing import iter_route_contexts
from fastapi.testclient import TestClient
from httpx import Response

from api.security_headers import DATA_POLICY, PAGE_POLICY
from tests.api.test_web_session import web_login

FIXED = {"x-content-type-options": "nosniff", "x-frame-options": "DENY", "referrer-policy": "same-origin"}


def _assert_secured(response: Response, what: str) -> None:
    for name, value in FIXED.items():
        assert response.headers.get(name) == value, (what, response.status_code, name)
    policy = response.headers.get("content-security-policy", "")
    assert "frame-ancestors 'none'" in policy, (what, response.status_code, policy)
    if response.headers.get("content-type", "").startswith("text/html"):
        assert "'unsafe-inline'" not in re.search(r"script-src[^;]*", policy).group(0), what  # type: ignore[union-attr]
        if not what.split()[1].startswith(("/docs", "/redoc")):
            assert policy == PAGE_POLICY, what
    else:
        assert policy == DATA_POLICY, (what, response.headers.get("content-type"))


def _calls(client: TestClient) -> list[tuple[str, str]]:
    calls = []
    for route in iter_route_contexts(client.app.routes):  # type: ignore[attr-defined]
        if not route.methods:  # the /static mount
            calls += [("GET", "/static/app.css"), ("GET", "/static/js/nothing-here.js")]
            continue
        for method in sorted(route.methods - {"HEAD"}):
            for value in (str(uuid.uuid4()), "1"):
                calls.append((method, re.sub(r"\{[^}]+\}", value, route.path)))
    return sorted(calls, key=lambda call: call == ("POST", "/logout"))  # logging out ends the admin's pass


def _call(client: TestClient, method: str, path: str) -> Response:
    body: dict[str, Any] | None = {} if method in ("POST", "PUT", "PATCH") else None
    return client.request(method, path, json=body, follow_redirects=False)


def test_every_route_answers_with_the_security_headers(client: TestClient) -> None:
    calls = _calls(client)
    assert len(calls) > 100
    statuses: set[int] = set()
    for method, path in calls:
        response = _call(client, method, path)
        _assert_secured(response, f"{method} {path} (anonymous)")
        statuses.add(response.status_code)
    assert web_login(client, "admin").status_code == 303
    for method, path in calls:
        response = _call(client, method, path)
        _assert_secured(response, f"{method} {path} (admin)")
        statuses.add(response.status_code)
    assert {200, 303, 401, 404, 422} <= statuses, statuses
    login_page = client.get("/login")
    assert login_page.headers["content-security-policy"] == PAGE_POLICY


def test_an_unexpected_error_answers_with_the_security_headers(client: TestClient) -> None:
    def boom() -> None:
        raise RuntimeError("a bug")

    client.app.add_api_route("/api/boom", boom)  # type: ignore[attr-defined]
    with TestClient(client.app, raise_server_exceptions=False) as plain:
        response = plain.get("/api/boom")
    assert response.status_code == 500
    _assert_secured(response, "GET /api/boom")


def test_the_docs_page_allows_only_its_own_inline_scripts(client: TestClient) -> None:
    page = client.get("/docs")
    assert page.status_code == 200 and "SwaggerUIBundle" in page.text
    policy = page.headers["content-security-policy"]
    script_src = re.search(r"script-src[^;]*", policy).group(0)  # type: ignore[union-attr]
    assert "'unsafe-inline'" not in script_src and script_src.count("'sha256-") == page.text.count("<script>")
