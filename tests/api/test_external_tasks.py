"""External tasks through Camunda 7's REST API, worked by the real `camunda-external-task-client-python3`.

The client runs unchanged against a real uvicorn server of Tixi's app (tests/api/external_worker.py);
the case is driven through Tixi's own API around it.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import pytest
import requests
from camunda.client.external_task_client import ExternalTaskClient
from camunda.external_task.external_task import ExternalTask, TaskResult
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from api.app import create_app
from api.settings import Settings
from api.web.session import SESSION_COOKIE
from engine.clock import FrozenClock
from engine.db import transaction
from engine.invariants import check_invariants
from engine.workflow_store import session_factory
from tests.api.external_worker import run_once, serving, worker
from tests.conftest import TEST_CONFIG, TEST_PROCESSES

Login = Callable[[str], dict[str, str]]
PROCESS = TEST_PROCESSES / "external_review.bpmn"


@pytest.fixture
def base_url(client: TestClient) -> Iterator[str]:
    app: FastAPI = client.app  # type: ignore[assignment]
    with serving(app) as url:
        yield url


@pytest.fixture
def account(client: TestClient, login: Login) -> tuple[str, str]:
    made = client.post("/api/service-accounts", headers=login("admin"), json={"name": "parts-worker"})
    assert made.status_code == 201, made.text
    return "parts-worker", str(made.json()["api_key"])


def _invariants_hold(factory: sessionmaker[Session]) -> None:
    with transaction(factory) as session:
        assert check_invariants(session).violations == []


def _deploy_and_start(client: TestClient, login: Login, variables: dict[str, Any] | None = None) -> str:
    with PROCESS.open("rb") as handle:
        deployed = client.post("/api/definitions", headers=login("designer"),
                               files={"file": (PROCESS.name, handle, "application/xml")})
    assert deployed.status_code == 201, deployed.text
    started = client.post("/api/instances", headers=login("outlet"),
                          json={"definition_key": "external_review", "business_key": "C-1",
                                "variables": {"part_no": "CMP-220", **(variables or {})}})
    assert started.status_code == 201, started.text
    instance_id = str(started.json()["instance_id"])
    _work(client, login, instance_id, "review", "rcc_director", {"rcc_approved": True})
    return instance_id


def _work(client: TestClient, login: Login, instance_id: str, element: str, user: str, data: dict[str, Any]) -> None:
    headers = login(user)
    [task] = [t for t in client.get("/api/tasks", headers=headers).json()["items"]
              if t["instance_id"] == instance_id and t["element_id"] == element]
    assert client.post(f"/api/tasks/{task['task_id']}/claim", headers=headers).status_code == 200
    done = client.post(f"/api/tasks/{task['task_id']}/complete", headers=headers, json={"data": data})
    assert done.status_code == 200, done.text


def _instance(client: TestClient, login: Login, instance_id: str) -> dict[str, Any]:
    return dict(client.get(f"/api/instances/{instance_id}", headers=login("admin")).json())


def _events(client: TestClient, login: Login, instance_id: str, *types: str) -> list[dict[str, Any]]:
    history = client.get(f"/api/instances/{instance_id}/history", headers=login("admin")).json()
    return [e for e in history if e["event_type"] in types]


def test_a_worker_completes_the_external_task_and_the_case_runs_on(client: TestClient, login: Login,
                                                                   base_url: str, account: tuple[str, str],
                                                                   factory: sessionmaker[Session]) -> None:
    instance_id = _deploy_and_start(client, login)
    seen: list[dict[str, Any]] = []

    def check_stock(task: ExternalTask) -> TaskResult:
        seen.append({"variables": task.get_variables(), "activity": task.get_activity_id(),
                     "instance": task.get_process_instance_id(), "business_key": task.get_business_key()})
        return task.complete({"in_stock": True, "stock": {"warehouse": "SH-2", "count": 3}})

    assert run_once(worker(base_url, "w1", *account), "parts-stock", check_stock)
    assert seen[0]["activity"] == "check_parts" and seen[0]["instance"] == instance_id
    assert seen[0]["business_key"] == "C-1"
    assert seen[0]["variables"]["part_no"] == "CMP-220" and seen[0]["variables"]["rcc_approved"] is True
    assert not run_once(worker(base_url, "w1", *account), "parts-stock", check_stock)  # done exactly once

    detail = _instance(client, login, instance_id)
    assert detail["variables"]["in_stock"] is True and detail["variables"]["stock"] == {"warehouse": "SH-2", "count": 3}
    assert [t["element_id"] for t in detail["waiting_tasks"]] == ["confirm"]
    events = _events(client, login, instance_id, "external_task_created", "external_task_locked",
                     "external_task_completed")
    assert [(e["event_type"], e["actor"]) for e in events] == [
        ("external_task_created", "rcc_director"), ("external_task_locked", "parts-worker"),
        ("external_task_completed", "parts-worker")]
    assert events[2]["data"]["worker_id"] == "w1" and events[2]["data"]["variables"]["in_stock"] is True
    _invariants_hold(factory)
    _work(client, login, instance_id, "confirm", "outlet", {"agreement_confirmed": True, "signatory_name": "Li"})
    assert _instance(client, login, instance_id)["status"] == "completed"
    _invariants_hold(factory)


def test_failures_are_retried_after_the_timeout_then_become_an_incident_an_admin_retries(
        client: TestClient, login: Login, base_url: str, account: tuple[str, str], clock: FrozenClock,
        factory: sessionmaker[Session]) -> None:
    instance_id = _deploy_and_start(client, login)
    the_worker = worker(base_url, "w1", *account, retries=2, retryTimeout=60_000)

    def fails(task: ExternalTask) -> TaskResult:
        return task.failure("stock service down", "HTTP 503 from stock", max_retries=2, retry_timeout=60_000)

    assert run_once(the_worker, "parts-stock", fails)  # retries: 2 left
    assert not run_once(the_worker, "parts-stock", fails)  # within the retry timeout: not fetched
    clock.advance(timedelta(seconds=61))
    assert run_once(the_worker, "parts-stock", fails)  # 1 left
    clock.advance(timedelta(seconds=61))
    assert run_once(the_worker, "parts-stock", fails)  # 0 left: an incident
    clock.advance(timedelta(seconds=61))
    assert not run_once(the_worker, "parts-stock", fails)

    detail = _instance(client, login, instance_id)
    assert detail["status"] == "failed" and "stock service down" in detail["status_reason"]
    failed = _events(client, login, instance_id, "external_task_failed")
    assert [e["data"]["retries"] for e in failed] == [2, 1, 0]
    [incident] = _events(client, login, instance_id, "incident")
    assert incident["data"]["element"] == "check_parts"
    listed = requests.get(f"{base_url}/external-task", params={"noRetriesLeft": "true"}, auth=account, timeout=10)
    assert [(t["activityId"], t["retries"], t["errorMessage"]) for t in listed.json()] == [
        ("check_parts", 0, "stock service down")]

    retried = client.post(f"/api/instances/{instance_id}/retry", headers=login("admin"),
                          json={"reason": "stock service is back"})
    assert retried.status_code == 200, retried.text
    assert _instance(client, login, instance_id)["status"] == "running"
    assert run_once(the_worker, "parts-stock", lambda task: task.complete({"in_stock": True}))
    assert [t["element_id"] for t in _instance(client, login, instance_id)["waiting_tasks"]] == ["confirm"]
    _invariants_hold(factory)


def test_a_bpmn_error_is_caught_by_the_boundary_event(client: TestClient, login: Login, base_url: str,
                                                      account: tuple[str, str], factory: sessionmaker[Session]) -> None:
    instance_id = _deploy_and_start(client, login)
    assert run_once(worker(base_url, "w1", *account), "parts-stock",
                    lambda task: task.bpmn_error("NO_STOCK", "none left", {"restock_weeks": 3}))
    detail = _instance(client, login, instance_id)
    assert detail["status"] == "completed" and detail["variables"]["restock_weeks"] == 3
    ended = _events(client, login, instance_id, "ended")
    assert ended[0]["data"]["end_event"] == "out_of_stock"
    [thrown] = _events(client, login, instance_id, "external_task_bpmn_error")
    assert thrown["data"]["error_code"] == "NO_STOCK" and thrown["data"]["caught"] is True
    _invariants_hold(factory)


def test_an_uncaught_bpmn_error_is_an_incident(client: TestClient, login: Login, base_url: str,
                                               account: tuple[str, str]) -> None:
    instance_id = _deploy_and_start(client, login)
    assert run_once(worker(base_url, "w1", *account), "parts-stock",
                    lambda task: task.bpmn_error("PRICE_CHANGED", "quote expired"))
    detail = _instance(client, login, instance_id)
    assert detail["status"] == "failed"
    assert "BPMN error 'PRICE_CHANGED'" in detail["status_reason"] and "not caught" in detail["status_reason"]


def test_an_expired_lock_passes_the_task_on_and_the_late_completion_is_refused(
        client: TestClient, login: Login, base_url: str, account: tuple[str, str], clock: FrozenClock) -> None:
    instance_id = _deploy_and_start(client, login)
    first = ExternalTaskClient("slow", base_url, {"auth_basic": {"username": account[0], "password": account[1]},
                                                   "lockDuration": 10_000, "asyncResponseTimeout": 0})
    [locked] = first.fetch_and_lock("parts-stock")
    assert locked["workerId"] == "slow" and locked["retries"] is None
    second = worker(base_url, "fast", *account, lockDuration=10_000)
    assert not run_once(second, "parts-stock", lambda task: task.complete({}))  # still locked by "slow"
    clock.advance(timedelta(seconds=11))
    assert run_once(second, "parts-stock", lambda task: task.complete({"in_stock": False, "by": "fast"}))

    with pytest.raises(Exception, match=r"received 409 : urn:tixi:problem:external-task-lock|received 409 : "
                                        r"urn:tixi:problem:task-not-ready") as refused:
        first.complete(locked["id"], {"in_stock": True, "by": "slow"})
    assert "is completed" in str(refused.value) or "not locked by worker 'slow'" in str(refused.value)
    detail = _instance(client, login, instance_id)
    assert detail["variables"]["by"] == "fast"
    assert len(_events(client, login, instance_id, "external_task_completed")) == 1


def test_a_worker_holding_no_lock_is_refused_and_an_extended_lock_holds(
        client: TestClient, login: Login, base_url: str, account: tuple[str, str], clock: FrozenClock) -> None:
    _deploy_and_start(client, login)
    auth = {"auth_basic": {"username": account[0], "password": account[1]}, "lockDuration": 10_000,
            "asyncResponseTimeout": 0}
    holder, other = ExternalTaskClient("holder", base_url, auth), ExternalTaskClient("other", base_url, auth)
    [locked] = holder.fetch_and_lock("parts-stock")
    with pytest.raises(Exception, match="received 409 : urn:tixi:problem:external-task-lock : the external task is "
                                        "not locked by worker 'other'"):
        other.complete(locked["id"], {})
    with pytest.raises(Exception, match="received 409"):
        other.failure(locked["id"], "x", None, 1, 0)
    extended = requests.post(f"{base_url}/external-task/{locked['id']}/extendLock", auth=account, timeout=10,
                             json={"workerId": "holder", "newDuration": 60_000})
    assert extended.status_code == 204, extended.text
    clock.advance(timedelta(seconds=30))
    assert other.fetch_and_lock("parts-stock") == []  # the extended lock still holds
    unlocked = requests.post(f"{base_url}/external-task/{locked['id']}/unlock", auth=account, timeout=10)
    assert unlocked.status_code == 204
    [taken] = other.fetch_and_lock("parts-stock")
    assert taken["id"] == locked["id"] and taken["workerId"] == "other"
    with pytest.raises(Exception, match="not locked by worker 'holder'"):
        holder.complete(locked["id"], {})  # its lock was released: "other" holds the task now


def test_a_long_poll_answers_when_work_arrives(client: TestClient, login: Login, base_url: str,
                                              account: tuple[str, str]) -> None:
    polling = ExternalTaskClient("patient", base_url, {"auth_basic": {"username": account[0], "password": account[1]},
                                                       "asyncResponseTimeout": 120_000})
    answers: list[list[dict[str, Any]]] = []
    waiter = threading.Thread(target=lambda: answers.append(polling.fetch_and_lock("parts-stock")))
    waiter.start()
    instance_id = _deploy_and_start(client, login)  # the service task is reached while the worker waits
    waiter.join(150)
    assert [(t["activityId"], t["processInstanceId"], t["workerId"]) for t in answers[0]] == [
        ("check_parts", instance_id, "patient")]


def test_workers_authenticate_as_service_accounts(client: TestClient, login: Login, base_url: str,
                                                  account: tuple[str, str]) -> None:
    body = {"workerId": "w", "maxTasks": 1, "topics": [{"topicName": "parts-stock", "lockDuration": 1000}]}
    url = f"{base_url}/external-task/fetchAndLock"
    assert requests.post(url, json=body, timeout=10).status_code == 401
    wrong = requests.post(url, json=body, auth=(account[0], "tixi_wrong"), timeout=10)
    assert wrong.status_code == 401 and wrong.json()["message"]
    assert requests.post(url, json=body, auth=account, timeout=10).status_code == 200
    # A person's token: admins may, everyone else may not.
    assert requests.post(url, json=body, headers=login("admin"), timeout=10).status_code == 200
    refused = requests.post(url, json=body, headers=login("rcc_agent"), timeout=10)
    assert refused.status_code == 403
    # The client's own bearer option carries an admin's token as it is.
    token = login("admin")["Authorization"].removeprefix("Bearer ")
    assert ExternalTaskClient("admin-worker", base_url, {"auth_bearer": {"access_token": token},
                                                         "asyncResponseTimeout": 0}).fetch_and_lock("parts-stock") == []
    accounts = client.get("/api/service-accounts", headers=login("admin")).json()
    assert [(a["name"], a["last_used_at"] is not None, "api_key" in a) for a in accounts] == [("parts-worker", True, False)]
    assert client.get("/api/service-accounts", headers=login("rcc_agent")).status_code == 403
    revoked = client.post("/api/service-accounts/parts-worker/revoke", headers=login("admin"))
    assert revoked.status_code == 200 and revoked.json()["revoked_at"] is not None
    assert requests.post(url, json=body, auth=account, timeout=10).status_code == 401  # at once, despite the key cache


def test_bad_requests_are_problems_naming_the_field(client: TestClient, login: Login, base_url: str,
                                                    account: tuple[str, str]) -> None:
    url = f"{base_url}/external-task/fetchAndLock"
    no_topics = requests.post(url, json={"workerId": "w", "maxTasks": 1, "topics": []}, auth=account, timeout=10)
    assert no_topics.status_code == 422 and no_topics.json()["errors"][0]["field"] == "topics"
    too_many = requests.post(url, auth=account, timeout=10, json={
        "workerId": "w", "maxTasks": 5000, "topics": [{"topicName": "t", "lockDuration": 1}]})
    assert too_many.status_code == 422 and too_many.json()["errors"][0]["field"] == "maxTasks"
    unknown = requests.post(f"{base_url}/external-task/00000000-0000-0000-0000-000000000000/complete",
                            auth=account, timeout=10, json={"workerId": "w"})
    assert unknown.status_code == 404
    _deploy_and_start(client, login)
    [locked] = ExternalTaskClient("w", base_url, {"auth_basic": {"username": account[0], "password": account[1]},
                                                  "asyncResponseTimeout": 0}).fetch_and_lock("parts-stock")
    untyped = requests.post(f"{base_url}/external-task/{locked['id']}/complete", auth=account, timeout=10,
                            json={"workerId": "w", "variables": {"in_stock": True}})
    assert untyped.status_code == 422 and untyped.json()["field"] == "variables.in_stock"
    bad_name = requests.post(f"{base_url}/external-task/{locked['id']}/complete", auth=account, timeout=10,
                             json={"workerId": "w", "variables": {"__class__": {"value": 1}}})
    assert bad_name.status_code == 422


def test_the_admin_page_lists_locks_and_incidents_with_a_retry(client: TestClient, login: Login, base_url: str,
                                                               account: tuple[str, str]) -> None:
    instance_id = _deploy_and_start(client, login)
    assert run_once(worker(base_url, "w1", *account), "parts-stock",
                    lambda task: task.failure("stock service down", "HTTP 503", max_retries=0, retry_timeout=0))
    listed = client.get("/api/external-tasks", headers=login("admin")).json()
    assert [(t["element_id"], t["retries"], t["error_message"], t["worker_id"]) for t in listed] == [
        ("check_parts", 0, "stock service down", "w1")]
    client.cookies.set(SESSION_COOKIE, login("admin")["Authorization"].removeprefix("Bearer "))
    page = client.get("/admin/external-tasks")
    assert page.status_code == 200
    assert 'data-testid="incident"' in page.text and "stock service down" in page.text
    assert f'data-api-form="POST /api/instances/{instance_id}/retry"' in page.text
    assert "parts-worker" in page.text
    client.cookies.set(SESSION_COOKIE, login("rcc_agent")["Authorization"].removeprefix("Bearer "))
    assert client.get("/admin/external-tasks").status_code == 403
    client.cookies.clear()


_PLAIN_SERVICE = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="d" targetNamespace="http://tixi.example/t">
  <bpmn:process id="plain_service" isExecutable="true">
    <bpmn:startEvent id="start"/><bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="notify"/>
    <bpmn:serviceTask id="notify" name="通知 / Notify"/><bpmn:sequenceFlow id="f2" sourceRef="notify" targetRef="done"/>
    <bpmn:endEvent id="done"/>
  </bpmn:process>
</bpmn:definitions>"""


