"""Camunda 7's http-connector, called by Tixi's own worker tick against a real HTTP server on loopback.

The case is deployed, started and read through the API; the connector tick (what `tixi worker`
and `tixi serve` loop) makes the call outside any transaction, as in production.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from engine.clock import FrozenClock
from engine.config import EngineConfig
from engine.http_connector import run_http_connectors
from tests.conftest import TEST_PROCESSES
from tests.loopback_http import Answer, Request, serving_json

Login = Callable[[str], dict[str, str]]
PROCESS = TEST_PROCESSES / "http_connector_order.bpmn"
CONFIG = EngineConfig(http_connector_timeout_seconds=0.5, http_connector_retries=2, http_connector_backoff_seconds=30)


@dataclass
class Erp:
    """An order service: answers by path; `/flaky` fails `failures` times first; `/hang` never answers in time."""

    url: str = ""
    received: list[dict[str, Any]] = field(default_factory=list)
    failures: int = 1
    release: threading.Event = field(default_factory=threading.Event)


@pytest.fixture
def erp() -> Iterator[Erp]:
    state = Erp()

    def order(request: Request) -> Answer:
        state.received.append({"path": request.path, "body": request.body, "case": request.headers.get("X-Case"),
                               "type": request.headers.get("Content-Type")})
        if request.path.startswith("/hang") and not state.release.wait(10):
            return None  # longer than the connector's timeout, until released
        if request.path.startswith("/flaky") and state.failures > 0:
            state.failures -= 1
            return 500, {"error": "database busy"}
        return 201, {"order": {"id": "SO-7", "eta_days": 3}}

    with serving_json(order) as url:
        state.url = url
        yield state
        state.release.set()


@pytest.fixture
def http() -> Iterator[httpx.Client]:
    with httpx.Client(follow_redirects=False) as made:
        yield made


def _start(client: TestClient, login: Login, erp_url: str) -> str:
    deployed = client.post("/api/definitions", headers=login("designer"),
                           files={"file": (PROCESS.name, PROCESS.read_bytes(), "application/xml")})
    assert deployed.status_code == 201, deployed.text
    started = client.post("/api/instances", headers=login("admin"), json={
        "definition_key": "http_connector_order",
        "variables": {"erp_url": erp_url, "part_no": "CMP-220", "quantity": 2, "outlet": {"code": "SH-01"},
                      "case_ref": "TS-9"}})
    assert started.status_code == 201, started.text
    return str(started.json()["instance_id"])


def _instance(client: TestClient, login: Login, instance_id: str) -> dict[str, Any]:
    return dict(client.get(f"/api/instances/{instance_id}", headers=login("admin")).json())


def _failures(client: TestClient, login: Login, instance_id: str) -> list[dict[str, Any]]:
    history = client.get(f"/api/instances/{instance_id}/history", headers=login("admin")).json()
    return [e["data"] for e in history if e["event_type"] == "external_task_failed"]


def test_the_call_is_made_with_the_case_variables_and_the_answer_is_mapped(
        client: TestClient, login: Login, erp: Erp, http: httpx.Client, factory: sessionmaker[Session],
        clock: FrozenClock) -> None:
    instance_id = _start(client, login, erp.url)
    assert erp.received == []  # nothing is called inside the request that started the case
    assert run_http_connectors(factory, clock, config=CONFIG, http=http) == 1
    assert erp.received == [{"path": "/orders/CMP-220", "body": {"part": "CMP-220", "quantity": 2, "outlet": "SH-01"},
                             "case": "TS-9", "type": "application/json"}]
    detail = _instance(client, login, instance_id)
    assert detail["status"] == "completed", detail
    assert detail["variables"]["order"] == {"order": {"id": "SO-7", "eta_days": 3}}
    assert detail["variables"]["order_id"] == "SO-7" and detail["variables"]["erp_status"] == 201
    assert run_http_connectors(factory, clock, config=CONFIG, http=http) == 0  # called exactly once


def test_a_server_error_is_retried_after_the_backoff_and_then_succeeds(
        client: TestClient, login: Login, erp: Erp, http: httpx.Client, factory: sessionmaker[Session],
        clock: FrozenClock) -> None:
    instance_id = _start(client, login, f"{erp.url}/flaky")
    assert run_http_connectors(factory, clock, config=CONFIG, http=http) == 1
    [failed] = _failures(client, login, instance_id)
    assert failed["retries"] == 2 and "answered 500" in failed["error_message"]
    assert _instance(client, login, instance_id)["status"] == "running"
    assert run_http_connectors(factory, clock, config=CONFIG, http=http) == 0  # within the backoff
    clock.advance(timedelta(seconds=31))
    assert run_http_connectors(factory, clock, config=CONFIG, http=http) == 1
    detail = _instance(client, login, instance_id)
    assert detail["status"] == "completed" and detail["variables"]["order_id"] == "SO-7"
    assert len(erp.received) == 2


def test_a_call_that_hangs_times_out_is_retried_then_is_an_incident_an_admin_retries(
        client: TestClient, login: Login, erp: Erp, http: httpx.Client, factory: sessionmaker[Session],
        clock: FrozenClock) -> None:
    instance_id = _start(client, login, f"{erp.url}/hang")
    for _ in range(3):  # the first call and two retries, each after its backoff (30 s, 60 s)
        assert run_http_connectors(factory, clock, config=CONFIG, http=http) == 1
        clock.advance(timedelta(seconds=121))
    assert run_http_connectors(factory, clock, config=CONFIG, http=http) == 0
    failures = _failures(client, login, instance_id)
    assert [f["retries"] for f in failures] == [2, 1, 0]
    assert all("did not answer within 0.5 s" in f["error_message"] for f in failures)
    assert failures[0]["retry_at"] < failures[1]["retry_at"]
    detail = _instance(client, login, instance_id)
    assert detail["status"] == "failed" and "did not answer within 0.5 s" in detail["status_reason"]

    retried = client.post(f"/api/instances/{instance_id}/retry", headers=login("admin"),
                          json={"reason": "the ERP is back"})
    assert retried.status_code == 200, retried.text
    erp.release.set()  # the ERP answers again
    assert run_http_connectors(factory, clock, config=CONFIG, http=http) == 1
    detail = _instance(client, login, instance_id)
    assert detail["status"] == "completed" and detail["variables"]["order_id"] == "SO-7"


def test_a_host_not_allowed_is_refused_at_once_as_an_incident(
        client: TestClient, login: Login, erp: Erp, http: httpx.Client, factory: sessionmaker[Session],
        clock: FrozenClock) -> None:
    instance_id = _start(client, login, "http://erp.example.com")
    assert run_http_connectors(factory, clock, config=CONFIG, http=http) == 1
    [failed] = _failures(client, login, instance_id)
    assert failed["retries"] == 0
    assert "host 'erp.example.com' is not in TIXI_HTTP_CONNECTOR_ALLOWED_HOSTS" in failed["error_message"]
    detail = _instance(client, login, instance_id)
    assert detail["status"] == "failed" and "erp.example.com" in detail["status_reason"]
    assert erp.received == []
    allowed = CONFIG.model_copy(update={"http_connector_allowed_hosts": ["127.0.0.1"]})
    assert run_http_connectors(factory, clock, config=allowed, http=http) == 0  # an incident waits for an admin


_CONNECTOR = ('<?xml version="1.0"?><bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" '
              'xmlns:camunda="http://camunda.org/schema/1.0/bpmn" id="d" targetNamespace="t">'
              '<bpmn:process id="p" isExecutable="true"><bpmn:startEvent id="s"/><bpmn:serviceTask id="call">'
              '<bpmn:extensionElements><camunda:connector><camunda:inputOutput>{io}</camunda:inputOutput>'
              '<camunda:connectorId>http-connector</camunda:connectorId></camunda:connector>'
              '</bpmn:extensionElements></bpmn:serviceTask></bpmn:process></bpmn:definitions>')
_URL = '<camunda:inputParameter name="url">http://127.0.0.1/x</camunda:inputParameter>'


@pytest.mark.parametrize(("io", "message"), [
    ("", "has the http-connector url '(none)': give an http:// or https:// address"),
    (_URL + '<camunda:inputParameter name="method">FETCH</camunda:inputParameter>',
     "has the http-connector method 'FETCH': use one of GET, POST"),
    (_URL + '<camunda:inputParameter name="payload">${amount * 2}</camunda:inputParameter>',
     "has a placeholder Tixi cannot fill in the http-connector payload: '${amount * 2}'"),
    (_URL + '<camunda:outputParameter name="x">${S(response).prop("a")}</camunda:outputParameter>',
     "maps the http-connector output 'x' from '${S(response).prop(\"a\")}', which Tixi cannot read"),
    (_URL + '<camunda:inputParameter name="timeoutMs">5</camunda:inputParameter>',
     "has the http-connector input 'timeoutMs', which Tixi does not read"),
    (_URL + '<camunda:inputParameter name="headers">text</camunda:inputParameter>',
     "gives the http-connector input 'headers' without a camunda:map"),
], ids=["no url", "method", "placeholder", "output", "input", "headers"])
def test_a_connector_written_wrongly_is_refused_at_check_naming_the_task(client: TestClient, login: Login,
                                                                         io: str, message: str) -> None:
    response = client.post("/api/definitions?dry_run=true", headers=login("designer"),
                           files={"file": ("c.bpmn", _CONNECTOR.format(io=io).encode(), "application/xml")})
    assert response.status_code == 422, response.text
    assert response.json()["element"] == "call"
    assert f"service task 'call' {message}" in response.json()["detail"], response.json()["detail"]
