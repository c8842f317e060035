"""The actor kept between a user's requests (api/actors.py): when a change to the user applies."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from api.actors import ActorCache
from api.app import create_app
from api.settings import Settings
from engine.clock import FrozenClock
from engine.db import transaction
from engine.identity import Actor, TokenHolder, update_user

Login = Callable[[str], dict[str, str]]
ADMIN = Actor("admin", frozenset({"admin"}))


def _disable_elsewhere(factory: sessionmaker[Session], clock: FrozenClock, username: str) -> None:
    """As `tixi users demo --disable` or a second server would: not through this app."""
    with transaction(factory) as session:
        update_user(session, clock, actor=ADMIN, username=username, is_active=False)


def test_a_user_disabled_elsewhere_is_out_once_the_kept_actor_expires(client: TestClient, login: Login,
                                                                      factory: sessionmaker[Session],
                                                                      clock: FrozenClock) -> None:
    headers = login("rcc_agent")
    assert client.get("/api/auth/me", headers=headers).status_code == 200
    _disable_elsewhere(factory, clock, "rcc_agent")
    assert client.get("/api/auth/me", headers=headers).status_code == 200  # kept for up to 2 seconds
    clock.advance(timedelta(seconds=2))
    assert client.get("/api/auth/me", headers=headers).status_code == 401
    clock.advance(timedelta(seconds=5))
    assert client.get("/api/auth/me", headers=headers).status_code == 401  # refusals are never kept


def test_groups_changed_through_this_server_apply_to_the_next_request(client: TestClient, login: Login) -> None:
    admin = login("admin")
    created = client.post("/api/users", headers=admin, json={"username": "li.na", "password": "correct-horse",
                                                             "groups": ["rcc_agent"]})
    assert created.status_code == 201, created.text
    headers = login("li.na", "correct-horse")
    assert client.get("/api/auth/me", headers=headers).json()["groups"] == ["rcc_agent"]
    changed = client.patch("/api/users/li.na", headers=admin, json={"groups": ["quality"]})
    assert changed.status_code == 200, changed.text
    assert client.get("/api/auth/me", headers=headers).json()["groups"] == ["quality"]


def test_with_no_lifetime_every_request_reads_the_user(app_settings: Settings, clock: FrozenClock,
                                                       factory: sessionmaker[Session]) -> None:
    settings = app_settings.model_copy(update={"actor_cache_seconds": 0})
    with TestClient(create_app(settings, clock=clock, session_factory=factory, run_scheduler=False)) as client:
        token = client.post("/api/auth/token", data={"username": "rcc_agent", "password": "demo"}).json()
        headers = {"Authorization": f"Bearer {token['access_token']}"}
        assert client.get("/api/auth/me", headers=headers).status_code == 200
        _disable_elsewhere(factory, clock, "rcc_agent")
        assert client.get("/api/auth/me", headers=headers).status_code == 401


def test_an_actor_read_before_a_change_is_not_kept_after_it(clock: FrozenClock) -> None:
    actors = ActorCache(seconds=2)
    before = actors.generation  # a request starts reading the user ...
    actors.forget("rcc_agent")  # ... an admin changes them and the change is committed ...
    actors.keep(TokenHolder(Actor("rcc_agent", frozenset({"rcc_agent"})), 0), clock.now(),
                generation=before)  # ... the read ends
    assert actors.find("rcc_agent", clock.now()) is None
    actors.keep(TokenHolder(Actor("rcc_agent", frozenset({"quality"})), 0), clock.now(), generation=actors.generation)
    assert actors.find("rcc_agent", clock.now()) == TokenHolder(Actor("rcc_agent", frozenset({"quality"})), 0)
    assert actors.find("rcc_agent", clock.now() - timedelta(seconds=1)) is None  # a clock set back
