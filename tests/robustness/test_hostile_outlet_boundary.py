"""One outlet's staff cannot reach another outlet's cases: not by message, not by a guessed key, not by assignment.

Findings 6, 8 and 15 of the hostile review: a message from any starter-group member resumed any
outlet's case (and, having taken part, the sender could then read it); the message route answered
403, 404 or 409 depending on whether a guessed business key or phone number matched someone
else's case; a task could be assigned to a user of another outlet, leaving every queue that could
see it. Each refused request changes nothing and leaves the history's checks clean.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from engine.db import transaction
from engine.invariants import check_invariants
from engine.tables import AuditEvent, Instance, Task
from tests.conftest import TEST_PROCESSES

Login = Callable[..., dict[str, str]]
PROCESS = TEST_PROCESSES / "outlet_parts_wait.bpmn"


@pytest.fixture
def outlets(client: TestClient, login: Login, deploy_file: Callable[..., Any]) -> dict[str, dict[str, str]]:
    """Staff of two outlets, each bound to theirs, with the test process deployed."""
    deploy_file(PROCESS)
    headers = {}
    for username, code in (("hd.wang", "HD-001"), ("hb.li", "HB-002"), ("hd.zhao", "HD-001")):
        created = client.post("/api/users", headers=login("admin"),
                              json={"username": username, "password": "long-enough-pw", "groups": ["outlet"],
                                    "outlet_code": code})
        assert created.status_code == 201, created.text
        headers[username] = login(username, "long-enough-pw")
    return headers


def _start(client: TestClient, headers: dict[str, str], business_key: str, phone: str) -> str:
    response = client.post("/api/instances", headers=headers, json={
        "definition_key": "outlet_parts_wait", "business_key": business_key,
        "variables": {"outlet_code": "HD-001", "customer_name": "张伟", "customer_phone": phone}})
    assert response.status_code == 201, response.text
    return str(response.json()["instance_id"])


def _snapshot(factory: sessionmaker[Session]) -> tuple[Any, ...]:
    with factory() as session:
        return (session.scalar(select(func.count()).select_from(AuditEvent)),
                sorted(session.execute(select(Instance.instance_id, Instance.status)).all()),
                sorted(session.execute(select(Task.task_id, Task.status, Task.assignee)).all()))


def _clean(factory: sessionmaker[Session]) -> None:
    with transaction(factory) as session:
        assert check_invariants(session).violations == []


def test_another_outlets_staff_cannot_message_its_case_or_then_read_it(
    client: TestClient, factory: sessionmaker[Session], outlets: dict[str, dict[str, str]],
) -> None:
    instance_id = _start(client, outlets["hd.wang"], "HD-2026-0001", "13800000001")
    before = _snapshot(factory)
    sent = client.post("/api/messages", headers=outlets["hb.li"],
                       json={"name": "outlet_parts_arrived", "business_key": "HD-2026-0001"})
    assert sent.status_code == 404, sent.text
    assert _snapshot(factory) == before
    assert client.get(f"/api/instances/{instance_id}", headers=outlets["hb.li"]).status_code == 404
    # The case's own outlet may send it.
    own = client.post("/api/messages", headers=outlets["hd.zhao"],
                      json={"name": "outlet_parts_arrived", "business_key": "HD-2026-0001"})
    assert (own.status_code, own.json()["outcome"]) == (200, "resumed")
    _clean(factory)


def test_a_guessed_key_answers_as_one_that_does_not_exist(
    client: TestClient, factory: sessionmaker[Session], outlets: dict[str, dict[str, str]],
) -> None:
    _start(client, outlets["hd.wang"], "HD-2026-0002", "13800000002")
    _start(client, outlets["hd.wang"], "HD-2026-0003", "13800000002")
    before = _snapshot(factory)
    guesses = [
        {"business_key": "HD-2026-0002"},  # a real key of another outlet
        {"business_key": "HD-2026-9999"},  # no such key
        {"correlation_keys": {"customer_phone": "13800000002"}},  # a real phone, two cases
        {"correlation_keys": {"customer_phone": "13900000000"}},  # no such phone
    ]
    answers = []
    for guess in guesses:
        response = client.post("/api/messages", headers=outlets["hb.li"], json={"name": "outlet_parts_arrived", **guess})
        body = response.json()
        answers.append((response.status_code, body["type"], body.get("matches")))
    assert set(answers) == {(404, answers[0][1], None)}, answers
    assert _snapshot(factory) == before
    _clean(factory)


def test_a_task_cannot_be_assigned_to_staff_of_another_outlet(
    client: TestClient, factory: sessionmaker[Session], login: Login, outlets: dict[str, dict[str, str]],
) -> None:
    _start(client, outlets["hd.wang"], "HD-2026-0004", "13800000004")
    resumed = client.post("/api/messages", headers=outlets["hd.wang"],
                          json={"name": "outlet_parts_arrived", "business_key": "HD-2026-0004"})
    assert resumed.status_code == 200, resumed.text
    [task] = client.get("/api/tasks", headers=outlets["hd.wang"]).json()["items"]
    assert client.post(f"/api/tasks/{task['task_id']}/claim", headers=outlets["hd.wang"]).status_code == 200
    before = _snapshot(factory)
    for route in ("assign", "delegate"):
        for caller in (outlets["hd.wang"], login("admin")):
            refused = client.post(f"/api/tasks/{task['task_id']}/{route}", headers=caller, json={"assignee": "hb.li"})
            assert refused.status_code == 422, refused.text
            assert refused.json()["field"] == "assignee"
    assert _snapshot(factory) == before
    handed = client.post(f"/api/tasks/{task['task_id']}/assign", headers=outlets["hd.wang"], json={"assignee": "hd.zhao"})
    assert handed.status_code == 200, handed.text
    _clean(factory)


def test_staff_moved_to_another_outlet_no_longer_see_the_cases_they_worked_on(
    client: TestClient, login: Login, outlets: dict[str, dict[str, str]],
) -> None:
    instance_id = _start(client, outlets["hd.wang"], "HD-2026-0005", "13800000005")
    assert client.get(f"/api/instances/{instance_id}", headers=outlets["hd.wang"]).status_code == 200
    # A move to an outlet of another region moves the person to that region in the same change.
    moved = client.patch("/api/users/hd.wang", headers=login("admin"), json={"outlet_code": "HB-002",
                                                                            "region_code": "north"})
    assert moved.status_code == 200, moved.text
    assert client.get(f"/api/instances/{instance_id}", headers=outlets["hd.wang"]).status_code == 404
    assert client.get(f"/api/instances/{instance_id}/history", headers=outlets["hd.wang"]).status_code == 404
