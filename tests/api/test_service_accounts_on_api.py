"""Service accounts on /api (issue 16, integration basics): an admin makes one for the hotline's system,
scoped to groups; it starts complaints with its key as a member of them would, sees only the cases it
took part in, may not administer, and is out at once when revoked or re-scoped. Both databases."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from engine.db import transaction
from engine.tables import AuditEvent
from tests.api.conftest import Desk, Login, events_of
from tests.api.test_complaint_handling import CUSTOMER_INTAKE, DISPATCH

START = {"definition_key": "complaint_handling", "variables": CUSTOMER_INTAKE}


def _make(client: TestClient, login: Login, name: str, groups: list[str]) -> tuple[str, str]:
    made = client.post("/api/service-accounts", headers=login("admin"), json={"name": name, "groups": groups})
    assert made.status_code == 201, made.text
    assert made.json()["groups"] == sorted(groups)
    return name, str(made.json()["api_key"])


def _start(client: TestClient, auth: tuple[str, str], key: str, **headers: str) -> Any:
    return client.post("/api/instances", auth=auth, headers=headers, json={**START, "business_key": key})


def test_the_hotline_starts_a_complaint_with_its_key_as_its_groups_allow(client: TestClient, login: Login,
                                                                        desk: Desk) -> None:
    hotline = _make(client, login, "hotline", ["rcc_agent"])
    started = _start(client, hotline, "TS-HOTLINE-1")
    assert started.status_code == 201, started.text
    instance_id = started.json()["instance_id"]
    # It acts under its own name in the history, and reads the case it started.
    assert [e["actor"] for e in events_of(desk.history(instance_id), "started")] == ["hotline"]
    assert client.get(f"/api/instances/{instance_id}", auth=hotline).status_code == 200
    # Bound to no outlet or region, it sees another case while it waits on its groups' queue, as an
    # unbound member of them would, and not once the RCC has dispatched it to an outlet.
    other = desk.start("rcc_agent", "complaint_handling", CUSTOMER_INTAKE, "TS-HOTLINE-OTHER")
    assert client.get(f"/api/instances/{other}", auth=hotline).status_code == 200
    desk.work("rcc_agent", other, "dispatch_outlet", DISPATCH)
    assert client.get(f"/api/instances/{other}", auth=hotline).status_code == 404
    # Administering stays with people.
    assert client.get("/api/users", auth=hotline).status_code == 403
    listed = {a["name"]: a for a in client.get("/api/service-accounts", headers=login("admin")).json()}
    assert listed["hotline"]["groups"] == ["rcc_agent"] and listed["hotline"]["last_used_at"] is not None


def test_an_account_in_no_starter_group_may_not_start_and_a_new_scope_counts_at_once(
        client: TestClient, login: Login, desk: Desk, factory: sessionmaker[Session]) -> None:
    worker = _make(client, login, "parts-worker", [])
    refused = _start(client, worker, "TS-HOTLINE-2")
    assert refused.status_code == 403, refused.text
    scoped = client.put("/api/service-accounts/parts-worker/groups", headers=login("admin"),
                        json={"groups": ["rcc_agent"]})
    assert scoped.status_code == 200 and scoped.json()["groups"] == ["rcc_agent"]
    assert _start(client, worker, "TS-HOTLINE-2").status_code == 201  # the next request, despite the key cache
    with transaction(factory) as session:
        changed = session.scalars(select(AuditEvent).where(
            AuditEvent.event_type == "service_account_groups_changed")).all()
        assert [(e.actor, e.data) for e in changed] == [
            ("admin", {"name": "parts-worker", "before": [], "after": ["rcc_agent"]})]
    client.put("/api/service-accounts/parts-worker/groups", headers=login("admin"), json={"groups": []})
    assert _start(client, worker, "TS-HOTLINE-3").status_code == 403


@pytest.mark.parametrize(("groups", "named"), [(["admin"], "'admin'"), (["rcc_agent", "designer"], "'designer'"),
                                               (["no_such_group"], "no_such_group")])
def test_people_only_and_unknown_groups_are_refused_naming_them(client: TestClient, login: Login, desk: Desk,
                                                                groups: list[str], named: str) -> None:
    made = client.post("/api/service-accounts", headers=login("admin"), json={"name": "hotline", "groups": groups})
    assert made.status_code == 422, made.text
    assert named in made.json()["detail"] and made.json()["field"] == "groups"
    assert client.get("/api/service-accounts", headers=login("admin")).json() == []  # nothing was made
    _make(client, login, "hotline", [])
    rescoped = client.put("/api/service-accounts/hotline/groups", headers=login("admin"), json={"groups": groups})
    assert rescoped.status_code == 422 and named in rescoped.json()["detail"]
    assert client.put("/api/service-accounts/nobody/groups", headers=login("admin"),
                      json={"groups": []}).status_code == 404


def test_wrong_malformed_and_revoked_keys_get_401_naming_what_to_send(client: TestClient, login: Login,
                                                                     desk: Desk) -> None:
    name, key = _make(client, login, "hotline", ["rcc_agent"])
    wrong = _start(client, (name, key + "x"), "TS-HOTLINE-4")
    assert wrong.status_code == 401 and "API key" in wrong.json()["detail"]
    garbled = client.post("/api/instances", headers={"Authorization": "Basic not-base64!"}, json=START)
    assert garbled.status_code == 401 and "base64" in garbled.json()["detail"]
    nothing = client.post("/api/instances", json=START)
    assert nothing.status_code == 401 and "basic auth" in nothing.json()["detail"]
    assert _start(client, (name, key), "TS-HOTLINE-4").status_code == 201
    client.post(f"/api/service-accounts/{name}/revoke", headers=login("admin"))
    assert _start(client, (name, key), "TS-HOTLINE-5").status_code == 401  # at once, despite the key cache
    assert client.get("/api/instances", headers=login("admin"),
                      params={"business_key": "TS-HOTLINE-5"}).json()["items"] == []


def test_a_retried_start_with_an_idempotency_key_makes_one_complaint(client: TestClient, login: Login,
                                                                     desk: Desk) -> None:
    hotline = _make(client, login, "hotline", ["rcc_agent"])
    first = _start(client, hotline, "TS-HOTLINE-6", **{"Idempotency-Key": "call-2026-12-03-0001"})
    again = _start(client, hotline, "TS-HOTLINE-6", **{"Idempotency-Key": "call-2026-12-03-0001"})
    assert first.status_code == 201 and again.status_code == 201
    assert again.json()["instance_id"] == first.json()["instance_id"]
    assert len(client.get("/api/instances", headers=login("admin"),
                          params={"business_key": "TS-HOTLINE-6"}).json()["items"]) == 1
