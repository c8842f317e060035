"""Finding 10 of issue 13: tokens end. A logout, a password change or reset and disabling end a
user's tokens at once (through the kept actor too); re-enabling revives none; a token lives a day
at most; users change their own password, from the API and from the web app's account page."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jwt
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from api.settings import Settings, SettingsError
from api.web.session import CSRF_COOKIE, CSRF_HEADER, SESSION_COOKIE
from engine.clock import FrozenClock
from engine.db import transaction
from engine.identity import Actor
from engine.sessions import end_sessions
from engine.tables import AuditEvent

Login = Callable[..., dict[str, str]]
PASSWORD = "correct-horse"
ENDED = "this token was ended"


@pytest.fixture
def li_na(client: TestClient, login: Login) -> str:
    created = client.post("/api/users", headers=login("admin"),
                          json={"username": "li.na", "password": PASSWORD, "groups": ["rcc_agent"]})
    assert created.status_code == 201, created.text
    return "li.na"


def _token(client: TestClient, username: str, password: str) -> Any:
    return client.post("/api/auth/token", data={"username": username, "password": password})


def _me(client: TestClient, headers: dict[str, str]) -> Any:
    return client.get("/api/auth/me", headers=headers)


def _events(factory: sessionmaker[Session], event_type: str) -> list[tuple[str, dict[str, Any]]]:
    with factory() as session:
        return [(e.actor, e.data) for e in session.scalars(select(AuditEvent).where(AuditEvent.event_type == event_type)
                                                            .order_by(AuditEvent.event_id))]


def test_logout_ends_every_token_of_the_user_at_once(client: TestClient, login: Login, li_na: str,
                                                     factory: sessionmaker[Session]) -> None:
    phone, desk = login(li_na, PASSWORD), login(li_na, PASSWORD)
    other = login("rcc_agent")
    assert _me(client, phone).status_code == 200 and _me(client, desk).status_code == 200  # both kept now
    assert client.post("/api/auth/logout", headers=phone).status_code == 204
    for headers in (phone, desk):
        ended = _me(client, headers)
        assert ended.status_code == 401 and ENDED in ended.json()["detail"]
    assert _me(client, other).status_code == 200  # someone else's session goes on
    assert _events(factory, "sessions_ended") == [("li.na", {"username": "li.na", "reason": "logout"})]
    assert _me(client, login(li_na, PASSWORD)).status_code == 200  # logging in again works


def test_a_password_reset_or_disabling_ends_tokens_and_reenabling_revives_none(client: TestClient, login: Login,
                                                                              li_na: str) -> None:
    admin = login("admin")
    before_reset = login(li_na, PASSWORD)
    assert _me(client, before_reset).status_code == 200
    assert client.patch(f"/api/users/{li_na}", headers=admin, json={"password": "new-password-1"}).status_code == 200
    assert _me(client, before_reset).status_code == 401
    before_disable = login(li_na, "new-password-1")
    assert client.patch(f"/api/users/{li_na}", headers=admin, json={"is_active": False}).status_code == 200
    assert client.patch(f"/api/users/{li_na}", headers=admin, json={"is_active": True}).status_code == 200
    revived = _me(client, before_disable)
    assert revived.status_code == 401 and ENDED in revived.json()["detail"]


def test_users_change_their_own_password(client: TestClient, login: Login, li_na: str,
                                         factory: sessionmaker[Session]) -> None:
    headers, elsewhere = login(li_na, PASSWORD), login(li_na, PASSWORD)
    wrong = client.post("/api/auth/password", headers=headers,
                        json={"current_password": "not-it", "new_password": "brand-new-pass"})
    assert wrong.status_code == 422 and wrong.json()["field"] == "current_password", wrong.text
    short = client.post("/api/auth/password", headers=headers, json={"current_password": PASSWORD,
                                                                     "new_password": "short"})
    assert short.status_code == 422
    changed = client.post("/api/auth/password", headers=headers,
                          json={"current_password": PASSWORD, "new_password": "brand-new-pass"})
    assert changed.status_code == 200, changed.text
    assert _me(client, {"Authorization": f"Bearer {changed.json()['access_token']}"}).status_code == 200
    assert _me(client, headers).status_code == 401 and _me(client, elsewhere).status_code == 401
    assert _token(client, li_na, PASSWORD).status_code == 401
    assert _token(client, li_na, "brand-new-pass").status_code == 200
    assert _events(factory, "password_changed") == [("li.na", {"username": "li.na"})]


def test_a_token_lifetime_above_a_day_stops_start_up(app_settings: Settings) -> None:
    for minutes in (100 * 365 * 24 * 60, 24 * 60 + 1, 0):
        with pytest.raises(SettingsError, match=f"TIXI_TOKEN_MINUTES is {minutes}; set it between 1 and 1440"):
            Settings(**{**app_settings.model_dump(), "token_minutes": minutes})
    assert Settings(**{**app_settings.model_dump(), "token_minutes": 24 * 60}).token_minutes == 1440


def test_a_token_without_a_generation_is_refused(client: TestClient, app_settings: Settings) -> None:
    """Tokens issued before generations existed could never be ended: they are refused."""
    old = jwt.encode({"sub": "admin", "iss": "tixi", "iat": 1767603600, "exp": 1767632400}, app_settings.secret_key,
                     algorithm="HS256")
    refused = _me(client, {"Authorization": f"Bearer {old}"})
    assert refused.status_code == 401 and "gen" in refused.json()["detail"]


def _web_login(client: TestClient, username: str, password: str = "demo") -> str:
    response = client.post("/login", data={"username": username, "password": password}, follow_redirects=False)
    assert response.status_code == 303, response.text
    return client.cookies[SESSION_COOKIE]


def test_the_web_apps_logout_ends_the_cookies_token(client: TestClient) -> None:
    token = _web_login(client, "outlet")
    page = client.get("/tasks")
    assert 'data-api="POST /api/auth/logout"' in page.text  # the page's logout button calls the API
    out = client.post("/api/auth/logout", headers={CSRF_HEADER: client.cookies[CSRF_COOKIE]})
    assert out.status_code == 204
    assert SESSION_COOKIE in out.headers["set-cookie"]  # the cookie is deleted too
    client.cookies.clear()
    client.cookies.set(SESSION_COOKIE, token)  # a copy of the cookie kept by someone
    assert client.get("/api/auth/me").status_code == 401
    # The page's form without its script (POST /logout) ends the token as well.
    client.cookies.clear()
    token = _web_login(client, "outlet")
    client.post("/logout", data={"csrf": client.cookies[CSRF_COOKIE]}, follow_redirects=False)
    client.cookies.clear()
    client.cookies.set(SESSION_COOKIE, token)
    assert client.get("/api/auth/me").status_code == 401


def test_the_account_page_changes_the_password_and_keeps_the_user_logged_in(client: TestClient, li_na: str) -> None:
    old_token = _web_login(client, li_na, PASSWORD)
    page = client.get("/account")
    assert page.status_code == 200 and 'data-api="POST /api/auth/password"' in page.text
    changed = client.post("/api/auth/password", headers={CSRF_HEADER: client.cookies[CSRF_COOKIE]},
                          json={"current_password": PASSWORD, "new_password": "brand-new-pass"})
    assert changed.status_code == 200, changed.text
    assert client.cookies[SESSION_COOKIE] != old_token  # a new session cookie came with the answer
    assert client.get("/api/auth/me").json()["username"] == li_na
    client.cookies.clear()
    client.cookies.set(SESSION_COOKIE, old_token)
    assert client.get("/api/auth/me").status_code == 401


def test_a_new_token_after_a_logout_elsewhere_works_at_once(client: TestClient, login: Login, li_na: str,
                                                            factory: sessionmaker[Session], clock: FrozenClock) -> None:
    """The kept actor holds the old generation; a token of the new one is checked against the database."""
    old = login(li_na, PASSWORD)
    assert _me(client, old).status_code == 200  # li.na is kept now, at generation 0
    with transaction(factory) as session:  # a logout through another server
        end_sessions(session, clock, actor=Actor(li_na, frozenset({"rcc_agent"})), reason="logout")
    assert _me(client, login(li_na, PASSWORD)).status_code == 200
    assert _me(client, old).status_code == 401
