"""Authentication on every endpoint but health, login and docs; authorisation by group."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import timedelta

import jwt
import pytest
from fastapi.testclient import TestClient

from engine.clock import FrozenClock

Login = Callable[[str], dict[str, str]]
SOME_ID = str(uuid.uuid4())
PROTECTED = [
    ("get", "/api/auth/me"),
    ("post", "/api/auth/logout"),
    ("post", "/api/auth/password"),
    ("get", "/api/definitions"),
    ("post", "/api/definitions"),
    ("get", "/api/definitions/outlet_onboarding"),
    ("get", "/api/definitions/outlet_onboarding/versions/1/xml"),
    ("get", "/api/instances"),
    ("post", "/api/instances"),
    ("get", f"/api/instances/{SOME_ID}"),
    ("get", f"/api/instances/{SOME_ID}/history"),
    ("post", f"/api/instances/{SOME_ID}/suspend"),
    ("post", f"/api/instances/{SOME_ID}/resume"),
    ("post", f"/api/instances/{SOME_ID}/terminate"),
    ("post", f"/api/instances/{SOME_ID}/retry"),
    ("post", "/api/messages"),
    ("get", "/api/tasks"),
    ("get", f"/api/tasks/{SOME_ID}"),
    ("post", f"/api/tasks/{SOME_ID}/claim"),
    ("post", f"/api/tasks/{SOME_ID}/unclaim"),
    ("post", f"/api/tasks/{SOME_ID}/complete"),
    ("post", f"/api/tasks/{SOME_ID}/assign"),
    ("post", f"/api/tasks/{SOME_ID}/delegate"),
    ("patch", f"/api/tasks/{SOME_ID}"),
    ("get", f"/api/tasks/{SOME_ID}/comments"),
    ("post", f"/api/tasks/{SOME_ID}/comments"),
    ("get", "/api/reports/sla"),
    ("get", "/api/calendar"),
    ("put", "/api/calendar/2026-10-01"),
    ("delete", "/api/calendar/2026-10-01"),
    ("get", "/api/users"),
    ("post", "/api/users"),
    ("patch", "/api/users/outlet"),
    ("post", "/api/users/outlet/unlock"),
    ("get", "/api/groups"),
    ("post", "/api/groups"),
    ("get", "/api/forms/outlet_registration"),
    ("get", "/api/regions"),
    ("post", "/api/regions"),
    ("put", "/api/regions/east"),
    ("get", "/api/outlets"),
    ("post", "/api/outlets"),
    ("get", "/api/outlets/HD-001"),
    ("patch", "/api/outlets/HD-001"),
    ("post", "/api/outlets/HD-001/status"),
    ("get", "/api/outlets/HD-001/archive"),
    ("post", "/api/outlets/HD-001/staff"),
    ("get", "/api/customers"),
    ("post", "/api/customers"),
    ("get", f"/api/customers/{SOME_ID}"),
    ("get", f"/api/customers/{SOME_ID}/cases"),
    ("patch", f"/api/customers/{SOME_ID}"),
    ("post", f"/api/customers/{SOME_ID}/products"),
    ("get", "/api/products/SN-1/cases"),
    ("get", "/api/service-accounts"),
    ("post", "/api/service-accounts"),
    ("post", "/api/service-accounts/parts-worker/revoke"),
    ("put", "/api/service-accounts/parts-worker/groups"),
    ("get", "/api/external-tasks"),
    ("post", f"/api/tasks/{SOME_ID}/decide"),
    ("get", "/api/my/done"),
    ("get", "/api/my/started"),
    ("get", "/api/my/counts"),
    ("get", "/api/my/filters"),
    ("post", "/api/my/filters"),
    ("delete", f"/api/my/filters/{SOME_ID}"),
    ("get", "/api/notifications"),
    ("get", "/api/notifications/unread"),
    ("post", f"/api/notifications/{SOME_ID}/read"),
    ("post", "/api/notifications/read"),
    ("get", "/api/me/notification-settings"),
    ("put", "/api/me/notification-settings"),
    ("put", "/api/users/outlet/notification-settings"),
    ("get", "/api/webhooks"),
    ("post", "/api/webhooks"),
    ("delete", f"/api/webhooks/{SOME_ID}"),
    ("get", "/api/groups/quality/notification-defaults"),
    ("put", "/api/groups/quality/notification-defaults"),
    ("get", "/api/admin/notifications/dead"),
    ("post", f"/api/admin/notifications/{SOME_ID}/resend"),
    ("post", f"/api/tasks/{SOME_ID}/attachments"),
    ("post", f"/api/instances/{SOME_ID}/attachments"),
    ("get", f"/api/instances/{SOME_ID}/attachments"),
    ("post", "/api/attachments"),
    ("get", f"/api/attachments/{SOME_ID}"),
    ("get", f"/api/attachments/{SOME_ID}/thumbnail"),
    ("post", f"/api/tasks/{SOME_ID}/send-back"),
    ("post", f"/api/instances/{SOME_ID}/withdraw"),
    ("post", f"/api/tasks/{SOME_ID}/extra-signs"),
    ("post", f"/api/tasks/{SOME_ID}/extra-signs/{SOME_ID}/decide"),
    ("get", "/api/my/extra-signs"),
    ("post", "/api/signals"),
]
# Camunda 7's external-task API, for workers: HTTP basic auth with a service account's key.
WORKER_ROUTES = [
    ("post", "/engine-rest/external-task/fetchAndLock"),
    ("get", "/engine-rest/external-task"),
    *((method, f"/engine-rest/external-task/{SOME_ID}{tail}") for method, tail in (
        ("get", ""), ("post", "/complete"), ("post", "/failure"), ("post", "/bpmnError"), ("post", "/extendLock"),
        ("post", "/unlock"))),
]


def test_every_protected_route_is_listed(client: TestClient) -> None:
    """A new route must be added to PROTECTED (or to the public list) so it cannot ship unprotected."""
    public = {"/api/health", "/api/auth/token"}
    schema = client.get("/openapi.json").json()
    routes = {(method, path.replace("{instance_id}", SOME_ID).replace("{task_id}", SOME_ID)
               .replace("{key}", "outlet_onboarding").replace("{version}", "1")
               .replace("{username}", "outlet").replace("{form_key}", "outlet_registration")
               .replace("{day}", "2026-10-01").replace("{customer_id}", SOME_ID)
               .replace("{code}", "east" if path.startswith("/api/regions") else "HD-001")
               .replace("{serial_number}", "SN-1").replace("{name}", "parts-worker")
               .replace("{notification_id}", SOME_ID).replace("{endpoint_id}", SOME_ID)
               .replace("{group_id}", "quality").replace("{attachment_id}", SOME_ID)
               .replace("{sign_id}", SOME_ID).replace("{filter_id}", SOME_ID))
              for path, item in schema["paths"].items() for method in item if path not in public}
    assert routes == set(PROTECTED) | set(WORKER_ROUTES)


@pytest.mark.parametrize(("method", "path"), WORKER_ROUTES)
def test_a_worker_without_its_key_gets_401(client: TestClient, method: str, path: str) -> None:
    response = getattr(client, method)(path)
    assert response.status_code == 401, response.text


@pytest.mark.parametrize(("method", "path"), PROTECTED)
def test_no_token_means_401(client: TestClient, method: str, path: str) -> None:
    response = getattr(client, method)(path)
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"
    assert response.json()["type"] == "urn:tixi:problem:unauthenticated"


@pytest.mark.parametrize(
    "token",
    [
        jwt.encode({"sub": "admin", "iss": "tixi", "iat": 0, "exp": 4102444800}, "guessed-secret", algorithm="HS256"),
        jwt.encode({"sub": "admin", "iss": "tixi", "iat": 0, "exp": 4102444800}, "", algorithm="none"),
        "not-a-jwt",
    ],
)
def test_forged_tokens_are_refused(client: TestClient, token: str) -> None:
    response = client.get("/api/auth/me", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 401


def test_expired_token_is_refused(client: TestClient, login: Login, clock: FrozenClock) -> None:
    headers = login("outlet")
    assert client.get("/api/auth/me", headers=headers).json() == {"username": "outlet", "groups": ["outlet"]}
    clock.advance(timedelta(hours=9))
    response = client.get("/api/auth/me", headers=headers)
    assert response.status_code == 401
    assert "expired" in response.json()["detail"]


def test_public_endpoints(client: TestClient) -> None:
    assert client.get("/api/health").json() == {"status": "ok"}
    assert client.get("/docs").status_code == 200
    assert "/api/tasks" in client.get("/openapi.json").json()["paths"]


def test_wrong_password_and_unknown_user(client: TestClient) -> None:
    for username, password in (("outlet", "wrong"), ("nobody", "demo")):
        response = client.post("/api/auth/token", data={"username": username, "password": password})
        assert response.status_code == 401
        assert response.json()["detail"] == "wrong username or password"


@pytest.mark.parametrize("user", ["outlet", "rcc_director", "designer", "quality"])
@pytest.mark.parametrize(("method", "path", "body"), [
    ("get", "/api/users", None),
    ("post", "/api/users", {"username": "mallory", "password": "long-enough-pw", "groups": ["admin"]}),
    ("patch", "/api/users/outlet", {"groups": ["admin"]}),
    ("post", "/api/groups", {"group_id": "cabal", "name": "x / x"}),
])
def test_user_management_is_for_admins(client: TestClient, login: Login, user: str, method: str, path: str,
                                       body: dict | None) -> None:
    kwargs = {"json": body} if body is not None else {}
    response = getattr(client, method)(path, headers=login(user), **kwargs)
    assert response.status_code == 403
    assert login("outlet") and client.get("/api/auth/me", headers=login("outlet")).json()["groups"] == ["outlet"]


def test_admin_manages_users_and_a_disabled_user_is_out_at_once(client: TestClient, login: Login) -> None:
    admin = login("admin")
    created = client.post("/api/users", headers=admin, json={"username": "li.na", "password": "correct-horse",
                                                             "display_name": "李娜", "groups": ["rcc_agent"]})
    assert created.status_code == 201, created.text
    assert created.json()["groups"] == ["rcc_agent"]
    assert client.post("/api/users", headers=admin,
                       json={"username": "li.na", "password": "correct-horse"}).status_code == 409
    bad_group = client.post("/api/users", headers=admin,
                            json={"username": "zhao", "password": "correct-horse", "groups": ["nope"]})
    assert bad_group.status_code == 422 and bad_group.json()["field"] == "groups"
    short = client.post("/api/users", headers=admin, json={"username": "zhao", "password": "short"})
    assert short.status_code == 422 and short.json()["errors"][0]["field"] == "password"
    token = client.post("/api/auth/token", data={"username": "li.na", "password": "correct-horse"}).json()
    headers = {"Authorization": f"Bearer {token['access_token']}"}
    assert client.get("/api/tasks", headers=headers).status_code == 200
    moved = client.patch("/api/users/li.na", headers=admin, json={"groups": ["rcc_visitor", "quality"]})
    assert moved.json()["groups"] == ["quality", "rcc_visitor"]
    assert client.get("/api/auth/me", headers=headers).json()["groups"] == ["quality", "rcc_visitor"]
    client.patch("/api/users/li.na", headers=admin, json={"is_active": False})
    assert client.get("/api/tasks", headers=headers).status_code == 401
    assert client.post("/api/auth/token", data={"username": "li.na", "password": "correct-horse"}).status_code == 401
    client.patch("/api/users/li.na", headers=admin, json={"is_active": True, "password": "new-password-1"})
    assert client.post("/api/auth/token", data={"username": "li.na", "password": "new-password-1"}).status_code == 200
    groups = {g["group_id"]: g for g in client.get("/api/groups", headers=admin).json()}
    assert {"outlet", "rcc_director", "csd_head", "designer", "admin"} <= set(groups)
    assert " / " in groups["csd_head"]["name"]
