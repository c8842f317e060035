"""One budget per advance (issue 13, finding 3): a loop or a table too big for one request ends as an incident.

Each expression and script stays within its own limits here; what runs out is the advance's
budget of engine steps, CPU time or DMN cells. The approver's completion is kept, the instance is
saved where it stopped with status failed, and its history has an `incident` naming the element
and the budget. The requests run on a thread joined with a generous bound: on code without the
budget they never answer, and the test fails instead of hanging.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from api.app import create_app
from api.settings import Settings
from engine.clock import FrozenClock
from tests.api.conftest import events_of
from tests.conftest import TEST_PROCESSES

Login = Callable[[str], dict[str, str]]
GENEROUS = 120.0  # seconds; the budgeted requests below answer in well under one


def _answer_within(call: Callable[[], Any], timeout: float = GENEROUS) -> Any:
    """Run a request on a thread; fail (rather than hang the suite) if it does not answer."""
    outcome: list[Any] = []
    thread = threading.Thread(target=lambda: outcome.append(call()), daemon=True)
    thread.start()
    thread.join(timeout)
    assert outcome, f"no answer within {timeout:.0f} s: the advance has no budget"
    return outcome[0]


@pytest.fixture
def budget_client(app_settings: Settings, clock: FrozenClock, factory: sessionmaker[Session],
                  request: pytest.FixtureRequest) -> Iterator[TestClient]:
    limits: dict[str, Any] = getattr(request, "param", {})
    app = create_app(app_settings.model_copy(update=limits), clock=clock, session_factory=factory,
                     run_scheduler=False)
    with TestClient(app) as test_client:
        yield test_client


def _login(client: TestClient, username: str) -> dict[str, str]:
    response = client.post("/api/auth/token", data={"username": username, "password": "demo"})
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


def _deploy(client: TestClient, *names: str) -> None:
    designer = _login(client, "designer")
    for name in names:
        with (TEST_PROCESSES / name).open("rb") as handle:
            response = client.post("/api/definitions", headers=designer,
                                   files={"file": (name, handle, "application/octet-stream")})
        assert response.status_code == 201, response.text


def _complete_review(client: TestClient, key: str, variables: dict[str, Any]) -> tuple[str, Any]:
    """Start a case, then claim and complete its review; the advance after the review is the one measured."""
    started = client.post("/api/instances", headers=_login(client, "outlet"),
                          json={"definition_key": key, "variables": variables})
    assert started.status_code == 201, started.text
    instance_id = started.json()["instance_id"]
    director = _login(client, "rcc_director")
    [task] = [t for t in client.get("/api/tasks", headers=director).json()["items"] if t["instance_id"] == instance_id]
    assert client.post(f"/api/tasks/{task['task_id']}/claim", headers=director).status_code == 200
    done = _answer_within(lambda: client.post(f"/api/tasks/{task['task_id']}/complete", headers=director,
                                              json={"data": {"rcc_approved": True}}))
    return instance_id, done


def _incident(client: TestClient, instance_id: str) -> dict[str, Any]:
    admin = _login(client, "admin")
    instance = client.get(f"/api/instances/{instance_id}", headers=admin).json()
    assert instance["status"] == "failed", instance
    history = client.get(f"/api/instances/{instance_id}/history", headers=admin).json()
    assert [e["data"]["element"] for e in events_of(history, "task_completed")] == ["review"]  # the work is kept
    [incident] = events_of(history, "incident")
    return dict(incident["data"])


@pytest.mark.parametrize("budget_client", [{"advance_max_steps": 300}], indirect=True)
def test_an_endless_script_gateway_loop_ends_as_an_incident_at_the_step_budget(budget_client: TestClient) -> None:
    _deploy(budget_client, "budget_loop.bpmn")
    instance_id, done = _complete_review(budget_client, "budget_loop", {"count": 0})
    assert done.status_code == 200, done.text  # the completion itself succeeded
    incident = _incident(budget_client, instance_id)
    assert incident["budget"] == "steps"
    assert incident["element"] in {"spin", "again"}
    assert "300 engine steps" in incident["error"]


def test_the_default_budget_ends_the_loop_too(budget_client: TestClient) -> None:
    _deploy(budget_client, "budget_loop.bpmn")
    instance_id, done = _complete_review(budget_client, "budget_loop", {"count": 0})
    assert done.status_code == 200, done.text
    assert _incident(budget_client, instance_id)["budget"] in {"steps", "cpu", "wall"}


@pytest.mark.parametrize("budget_client", [{"advance_max_cpu_seconds": 0.3}], indirect=True)
def test_a_table_of_rules_each_within_its_limit_ends_at_the_cpu_budget(budget_client: TestClient) -> None:
    _deploy(budget_client, "budget_rules.dmn", "budget_rules.bpmn")
    instance_id, done = _complete_review(budget_client, "budget_rules_case", {})
    assert done.status_code == 200, done.text
    incident = _incident(budget_client, instance_id)
    assert (incident["budget"], incident["element"]) == ("cpu", "decide")
    assert "0.3 s of CPU time" in incident["error"]


@pytest.mark.parametrize("budget_client", [{"advance_max_dmn_cells": 20}], indirect=True)
def test_a_table_ends_at_the_dmn_cell_budget(budget_client: TestClient) -> None:
    _deploy(budget_client, "budget_rules.dmn", "budget_rules.bpmn")
    instance_id, done = _complete_review(budget_client, "budget_rules_case", {})
    assert done.status_code == 200, done.text
    incident = _incident(budget_client, instance_id)
    assert (incident["budget"], incident["element"]) == ("dmn_cells", "decide")
    assert "20 DMN cells" in incident["error"]


@pytest.mark.parametrize("budget_client", [{"advance_max_dmn_cells": 200}], indirect=True)
def test_a_table_within_the_budget_decides(budget_client: TestClient) -> None:
    _deploy(budget_client, "budget_rules.dmn", "budget_rules.bpmn")
    instance_id, done = _complete_review(budget_client, "budget_rules_case", {})
    assert done.status_code == 200, done.text
    instance = budget_client.get(f"/api/instances/{instance_id}", headers=_login(budget_client, "admin")).json()
    assert instance["status"] == "completed", instance


@pytest.mark.parametrize("budget_client", [{"advance_max_steps": 300}], indirect=True)
def test_an_admin_retry_runs_the_stopped_step_on_a_fresh_budget(budget_client: TestClient) -> None:
    _deploy(budget_client, "budget_loop.bpmn")
    instance_id, _ = _complete_review(budget_client, "budget_loop", {"count": 0})
    admin = _login(budget_client, "admin")
    # With count below zero the gateway leaves the loop: the retried step and the rest run to the end.
    retried = _answer_within(lambda: budget_client.post(
        f"/api/instances/{instance_id}/retry", headers=admin,
        json={"variables": {"count": -10**9}, "reason": "leave the loop"}))
    assert retried.status_code == 200, retried.text
    assert retried.json()["status"] == "completed"


@pytest.mark.parametrize("budget_client", [{"advance_max_steps": 300}], indirect=True)
def test_a_start_that_runs_out_of_budget_is_refused_and_stores_nothing(budget_client: TestClient) -> None:
    # As for any start that fails: the starter hears why (422 naming the element), nothing is kept.
    _deploy(budget_client, "budget_loop_at_start.bpmn")
    started = _answer_within(lambda: budget_client.post(
        "/api/instances", headers=_login(budget_client, "outlet"),
        json={"definition_key": "budget_loop_at_start", "variables": {"count": 0}}))
    assert started.status_code == 422, started.text
    assert started.json()["element"] in {"spin", "again"} and "300 engine steps" in started.json()["detail"]
    listed = budget_client.get("/api/instances", headers=_login(budget_client, "admin"),
                               params={"definition_key": "budget_loop_at_start"})
    assert listed.json()["total"] == 0
