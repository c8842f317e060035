"""A server restart loses nothing: a second app on a new engine continues the instance the first one left.

App A runs on the test's session factory; app B gets a brand-new SQLAlchemy engine on the same
database URL and a cold spec cache, as a freshly started `tixi serve` would. Only the database
carries the instance from one to the other.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from api.app import create_app
from api.settings import Settings
from engine.bpmn import serialization
from engine.clock import FrozenClock
from engine.db import make_engine
from tests.api.conftest import Desk
from tests.api.test_outlet_onboarding import APPROVE_RCC, APPROVE_TECH, REGISTRATION
from tests.conftest import ROOT, sessions


def _login_with(client: TestClient) -> Callable[..., dict[str, str]]:
    def _login(username: str, password: str = "demo") -> dict[str, str]:
        response = client.post("/api/auth/token", data={"username": username, "password": password})
        assert response.status_code == 200, response.text
        return {"Authorization": f"Bearer {response.json()['access_token']}"}

    return _login


@contextmanager
def _serving(settings: Settings, clock: FrozenClock, factory: sessionmaker[Session]) -> Iterator[Desk]:
    app = create_app(settings, clock=clock, session_factory=factory, run_scheduler=False)
    with TestClient(app) as client:
        yield Desk(client, _login_with(client))


def _deploy_onboarding(desk: Desk) -> None:
    path = ROOT / "processes" / "outlet_onboarding.bpmn"
    response = desk.client.post("/api/definitions", headers=desk.login("designer"),
                                files={"file": (path.name, path.read_bytes(), "application/xml")})
    assert response.status_code == 201, response.text


def test_restart_continues_the_instance_with_its_history(
    app_settings: Settings, clock: FrozenClock, factory: sessionmaker[Session],
) -> None:
    with _serving(app_settings, clock, factory) as desk_a:
        _deploy_onboarding(desk_a)
        instance_id = desk_a.start("outlet", "outlet_onboarding", REGISTRATION, business_key="outlet-restart-001")
        desk_a.work("rcc_director", instance_id, "rcc_review", APPROVE_RCC)
        assert desk_a.waiting(instance_id) == ["tech_review"]
        before = desk_a.instance(instance_id)
        history_before = desk_a.history(instance_id)
        old_token = desk_a.login("tech_section")

    # The restart: a new process has no cached specs and no pooled connections.
    serialization.cached_specs.cache_clear()  # type: ignore[attr-defined]
    clock.advance(timedelta(hours=2))  # within the 8 h token lifetime
    engine_b = make_engine(app_settings.database_url)
    try:
        with _serving(app_settings, clock, sessions(engine_b)) as desk_b:
            # The same signing key: a token issued before the restart still works.
            assert desk_b.client.get("/api/auth/me", headers=old_token).status_code == 200
            after_restart = desk_b.instance(instance_id)
            assert after_restart == before  # status, waiting task, variables: all as app A left them
            assert desk_b.history(instance_id) == history_before

            task = desk_b.work("tech_section", instance_id, "tech_review", APPROVE_TECH)
            assert desk_b.waiting(instance_id) == ["csd_approval"]
            detail = desk_b.instance(instance_id)
            history = desk_b.history(instance_id)
        assert len(serialization.cached_specs.cache), "app B should have rebuilt the spec from the database"  # type: ignore[attr-defined]
    finally:
        engine_b.dispose()

    assert detail["status"] == "running"
    assert detail["business_key"] == "outlet-restart-001"
    assert detail["variables"]["outlet_name"] == REGISTRATION["outlet_name"]
    assert detail["variables"]["rcc_approved"] is True and detail["variables"]["tech_approved"] is True
    assert task["task_id"] == before["waiting_tasks"][0]["task_id"]  # the very task app A created

    # Continuous: app A's events first and unchanged, then app B's, ids and times in order.
    assert history[:len(history_before)] == history_before
    ids = [event["event_id"] for event in history]
    assert ids == sorted(ids) and len(set(ids)) == len(ids)
    times = [event["occurred_at"] for event in history]
    assert times == sorted(times)
    assert history[0]["event_type"] == "started"
    completions = [(e["actor"], e["data"]["element"]) for e in history if e["event_type"] == "task_completed"]
    assert completions == [("rcc_director", "rcc_review"), ("tech_section", "tech_review")]
    decisions = [e["data"]["chosen"][0]["target"] for e in history if e["event_type"] == "gateway_decision"]
    assert decisions == ["tech_review", "csd_approval"]
    new_events = history[len(history_before):]
    assert {e["event_type"] for e in new_events} >= {"task_claimed", "task_completed", "gateway_decision"}
    assert all(e["occurred_at"] > history_before[-1]["occurred_at"] for e in new_events)
