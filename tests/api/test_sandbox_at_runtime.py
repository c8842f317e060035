"""The sandbox at run time, through HTTP: code that passes the deploy-time check but fails when it runs.

Starting such a process answers 422 `process-failed` naming the BPMN element, and stores nothing:
the starter corrects the input (or the designer the diagram) and tries again.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from engine.bpmn.sandbox import check_script
from engine.tables import AuditEvent, Instance, Task, Timer
from tests.conftest import TEST_PROCESSES

Login = Callable[[str], dict[str, str]]
Deploy = Callable[[Path], list[dict[str, Any]]]
PROCESS_FAILED = "urn:tixi:problem:process-failed"


def _start(client: TestClient, login: Login, key: str, variables: dict[str, Any]) -> Any:
    return client.post("/api/instances", headers=login("outlet"),
                       json={"definition_key": key, "business_key": f"{key}-1", "variables": variables})


def _deploy(deploy_file: Deploy, name: str) -> dict[str, Any]:
    [definition] = deploy_file(TEST_PROCESSES / f"{name}.bpmn")  # 201: the deploy-time check lets it through
    return definition


def _assert_nothing_stored(factory: sessionmaker[Session], client: TestClient, login: Login, key: str) -> None:
    with factory() as session:
        def count(table: Any, *where: Any) -> int:
            return int(session.scalar(select(func.count()).select_from(table).where(*where)) or 0)

        assert count(Instance) == 0
        assert count(Task) == 0
        assert count(Timer) == 0
        assert count(AuditEvent, AuditEvent.instance_id.is_not(None)) == 0  # no "started" left behind
        events = session.scalars(select(AuditEvent.event_type).where(AuditEvent.definition_key == key)).all()
        assert events == ["deployed"]
    listed = client.get("/api/instances", headers=login("admin"), params={"definition_key": key})
    assert listed.status_code == 200 and listed.json()["total"] == 0
    assert client.get("/api/tasks", headers=login("rcc_director")).json()["items"] == []


def _assert_process_failed(response: Any, key: str, element: str) -> dict[str, Any]:
    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    problem = dict(response.json())
    assert problem["type"] == PROCESS_FAILED
    assert problem["status"] == 422
    assert problem["element"] == element
    assert f"'{key}'" in problem["detail"] and f"'{element}'" in problem["detail"]
    assert "Traceback" not in problem["detail"] and "/site-packages/" not in problem["detail"]
    return problem


@pytest.mark.parametrize(("name", "element", "limit"), [
    ("runtime_endless_script", "spin", "steps"),  # while True: x = 1
    ("runtime_growing_script", "grow", "100,000"),  # items.extend(items) 64 times
])
def test_script_over_a_runtime_limit_fails_the_start_and_stores_nothing(
    client: TestClient, login: Login, deploy_file: Deploy, factory: sessionmaker[Session],
    name: str, element: str, limit: str,
) -> None:
    _deploy(deploy_file, name)
    response = _start(client, login, name, {})
    problem = _assert_process_failed(response, name, element)
    assert "SandboxLimitError" in problem["detail"] and limit in problem["detail"]
    assert isinstance(problem["line"], int)  # the script line the limit stopped
    _assert_nothing_stored(factory, client, login, name)


def test_the_failing_scripts_pass_the_deploy_time_check() -> None:
    # Otherwise the tests above would prove nothing about the run-time limits.
    for name in ("runtime_endless_script", "runtime_growing_script"):
        text = (TEST_PROCESSES / f"{name}.bpmn").read_text(encoding="utf-8")
        script = text.split("<bpmn:script>", 1)[1].split("</bpmn:script>", 1)[0]
        assert check_script(script) is None


@pytest.mark.parametrize(("name", "variables", "element", "cause"), [
    ("runtime_ratio_gateway", {"complaints": 3, "days": 0}, "rate", "ZeroDivisionError"),
    ("runtime_triage", {"days": 3}, "triage", "name 'quality_problem' is not defined"),
    ("runtime_triage", {"quality_problem": True}, "triage", "name 'days' is not defined"),
])
def test_gateway_condition_error_fails_the_start_and_stores_nothing(
    client: TestClient, login: Login, deploy_file: Deploy, factory: sessionmaker[Session],
    name: str, variables: dict[str, Any], element: str, cause: str,
) -> None:
    _deploy(deploy_file, name)
    problem = _assert_process_failed(_start(client, login, name, variables), name, element)
    assert cause in problem["detail"]
    _assert_nothing_stored(factory, client, login, name)


@pytest.mark.parametrize(("variables", "waiting"), [
    ({"days": 3, "quality_problem": True}, "urgent_review"),
    ({"days": 15, "quality_problem": True}, "urgent_review"),
    ({"days": 16, "quality_problem": True}, "normal_review"),
    ({"days": 3, "quality_problem": False}, "normal_review"),
    ({"days": 20}, "normal_review"),  # `and` stops at the false comparison: the missing name is never read
])
def test_ordinary_condition_routes_the_instance(client: TestClient, login: Login, deploy_file: Deploy,
                                                variables: dict[str, Any], waiting: str) -> None:
    _deploy(deploy_file, "runtime_triage")
    response = _start(client, login, "runtime_triage", variables)
    assert response.status_code == 201, response.text
    started = response.json()
    assert started["status"] == "running"
    assert [(t["element_id"], t["candidate_groups"]) for t in started["waiting_tasks"]] == [(waiting, ["rcc_director"])]
    queue = client.get("/api/tasks", headers=login("rcc_director")).json()["items"]
    assert [(t["instance_id"], t["element_id"]) for t in queue] == [(started["instance_id"], waiting)]
    history = client.get(f"/api/instances/{started['instance_id']}/history", headers=login("admin")).json()
    [decision] = [e for e in history if e["event_type"] == "gateway_decision"]
    assert decision["data"]["element"] == "triage"
    assert [c["target"] for c in decision["data"]["chosen"]] == [waiting]


def test_failed_start_can_be_retried_with_corrected_input(client: TestClient, login: Login, deploy_file: Deploy,
                                                          factory: sessionmaker[Session]) -> None:
    _deploy(deploy_file, "runtime_ratio_gateway")
    _assert_process_failed(_start(client, login, "runtime_ratio_gateway", {"complaints": 3, "days": 0}),
                           "runtime_ratio_gateway", "rate")
    retried = _start(client, login, "runtime_ratio_gateway", {"complaints": 3, "days": 2})
    assert retried.status_code == 201, retried.text
    assert [t["element_id"] for t in retried.json()["waiting_tasks"]] == ["inspect"]
    with factory() as session:
        assert session.scalar(select(func.count()).select_from(Instance)) == 1


def test_computed_timer_duration_waits_that_long(client: TestClient, login: Login, deploy_file: Deploy) -> None:
    _deploy(deploy_file, "runtime_timer_duration")
    response = _start(client, login, "runtime_timer_duration", {"days": 2})
    assert response.status_code == 201, response.text
    started = response.json()
    assert [(t["element_id"], t["due_at"]) for t in started["pending_timers"]] == [("wait", "2026-01-07T09:00:00Z")]


@pytest.mark.parametrize(("days", "why"), [
    (-5, "P-5D is not an ISO 8601 duration: Spiff raises a bare Exception('Invalid duration')"),
    (3_000_000, "now + 3,000,000 days is past the year 9999: OverflowError"),
    (10**17, "too many days for a timedelta: OverflowError"),
], ids=["negative", "past-year-9999", "huge"])
def test_timer_expression_giving_an_unusable_duration_fails_the_start_and_stores_nothing(
    client: TestClient, login: Login, deploy_file: Deploy, factory: sessionmaker[Session], days: int, why: str,
) -> None:
    # The expression itself evaluates fine in the sandbox; its value only fails in Spiff's timer.
    _deploy(deploy_file, "runtime_timer_duration")
    unraised = TestClient(client.app, raise_server_exceptions=False)  # see the status a real client would get
    response = unraised.post("/api/instances", headers=login("outlet"),
                             json={"definition_key": "runtime_timer_duration", "variables": {"days": days}})
    _assert_nothing_stored(factory, client, login, "runtime_timer_duration")
    assert response.status_code != 500, f"500 internal-error instead of 422 process-failed at 'wait' ({why})"
    _assert_process_failed(response, "runtime_timer_duration", "wait")