def test_a_service_task_without_a_topic_is_fetched_under_the_default_one(client: TestClient, login: Login,
                                                                           base_url: str,
                                                                           account: tuple[str, str]) -> None:
    deployed = client.post("/api/definitions", headers=login("designer"),
                           files={"file": ("plain.bpmn", _PLAIN_SERVICE.encode(), "application/xml")})
    assert deployed.status_code == 201, deployed.text
    started = client.post("/api/instances", headers=login("admin"),
                          json={"definition_key": "plain_service", "variables": {}}).json()
    assert run_once(worker(base_url, "w1", *account), "tixi-default", lambda task: task.complete({"sent": True}))
    assert _instance(client, login, started["instance_id"])["status"] == "completed"


def test_a_terminated_or_suspended_case_gives_no_work_and_refuses_reports(
        client: TestClient, login: Login, base_url: str, account: tuple[str, str],
        factory: sessionmaker[Session]) -> None:
    suspended_id = _deploy_and_start(client, login)
    assert client.post(f"/api/instances/{suspended_id}/suspend", headers=login("admin"),
                       json={"reason": "audit"}).status_code == 200
    the_client = ExternalTaskClient("w", base_url, {"auth_basic": {"username": account[0], "password": account[1]},
                                                    "asyncResponseTimeout": 0})
    assert the_client.fetch_and_lock("parts-stock") == []  # a suspended case's task is not handed out
    assert client.post(f"/api/instances/{suspended_id}/resume", headers=login("admin"),
                       json={"reason": "done"}).status_code == 200
    [locked] = the_client.fetch_and_lock("parts-stock")
    assert client.post(f"/api/instances/{suspended_id}/terminate", headers=login("admin"),
                       json={"reason": "withdrawn"}).status_code == 200
    with pytest.raises(Exception, match="received 409 : urn:tixi:problem:task-not-ready : the external task is "
                                        "cancelled"):
        the_client.complete(locked["id"], {"in_stock": True})
    cancelled = _events(client, login, suspended_id, "external_task_cancelled")
    assert [e["data"]["element"] for e in cancelled] == ["check_parts"]
    _invariants_hold(factory)


def test_the_default_topic_is_the_servers_setting(app_settings: Settings, clock: FrozenClock, db_engine: Engine,
                                                  factory: sessionmaker[Session]) -> None:
    configured = session_factory(db_engine, TEST_CONFIG.model_copy(update={"external_task_default_topic": "notices"}))
    app = create_app(app_settings, clock=clock, session_factory=configured, run_scheduler=False)
    with TestClient(app) as own, serving(app) as url:
        def login(user: str) -> dict[str, str]:
            token = own.post("/api/auth/token", data={"username": user, "password": "demo"}).json()["access_token"]
            return {"Authorization": f"Bearer {token}"}

        assert own.post("/api/definitions", headers=login("designer"),
                        files={"file": ("plain.bpmn", _PLAIN_SERVICE.encode(), "application/xml")}).status_code == 201
        made = own.post("/api/service-accounts", headers=login("admin"), json={"name": "notifier"}).json()
        own.post("/api/instances", headers=login("admin"), json={"definition_key": "plain_service", "variables": {}})
        the_worker = worker(url, "w1", made["name"], made["api_key"])
        assert not run_once(the_worker, "tixi-default", lambda task: task.complete({}))
        assert run_once(the_worker, "notices", lambda task: task.complete({}))


def test_fetch_filters_by_case_variables_and_hands_out_only_the_variables_asked_for(
        client: TestClient, login: Login, base_url: str, account: tuple[str, str]) -> None:
    north = _deploy_and_start(client, login, {"area": "north"})
    _deploy_and_start(client, login, {"area": "south"})
    the_client = ExternalTaskClient("w", base_url, {"auth_basic": {"username": account[0], "password": account[1]},
                                                    "asyncResponseTimeout": 0, "maxTasks": 10})
    [task] = the_client.fetch_and_lock("parts-stock", process_variables={"area": "north"}, variables=["part_no"])
    assert task["processInstanceId"] == north
    assert task["variables"] == {"part_no": {"value": "CMP-220", "type": "String", "valueInfo": {}}}
    [other] = the_client.fetch_and_lock("parts-stock")  # the north one is locked now: only the south one is left
    assert other["processInstanceId"] != north and other["variables"]["area"]["value"] == "south"
